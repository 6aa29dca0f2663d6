"""A small, strict reader for the HCL the tool generates, written from the HCL native syntax spec
independently of ``genesys_oauth_audit.report.hcl``, so tests read generated Terraform back as data.

It knows what generated files use: blocks with labels, attributes whose values
are strings, numbers, booleans, lists of strings and references; ``#``
comments. Strings are decoded as Terraform decodes them (escapes, ``$${`` and
``%%{``), and a ``${`` or ``%{`` that would start a template is an error: org
text must never become an expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

Value = Union[str, int, bool, "Ref", list[str]]


@dataclass(frozen=True)
class Ref:
    expression: str


@dataclass
class Block:
    type: str
    labels: list[str]
    attributes: dict[str, Value] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def all(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]


class HclSyntaxError(ValueError):
    pass


_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
  | (?P<space>[ \t\r]+)
  | (?P<comment>(\#|//)[^\n]*)
  | (?P<string>")
  | (?P<number>-?[0-9]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<punct>[{}\[\]=,.])
    """,
    re.VERBOSE,
)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _string(text: str, pos: int) -> tuple[str, int]:
    """Decode the quoted string starting after the quote at ``pos``; returns (value, end)."""
    out: list[str] = []
    i = pos
    while True:
        if i >= len(text):
            raise HclSyntaxError("unterminated string")
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\n":
            raise HclSyntaxError("newline in a quoted string")
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[nxt])
                i += 2
            elif nxt == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
            elif nxt == "U":
                out.append(chr(int(text[i + 2 : i + 10], 16)))
                i += 10
            else:
                raise HclSyntaxError(f"bad escape \\{nxt}")
            continue
        if text.startswith("$${", i) or text.startswith("%%{", i):
            out.append(ch + "{")
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            raise HclSyntaxError(f"template sequence in a string at {i}")
        out.append(ch)
        i += 1


def _tokens(text: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HclSyntaxError(f"unexpected {text[pos]!r} at {pos}")
        kind = m.lastgroup
        assert kind is not None
        if kind == "string":
            value, pos = _string(text, m.end())
            tokens.append(("string", value))
            continue
        pos = m.end()
        if kind in ("space", "comment"):
            continue
        if kind == "number":
            tokens.append(("number", int(m.group())))
        else:
            tokens.append((kind, m.group()))
    tokens.append(("eof", None))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, object]:
        return self.tokens[self.i]

    def take(self, kind: str, value: object = None) -> object:
        k, v = self.tokens[self.i]
        if k != kind or (value is not None and v != value):
            raise HclSyntaxError(f"expected {value or kind}, got {k} {v!r}")
        self.i += 1
        return v

    def skip_newlines(self) -> None:
        while self.peek()[0] == "newline":
            self.i += 1

    def body(self, closing: bool) -> Block:
        block = Block("", [])
        while True:
            self.skip_newlines()
            kind, value = self.peek()
            if closing and (kind, value) == ("punct", "}"):
                self.i += 1
                return block
            if not closing and kind == "eof":
                return block
            name = str(self.take("ident"))
            if self.peek() == ("punct", "="):
                self.i += 1
                if name in block.attributes:
                    raise HclSyntaxError(f"attribute {name} set twice")
                block.attributes[name] = self.expression()
                if self.peek()[0] not in ("newline", "eof"):
                    raise HclSyntaxError(f"junk after attribute {name}: {self.peek()}")
                continue
            labels: list[str] = []
            while self.peek()[0] in ("string", "ident"):
                labels.append(str(self.tokens[self.i][1]))
                self.i += 1
            self.take("punct", "{")
            self.take("newline")
            inner = self.body(closing=True)
            block.blocks.append(Block(name, labels, inner.attributes, inner.blocks))

    def expression(self) -> Value:
        kind, value = self.peek()
        if kind == "string":
            self.i += 1
            return str(value)
        if kind == "number":
            self.i += 1
            assert isinstance(value, int)
            return value
        if kind == "punct" and value == "[":
            self.i += 1
            items: list[str] = []
            while self.peek() != ("punct", "]"):
                items.append(str(self.take("string")))
                if self.peek() == ("punct", ","):
                    self.i += 1
            self.i += 1
            return items
        if kind == "ident":
            if value in ("true", "false"):
                self.i += 1
                return value == "true"
            parts = [str(self.take("ident"))]
            while self.peek() == ("punct", "."):
                self.i += 1
                parts.append(str(self.take("ident")))
            return Ref(".".join(parts))
        raise HclSyntaxError(f"unexpected {kind} {value!r} in an expression")


def parse(text: str) -> Block:
    """The file as a root block whose ``blocks`` are its top-level blocks."""
    return _Parser(text).body(closing=False)


def uncommented(text: str, marker: str) -> str:
    """The ``#``-commented lines that follow the comment containing ``marker``, uncommented: what a
    reviewer gets by uncommenting a suggested block."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    out = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped == "":
                continue
            break
        out.append(stripped[1:].removeprefix(" "))
    return "\n".join(out) + "\n"
