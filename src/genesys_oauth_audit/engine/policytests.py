"""Policy unit tests (docs/writing-policies.md): a test file names policies, an inventory and the findings each case
expects; ``run_test_file`` evaluates and compares, like a test runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genesys_oauth_audit.data.enums import EARLIEST_YEAR, LATEST_YEAR
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.errors import Diagnostic, InputFileError, PolicyError
from genesys_oauth_audit.files.schemacheck import SchemaValidator
from genesys_oauth_audit.files.yamldoc import Document, did_you_mean, read_document
from genesys_oauth_audit.findings import Evaluation, Finding
from genesys_oauth_audit.inventory import Client, Inventory, OneOf, load_snapshot
from genesys_oauth_audit.policy.loader import BUILTIN_PREFIX, load_policies
from genesys_oauth_audit.policy.model import PolicySet
from genesys_oauth_audit.policy.schema import policy_test_schema

TEST_SUFFIX = ".test.yaml"

Key = tuple[str, str | None, bool]  # (rule id, subject, waived)


@dataclass(frozen=True)
class CaseResult:
    name: str
    client: str
    unexpected: tuple[Finding, ...]
    missing: tuple[Key, ...]

    @property
    def passed(self) -> bool:
        return not self.unexpected and not self.missing


@dataclass(frozen=True)
class FileResult:
    path: str
    cases: tuple[CaseResult, ...]
    not_evaluated_problem: str | None = None
    disabled_problem: str | None = None
    as_of: date | None = None  # the day the file was judged as of

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        # A wrong set of not-evaluated (or disabled) rules counts as one more failed case.
        return (
            sum(1 for c in self.cases if not c.passed)
            + (1 if self.not_evaluated_problem else 0)
            + (1 if self.disabled_problem else 0)
        )


@dataclass(frozen=True)
class LoadedTest:
    """One parsed test file: what to evaluate, as of which day, and what to expect."""

    policies: PolicySet
    inventory: Inventory
    today: date
    cases: list[_Case]
    not_evaluated: set[str] | None
    disabled: set[str] | None


@dataclass
class _Case:
    name: str
    client_ref: str
    rules: tuple[str, ...] | None
    expect: set[Key] = field(default_factory=set)


def find_test_files(paths: tuple[str, ...]) -> list[Path]:
    """Files as given, and every ``*.test.yaml`` below a directory, in a stable order."""
    found: list[Path] = []
    for ref in paths:
        path = Path(ref)
        if path.is_dir():
            found.extend(sorted(path.rglob(f"*{TEST_SUFFIX}")))
        else:
            found.append(path)
    return found


def _inline_inventory(
    doc: Document, raw: dict[str, Any], today: date
) -> tuple[Inventory | None, list[Diagnostic]]:
    data: dict[str, Any] = {}
    if "org" in raw:
        data["org"] = raw["org"]
    if "region" in raw:
        data["region"] = raw["region"]
    if "scopes" in raw:
        data["scopes"] = [{"id": s} if isinstance(s, str) else s for s in raw["scopes"]]
    if "roles" in raw:
        data["roles"] = raw["roles"]
    # A window of N days ending on the day of the test, for last use and for operations.
    for key in ("usage", "operationUsage"):
        if key in raw:
            days = raw[key]["days"]
            try:
                start = today - timedelta(days=days - 1)
            except OverflowError:  # more days than the calendar has before the day of the test
                return None, [
                    doc.at(
                        ("inventory", key, "days"),
                        f"inventory.{key}.days: {days} days before {today.isoformat()} reach "
                        "back before the calendar's first day",
                    )
                ]
            data[key] = {"days": days, "start": start.isoformat(), "end": today.isoformat()}
    # In a test the id may be left out: the name is then the id.
    data["clients"] = [
        {"id": c.get("name"), **c} if isinstance(c, dict) and "id" not in c else c
        for c in raw.get("clients", [])
    ]
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False)[:20]:
            loc = ("inventory", *err["loc"])
            unknown = err["type"] == "extra_forbidden"
            message = "unknown key" if unknown else str(err["msg"])
            problems.append(
                doc.at(tuple(loc), f"{'.'.join(str(p) for p in loc)}: {message}", key=unknown)
            )
        return None, problems
    return inventory, _inline_client_problems(doc, raw.get("clients", []), inventory)


def _inline_client_problems(
    doc: Document, raw: list[Any], inventory: Inventory
) -> list[Diagnostic]:
    """What an inline client may not be, though a snapshot's may: a value the API does not
    enumerate (a grant type or state written by hand is a typo, and the rules that select on it
    would report the client not evaluated, so the test would assert nothing it means), or the
    id of another inline client (one without an id takes its name: two clients would be judged,
    and expected, as one)."""
    enumerated = [
        (info.alias or name, name, marker.values)
        for name, info in Client.model_fields.items()
        for marker in info.metadata
        if isinstance(marker, OneOf)
    ]
    out: list[Diagnostic] = []
    first: dict[str, int] = {}
    for i, client in enumerate(inventory.clients):
        here = ("inventory", "clients", i)
        for alias, attr, values in enumerated:
            value = getattr(client, attr)
            if value is None or value in values:
                continue
            folded = value.casefold().replace("_", "-")
            spelt = next((v for v in values if v.casefold() == folded), None)
            out.append(
                doc.at(
                    (*here, alias),
                    f"inventory.clients.{i}.{alias}: {value!r} is not one of the API's values "
                    f"({', '.join(values)}): an inline client states what the API returns (to "
                    "test a value the API may add later, give a snapshot as inventoryFile)"
                    + (f"; did you mean {spelt!r}?" if spelt else ""),
                )
            )
        if client.id in first:
            stated = isinstance(raw[i], dict) and "id" in raw[i]
            out.append(
                doc.at(
                    (*here, "id" if stated else "name"),
                    f"inventory.clients.{i}: client id {client.id!r} is also the id of "
                    f"inventory.clients.{first[client.id]}"
                    + ("" if stated else " (a client without an id takes its name as its id)")
                    + "; two clients with one id are judged as one: give each its own id",
                )
            )
        first.setdefault(client.id, i)
    return out


def _matching_clients(inventory: Inventory, ref: str) -> list[Client]:
    """The clients a case's ``client`` may mean: those whose id or name it is."""
    return [c for c in inventory.clients if ref in (c.id, c.name)]


