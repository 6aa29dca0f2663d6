"""A JSON report of a run over many orgs, read back into the records the reporters render
(``OrgsRun``: per org an ``Evaluation`` and a ``RunInfo``), faithfully: every format rendered from
what is read here equals, byte for byte, the format rendered from the run's own records.

``merge`` is built on this: the JSON reports of separate runs (one per CI matrix
job) become one ``OrgsRun``, rendered in any format as one run over the same orgs
would have been. tests/test_merge.py holds the reader to that for every format:
a field added to a report (or to the records behind it) that this module does
not read back fails it, which is the point (CONTRIBUTING.md, "Adding a field to
a report").

Reports are input: every value is checked for its type as it is read, and a
report that is not what ``check --orgs`` writes is bad input (exit 2) naming
the file and the place in it.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from genesys_oauth_audit.errors import Diagnostic, ExitCode, InputFileError
from genesys_oauth_audit.evidence import (
    Evidence,
    ExerciseEvidence,
    PermissionEvidence,
    RoleEvidence,
    UsageEvidence,
    ValueEvidence,
    Via,
)
from genesys_oauth_audit.files.reading import ReadError, decode_utf8, load_json, read_capped
from genesys_oauth_audit.findings import (
    BaselineEntry,
    ClientRef,
    DisabledRule,
    Evaluation,
    ExceptionStatus,
    Finding,
    Location,
    NotEvaluated,
    Severity,
    Waiver,
)
from genesys_oauth_audit.inventory import PermissionPolicy, UsageWindow
from genesys_oauth_audit.report.base import GroupBy, PolicyRef, RuleInfo, RunInfo, SourceInfo
from genesys_oauth_audit.report.json_report import REPORT_VERSION
from genesys_oauth_audit.report.leastpriv import (
    ClientPrivilege,
    LeastPrivilegeView,
    OpenChoice,
    PartlyUsedGrant,
    PermissionLists,
    RoleRow,
    ScopeLists,
)
from genesys_oauth_audit.report.orgs import REPORT_KIND, OrgReport, OrgsRun

# A report holds every finding of every org it covers; far larger than any snapshot.
MAX_REPORT_BYTES = 2 * 1024 * 1024 * 1024

T = TypeVar("T")


class _Bad(Exception):
    """Internal: the report is not what ``check --orgs`` writes, at ``where``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass(frozen=True)
class _At:
    """A value of the report and where it is (``orgs[2].report.findings[7]``), for messages."""

    value: Any
    where: str

    def _type(self, kind: type[T] | tuple[type, ...], what: str) -> T:
        value = self.value
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise _Bad(self.where, f"expected {what}, got a boolean")
        if not isinstance(value, kind):
            raise _Bad(self.where, f"expected {what}, got {_json_type(value)}")
        return cast(T, value)

    def __getitem__(self, key: str) -> _At:
        data = self._type(dict, "a mapping")
        if key not in data:
            raise _Bad(self.where, f"missing key {key!r}")
        return _At(data[key], f"{self.where}.{key}" if self.where else key)

    def get(self, key: str) -> _At:
        """The key's value, or null when the key is absent (optional in the report)."""
        data = self._type(dict, "a mapping")
        return _At(data.get(key), f"{self.where}.{key}" if self.where else key)

    def items(self) -> Iterator[_At]:
        for i, value in enumerate(self._type(list, "a list")):
            yield _At(value, f"{self.where}[{i}]")

    def pairs(self) -> Iterator[tuple[str, _At]]:
        for key, value in self._type(dict, "a mapping").items():
            yield key, _At(value, f"{self.where}.{key}")

    @property
    def is_null(self) -> bool:
        return self.value is None

    def text(self) -> str:
        return self._type(str, "a string")

    def opt_text(self) -> str | None:
        return None if self.value is None else self.text()

    def whole(self) -> int:
        return self._type(int, "a whole number")

    def opt_whole(self) -> int | None:
        return None if self.value is None else self.whole()

    def flag(self) -> bool:
        if not isinstance(self.value, bool):
            raise _Bad(self.where, f"expected true or false, got {_json_type(self.value)}")
        return self.value

    def texts(self) -> tuple[str, ...]:
        return tuple(item.text() for item in self.items())

    def wholes(self) -> list[int]:
        return [item.whole() for item in self.items()]

    def opt(self, read: Callable[[_At], T]) -> T | None:
        return None if self.value is None else read(self)

    def day(self) -> date:
        try:
            return date.fromisoformat(self.text())
        except ValueError:
            raise _Bad(self.where, "expected a date (YYYY-MM-DD)") from None

    def moment(self) -> datetime:
        try:
            return datetime.fromisoformat(self.text().replace("Z", "+00:00"))
        except ValueError:
            raise _Bad(self.where, "expected a date-time (ISO 8601)") from None

    def severity(self) -> Severity:
        try:
            return Severity(self.text())
        except ValueError:
            raise _Bad(self.where, f"unknown severity {self.value!r}") from None

    def one_of(self, *choices: str) -> str:
        value = self.text()
        if value not in choices:
            raise _Bad(self.where, f"expected one of {', '.join(choices)}, got {value!r}")
        return value


