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
    return _TERMINAL_UNSAFE.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Characters XML 1.0 cannot carry at all (even escaped): C0 controls but tab/newline/CR, the
# surrogates, U+FFFE and U+FFFF; and the bidi controls, which are legal but let a name reorder
# what a reader of the rendered report sees. All become a visible escape instead.
_XML_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
    "\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def xml_safe(text: str) -> str:
    """Text XML can carry; the serializer then escapes ``<``, ``&``, ``]]>`` and quotes."""
    return _XML_ILLEGAL.sub(_visible, text)


def one_line(text: str, limit: int | None = None) -> str:
    """Collapse all whitespace (newlines included) to single spaces: for tokens and one-line attributes."""
    flat = " ".join(xml_safe(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown(text: str) -> str:
    """Neutralise org text for Markdown (GitHub-flavoured, in tables too): no markup, no HTML,
    no @mentions, no autolinks, no line breaks; what a reader sees is the literal text."""
    flat = " ".join(terminal(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_SPECIAL.sub(r"\\\1", flat)
    flat = flat.replace("@", "&#64;").replace("://", "&#58;//")
    return flat


def markdown_code(text: str) -> str:
    """Org text shown as inline code (subjects such as scope ids and URIs): no backtick can close it."""
    flat = " ".join(terminal(text).split()).replace("`", "ˋ")
    # GitHub splits table cells at a pipe even inside a code span, unless it is escaped.
    flat = flat.replace("|", "\\|")
    return f"`{flat}`" if flat else "` `"
