"""Neutralise org-supplied text (client names, descriptions) for each output medium."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode bidi controls that can reorder what a reader sees.
_TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal(text: str) -> str:
    """Make text safe to print on a terminal: every control character becomes a visible escape.

    This stops ANSI escape sequences in a client's name from recolouring,
    moving the cursor or retitling the user's terminal, and newlines from
    forging report lines.
    """
    return _TERMINAL_UNSAFE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )
