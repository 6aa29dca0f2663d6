"""Policy files -> ``PolicySet``: YAML with positions, then schema, then model, then semantics.

Every problem of every file is collected and reported at once, each as
file:line:column with what was expected (docs/writing-policies.md). Nothing in a policy file
is executed: YAML is composed with the safe loader into plain data, with a
cap on size and on nodes so an alias bomb is refused quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genesys_oauth_audit.checks import CHECKS, CheckType, Params
from genesys_oauth_audit.checks.params import PARAM_ERROR, glob_problem
from genesys_oauth_audit.data import pack_names, pack_path
from genesys_oauth_audit.data.enums import CLIENT_STATES, GRANT_TYPES
from genesys_oauth_audit.errors import Diagnostic, PolicyError
from genesys_oauth_audit.files.schemacheck import SchemaValidator
from genesys_oauth_audit.files.yamldoc import (
    MAX_DOCUMENT_BYTES,
    Document,
    Parsed,
    Path_,
    did_you_mean,
    read_document,
    schema_diagnostics,
    where_text,
)
from genesys_oauth_audit.policy.frameworks import control_warning, framework_warning
from genesys_oauth_audit.policy.github import limit_warnings
from genesys_oauth_audit.policy.model import (
    Override,
    PolicyException,
    PolicyFile,
    PolicySet,
    Rule,
    SourceRef,
    Where,
)
from genesys_oauth_audit.policy.schema import policy_schema
from genesys_oauth_audit.severity import Severity

MAX_POLICY_BYTES = MAX_DOCUMENT_BYTES
BUILTIN_PREFIX = "builtin:"
# The settings of an included rule an override may replace, in the order shown.
OVERRIDABLE = ("severity", "title", "remediation", "tags", "where", "check")


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.files: list[PolicyFile] = []
        self.rules: list[Rule] = []
        self.exceptions: list[tuple[Document, int, PolicyException]] = []
        self.exception_rules: list[tuple[Document, int, str]] = []
        self.rule_sources: dict[str, SourceRef] = {}
        # What an override needs of a rule: the file that defines it, and its where and check
        # parameters as written (an override's keys are applied over them, then validated).
        self.rule_files: dict[str, Path] = {}
        self.raw_rules: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.includes: dict[Path, list[Path]] = {}
        self.overrides: list[tuple[Document, int, dict[str, Any], Path]] = []
        self.loaded: set[Path] = set()
        self.stack: list[Path] = []
        # jsonschema's Draft 2020-12 with the format checker, loaded only for a file with an
        # error (files/schemacheck.py): a valid policy validates without importing it.
        self.validator = SchemaValidator(policy_schema())
        # An override's check parameters, with the included rule's type, against the same
        # schema a rule's check meets: the same messages (did-you-mean included).
        self.check_validator = SchemaValidator(
            {"$defs": policy_schema()["$defs"], "$ref": "#/$defs/check"}
        )

    # -- files ----------------------------------------------------------------------------------

    def load(
        self, ref: str, *, base: Path | None, origin: tuple[Document, Path_] | None
    ) -> Path | None:
        """Load one file and its includes; return its resolved path (None if it cannot be read)."""
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
                return None
            path = pack_path(builtin)
            shown = ref
        elif "://" in ref:
            # Never fetched: a gate whose rules could change on a server would not be a gate.
            self._missing(
                origin,
                ref,
                f"cannot include {ref!r}: include takes a policy file's path (relative to the "
                "including file) or builtin:NAME; URLs are not fetched (download the file and "
                "pin it in your repository)",
            )
            return None
        else:
            path = Path(ref) if base is None else base / ref
            shown = (
                ref if base is None else _display(path)
            )  # a file the user named is shown as named
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL in the name: read
            resolved = path.absolute()  # below, where it fails with its own reason
        if resolved in self.stack:
            cycle = " -> ".join(
                _display(p) for p in [*self.stack[self.stack.index(resolved) :], resolved]
            )
            self._missing(origin, ref, f"include loop: {cycle}")
            return None
        if resolved in self.loaded:
            return resolved  # a diamond: the same file reached twice is loaded once
        # Reported where the include names it. A FIFO or a device (`<(...)`, /dev/stdin) is read
        # like a file, through the size cap.
        if path.is_dir() or not path.exists():
            reason = (
                "is a directory"
                if path.is_dir()
                else "a symbolic link that leads nowhere (a loop, or a missing target)"
                if path.is_symlink()
                else "No such file or directory"
            )
            self._missing(origin, ref, f"cannot read policy file {shown}: {reason}")
            return None
        parsed = read_document(
            path,
            shown,
            self.validator,
            self.diagnostics,
            other_kinds={
                "PolicyTest": "this is a policy test file (kind: PolicyTest), not a policy: "
                f"run `genesys-oauth-audit test {shown}`"
            },
        )
        if parsed is None:
            return None
        self.loaded.add(resolved)
        self.stack.append(resolved)
        try:
            self._load_parsed(parsed, resolved, builtin)
        finally:
            self.stack.pop()
        return resolved

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
        included = self.includes.setdefault(resolved, [])
        if isinstance(includes, list):
            for i, ref in enumerate(includes):
                if isinstance(ref, str):
                    child = self.load(ref, base=resolved.parent, origin=(doc, ("include", i)))
                    if child is not None:
                        included.append(child)

        rules = data.get("rules")
        if isinstance(rules, list):
            for i, raw_rule in enumerate(rules):
                if isinstance(raw_rule, dict):
                    self._rule(doc, i, raw_rule, resolved, parsed)
        # Overrides are applied once every file is loaded (finish): they name included rules.
        overrides = data.get("overrides")
        if isinstance(overrides, list):
            for i, raw_override in enumerate(overrides):
                if isinstance(raw_override, dict) and parsed.clean(("overrides", i)):
                    self.overrides.append((doc, i, raw_override, resolved))
        exceptions = data.get("exceptions")
        if isinstance(exceptions, list):
            for i, raw_exc in enumerate(exceptions):
                if isinstance(raw_exc, dict):
                    self._exception(doc, i, raw_exc, parsed)

    # -- rules ----------------------------------------------------------------------------------

    def _rule(
        self, doc: Document, index: int, raw: dict[str, Any], file: Path, parsed: Parsed
    ) -> None:
        """Check one rule. Every part that the schema found well-formed is checked further even
        when another part of the rule is not, so one run reports every problem."""
        here: Path_ = ("rules", index)
        source = SourceRef(doc.shown, doc.pos.get(here, (1, 1))[0])
        before = len(self.diagnostics)
        rule_id = raw.get("id")
        if isinstance(rule_id, str):
            if rule_id in self.rule_sources:
                self.diagnostics.append(
                    doc.at(
                        (*here, "id"),
                        f"rule id {rule_id!r} is already defined at {self.rule_sources[rule_id]}",
                    )
                )
            else:
                self.rule_sources[rule_id] = source
                self.rule_files[rule_id] = file
        check = raw.get("check")
        params = None
        if (
            parsed.clean((*here, "check"))
            and isinstance(check, dict)
            and check.get("type") in CHECKS
        ):
            check_type = CHECKS[check["type"]]
            params = self._params(doc, (*here, "check"), check_type, check)
        where_raw = raw.get("where") or {}
        if isinstance(where_raw, dict) and parsed.clean((*here, "where")):
            self._check_where(doc, (*here, "where"), where_raw)
        if not parsed.clean(here) or params is None or len(self.diagnostics) != before:
            return
        assert isinstance(check, dict)
        where = self._where(where_raw)
        controls = raw.get("controls") or {}
        self._control_warnings(doc, (*here, "controls"), controls)
        self._github_warnings(doc, here, raw, controls)
        self.raw_rules[raw["id"]] = (
            dict(where_raw),
            {k: v for k, v in check.items() if k != "type"},
        )
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
                controls=tuple((fw, tuple(ids)) for fw, ids in controls.items()),
            )
        )

    def _control_warnings(self, doc: Document, here: Path_, controls: dict[str, Any]) -> None:
        """Framework ids and control ids this tool does not recognise: warnings, not errors."""
        for framework, ids in controls.items():
            warning = framework_warning(framework)
            if warning:
                self.warnings.append(doc.at((*here, framework), warning, key=True))
                continue
            for i, control in enumerate(ids):
                warning = control_warning(framework, control)
                if warning:
                    self.warnings.append(doc.at((*here, framework, i), warning))

    def _github_warnings(
        self, doc: Document, here: Path_, raw: dict[str, Any], controls: dict[str, Any]
    ) -> None:
        """What GitHub code scanning would not accept as written (policy/github.py): the SARIF
        report shortens it, and validate says so now rather than leaving it to be found."""
        for setting, message in limit_warnings(
            raw.get("title") or "",
            raw.get("description"),
            raw.get("tags") or (),
            [(fw, tuple(ids)) for fw, ids in controls.items()],
        ):
            self.warnings.append(doc.at((*here, setting), message))

    def _where(self, raw: dict[str, Any]) -> Where:
        return Where(
            grant_types=_tuple(raw.get("grantTypes")),
            states=_tuple(raw.get("states")),
            names=_tuple(raw.get("names")),
            ids=_tuple(raw.get("ids")),
            exclude_names=_tuple(raw.get("excludeNames")) or (),
            exclude_ids=_tuple(raw.get("excludeIds")) or (),
        )

    def _check_where(self, doc: Document, here: Path_, raw: dict[str, Any]) -> None:
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

    def _params(
        self, doc: Document, at: Path_, check_type: CheckType, check: dict[str, Any]
    ) -> Params | None:
        """The rule's parameters, validated by the check type's own model: its annotated types
        (globs, permission patterns, grant types) and its ``problems()``; None if any is wrong."""
        try:
            params = check_type.params.model_validate(
                {k: v for k, v in check.items() if k != "type"}
            )
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = (*at, *err["loc"])
                if err["type"] == PARAM_ERROR:
                    ctx = err.get("ctx") or {}
                    self._problem(doc, loc, str(ctx.get("message")), bool(ctx.get("located")))
                else:
                    self._problem(doc, loc, err["msg"], True)
            return None
        problems = list(params.problems())
        for problem in problems:
            self._problem(doc, (*at, *problem.at), problem.message, problem.located)
        return None if problems else params

    def _problem(self, doc: Document, loc: Path_, message: str, located: bool) -> None:
        self.diagnostics.append(
            doc.at(loc, f"{where_text(loc)}: {message}" if located else message)
        )

    # -- exceptions -----------------------------------------------------------------------------

    def _exception(self, doc: Document, index: int, raw: dict[str, Any], parsed: Parsed) -> None:
        here: Path_ = ("exceptions", index)
        if isinstance(raw.get("rule"), str):
            # Checked in finish(), once every rule of every file is known, even when another
            # part of this exception is malformed.
            self.exception_rules.append((doc, index, raw["rule"]))
        if not parsed.clean(here):
            if isinstance(raw.get("clients"), list) and parsed.clean((*here, "clients")):
                self._globs(doc, (*here, "clients"), raw["clients"])
            return
        before = len(self.diagnostics)
        self._globs(doc, (*here, "clients"), raw["clients"])
        expires = self._date(doc, here, raw)
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

    def _date(self, doc: Document, here: Path_, raw: dict[str, Any]) -> date | None:
        if "expires" not in raw:
            return None
        try:
            return date.fromisoformat(raw["expires"])
        except ValueError:
            self.diagnostics.append(
                doc.at((*here, "expires"), f"{raw['expires']!r} is not a date (YYYY-MM-DD)")
            )
            return None

    # -- overrides ------------------------------------------------------------------------------

    def _reaches(self, start: Path) -> set[Path]:
        """Every file ``start`` includes, directly or through other includes."""
        seen: set[Path] = set()
        todo = list(self.includes.get(start, ()))
        while todo:
            path = todo.pop()
            if path not in seen:
                seen.add(path)
                todo.extend(self.includes.get(path, ()))
        return seen

    def _override(
        self,
        doc: Document,
        index: int,
        raw: dict[str, Any],
        file: Path,
        done: dict[str, SourceRef],
    ) -> None:
        """Check one override against the rule it names and apply it."""
        here: Path_ = ("overrides", index)
        source = SourceRef(doc.shown, doc.pos.get(here, (1, 1))[0])
        position = self._overridden(doc, here, raw["rule"], file, source, done)
        if position is not None:
            self._apply_override(doc, here, raw, source, position)

    def _overridden(
        self,
        doc: Document,
        here: Path_,
        rule_id: str,
        file: Path,
        source: SourceRef,
        done: dict[str, SourceRef],
    ) -> int | None:
        """Where in ``self.rules`` the rule an override names is, if the override may name it:
        a rule loaded through include, not the file's own, and not overridden already."""
        if rule_id not in self.rule_sources:
            self.diagnostics.append(
                doc.at(
                    (*here, "rule"),
                    f"override names rule {rule_id!r}, which is not defined"
                    f"{did_you_mean(rule_id, self.rule_sources)}",
                )
            )
            return None
        defined_in = self.rule_files[rule_id]
        if defined_in == file:
            self.diagnostics.append(
                doc.at(
                    (*here, "rule"),
                    f"rule {rule_id!r} is defined in this file (line "
                    f"{self.rule_sources[rule_id].line}): edit it there instead of overriding it",
                )
            )
            return None
        if defined_in not in self._reaches(file):
            self.diagnostics.append(
                doc.at(
                    (*here, "rule"),
                    f"rule {rule_id!r} is defined in {self.rule_sources[rule_id].path}, which this "
                    "file does not include: an override applies only to rules loaded through "
                    "include (include that file here, or override the rule where it is included)",
                )
            )
            return None
        if rule_id in done:
            self.diagnostics.append(
                doc.at(
                    (*here, "rule"),
                    f"rule {rule_id!r} is overridden twice: here and at {done[rule_id]}; "
                    "keep one override",
                )
            )
            return None
        done[rule_id] = source
        # None: the rule itself is invalid, and already reported.
        return next((i for i, r in enumerate(self.rules) if r.id == rule_id), None)

    def _apply_override(
        self, doc: Document, here: Path_, raw: dict[str, Any], source: SourceRef, position: int
    ) -> None:
        """Validate an override's settings against the rule's and replace the rule with its
        effective settings, remembering where each came from."""
        rule_id = raw["rule"]
        rule = self.rules[position]
        enabled = raw.get("enabled", True)
        given = [key for key in OVERRIDABLE if key in raw]
        if enabled and not given:
            self.diagnostics.append(
                doc.at(
                    here,
                    f"the override of {rule_id!r} changes nothing: give enabled: false (with a "
                    f"reason), or settings to replace ({', '.join(OVERRIDABLE)})",
                )
            )
            return
        before = len(self.diagnostics)
        expires = self._date(doc, here, raw)
        if expires is not None and enabled:
            self.diagnostics.append(
                doc.at(
                    (*here, "expires"),
                    "expires applies to an override that switches the rule off (enabled: false); "
                    "a replaced setting holds until the override is removed",
                )
            )
        changes: dict[str, Any] = {}
        where_raw, params_raw = self.raw_rules[rule_id]
        if "where" in raw:
            self._check_where(doc, (*here, "where"), raw["where"])
            where_raw = {**where_raw, **raw["where"]}
            changes["where"] = self._where(where_raw)
        if "check" in raw:
            override_params = dict(raw["check"])
            kind = override_params.pop("type", rule.check_type.name)
            if kind != rule.check_type.name:
                self.diagnostics.append(
                    doc.at(
                        (*here, "check", "type"),
                        f"an override cannot change the check type: {rule_id!r} is a "
                        f"{rule.check_type.name} check; write a rule of your own instead (and "
                        "switch this one off)",
                    )
                )
            else:
                merged = rule.check_type.params.merged(params_raw, override_params)
                at: Path_ = (*here, "check")
                errors = list(self.check_validator.iter_errors({"type": kind, **merged}))
                for error in errors:
                    error.path.extendleft(reversed(at))  # located in the override's file
                    self.diagnostics.extend(schema_diagnostics(doc, error))
                params = None if errors else self._params(doc, at, rule.check_type, merged)
                if params is not None:
                    changes["params"] = params
                    params_raw = merged
        if len(self.diagnostics) != before:
            return
        if "severity" in raw:
            changes["severity"] = Severity(raw["severity"])
        for key in ("title", "remediation"):
            if key in raw:
                changes[key] = raw[key]
        if "tags" in raw:
            changes["tags"] = tuple(raw["tags"])
        self.raw_rules[rule_id] = (where_raw, params_raw)
        self.rules[position] = replace(
            rule,
            **changes,
            override=Override(
                source=source,
                base=rule,
                settings=tuple(
                    (key, SourceRef(doc.shown, doc.pos.get((*here, key), (source.line, 1))[0]))
                    for key in given
                ),
                enabled=bool(enabled),
                reason=raw.get("reason"),
                owner=raw.get("owner"),
                ticket=raw.get("ticket"),
                expires=expires,
            ),
        )
        # A replaced title or tags may pass what GitHub accepts where the rule did not.
        if "title" in raw or "tags" in raw:
            new = self.rules[position]
            for setting, message in limit_warnings(
                new.title, new.description, new.tags, new.controls
            ):
                # Controls are not overridable: replaced tags are what crowds them out.
                key = setting if setting in raw else "tags"
                if key in raw:
                    self.warnings.append(doc.at((*here, key), message))

    def finish(self) -> PolicySet:
        done: dict[str, SourceRef] = {}
        for doc, index, raw, file in self.overrides:
            self._override(doc, index, raw, file, done)
        for doc, index, rule_id in self.exception_rules:
            if rule_id not in self.rule_sources:
                self.diagnostics.append(
                    doc.at(
                        ("exceptions", index, "rule"),
                        f"exception names rule {rule_id!r}, which is not defined"
                        f"{did_you_mean(rule_id, self.rule_sources)}",
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
            warnings=tuple(self.warnings),
        )


def _display(path: Path) -> str:
    """A path as the user would write it: relative to the working directory when it is below it,
    without ``..`` steps (an include of ``../shared/x.yaml`` is shown as ``shared/x.yaml``)."""
    if not path.is_absolute():
        return os.path.normpath(path)
    try:
        return os.path.normpath(path.relative_to(Path.cwd()))
    except ValueError:
        return os.path.normpath(path)


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
