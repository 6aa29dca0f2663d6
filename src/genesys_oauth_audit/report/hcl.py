"""Write Terraform HCL from a small data structure, so generated configuration is built, not
concatenated: every string is escaped and every identifier checked in one place.

Org text (client and role names, descriptions) reaches HCL strings only through
``string``: quotes, backslashes and newlines are escaped, ``${`` and ``%{``
cannot start a template, and control, bidi and other invisible characters
become ``\\uNNNN`` so what a reviewer reads is what Terraform sees. Comments
pass through ``comment_text`` (one line, the same characters made visible).
Layout follows ``terraform fmt``: two-space indents, ``=`` aligned across
consecutive one-line attributes, a blank line before a nested block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from genesys_oauth_audit.files.text import invisible

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
# A reference such as genesyscloud_auth_role.lp_x.id: identifiers joined by dots, nothing else.
_REFERENCE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+\Z")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def string(text: str) -> str:
    """An HCL quoted string that Terraform reads back as exactly ``text``."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif invisible(ch):
            out.append(_visible(ch))
        else:
            out.append(ch)
    # "$${" and "%%{" are HCL's literal "${" and "%{"; no other sequence starts a template.
    escaped = "".join(out).replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


def comment_text(text: str) -> str:
    """Org text for a ``#`` comment: one line, invisible characters made visible."""
    flat = " ".join(text.split())
    return "".join(_visible(ch) if invisible(ch) else ch for ch in flat)


def identifier(name: str) -> str:
    """``name`` if it is a valid HCL identifier, else ValueError (generated names are checked, not trusted)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not an HCL identifier: {name!r}")
    return name


@dataclass(frozen=True)
class Reference:
    """An expression that refers to another object (``genesyscloud_auth_role.x.id``), written bare."""

    expression: str

    def __post_init__(self) -> None:
        if not _REFERENCE.match(self.expression):
            raise ValueError(f"not a reference: {self.expression!r}")


Value: TypeAlias = "str | int | bool | Reference | Sequence[str]"


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Value


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment line; ``text`` is org text or ours, neutralised either way."""

    text: str


@dataclass(frozen=True)
class Block:
    """``type "label" ... { body }``; ``commented`` writes the whole block as ``#`` lines (a choice
    left to the reader, such as one of several ambiguous permissions)."""

    type: str
    labels: tuple[str, ...] = ()
    body: tuple[Attribute | Comment | Block, ...] = ()
    commented: bool = False


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Reference):
        return value.expression
    if isinstance(value, str):
        return string(value)
    return "[" + ", ".join(string(v) for v in value) + "]"


def _block_lines(block: Block, indent: str) -> list[str]:
    labels = "".join(f" {string(label)}" for label in block.labels)
    return [
        f"{indent}{identifier(block.type)}{labels} {{",
        *_body_lines(block.body, indent + "  "),
        f"{indent}}}",
    ]


def _body_lines(body: Sequence[Attribute | Comment | Block], indent: str) -> list[str]:
    """A body (a block's, or the file's): ``=`` aligned over each run of attributes, a blank
    line around nested blocks, comments kept with what follows them."""
    lines: list[str] = []
    run: list[Attribute] = []

    def flush() -> None:
        width = max((len(a.name) for a in run), default=0)
        lines.extend(f"{indent}{identifier(a.name).ljust(width)} = {_value(a.value)}" for a in run)
        run.clear()

    previous: str | None = None
    for item in body:
        if isinstance(item, Attribute):
            if previous == "block":
                lines.append("")
            run.append(item)
            previous = "attribute"
            continue
        flush()
        if isinstance(item, Comment):
            if previous == "block":
                lines.append("")
            lines.append(f"{indent}# {comment_text(item.text)}".rstrip())
            previous = "comment"
        else:
            if previous in ("attribute", "block"):
                lines.append("")
            block = _block_lines(item, "")
            if item.commented:
                lines.extend(f"{indent}# {line}".rstrip() for line in block)
            else:
                lines.extend(f"{indent}{line}" if line else "" for line in block)
            previous = "block"
    flush()
    return lines


def render(items: Sequence[Block | Comment]) -> str:
    """A configuration file: top-level blocks separated by blank lines, comments kept with the
    block they precede."""
    return "\n".join(_body_lines(items, "")) + "\n"
