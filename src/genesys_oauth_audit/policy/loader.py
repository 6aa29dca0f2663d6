"""Policy files -> ``PolicySet``: YAML with positions, then schema, then model, then semantics.

Every problem of every file is collected and reported at once, each as
file:line:column with what was expected (SPEC §5). Nothing in a policy file
is executed: YAML is composed with the safe loader into plain data, with a
cap on size and on nodes so an alias bomb is refused quickly.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError

from genesys_oauth_audit.engine.checks import CHECKS, FIELD_OPS, PERMISSION_PATTERN, field_paths
from genesys_oauth_audit.engine.findings import Severity
from genesys_oauth_audit.errors import Diagnostic, PolicyError
from genesys_oauth_audit.policy.model import (
    PolicyException,
    PolicyFile,
    PolicySet,
    Rule,
    SourceRef,
    Where,
)
from genesys_oauth_audit.policy.schema import CLIENT_STATES, GRANT_TYPES, policy_schema
from genesys_oauth_audit.resources import pack_names, pack_path, permission_catalog

MAX_POLICY_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
BUILTIN_PREFIX = "builtin:"

Path_ = tuple[Any, ...]


class _TooManyNodes(Exception):
    pass


@dataclass
class _Doc:
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


def _compose(text: str, doc: _Doc, diagnostics: list[Diagnostic]) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        diagnostics.append(Diagnostic(doc.shown, line, col, f"YAML syntax error: {problem}"))
        return
    except yaml.YAMLError as exc:
        diagnostics.append(Diagnostic(doc.shown, None, None, f"YAML error: {exc}"))
        return
    if root is None:
        diagnostics.append(
            Diagnostic(doc.shown, 1, 1, "the file is empty; expected a policy document")
        )
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


# -- schema errors --------------------------------------------------------------------------------


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
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


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _where(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def _schema_diagnostics(doc: _Doc, error: SchemaError) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    validator = error.validator
    where = _where(path)
    # jsonschema types these loosely (they may be "unset"); we only read what our schema has.
    schema: Any = error.schema
    validator_value: Any = error.validator_value
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        return [
            doc.at(
                (*path, key),
                f"unknown key {key!r} in {where}{_did_you_mean(key, allowed)} "
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
        return [doc.at(path, f"{where}: expected {wanted}, got {_type_name(error.instance)}")]
    if validator == "enum":
        choices = [str(c) for c in validator_value]
        value = error.instance
        hint = _did_you_mean(str(value), choices) if isinstance(value, str) else ""
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
    if validator == "pattern":
        return [
            doc.at(
                path,
                f"{where}: {error.instance!r} does not match the expected form {error.validator_value}",
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


# -- semantics ------------------------------------------------------------------------------------


def glob_problem(glob: str) -> str | None:
    """fnmatch never rejects a glob; a stray ``[`` silently matches only itself. Catch that."""
    i = 0
    while i < len(glob):
        if glob[i] == "[":
            j = i + 1
            if j < len(glob) and glob[j] in "!^":
                j += 1
            if j < len(glob) and glob[j] == "]":
                j += 1
            close = glob.find("]", j)
            if close < 0:
                return f"glob {glob!r} has an unclosed '['"
            i = close + 1
            continue
        i += 1
    return None


def permission_problem(pattern: str, catalog: frozenset[str]) -> str | None:
    if not PERMISSION_PATTERN.match(pattern):
        return f"{pattern!r} is not a permission pattern of the form domain:entity:action"
    for part in pattern.split(":"):
        problem = glob_problem(part)
        if problem:
            return problem
    parts = pattern.split(":")
    for perm in catalog:
        if all(fnmatchcase(cp, pp) for cp, pp in zip(perm.split(":"), parts, strict=False)):
            return None
    close = difflib.get_close_matches(pattern, sorted(catalog), n=3, cutoff=0.75)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{pattern!r} matches no permission of the Genesys permission catalog{hint}"


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.files: list[PolicyFile] = []
        self.rules: list[Rule] = []
        self.exceptions: list[tuple[_Doc, int, PolicyException]] = []
        self.rule_sources: dict[str, SourceRef] = {}
        self.loaded: set[Path] = set()
        self.stack: list[Path] = []
        self.validator = Draft202012Validator(policy_schema(), format_checker=FormatChecker())

    # -- files ----------------------------------------------------------------------------------

    def load(self, ref: str, *, base: Path | None, origin: tuple[_Doc, Path_] | None) -> None:
        builtin = None
        if ref.startswith(BUILTIN_PREFIX):
            builtin = ref[len(BUILTIN_PREFIX) :]
            if builtin not in pack_names():
                self._missing(
                    origin,
                    ref,
                    f"unknown shipped pack {ref!r}{_did_you_mean(builtin, pack_names())} "
                    f"(shipped: {', '.join(BUILTIN_PREFIX + n for n in pack_names())})",
                )
                return
            path = pack_path(builtin)
            shown = ref
        else:
            path = Path(ref) if base is None else base / ref
            shown = (
                ref if base is None else _display(path)
            )  # a file the user named is shown as named
        try:
            resolved = path.resolve()
        except OSError:
            resolved = path.absolute()
        if resolved in self.stack:
            cycle = " -> ".join(
                _display(p) for p in [*self.stack[self.stack.index(resolved) :], resolved]
            )
            self._missing(origin, ref, f"include loop: {cycle}")
            return
        if resolved in self.loaded:
            return  # a diamond: the same file reached twice is loaded once
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self._missing(origin, ref, f"cannot read policy file {shown}: {exc.strerror or exc}")
            return
        if len(raw) > MAX_POLICY_BYTES:
            self.diagnostics.append(
                Diagnostic(
                    shown,
                    None,
                    None,
                    f"file is {len(raw)} bytes; a policy may be at most {MAX_POLICY_BYTES}",
                )
            )
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.diagnostics.append(
                Diagnostic(shown, None, None, f"not UTF-8 text (byte {exc.start})")
            )
            return
        self.loaded.add(resolved)
        self.stack.append(resolved)
        try:
            self._load_text(text, shown, resolved, hashlib.sha256(raw).hexdigest(), builtin)
        finally:
            self.stack.pop()

    def _missing(self, origin: tuple[_Doc, Path_] | None, ref: str, message: str) -> None:
        if origin is None:
            self.diagnostics.append(Diagnostic(ref, None, None, message))
        else:
            doc, path = origin
            self.diagnostics.append(doc.at(path, message))

    def _load_text(
        self, text: str, shown: str, resolved: Path, sha256: str, builtin: str | None
    ) -> None:
        doc = _Doc(shown)
        before = len(self.diagnostics)
        _compose(text, doc, self.diagnostics)
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            self.diagnostics.append(
                doc.at(
                    (),
                    f"expected a mapping with apiVersion, kind and rules; got {_type_name(doc.data)}",
                )
            )
            return
        errors = list(self.validator.iter_errors(doc.data))
        bad_paths: list[Path_] = [tuple(e.absolute_path) for e in errors]
        # A malformed date breaks both its pattern and its format: say it once.
        has_format = {tuple(e.absolute_path) for e in errors if e.validator == "format"}
        for error in errors:
            if error.validator == "pattern" and tuple(error.absolute_path) in has_format:
                continue
            self.diagnostics.extend(_schema_diagnostics(doc, error))
        data = doc.data
        raw_metadata = data.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        self.files.append(
            PolicyFile(
                path=shown,
                sha256=sha256,
                name=metadata.get("name") if isinstance(metadata.get("name"), str) else None,
                description=metadata.get("description")
                if isinstance(metadata.get("description"), str)
                else None,
                builtin=builtin,
            )
        )
        includes = data.get("include")
        if isinstance(includes, list):
            for i, ref in enumerate(includes):
                if isinstance(ref, str):
                    self.load(ref, base=resolved.parent, origin=(doc, ("include", i)))

        def clean(prefix: Path_) -> bool:
            return not any(p[: len(prefix)] == prefix for p in bad_paths)

        rules = data.get("rules")
        if isinstance(rules, list):
            for i, raw_rule in enumerate(rules):
                if isinstance(raw_rule, dict):
                    self._rule(doc, i, raw_rule, schema_ok=clean(("rules", i)))
        exceptions = data.get("exceptions")
        if isinstance(exceptions, list):
            for i, raw_exc in enumerate(exceptions):
                if isinstance(raw_exc, dict) and clean(("exceptions", i)):
                    self._exception(doc, i, raw_exc)
        del before

    # -- rules ----------------------------------------------------------------------------------

    def _rule(self, doc: _Doc, index: int, raw: dict[str, Any], *, schema_ok: bool) -> None:
        here: Path_ = ("rules", index)
        source = SourceRef(doc.shown, doc.pos.get(here, (1, 1))[0])
        rule_id = raw.get("id")
        if isinstance(rule_id, str):
            if rule_id in self.rule_sources:
                self.diagnostics.append(
                    doc.at(
                        (*here, "id"),
                        f"rule id {rule_id!r} is already defined at {self.rule_sources[rule_id]}",
                    )
                )
                return
            self.rule_sources[rule_id] = source
        if not schema_ok:
            return
        check = raw["check"]
        check_type = CHECKS[check["type"]]
        try:
            params = check_type.params.model_validate(
                {k: v for k, v in check.items() if k != "type"}
            )
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = (*here, "check", *err["loc"])
                self.diagnostics.append(doc.at(loc, f"{_where(loc)}: {err['msg']}"))
            return
        before = len(self.diagnostics)
        self._semantics(doc, here, check["type"], params)
        where_raw = raw.get("where") or {}
        where = Where(
            grant_types=_tuple(where_raw.get("grantTypes")),
            states=_tuple(where_raw.get("states")),
            names=_tuple(where_raw.get("names")),
            ids=_tuple(where_raw.get("ids")),
            exclude_names=_tuple(where_raw.get("excludeNames")) or (),
            exclude_ids=_tuple(where_raw.get("excludeIds")) or (),
        )
        self._check_where(doc, (*here, "where"), where_raw)
        if len(self.diagnostics) != before:
            return
        self.rules.append(
            Rule(
                id=raw["id"],
                title=raw["title"],
                severity=Severity(raw.get("severity", "medium")),
                check_type=check_type,
                params=params,
                where=where,
                source=source,
                description=raw.get("description"),
                remediation=raw.get("remediation"),
                help_uri=raw.get("helpUri"),
                tags=tuple(raw.get("tags") or ()),
            )
        )

    def _check_where(self, doc: _Doc, here: Path_, raw: dict[str, Any]) -> None:
        for key, known in (("grantTypes", GRANT_TYPES), ("states", CLIENT_STATES)):
            for i, value in enumerate(raw.get(key) or ()):
                if value not in known:
                    self.diagnostics.append(
                        doc.at(
                            (*here, key, i),
                            f"{_where((*here, key, i))}: unknown value {value!r}{_did_you_mean(value, known)} "
                            f"(expected one of: {', '.join(known)})",
                        )
                    )
        for key in ("names", "excludeNames"):
            self._globs(doc, (*here, key), raw.get(key) or ())

    def _globs(self, doc: _Doc, here: Path_, globs: Iterable[str]) -> None:
        for i, glob in enumerate(globs):
            problem = glob_problem(glob)
            if problem:
                self.diagnostics.append(doc.at((*here, i), f"{_where((*here, i))}: {problem}"))

    def _semantics(self, doc: _Doc, here: Path_, check_type: str, params: Any) -> None:
        at = (*here, "check")
        if check_type in ("forbidden-scopes", "allowed-scopes"):
            self._globs(doc, (*at, "scopes"), params.scopes)
        elif check_type == "forbidden-roles":
            self._globs(doc, (*at, "names"), params.names)
        elif check_type == "allowed-grant-types":
            for i, value in enumerate(params.grant_types):
                if value not in GRANT_TYPES:
                    self.diagnostics.append(
                        doc.at(
                            (*at, "grantTypes", i),
                            f"unknown grant type {value!r}{_did_you_mean(value, GRANT_TYPES)} "
                            f"(expected one of: {', '.join(GRANT_TYPES)})",
                        )
                    )
        elif check_type == "forbidden-permissions":
            catalog = permission_catalog()
            for i, pattern in enumerate(params.permissions):
                problem = permission_problem(pattern, catalog)
                if problem:
                    self.diagnostics.append(doc.at((*at, "permissions", i), problem))
        elif check_type == "field":
            self._field(doc, at, params)

    def _field(self, doc: _Doc, at: Path_, params: Any) -> None:
        paths = field_paths()
        if params.path not in paths:
            self.diagnostics.append(
                doc.at(
                    (*at, "path"),
                    f"unknown field path {params.path!r}{_did_you_mean(params.path, paths)} "
                    f"(fields: {', '.join(paths)})",
                )
            )
        op, value = params.op, params.value
        has_value = "value" in params.model_fields_set
        if op in ("exists", "empty", "not-empty"):
            if has_value:
                self.diagnostics.append(doc.at((*at, "value"), f"operator {op!r} takes no value"))
        elif not has_value:
            self.diagnostics.append(doc.at(at, f"operator {op!r} needs a value"))
        elif op in ("in", "not-in") and not isinstance(value, list):
            self.diagnostics.append(doc.at((*at, "value"), f"operator {op!r} needs a list value"))
        elif op == "matches":
            if not isinstance(value, str):
                self.diagnostics.append(
                    doc.at((*at, "value"), "operator 'matches' needs a regular expression string")
                )
            else:
                try:
                    re.compile(value)
                except re.error as exc:
                    self.diagnostics.append(
                        doc.at((*at, "value"), f"invalid regular expression {value!r}: {exc}")
                    )
        assert op in FIELD_OPS

    # -- exceptions -----------------------------------------------------------------------------

    def _exception(self, doc: _Doc, index: int, raw: dict[str, Any]) -> None:
        here: Path_ = ("exceptions", index)
        before = len(self.diagnostics)
        self._globs(doc, (*here, "clients"), raw["clients"])
        expires = None
        if "expires" in raw:
            try:
                expires = date.fromisoformat(raw["expires"])
            except ValueError:
                self.diagnostics.append(
                    doc.at((*here, "expires"), f"{raw['expires']!r} is not a date (YYYY-MM-DD)")
                )
        if len(self.diagnostics) != before:
            return
        self.exceptions.append(
            (
                doc,
                index,
                PolicyException(
                    rule_id=raw["rule"],
                    clients=tuple(raw["clients"]),
                    reason=raw["reason"],
                    source=SourceRef(doc.shown, doc.pos.get(here, (1, 1))[0]),
                    expires=expires,
                    ticket=raw.get("ticket"),
                    owner=raw.get("owner"),
                ),
            )
        )

    def finish(self) -> PolicySet:
        for doc, index, exc in self.exceptions:
            if exc.rule_id not in self.rule_sources:
                self.diagnostics.append(
                    doc.at(
                        ("exceptions", index, "rule"),
                        f"exception names rule {exc.rule_id!r}, which is not defined"
                        f"{_did_you_mean(exc.rule_id, self.rule_sources)}",
                    )
                )
        if self.diagnostics:
            order = {d.path: i for i, d in reversed(list(enumerate(self.diagnostics)))}
            raise PolicyError(
                sorted(self.diagnostics, key=lambda d: (order[d.path], d.line or 0, d.column or 0))
            )
        return PolicySet(
            files=tuple(self.files),
            rules=tuple(self.rules),
            exceptions=tuple(e for _, _, e in self.exceptions),
        )


def _display(path: Path) -> str:
    """A path as the user would write it: relative to the working directory when it is below it."""
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _tuple(value: Any) -> tuple[str, ...] | None:
    return tuple(value) if isinstance(value, list) else None


def load_policies(refs: Sequence[str]) -> PolicySet:
    """Load policy files (paths or ``builtin:NAME``) and their includes, or raise ``PolicyError``
    with every problem found."""
    if not refs:
        raise PolicyError(
            [
                Diagnostic(
                    "(command line)",
                    None,
                    None,
                    "no policy given: use -p POLICY (for example -p builtin:tutorial)",
                )
            ]
        )
    loader = _Loader()
    for ref in refs:
        loader.load(ref, base=None, origin=None)
    return loader.finish()
