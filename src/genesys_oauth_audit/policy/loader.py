"""Policy files -> ``PolicySet``: YAML with positions, then schema, then model, then semantics.

Every problem of every file is collected and reported at once, each as
file:line:column with what was expected (SPEC §5). Nothing in a policy file
is executed: YAML is composed with the safe loader into plain data, with a
cap on size and on nodes so an alias bomb is refused quickly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
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
from genesys_oauth_audit.policy.yamldoc import (
    MAX_DOCUMENT_BYTES,
    Document,
    Parsed,
    Path_,
    did_you_mean,
    read_document,
    where_text,
)
from genesys_oauth_audit.resources import pack_names, pack_path, permission_catalog

MAX_POLICY_BYTES = MAX_DOCUMENT_BYTES
BUILTIN_PREFIX = "builtin:"


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
        self.exceptions: list[tuple[Document, int, PolicyException]] = []
        self.rule_sources: dict[str, SourceRef] = {}
        self.loaded: set[Path] = set()
        self.stack: list[Path] = []
        self.validator = Draft202012Validator(policy_schema(), format_checker=FormatChecker())

    # -- files ----------------------------------------------------------------------------------

    def load(self, ref: str, *, base: Path | None, origin: tuple[Document, Path_] | None) -> None:
        builtin = None
        if ref.startswith(BUILTIN_PREFIX):
            builtin = ref[len(BUILTIN_PREFIX) :]
            if builtin not in pack_names():
                self._missing(
                    origin,
                    ref,
                    f"unknown shipped pack {ref!r}{did_you_mean(ref, [BUILTIN_PREFIX + n for n in pack_names()])} "
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
        if not path.is_file():  # reported where the include names it
            reason = "is a directory" if path.is_dir() else "No such file or directory"
            self._missing(origin, ref, f"cannot read policy file {shown}: {reason}")
            return
        parsed = read_document(path, shown, self.validator, self.diagnostics)
        if parsed is None:
            return
        self.loaded.add(resolved)
        self.stack.append(resolved)
        try:
            self._load_parsed(parsed, resolved, builtin)
        finally:
            self.stack.pop()

    def _missing(self, origin: tuple[Document, Path_] | None, ref: str, message: str) -> None:
        if origin is None:
            self.diagnostics.append(Diagnostic(ref, None, None, message))
        else:
            doc, path = origin
            self.diagnostics.append(doc.at(path, message))

    def _load_parsed(self, parsed: Parsed, resolved: Path, builtin: str | None) -> None:
        doc = parsed.doc
        shown = doc.shown
        sha256 = parsed.sha256
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

        rules = data.get("rules")
        if isinstance(rules, list):
            for i, raw_rule in enumerate(rules):
                if isinstance(raw_rule, dict):
                    self._rule(doc, i, raw_rule, schema_ok=parsed.clean(("rules", i)))
        exceptions = data.get("exceptions")
        if isinstance(exceptions, list):
            for i, raw_exc in enumerate(exceptions):
                if isinstance(raw_exc, dict) and parsed.clean(("exceptions", i)):
                    self._exception(doc, i, raw_exc)

    # -- rules ----------------------------------------------------------------------------------

    def _rule(self, doc: Document, index: int, raw: dict[str, Any], *, schema_ok: bool) -> None:
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
                self.diagnostics.append(doc.at(loc, f"{where_text(loc)}: {err['msg']}"))
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
        self._checkwhere_text(doc, (*here, "where"), where_raw)
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

    def _checkwhere_text(self, doc: Document, here: Path_, raw: dict[str, Any]) -> None:
        for key, known in (("grantTypes", GRANT_TYPES), ("states", CLIENT_STATES)):
            for i, value in enumerate(raw.get(key) or ()):
                if value not in known:
                    self.diagnostics.append(
                        doc.at(
                            (*here, key, i),
                            f"{where_text((*here, key, i))}: unknown value {value!r}{did_you_mean(value, known)} "
                            f"(expected one of: {', '.join(known)})",
                        )
                    )
        for key in ("names", "excludeNames"):
            self._globs(doc, (*here, key), raw.get(key) or ())

    def _globs(self, doc: Document, here: Path_, globs: Iterable[str]) -> None:
        for i, glob in enumerate(globs):
            problem = glob_problem(glob)
            if problem:
                self.diagnostics.append(doc.at((*here, i), f"{where_text((*here, i))}: {problem}"))

    def _semantics(self, doc: Document, here: Path_, check_type: str, params: Any) -> None:
        at = (*here, "check")
        if check_type in ("forbidden-scopes", "forbidden-permissions"):
            self._risk_filter(doc, at, check_type, params)
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
                            f"unknown grant type {value!r}{did_you_mean(value, GRANT_TYPES)} "
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

    def _risk_filter(self, doc: Document, at: Path_, check_type: str, params: Any) -> None:
        listed = "scopes" if check_type == "forbidden-scopes" else "permissions"
        if not getattr(params, listed) and params.risk_at_least is None:
            self.diagnostics.append(
                doc.at(
                    at,
                    f"{check_type} needs {listed}, riskAtLeast, or both: as written it forbids nothing",
                )
            )
        if params.categories is not None and params.risk_at_least is None:
            self.diagnostics.append(
                doc.at(
                    (*at, "categories"), "categories only narrows riskAtLeast: give riskAtLeast too"
                )
            )

    def _field(self, doc: Document, at: Path_, params: Any) -> None:
        paths = field_paths()
        if params.path not in paths:
            self.diagnostics.append(
                doc.at(
                    (*at, "path"),
                    f"unknown field path {params.path!r}{did_you_mean(params.path, paths)} "
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

    def _exception(self, doc: Document, index: int, raw: dict[str, Any]) -> None:
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
                        f"{did_you_mean(exc.rule_id, self.rule_sources)}",
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
