"""Evaluation: check types, the engine that runs rules over an inventory, and its results."""
