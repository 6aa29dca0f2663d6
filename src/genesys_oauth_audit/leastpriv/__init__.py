"""Least privilege from observed use: what each client was granted versus what the operations it
called needed (``analysis``), and the smaller role or scope list it should have (``recommend``)."""
