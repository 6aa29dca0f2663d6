"""Policy unit tests (SPEC §6): a test file names policies, an inventory and the findings each case
expects; ``run_test_file`` evaluates and compares, like a test runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.errors import Diagnostic, InputFileError, PolicyError
from genesys_oauth_audit.files.yamldoc import Document, did_you_mean, read_document
from genesys_oauth_audit.findings import Evaluation, Finding
from genesys_oauth_audit.inventory import Inventory, load_snapshot
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
    if "usage" in raw:
        days = raw["usage"]["days"]
        data["usage"] = {
            "days": days,
            "start": (today - timedelta(days=days - 1)).isoformat(),
            "end": today.isoformat(),
        }
    # In a test the id may be left out: the name is then the id.
    data["clients"] = [
        {"id": c.get("name"), **c} if isinstance(c, dict) and "id" not in c else c
        for c in raw.get("clients", [])
    ]
    try:
        return Inventory.model_validate(data), []
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


def _resolve_client(inventory: Inventory, ref: str) -> str | None:
    for client in inventory.clients:
        if ref in (client.id, client.name):
            return client.id
    return None


def load_test_file(path: Path) -> LoadedTest:
    """Parse and check one test file; every problem raises ``InputFileError`` (exit 2)."""
    shown = str(path)
    diagnostics: list[Diagnostic] = []
    validator = Draft202012Validator(policy_test_schema(), format_checker=FormatChecker())
    parsed = read_document(
        path,
        shown,
        validator,
        diagnostics,
        what="policy test",
        expected="a mapping with apiVersion, kind, policies and cases",
    )
    if parsed is None or diagnostics:
        raise InputFileError(diagnostics)
    doc, data = parsed.doc, parsed.doc.data
    base = path.parent
    today = (
        date.fromisoformat(data["today"]) if "today" in data else datetime.now(timezone.utc).date()
    )

    refs = tuple(
        ref if ref.startswith(BUILTIN_PREFIX) else str(base / ref) for ref in data["policies"]
    )
    try:
        policies = load_policies(refs)
    except PolicyError as exc:
        raise InputFileError(
            [doc.at(("policies",), "the policies under test are invalid"), *exc.diagnostics]
        ) from None
    if "frameworks" in data:
        # As ``check --framework``: only the rules mapped to one of these frameworks run.
        known = policies.frameworks()
        for j, framework in enumerate(data["frameworks"]):
            if framework not in known:
                diagnostics.append(
                    doc.at(
                        ("frameworks", j),
                        f"no rule of the policies under test maps to framework {framework!r}"
                        f"{did_you_mean(framework, known)}"
                        + (f" (they map: {', '.join(known)})" if known else ""),
                    )
                )
        policies = policies.for_frameworks(tuple(data["frameworks"]))

    if ("inventory" in data) == ("inventoryFile" in data):
        raise InputFileError(
            [doc.at((), "give exactly one of inventory (inline) or inventoryFile")]
        )
    if "inventoryFile" in data:
        inventory = load_snapshot(base / data["inventoryFile"])
    else:
        maybe, problems = _inline_inventory(doc, data["inventory"], today)
        if maybe is None:
            raise InputFileError(problems)
        inventory = maybe

    rule_ids = [r.id for r in policies.rules]
    cases: list[_Case] = []
    for i, raw_case in enumerate(data["cases"]):
        here = ("cases", i)
        if _resolve_client(inventory, raw_case["client"]) is None:
            names = [c.name for c in inventory.clients]
            diagnostics.append(
                doc.at(
                    (*here, "client"),
                    f"case {raw_case['name']!r} names client {raw_case['client']!r}, which is not in the "
                    f"inventory{did_you_mean(raw_case['client'], names)}",
                )
            )
        for key, values in (
            ("rules", raw_case.get("rules", [])),
            ("expect", [e["rule"] for e in raw_case["expect"]]),
        ):
            for j, rule_id in enumerate(values):
                if rule_id not in rule_ids:
                    at = (*here, key, j) if key == "rules" else (*here, "expect", j, "rule")
                    diagnostics.append(
                        doc.at(
                            at,
                            f"rule {rule_id!r} is not in the policies under test{did_you_mean(rule_id, rule_ids)}",
                        )
                    )
        cases.append(
            _Case(
                name=raw_case["name"],
                client_ref=raw_case["client"],
                rules=tuple(raw_case["rules"]) if "rules" in raw_case else None,
                expect={
                    (e["rule"], e.get("subject"), bool(e.get("waived", False)))
                    for e in raw_case["expect"]
                },
            )
        )
    for key in ("notEvaluated", "disabled"):
        for j, rule_id in enumerate(data.get(key, [])):
            if rule_id not in rule_ids:
                diagnostics.append(
                    doc.at(
                        (key, j),
                        f"rule {rule_id!r} is not in the policies under test"
                        f"{did_you_mean(rule_id, rule_ids)}",
                    )
                )
    if diagnostics:
        raise InputFileError(diagnostics)
    return LoadedTest(
        policies=policies,
        inventory=inventory,
        today=today,
        cases=cases,
        not_evaluated=set(data["notEvaluated"]) if "notEvaluated" in data else None,
        disabled=set(data["disabled"]) if "disabled" in data else None,
    )


def _set_problem(what: str, expected: set[str] | None, actual: set[str]) -> str | None:
    if expected is None or actual == expected:
        return None
    return f"{what}: expected {sorted(expected)}, got {sorted(actual)}"


def run_test_file(path: Path) -> FileResult:
    test = load_test_file(path)
    evaluation = evaluate(test.policies, test.inventory, today=test.today)
    results = [_run_case(case, test.inventory, evaluation) for case in test.cases]
    return FileResult(
        str(path),
        tuple(results),
        _set_problem(
            "rules not evaluated",
            test.not_evaluated,
            {n.rule_id for n in evaluation.not_evaluated},
        ),
        _set_problem(
            "rules disabled by overrides",
            test.disabled,
            {d.rule_id for d in evaluation.disabled},
        ),
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
        lines.append(result.path)
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
