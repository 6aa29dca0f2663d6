"""SIGINT and SIGTERM as exceptions, so that a run interrupted or cancelled cleans up and says so.

Kept apart from ``files/output.py`` (which raises them while committing outputs): the CLI wraps
every command in ``sigterm_raises``, and a command that writes no file (``validate``) need not
load the output machinery for that.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM after some outputs were written; ``str()`` says which were and were not."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like SIGINT's KeyboardInterrupt so that cleanup runs."""

    def __init__(self) -> None:
        super().__init__("terminated")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Make SIGTERM raise ``Terminated`` in the main thread (it kills without cleanup otherwise);
    elsewhere, or where signals cannot be set, change nothing."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (AttributeError, ValueError):  # pragma: no cover - no SIGTERM on this platform
        yield
        return

    def raise_terminated(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    try:
        signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
