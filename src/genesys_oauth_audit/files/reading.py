"""Reading input files with real limits: at most a cap of bytes from any path (a regular file, a
FIFO, ``/dev/zero``), and JSON no deeper than the tool can handle, each problem located.

Every input (policy, policy test, snapshot, baseline, proposal, ``diff`` input)
is read through ``read_capped``, so a hostile path ends in exit 2 quickly
instead of after gigabytes, and is parsed through ``load_json`` or the YAML
composer of ``files.yamldoc``, both of which refuse nesting deeper than
``MAX_DEPTH`` with the line and column where it goes too deep.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

# Our own formats nest a few levels; a Terraform plan's resource attributes a few dozen. Python's
# parsers recurse, and a file nested 200,000 levels deep in 2 MiB would crash them.
MAX_DEPTH = 100
_CHUNK = 1 << 20


class ReadError(Exception):
    """A file could not be read as an input: ``str()`` is the reason, ``line``/``column`` where."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def read_capped(path: Path | str, limit: int, *, what: str, shown: str | None = None) -> bytes:
    """The bytes of ``path``, reading at most ``limit + 1`` of them, whatever the path is.

    A regular file larger than ``limit`` is refused from its size, before any
    read. A device or a FIFO has no size: it is read in chunks up to the cap,
    and a NUL byte (which no text input holds, and ``/dev/zero`` is made of)
    stops it at once. A FIFO waits for its writer, as it does for ``cat``.
    """
    name = shown if shown is not None else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ReadError(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL character: no file system has such a name
        raise ReadError(
            f"cannot read {what} {name!r}: a file name holds no NUL character"
        ) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ReadError(f"cannot read {what} {name}: it is a directory")
        regular = stat.S_ISREG(info.st_mode)
        if regular and info.st_size > limit:
            raise ReadError(f"file is {info.st_size} bytes; a {what} may be at most {limit}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except OSError as exc:
                raise ReadError(f"cannot read {what} {name}: {exc.strerror or exc}") from None
            if not chunk:
                break
            if not regular and b"\0" in chunk:
                offset = total + chunk.index(b"\0")
                raise ReadError(f"not a text file: a NUL byte at offset {offset}")
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise ReadError(f"more than {limit} bytes; a {what} may be at most {limit}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def decode_utf8(raw: bytes, *, prefix: str = "") -> str:
    """UTF-8 text, or a ``ReadError`` at the line and column of the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ReadError(f"{prefix}not UTF-8 text (byte {exc.start})", line, column) from None


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def too_deep_at(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The offset where JSON (or YAML flow) text first nests deeper than ``limit``, if it does.
    Strings are skipped, so brackets inside them do not count. Used on the error path only."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            depth += 1
            if depth > limit:
                return match.start()
        elif piece in ("]", "}"):
            depth -= 1
    return None


def nesting_error(text: str, limit: int = MAX_DEPTH) -> ReadError:
    offset = too_deep_at(text, limit)
    line, column = line_column(text, offset) if offset is not None else (None, None)
    return ReadError(f"nested deeper than {limit} levels", line, column)


def depth_exceeds(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether parsed data nests deeper than ``limit`` (iteratively: no recursion to overflow)."""
    if not isinstance(data, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


class _NotJson(ValueError):
    pass


class DuplicateKey(ValueError):
    """A JSON object names one key twice: ``json.loads`` keeps the last value silently, so a
    second ``"clients": []`` would empty an org, or a second ``"permissions"`` hide a grant."""


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key named twice (``DuplicateKey``)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise DuplicateKey
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> None:
    if len(pairs) > 1 and len({key for key, _ in pairs}) != len(pairs):
        raise DuplicateKey


def has_duplicate_keys(text: str | bytes) -> bool:
    """Whether a JSON text that parses names a key twice in one object: a check only, building no
    objects (about three quarters of what ``json.loads`` takes)."""
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except DuplicateKey:
        return True
    return False


# A JSON string, or a character of structure; numbers, literals and white space fall between.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def duplicate_key_error(text: str) -> ReadError | None:
    """Where a JSON text (one that parses) first names a key twice in one object: the error
    path only, one scan of its tokens."""
    stack: list[dict[str, int] | None] = []  # per open object its keys so far; None: an array
    key_next = False
    for token in _TOKENS.finditer(text):
        piece = token.group()
        first = piece[0]
        if first == "{":
            stack.append({})
            key_next = True
        elif first == "[":
            stack.append(None)
            key_next = False
        elif first in "}]":
            if stack:
                stack.pop()
            key_next = False
        elif first == ",":
            key_next = bool(stack) and stack[-1] is not None
        elif first == ":":
            key_next = False
        else:
            keys = stack[-1] if stack else None
            if key_next and keys is not None:
                key = json.loads(piece)
                if key in keys:
                    line, column = line_column(text, token.start())
                    seen = line_column(text, keys[key])[0]
                    return ReadError(f"duplicate key {key!r} (first at line {seen})", line, column)
                keys[key] = token.start()
            key_next = False
    return None


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


def load_json(text: str, *, check_depth: bool = True) -> Any:
    """Parse JSON strictly: ``NaN``/``Infinity`` are refused (they are not JSON), and so are a key
    named twice in one object (readers disagree on which value counts; ``json`` keeps the last)
    and nesting deeper than ``MAX_DEPTH``; every problem is a ``ReadError`` with its line and
    column.

    ``check_depth=False`` skips the walk over parsed data, for large documents that a model
    validates level by level anyway (a snapshot); nesting that overflows the parser itself is
    still refused.
    """
    try:
        data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=unique_pairs)
    except DuplicateKey:
        raise duplicate_key_error(text) or ReadError("a key is named twice in one object") from None
    except json.JSONDecodeError as exc:
        raise ReadError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except _NotJson as exc:
        found = re.search(r"(?<![\w\"])-?(?:NaN|Infinity)(?![\w\"])", text)
        line, column = line_column(text, found.start()) if found else (None, None)
        raise ReadError(f"not valid JSON: {exc} is not a JSON number", line, column) from None
    except RecursionError:
        raise nesting_error(text) from None
    if check_depth and isinstance(data, (dict, list)) and depth_exceeds(data):
        raise nesting_error(text)
    return data
