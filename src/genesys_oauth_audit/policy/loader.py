"""Policy files -> ``PolicySet``: YAML with positions, then schema, then model, then semantics.

Every problem of every file is collected and reported at once, each as
file:line:column with what was expected (SPEC §5). Nothing in a policy file
is executed: YAML is composed with the safe loader into plain data, with a
cap on size and on nodes so an alias bomb is refused quickly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from genesys_oauth_audit.checks import CHECKS, CheckType, Params
from genesys_oauth_audit.checks.params import PARAM_ERROR, glob_problem
from genesys_oauth_audit.data import pack_names, pack_path
from genesys_oauth_audit.errors import Diagnostic, PolicyError
from genesys_oauth_audit.files.yamldoc import (
    MAX_DOCUMENT_BYTES,
    Document,
    Parsed,
    Path_,
    did_you_mean,
    read_document,
    where_text,
)
from genesys_oauth_audit.findings import Severity
from genesys_oauth_audit.inventory import CLIENT_STATES, GRANT_TYPES
from genesys_oauth_audit.policy.model import (
    PolicyException,
    PolicyFile,
    PolicySet,
    Rule,
    SourceRef,
    Where,
)
from genesys_oauth_audit.policy.schema import policy_schema

MAX_POLICY_BYTES = MAX_DOCUMENT_BYTES
BUILTIN_PREFIX = "builtin:"


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.files: list[PolicyFile] = []
        self.rules: list[Rule] = []
        self.exceptions: list[tuple[Document, int, PolicyException]] = []
        self.exception_rules: list[tuple[Document, int, str]] = []
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
                    self._rule(doc, i, raw_rule, parsed)
        exceptions = data.get("exceptions")
        if isinstance(exceptions, list):
            for i, raw_exc in enumerate(exceptions):
                if isinstance(raw_exc, dict):
                    self._exception(doc, i, raw_exc, parsed)

    # -- rules ----------------------------------------------------------------------------------

    def _rule(self, doc: Document, index: int, raw: dict[str, Any], parsed: Parsed) -> None:
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
        where = Where(
            grant_types=_tuple(where_raw.get("grantTypes")),
            states=_tuple(where_raw.get("states")),
            names=_tuple(where_raw.get("names")),
            ids=_tuple(where_raw.get("ids")),
            exclude_names=_tuple(where_raw.get("excludeNames")) or (),
            exclude_ids=_tuple(where_raw.get("excludeIds")) or (),
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
            )
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