def _json_type(value: Any) -> str:
    for kind, name in (
        (bool, "a boolean"),
        (int, "a number"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a mapping"),
    ):
        if isinstance(value, kind):
            return name
    return "null"


# -- records --------------------------------------------------------------------------------------


def _value(at: _At) -> Any:
    """A compared value as evidence holds it: JSON lists back to tuples."""
    if isinstance(at.value, list):
        return tuple(_value(item) for item in at.items())
    if isinstance(at.value, dict):
        raise _Bad(at.where, "expected a value or a list, got a mapping")
    return at.value


def _via(at: _At) -> Via:
    policy = at["policy"]
    return Via(
        role_id=at["roleId"].text(),
        role_name=at["roleName"].opt_text(),
        divisions=at["divisions"].texts(),
        permission=at["permission"].text(),
        policy=None
        if policy.is_null
        else PermissionPolicy(
            domain=policy["domain"].text(),
            entity_name=policy["entityName"].text(),
            action_set=policy["actionSet"].texts(),
        ),
    )


def _evidence(at: _At) -> Evidence:
    kind = at["kind"].one_of("permission", "role", "usage", "value", "least-privilege")
    if kind == "permission":
        return PermissionEvidence(
            permission=at["permission"].text(),
            matched=at["matched"].opt_text(),
            grants=tuple(_via(v) for v in at["grants"].items()),
        )
    if kind == "role":
        return RoleEvidence(
            role_id=at["roleId"].text(),
            role_name=at["roleName"].opt_text(),
            divisions=at["divisions"].texts(),
            matched=at["matched"].opt_text(),
        )
    if kind == "usage":
        return UsageEvidence(
            last_used=at["lastUsed"].opt(_At.day),
            date_created=at["dateCreated"].opt(_At.day),
            days=at["days"].whole(),
            as_of=at["asOf"].day(),
            window_start=at["windowStart"].opt(_At.day),
            window_end=at["windowEnd"].opt(_At.day),
        )
    if kind == "least-privilege":
        return _exercise(at)
    return ValueEvidence(
        field=at["field"].text(),
        value=_value(at["value"]),
        parameter=at["parameter"].opt_text(),
        expected=_value(at["expected"]),
    )


def _exercise(at: _At) -> ExerciseEvidence:
    role, window = at["role"], at["window"]
    return ExerciseEvidence(
        role_id=None if role.is_null else role["roleId"].text(),
        role_name=None if role.is_null else role["roleName"].opt_text(),
        divisions=() if role.is_null else role["divisions"].texts(),
        scope=at["scope"].opt_text(),
        granted=at["granted"].whole(),
        observable=at["observable"].whole(),
        exercised=at["exercised"].texts(),
        ambiguous=at["ambiguous"].texts(),
        unused=at["unused"].whole(),
        unused_grants=at["unusedGrants"].texts(),
        ignored=at["ignored"].whole(),
        narrow_to=at["narrowTo"].opt_text(),
        days=window["days"].whole(),
        window_start=window["start"].day(),
        window_end=window["end"].day(),
        source=window["source"].opt_text(),
        requests=at["requests"].whole(),
        operations=at["operations"].whole(),
    )


def _window(at: _At) -> UsageWindow:
    return UsageWindow(
        days=at["days"].whole(),
        start=at["start"].day(),
        end=at["end"].day(),
        source=at["source"].opt_text(),
    )


# -- the least-privilege view ---------------------------------------------------------------------


def _role_row(at: _At) -> RoleRow:
    return RoleRow(
        role_id=at["roleId"].text(),
        role_name=at["roleName"].opt_text(),
        division_id=at["divisionId"].opt_text(),
        resolved=at["resolved"].flag(),
        permissions=at["permissions"].whole(),
        observable=at["observable"].whole(),
        exercised=at["exercised"].whole(),
        ambiguous=at["ambiguous"].whole(),
        unused=at["unused"].whole(),
    )


def _client_privilege(at: _At) -> ClientPrivilege:
    kind = at["kind"].one_of("permissions", "scopes")
    counts = at["counts"]
    lists: PermissionLists | ScopeLists
    if kind == "permissions":
        lists = PermissionLists(
            exercised=at["exercised"].texts(),
            ambiguous=at["ambiguous"].texts(),
            not_held=at["notHeld"].texts(),
            unused_grants=at["unusedGrants"].texts(),
            partly_used_grants=tuple(
                PartlyUsedGrant(g["permission"].text(), g["covers"].whole(), g["exercised"].texts())
                for g in at["partlyUsedGrants"].items()
            ),
            unobservable_grants=at["unobservableGrants"].texts(),
            roles=tuple(_role_row(r) for r in at["roles"].items()),
        )
        no_data = at["noPermissionDataOperations"].texts()
        unobservable, narrowable = counts["unobservable"].whole(), 0
        not_held = counts["notHeld"].whole()
    else:
        lists = ScopeLists(
            assigned=at["assigned"].texts(),
            needed=at["needed"].texts(),
            unused=at["unused"].texts(),
            narrowable=at["narrowable"].texts(),
            possibly_used=at["possiblyUsed"].texts(),
        )
        no_data = at["noScopeDataOperations"].texts()
        unobservable, narrowable, not_held = 0, counts["narrowable"].whole(), 0
    return ClientPrivilege(
        client_id=at["clientId"].text(),
        client_name=at["clientName"].text(),
        grant_type=at["grantType"].text(),
        kind="permissions" if kind == "permissions" else "scopes",
        granted=counts["granted"].whole(),
        exercised=counts["exercised"].whole(),
        ambiguous=counts["ambiguous"].whole(),
        unused=counts["unused"].whole(),
        unobservable=unobservable,
        narrowable=narrowable,
        not_held=not_held,
        requests=at["requests"].whole(),
        operations=at["operations"].whole(),
        lists=lists,
        ambiguous_operations=tuple(
            OpenChoice(c["operation"].text(), c["candidates"].texts())
            for c in at["ambiguousOperations"].items()
        ),
        no_data_operations=no_data,
        unknown_operations=at["unknownOperations"].texts(),
        denied_operations=at["deniedOperations"].texts(),
    )


def _least_privilege(at: _At) -> LeastPrivilegeView:
    """The report's ``leastPrivilege``: the view as the run built it (in its order)."""
    return LeastPrivilegeView(
        window=_window(at["window"]),
        clients=tuple(_client_privilege(c) for c in at["clients"].items()),
        notes=at["notes"].texts(),
        limits=at["limits"].texts(),
    )


def _waiver(at: _At) -> Waiver:
    return Waiver(
        reason=at["reason"].text(),
        expires=at["expires"].opt(_At.day),
        ticket=at["ticket"].opt_text(),
        owner=at["owner"].opt_text(),
    )


def _location(at: _At) -> Location:
    column = at.get("column")
    return Location(at["path"].text(), at["line"].whole(), column.opt_whole())


def _finding(at: _At, index: int, clients: tuple[ClientRef, ...]) -> Finding:
    if not -1 <= index < len(clients):
        raise _Bad(at.where, f"client index {index} is out of range")
    location = at["location"].opt(_location)
    # A finding points where its client is (a proposal's file, line and column); the report
    # gives path and line, the client list the column.
    own = clients[index].location if index >= 0 else None
    if location is not None and own is not None and own[:2] == location[:2]:
        location = own
    return Finding(
        rule_id=at["ruleId"].text(),
        severity=at["severity"].severity(),
        title=at["title"].text(),
        client_id=at["clientId"].opt_text(),
        client_name=at["clientName"].text(),
        subject=at["subject"].opt_text(),
        message=at["message"].text(),
        fingerprint=at["fingerprint"].text(),
        waived=at["waived"].opt(_waiver),
        baseline_state=at["baselineState"].opt(lambda s: cast(Any, s.one_of("new", "unchanged"))),
        location=location,
        client_index=index,
        evidence=at["evidence"].opt(_evidence),
    )


def _client(at: _At, location: Location | None) -> ClientRef:
    return ClientRef(
        id=at["id"].opt_text(),
        name=at["name"].text(),
        location=location,
        grant_type=at["grantType"].text(),
        state=at["state"].opt_text(),
        roles=at["roles"].texts(),
        permission_count=at["permissionCount"].opt_whole(),
        scope_count=at["scopeCount"].whole(),
        highest_risk=at["highestRisk"].opt(_At.severity),
        risk_reason=at["riskReason"].opt_text(),
    )


def _exception(at: _At) -> ExceptionStatus:
    return ExceptionStatus(
        rule_id=at["ruleId"].text(),
        clients=at["clients"].texts(),
        reason=at["reason"].text(),
        expires=at["expires"].opt(_At.day),
        ticket=at["ticket"].opt_text(),
        owner=at["owner"].opt_text(),
        source=at["source"].text(),
    )


def _disabled(at: _At, *, expired: bool) -> DisabledRule:
    return DisabledRule(
        rule_id=at["ruleId"].text(),
        title=at["title"].text(),
        severity=at["severity"].severity(),
        reason=at["reason"].text(),
        owner=at["owner"].opt_text(),
        ticket=at["ticket"].opt_text(),
        expires=at["expires"].opt(_At.day),
        source=at["source"].text(),
        expired=expired,
    )


def _absent(at: _At) -> BaselineEntry:
    return BaselineEntry(
        fingerprint=at["fingerprint"].text(),
        rule_id=at["ruleId"].opt_text(),
        client_id=at["clientId"].opt_text(),
        client_name=at["clientName"].opt_text(),
        subject=at["subject"].opt_text(),
        severity=at["severity"].opt_text(),
    )


def _rule(at: _At) -> RuleInfo:
    return RuleInfo(
        id=at["id"].text(),
        title=at["title"].text(),
        severity=at["severity"].severity(),
        check_type=at["checkType"].text(),
        description=at["description"].opt_text(),
        remediation=at["remediation"].opt_text(),
        help_uri=at["helpUri"].opt_text(),
        tags=at["tags"].texts(),
        source=at["source"].text(),
        controls=_controls(at["controls"]),
    )


def _controls(at: _At) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for pair in at.items():
        parts = list(pair.items())
        if len(parts) != 2:
            raise _Bad(pair.where, "expected [framework, [control ids]]")
        out.append((parts[0].text(), parts[1].texts()))
    return tuple(out)


def evaluation_and_run(
    report: _At,
    detail: _At,
    *,
    color: bool = False,
    group_by: GroupBy = "rule",
    sarif_include_waived: bool = False,
    riskiest: int = 10,
    width: int = 80,
) -> tuple[Evaluation, RunInfo]:
    """One org's (or one run's) ``report`` and ``detail`` objects back to its records; the
    options that only change how a format is drawn (colour, grouping, the riskiest clients
    listed, the text's width, waived results in SARIF) are the caller's, as they are
    ``check``'s, and so are the report files it writes (``RunInfo.outputs``): a report does
    not carry them (docs/many-orgs.md)."""
    locations = tuple(item.opt(_location) for item in detail["clientLocations"].items())
    clients_at = list(report["clients"].items())
    if len(clients_at) != len(locations):
        raise _Bad(detail["clientLocations"].where, "does not match the report's clients")
    clients = tuple(_client(c, loc) for c, loc in zip(clients_at, locations, strict=True))
    shown = list(report["findings"].items())
    hidden = list(detail["hiddenFindings"].items())
    indices = detail["findingClients"].wholes()
    if len(indices) != len(shown) + len(hidden):
        raise _Bad(detail["findingClients"].where, "does not match the report's findings")
    findings = tuple(
        _finding(at, index, clients) for at, index in zip([*shown, *hidden], indices, strict=True)
    )
    unevaluated = list(report["notEvaluated"].items())
    where = detail["notEvaluatedClients"].wholes()
    if len(where) != len(unevaluated):
        raise _Bad(detail["notEvaluatedClients"].where, "does not match notEvaluated")
    rule_level = detail["rulesNotEvaluated"].whole()
    records = []
    for at, index in zip(unevaluated, where, strict=True):
        if not -1 <= index < len(clients):
            raise _Bad(at.where, f"client index {index} is out of range")
        records.append(
            NotEvaluated(
                rule_id=at["ruleId"].text(),
                reason=at["reason"].text(),
                client_index=index,
                not_applicable=at["notApplicable"].flag(),
            )
        )
    disabled = [_disabled(d, expired=False) for d in report["disabledRules"].items()]
    disabled += [_disabled(d, expired=True) for d in report["expiredOverrides"].items()]
    order = {rule: i for i, rule in enumerate(detail["disabledOrder"].texts())}
    disabled.sort(key=lambda d: order.get(d.rule_id, len(order)))
    summary = report["summary"]
    selected = {}
    for rule, at in detail["selected"].pairs():
        picked = at.wholes()
        if any(not 0 <= i < len(clients) for i in picked):
            raise _Bad(at.where, "a client index is out of range")
        selected[rule] = array("I", picked)
    baselined = not summary["new"].is_null
    evaluation = Evaluation(
        findings=findings,
        not_evaluated=tuple(records[:rule_level]),
        expired_exceptions=tuple(_exception(e) for e in report["expiredExceptions"].items()),
        expiring_exceptions=tuple(_exception(e) for e in report["expiringExceptions"].items()),
        unused_exceptions=tuple(_exception(e) for e in report["unusedExceptions"].items()),
        rules_evaluated=summary["rulesEvaluated"].whole(),
        clients_evaluated=summary["clients"].whole(),
        pairs_evaluated=detail["pairsEvaluated"].whole(),
        clients=clients,
        selected=selected,
        pairs_not_evaluated=tuple(records[rule_level:]),
        baselined=baselined,
        absent=tuple(_absent(e) for e in report["absentBaselineEntries"].items()),
        disabled_rules=tuple(disabled),
    )
    source = report["source"]
    usage = source["usage"]
    fail_on = summary["failOn"].text()
    run = RunInfo(
        tool_version=report["tool"]["version"].text(),
        tool_name=report["tool"]["name"].text(),
        generated_at=report["generatedAt"].moment(),
        policies=tuple(
            PolicyRef(path=p["path"].text(), sha256=p["sha256"].text(), name=p["name"].opt_text())
            for p in report["policies"].items()
        ),
        rules=tuple(_rule(r) for r in detail["rules"].items()),
        source=SourceInfo(
            kind=cast(Any, source["kind"].one_of("live", "snapshot", "proposal")),
            org_id=source["org"]["id"].opt_text(),
            org_name=source["org"]["name"].opt_text(),
            region=source["region"].opt_text(),
            fetched_at=source["fetchedAt"].opt(_At.moment),
            path=source["path"].opt_text(),
            proposals=source["proposals"].texts(),
            notes=source.get("notes").texts() if not source.get("notes").is_null else (),
            usage=usage["lastUse"].opt(_window),
            operation_usage=usage["operations"].opt(_window),
            usage_notes=usage["notes"].texts(),
        ),
        fail_on=None if fail_on == "never" else summary["failOn"].severity(),
        min_severity=summary["minSeverity"].severity(),
        color=color,
        group_by=group_by,
        sarif_include_waived=sarif_include_waived,
        sarif_category=detail["sarifCategory"].opt_text(),
        baseline=detail["baseline"].opt_text(),
        frameworks=detail["frameworks"].texts(),
        warnings=report["warnings"].texts(),
        as_of=report["asOf"]["date"].day(),
        as_of_basis=cast(Any, report["asOf"]["basis"].one_of("as-of", "snapshot", "now")),
        width=width,
        riskiest=riskiest,
        least_privilege=report["leastPrivilege"].opt(_least_privilege),
    )
    # Every record names a rule of the report's own list: the formats look rules up by id (a
    # SARIF result points at its rule), and a report that disagrees with itself is not merged.
    known = {r.id for r in run.rules}
    named = [(at, f.rule_id) for at, f in zip([*shown, *hidden], findings, strict=True)]
    named += [(at, r.rule_id) for at, r in zip(unevaluated, records, strict=True)]
    for at, rule_id in named:
        if rule_id not in known:
            raise _Bad(at["ruleId"].where, f"rule {rule_id!r} is not one of the report's rules")
    for rule_id in [*selected, *(d.rule_id for d in disabled)]:
        if rule_id not in known:
            raise _Bad(detail["rules"].where, f"has no rule {rule_id!r}, which the report names")
    return evaluation, run


# -- many orgs ------------------------------------------------------------------------------------


def _org(at: _At, **options: Any) -> OrgReport:
    name, region = at["name"].text(), at["region"].text()
    verdict = at["verdict"].one_of("pass", "fail", "error")
    if verdict == "error":
        code = at["exitCode"].whole()
        if code not in (ExitCode.BAD_INPUT, ExitCode.INCOMPLETE):
            raise _Bad(at["exitCode"].where, "an org not audited exits 2 or 3")
        return OrgReport(
            name=name, region=region, error=at["error"].text(), error_code=ExitCode(code)
        )
    evaluation, run = evaluation_and_run(at["report"], at["detail"], **options)
    return OrgReport(name=name, region=region, evaluation=evaluation, run=run)


def orgs_run(data: Any, shown: str, **options: Any) -> OrgsRun:
    """A parsed JSON report of many orgs back to its ``OrgsRun``, or bad input naming the place
    in ``shown`` that is not what ``check --orgs`` writes."""
    top = _At(data, "")
    try:
        if not isinstance(data, dict) or data.get("kind") != REPORT_KIND:
            raise _Bad(
                "",
                "not a JSON report of check --orgs (kind: orgs); a report of one org (check "
                "without --orgs) cannot be merged: run check --orgs FILE --org NAME instead",
            )
        version = top["reportVersion"].whole()
        if version != REPORT_VERSION:
            raise _Bad(
                "reportVersion", f"report version {version}; this tool reads {REPORT_VERSION}"
            )
        summary = top["summary"]
        fail_on = summary["failOn"].text()
        orgs_file = top["orgsFile"]
        return OrgsRun(
            tool_name=top["tool"]["name"].text(),
            tool_version=top["tool"]["version"].text(),
            generated_at=top["generatedAt"].moment(),
            orgs_file=orgs_file["path"].text(),
            orgs_sha256=orgs_file["sha256"].text(),
            listed=tuple((o["name"].text(), o["region"].text()) for o in orgs_file["orgs"].items()),
            orgs=tuple(_org(o, **options) for o in top["orgs"].items()),
            min_severity=summary["minSeverity"].severity(),
            fail_on=None if fail_on == "never" else summary["failOn"].severity(),
            color=bool(options.get("color", False)),
        )
    except _Bad as bad:
        where = f"{bad.where}: " if bad.where else ""
        raise InputFileError([Diagnostic(shown, None, None, f"{where}{bad.message}")]) from None


def read_orgs_report(path: Path, **options: Any) -> OrgsRun:
    """Read a JSON report of ``check --orgs`` (size-capped, strict JSON) back to its records."""
    shown = str(path)
    try:
        text = decode_utf8(read_capped(path, MAX_REPORT_BYTES, what="report", shown=shown))
        data = load_json(text)
    except ReadError as exc:
        raise InputFileError([Diagnostic(shown, exc.line, exc.column, str(exc))]) from None
    return orgs_run(data, shown, **options)
