"""YAML with positions: one document composed safely into plain data, every value and key located,
then validated against a JSON Schema with messages a person can act on (file:line:column, what was
expected, "did you mean"). Used for policy files and policy test files alike.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from genesys_oauth_audit.errors import Diagnostic
from genesys_oauth_audit.files.reading import (
    MAX_DEPTH,
    ReadError,
    decode_utf8,
    depth_exceeds,
    read_capped,
)
from genesys_oauth_audit.files.schemacheck import shown_pattern

if TYPE_CHECKING:
    # jsonschema is imported by whoever builds the validator (files/schemacheck.py lazily).
    from jsonschema.exceptions import ValidationError as SchemaError

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000

Path_ = tuple[Any, ...]


class _TooManyNodes(Exception):
    pass


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark | None) -> None:
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than ``MAX_DEPTH`` where it happens: PyYAML's
    composer recurses once per level, and 200,000 ``[`` in a file would overflow the stack."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Only collections nest (and count, as in JSON); scalars and aliases do not recurse.
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _TooDeep(event.start_mark if event is not None else None)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose_text(text: str) -> yaml.Node | None:
    """Compose one YAML document with the depth-limited safe loader (raises ``ReadError`` when
    it nests too deeply, ``yaml.YAMLError`` for bad YAML)."""
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except _TooDeep as exc:
        mark = exc.mark
        raise ReadError(
            f"nested deeper than {MAX_DEPTH} levels",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    finally:
        loader.dispose()


@dataclass
class Document:
    """One parsed file: plain data plus the position of every value and key."""

    shown: str
    data: Any = None
    pos: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keypos: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Path_, message: str, *, key: bool = False) -> Diagnostic:
        """A diagnostic at the value (or key) at ``path``, else at its nearest located parent."""
        table = self.keypos if key else self.pos
        probe = path
        while probe not in table and probe:
            probe = probe[:-1]
            table = self.pos
        line, col = table.get(probe, (1, 1))
        return Diagnostic(self.shown, line, col, message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALARS = {
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
}


def _scalar(node: yaml.ScalarNode) -> Any:
    """Plain data from a scalar. Timestamps and unknown tags stay text (the schema checks dates);
    the specific constructors are called directly because ``construct_object`` caches every node."""
    construct = _SCALARS.get(node.tag)
    if construct is None:
        return node.value
    try:
        return construct(node)
    except (ValueError, yaml.YAMLError):
        return node.value


def compose(
    text: str, doc: Document, diagnostics: list[Diagnostic], *, what: str = "a policy document"
) -> None:
    try:
        root = compose_text(text)
    except ReadError as exc:
        diagnostics.append(Diagnostic(doc.shown, exc.line, exc.column, str(exc)))
        return
    except RecursionError:  # a parser deeper than ours; never a traceback
        diagnostics.append(
            Diagnostic(doc.shown, None, None, f"nested deeper than {MAX_DEPTH} levels")
        )
        return
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        diagnostics.append(Diagnostic(doc.shown, line, col, f"YAML syntax error: {problem}"))
        return
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a control character, say): located by its offset.
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = (
            exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        )
        diagnostics.append(
            Diagnostic(
                doc.shown, line, column, f"YAML syntax error: character U+{code:04X} is not allowed"
            )
        )
        return
    except yaml.YAMLError as exc:
        diagnostics.append(Diagnostic(doc.shown, None, None, f"YAML error: {exc}"))
        return
    if root is None:
        diagnostics.append(Diagnostic(doc.shown, 1, 1, f"the file is empty; expected {what}"))
        return
    budget = [MAX_NODES]

    def build(node: yaml.Node, path: Path_) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooManyNodes
        doc.pos[path] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, col = _mark(key_node)
                diagnostics.append(Diagnostic(doc.shown, line, col, "a key must be a plain string"))
                continue
            key = str(key_node.value)
            key_path = (*path, key)
            if key in result:
                first = doc.keypos[key_path]
                line, col = _mark(key_node)
                diagnostics.append(
                    Diagnostic(
                        doc.shown, line, col, f"duplicate key {key!r} (first at line {first[0]})"
                    )
                )
                continue
            doc.keypos[key_path] = _mark(key_node)
            result[key] = build(value_node, key_path)
        return result

    try:
        doc.data = build(root, ())
    except _TooManyNodes:
        doc.data = None
        diagnostics.append(
            Diagnostic(
                doc.shown,
                1,
                1,
                f"more than {MAX_NODES} YAML nodes (an alias bomb?); refusing to expand",
            )
        )
    except RecursionError:
        doc.data = None
        diagnostics.append(
            Diagnostic(doc.shown, 1, 1, "YAML nested too deeply (or a recursive alias)")
        )
        return
    if depth_exceeds(doc.data):
        # Each level is bounded by the composer, but aliases can stack anchored collections.
        doc.data = None
        diagnostics.append(
            Diagnostic(doc.shown, 1, 1, f"nested deeper than {MAX_DEPTH} levels through aliases")
        )


# -- schema errors --------------------------------------------------------------------------------


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


_JSON_TYPES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        # JSON's 1e999 reads as infinity: say so, or "expected a whole number" is a riddle.
        return (
            "a number"
            if value == value and abs(value) != float("inf")
            else f"{value} (out of range)"
        )
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def where_text(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def schema_diagnostics(doc: Document, error: SchemaError) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    validator = error.validator
    where = where_text(path)
    # jsonschema types these loosely (they may be "unset"); we only read what our schema has.
    schema: Any = error.schema
    validator_value: Any = error.validator_value
    if validator in ("anyOf", "oneOf") and error.context:
        # An optional value fails "X or null": say what X wanted, not that no branch matched.
        branches = [
            e for e in error.context if not (e.validator == "type" and e.validator_value == "null")
        ]
        if branches:
            best = max(branches, key=lambda e: len(e.absolute_path))
            return schema_diagnostics(doc, best)
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        # The keys jsonschema found extra: not a property, and matching no patternProperties
        # (jsonschema's find_additional_properties: the patterns joined by "|").
        patterns = "|".join(schema.get("patternProperties", {}))
        unknown = [
            k
            for k in error.instance
            if k not in allowed and not (patterns and re.search(patterns, k))
        ]
        return [
            doc.at(
                (*path, key),
                f"unknown key {key!r} in {where}{did_you_mean(key, allowed)} "
                f"(expected one of: {', '.join(allowed)})",
                key=True,
            )
            for key in unknown
        ]
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else error.message
        return [doc.at(path, f"{where}: missing required key {name!r}")]
    if validator == "type":
        expected = validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_JSON_TYPES.get(n, n) for n in names)
        return [doc.at(path, f"{where}: expected {wanted}, got {type_name(error.instance)}")]
    if validator == "enum":
        choices = [str(c) for c in validator_value]
        value = error.instance
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        what = "check type" if path[-1:] == ("type",) else "value"
        return [
            doc.at(
                path,
                f"{where}: unknown {what} {value!r}{hint} (expected one of: {', '.join(choices)})",
            )
        ]
    if validator == "const":
        return [
            doc.at(path, f"{where}: expected {error.validator_value!r}, got {error.instance!r}")
        ]
    if validator in ("minItems", "minLength"):
        return [doc.at(path, f"{where}: must not be empty")]
    if validator == "pattern" and "propertyNames" in error.schema_path:
        # A key of a mapping whose keys have a form (framework ids): point at the key itself.
        what = schema.get("description") or f"of the expected form {shown_pattern(validator_value)}"
        return [
            doc.at(
                (*path, error.instance), f"{where}: key {error.instance!r} is not {what}", key=True
            )
        ]
    if validator == "pattern":
        return [
            doc.at(
                path,
                f"{where}: {error.instance!r} does not match the expected form "
                f"{shown_pattern(validator_value)}",
            )
        ]
    if validator == "format":
        return [
            doc.at(
                path,
                f"{where}: {error.instance!r} is not a valid {error.validator_value} (YYYY-MM-DD)",
            )
        ]
    return [doc.at(path, f"{where}: {error.message}")]


class Validator(Protocol):
    """What ``read_document`` needs of a validator: jsonschema's ``iter_errors``."""

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]: ...


