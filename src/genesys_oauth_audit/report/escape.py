"""Neutralise org-supplied text (client names, descriptions) for each output medium."""

from __future__ import annotations

import re

# C0 and C1 controls and DEL (Cc); every Unicode format character (Cf: the bidi controls that
# reorder what a reader sees, zero-width and invisible characters, tags); the line and paragraph
# separators (Zl, Zp), which terminals and editors break lines at; and lone surrogates (Cs),
# which cannot even be encoded for output. Listed as ranges so that importing this stays cheap;
# tests/test_secrets.py checks them against unicodedata (whole blocks are taken, so characters a
# later Unicode version assigns there are covered too).
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f]"
)


# Every Unicode format (Cf), line separator (Zl), paragraph separator (Zp) and surrogate (Cs)
# code point: invisible characters that reorder (U+061C, U+2066), hide (U+200B, U+2060, the tag
# characters) or break lines (U+2028, U+2029) in what a reader sees, and lone surrogates, which
# no UTF-8 output can even encode. Generated from Unicode 15.1 (tests/test_escaping.py checks it
# against the running Python's database).
FORMAT_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_FORMAT_UNSAFE = re.compile(f"[{FORMAT_RANGES}]")


def terminal(text: str) -> str:
    """Make text safe to print on a terminal: every control character becomes a visible escape.

    This stops ANSI escape sequences (ESC, CSI, OSC) in a client's name or a server's error
    message from recolouring, moving the cursor or retitling the user's terminal, newlines and
    separators from forging report lines, and bidi or invisible characters from disguising text.
    (``_TERMINAL_UNSAFE`` covers every ``FORMAT_RANGES`` character, whole blocks included.)
    """
    return _TERMINAL_UNSAFE.sub(_visible, text)


def terminal_lines(text: str) -> str:
    """``terminal`` for text of several lines that are ours (``explain``): each line neutralised,
    the newlines between them kept."""
    return "\n".join(terminal(line) for line in text.split("\n"))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


# Characters XML 1.0 cannot carry at all (even escaped): C0 controls but tab/newline/CR, the
# surrogates, U+FFFE and U+FFFF; and the bidi controls, which are legal but let a name reorder
# what a reader of the rendered report sees. All become a visible escape instead.
_XML_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
    "\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def xml_safe(text: str) -> str:
    """Text XML can carry; the serializer then escapes ``<``, ``&``, ``]]>`` and quotes."""
    return _FORMAT_UNSAFE.sub(_visible, _XML_ILLEGAL.sub(_visible, text))


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