def _resolve_client(inventory: Inventory, ref: str) -> str | None:
    matches = _matching_clients(inventory, ref)
    return matches[0].id if matches else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _expected_subject(value: Any) -> str | None:
    """An expected subject: text or none (anything else is a schema error reported already)."""
    return value if value is None or isinstance(value, str) else repr(value)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def load_test_file(path: Path, as_of: date | None = None) -> LoadedTest:
    """Parse and check one test file; every problem of the file (schema, the policies under test,
    the inventory, every case) is collected and raised together as ``InputFileError`` (exit 2),
    so fixing one error never reveals another that was there all along.

    The day it is judged as of: ``as_of`` (``--as-of``), else the file's ``today:``, else its
    ``inventoryFile``'s ``fetchedAt``, else today (the same order as ``check``)."""
    shown = str(path)
    diagnostics: list[Diagnostic] = []
    # jsonschema only for a file with an error, as for policies (files/schemacheck.py).
    validator = SchemaValidator(policy_test_schema())
    parsed = read_document(
        path,
        shown,
        validator,
        diagnostics,
        what="policy test",
        expected="a mapping with apiVersion, kind, policies and cases",
        other_kinds={
            "Policy": "this is a policy file (kind: Policy), not a policy test: check it with "
            f"`genesys-oauth-audit validate {shown}` (test runs *.test.yaml files, kind: "
            "PolicyTest)"
        },
    )
    if parsed is None:
        raise InputFileError(diagnostics)
    doc, data = parsed.doc, parsed.doc.data
    base = path.parent

    policies: PolicySet | None = None
    refs = _strings(data.get("policies"))
    if refs and parsed.clean(("policies",)):
        try:
            policies = load_policies(
                tuple(ref if ref.startswith(BUILTIN_PREFIX) else str(base / ref) for ref in refs)
            )
        except PolicyError as exc:
            diagnostics += [
                doc.at(("policies",), "the policies under test are invalid"),
                *exc.diagnostics,
            ]
    if policies is not None and isinstance(data.get("frameworks"), list):
        # As ``check --framework``: only the rules mapped to one of these frameworks run.
        known = policies.frameworks()
        frameworks = _strings(data["frameworks"])
        for j, framework in enumerate(frameworks):
            if framework not in known:
                diagnostics.append(
                    doc.at(
                        ("frameworks", j),
                        f"no rule of the policies under test maps to framework {framework!r}"
                        f"{did_you_mean(framework, known)}"
                        + (f" (they map: {', '.join(known)})" if known else ""),
                    )
                )
        policies = policies.for_frameworks(tuple(frameworks))

    inventory: Inventory | None = None
    today = as_of or _date(data.get("today"))
    if today is not None and not EARLIEST_YEAR <= today.year < LATEST_YEAR:
        # The checks count days back from it: a year-1 day would overflow.
        diagnostics.append(
            doc.at(
                ("today",),
                f"today: {today.isoformat()} is not between {EARLIEST_YEAR}-01-01 and "
                f"{LATEST_YEAR}-01-01",
            )
        )
        today = None
    if ("inventory" in data) == ("inventoryFile" in data):
        diagnostics.append(doc.at((), "give exactly one of inventory (inline) or inventoryFile"))
    elif isinstance(data.get("inventoryFile"), str):
        try:
            inventory = load_snapshot(base / data["inventoryFile"])
        except InputFileError as exc:
            diagnostics += exc.diagnostics
        if today is None and inventory is not None and inventory.fetched_at is not None:
            today = inventory.fetched_at.astimezone(timezone.utc).date()
    today = today or datetime.now(timezone.utc).date()
    if isinstance(data.get("inventory"), dict) and parsed.clean(("inventory",)):
        inventory, problems = _inline_inventory(doc, data["inventory"], today)
        diagnostics += problems

    rule_ids = [r.id for r in policies.rules] if policies is not None else None
    cases: list[_Case] = []
    raw_cases = data.get("cases")
    for i, raw_case in enumerate(raw_cases if isinstance(raw_cases, list) else ()):
        if not isinstance(raw_case, dict):
            continue
        here = ("cases", i)
        name, ref = raw_case.get("name"), raw_case.get("client")
        matches = (
            _matching_clients(inventory, ref)
            if inventory is not None and isinstance(ref, str)
            else None
        )
        if matches == [] and inventory is not None:
            names = [c.name for c in inventory.clients]
            diagnostics.append(
                doc.at(
                    (*here, "client"),
                    f"case {name!r} names client {ref!r}, which is not in the "
                    f"inventory{did_you_mean(str(ref), names)}",
                )
            )
        elif matches is not None and len(matches) > 1:
            # Findings are compared per client: the case would silently judge the first.
            ids = ", ".join(repr(c.id) for c in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            diagnostics.append(
                doc.at(
                    (*here, "client"),
                    f"case {name!r} names client {ref!r}, which is the id or name of "
                    f"{len(matches)} clients of the inventory (ids {ids}{more}): name one by "
                    "an id only it has",
                )
            )
        # The schema's errors are raised with the others below; until then, only what fits.
        expect = [e for e in _list(raw_case.get("expect")) if isinstance(e, dict)]
        if rule_ids is not None:
            named: list[tuple[tuple[str | int, ...], str]] = [
                (("rules", j), r) for j, r in enumerate(_strings(raw_case.get("rules")))
            ]
            named += [
                (("expect", j, "rule"), e["rule"])
                for j, e in enumerate(_list(raw_case.get("expect")))
                if isinstance(e, dict) and isinstance(e.get("rule"), str)
            ]
            for at, rule_id in named:
                if rule_id not in rule_ids:
                    diagnostics.append(
                        doc.at(
                            (*here, *at),
                            f"rule {rule_id!r} is not in the policies under "
                            f"test{did_you_mean(rule_id, rule_ids)}",
                        )
                    )
        cases.append(
            _Case(
                name=str(name),
                client_ref=str(ref),
                rules=tuple(_strings(raw_case["rules"])) if "rules" in raw_case else None,
                expect={
                    (
                        str(e.get("rule")),
                        _expected_subject(e.get("subject")),
                        bool(e.get("waived", False)),
                    )
                    for e in expect
                },
            )
        )
    if rule_ids is not None:
        for key in ("notEvaluated", "disabled"):
            for j, rule_id in enumerate(_strings(data.get(key))):
                if rule_id not in rule_ids:
                    diagnostics.append(
                        doc.at(
                            (key, j),
                            f"rule {rule_id!r} is not in the policies under test"
                            f"{did_you_mean(rule_id, rule_ids)}",
                        )
                    )
    if diagnostics or policies is None or inventory is None:
        raise InputFileError(diagnostics)
    return LoadedTest(
        policies=policies,
        inventory=inventory,
        today=today,
        cases=cases,
        not_evaluated=set(_strings(data["notEvaluated"])) if "notEvaluated" in data else None,
        disabled=set(_strings(data["disabled"])) if "disabled" in data else None,
    )


def _set_problem(what: str, expected: set[str] | None, actual: set[str]) -> str | None:
    if expected is None or actual == expected:
        return None
    return f"{what}: expected {sorted(expected)}, got {sorted(actual)}"


def run_test_file(path: Path, as_of: date | None = None) -> FileResult:
    test = load_test_file(path, as_of)
    evaluation = evaluate(test.policies, test.inventory, today=test.today)
    results = [_run_case(case, test.inventory, evaluation) for case in test.cases]
    return FileResult(
        path=str(path),
        cases=tuple(results),
        not_evaluated_problem=_set_problem(
            "rules not evaluated",
            test.not_evaluated,
            {n.rule_id for n in evaluation.not_evaluated},
        ),
        disabled_problem=_set_problem(
            "rules disabled by overrides",
            test.disabled,
            {d.rule_id for d in evaluation.disabled},
        ),
        as_of=test.today,
    )


def _run_case(case: _Case, inventory: Inventory, evaluation: Evaluation) -> CaseResult:
    client_id = _resolve_client(inventory, case.client_ref)
    actual = [
        f
        for f in evaluation.findings
        if f.client_id == client_id and (case.rules is None or f.rule_id in case.rules)
    ]
    keys = {(f.rule_id, f.subject, f.waived is not None): f for f in actual}
    return CaseResult(
        name=case.name,
        client=case.client_ref,
        unexpected=tuple(f for key, f in keys.items() if key not in case.expect),
        missing=tuple(sorted((k for k in case.expect if k not in keys), key=str)),
    )


def render_results(results: list[FileResult]) -> str:
    """Runner-like output: each case, what differed, and a closing ``N passed, N failed`` line."""
    lines: list[str] = []
    for result in results:
        when = f" (as of {result.as_of.isoformat()})" if result.as_of is not None else ""
        lines.append(result.path + when)
        for case in result.cases:
            lines.append(f"  {'PASS' if case.passed else 'FAIL'}  {case.name}")
            for f in case.unexpected:
                waived = ", waived" if f.waived else ""
                lines.append(
                    f"        unexpected: {f.rule_id} subject={_subject(f.subject)}{waived}: {f.message}"
                )
            for rule, subject, waived_flag in case.missing:
                waived = ", waived" if waived_flag else ""
                lines.append(f"        missing:    {rule} subject={_subject(subject)}{waived}")
        for problem in (result.not_evaluated_problem, result.disabled_problem):
            if problem:
                lines.append(f"  FAIL  {problem}")
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    lines.append(f"{passed} passed, {failed} failed")
    return "\n".join(lines) + "\n"


def _subject(subject: str | None) -> str:
    return "null" if subject is None else repr(subject)