@dataclass
class Parsed:
    """A document that composed: its data and positions, hash, and the schema paths that failed."""

    doc: Document
    sha256: str
    bad_paths: list[Path_]

    def clean(self, prefix: Path_) -> bool:
        """Whether nothing at or below ``prefix`` broke the schema."""
        return not any(p[: len(prefix)] == prefix for p in self.bad_paths)


def read_document(
    path: Path,
    shown: str,
    validator: Validator,
    diagnostics: list[Diagnostic],
    *,
    what: str = "policy",
    expected: str = "a mapping with apiVersion, kind and rules",
    other_kinds: Mapping[str, str] | None = None,
) -> Parsed | None:
    """Read, size-check, decode, compose and schema-validate one YAML file; problems go to ``diagnostics``.

    ``other_kinds`` maps the ``kind`` of another file of this tool to what to say instead of
    every schema error it would raise here (a test file given as a policy: "run it with test")."""
    try:
        raw = read_capped(path, MAX_DOCUMENT_BYTES, what=f"{what} file", shown=shown)
        text = decode_utf8(raw)
    except ReadError as exc:
        diagnostics.append(Diagnostic(shown, exc.line, exc.column, str(exc)))
        return None
    doc = Document(shown)
    before = len(diagnostics)
    compose(text, doc, diagnostics, what=f"a{'n' if what[0] in 'aeio' else ''} {what} document")
    if doc.data is None:
        if len(diagnostics) == before:
            # A document that is only `null`, `~` or `---`: as empty as an empty file, never a
            # valid file with nothing in it (a policy that checks nothing must not pass a gate).
            diagnostics.append(doc.at((), f"expected {expected}; got null (an empty document)"))
        return None
    if not isinstance(doc.data, dict):
        diagnostics.append(doc.at((), f"expected {expected}; got {type_name(doc.data)}"))
        return None
    kind = doc.data.get("kind")
    if other_kinds and isinstance(kind, str) and kind in other_kinds:
        diagnostics.append(doc.at(("kind",), other_kinds[kind]))
        return None
    errors = list(validator.iter_errors(doc.data))
    # A malformed date breaks both its pattern and its format: say it once.
    has_format = {tuple(e.absolute_path) for e in errors if e.validator == "format"}
    for error in errors:
        if error.validator == "pattern" and tuple(error.absolute_path) in has_format:
            continue
        diagnostics.extend(schema_diagnostics(doc, error))
    return Parsed(doc, hashlib.sha256(raw).hexdigest(), [tuple(e.absolute_path) for e in errors])
