"""One helper for building large numbers of small objects quickly."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Parsing a snapshot, normalising a client listing and evaluating an org build
    hundreds of thousands of small records next to a large live heap. Each
    generation-2 collection rescans that heap and can reclaim nothing (the
    records hold no cycles); on 100,000 clients this was up to 60% of the
    time. Reference counting still frees garbage; the collector resumes after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
