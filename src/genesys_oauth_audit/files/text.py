"""Which characters of text from outside (client names, descriptions) must never reach an output
raw: every writer escapes or drops them, so a name cannot hide or reorder what a reader sees."""

from __future__ import annotations

import unicodedata


def invisible(ch: str) -> bool:
    """Characters a reader cannot see or that reorder text: controls (Cc), format characters such
    as bidi overrides and zero-width joiners (Cf), surrogates, unassigned and separator chars."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
