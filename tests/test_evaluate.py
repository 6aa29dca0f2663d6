"""The engine: selectors, exceptions and their lifecycle, not-evaluated rules, fingerprints, verdicts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Severity, fingerprint
from genesys_oauth_audit.inventory import Client, Inventory, Scope, load_snapshot
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.policy.model import PolicySet
from tests.helpers import SAMPLE_SNAPSHOT

HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\n"
TODAY = date(2026, 11, 20)


def policy(tmp_path: Path, body: str) -> PolicySet:
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + body)
    return load_policies((str(path),))


def inv(*clients: dict[str, Any], scopes: list[str] | None = None) -> Inventory:
    return Inventory(
        clients=tuple(Client.model_validate({"grantType": "CODE", **c}) for c in clients),
        scopes=tuple(Scope(id=s) for s in scopes) if scopes is not None else None,
    )


RULE = """
rules:
  - id: R-1
    title: No admin
    severity: high
    check: {type: forbidden-scope-prefixes, prefixes: ["admin:"]}
"""


def test_one_finding_per_subject_and_several_per_client(tmp_path: Path) -> None:
    ev = evaluate(
        policy(tmp_path, RULE),
        inv({"id": "a", "name": "A", "scopes": ["admin:x", "admin:y", "users"]}),
        today=TODAY,
    )
    assert [(f.client_id, f.subject) for f in ev.findings] == [("a", "admin:x"), ("a", "admin:y")]
    assert ev.pairs_evaluated == 1 and ev.rules_evaluated == 1


def test_where_selectors(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        """
rules:
  - id: R-1
    title: t
    where: {grantTypes: [CODE], states: [active], names: ["svc-*"], excludeNames: ["svc-ok*"], excludeIds: ["x3"]}
    check: {type: max-scopes, max: 0}
""",
    )
    clients = [
        {"id": "x1", "name": "svc-one", "state": "active", "scopes": ["a"]},
        {"id": "x2", "name": "svc-ok-two", "state": "active", "scopes": ["a"]},
        {"id": "x3", "name": "svc-three", "state": "active", "scopes": ["a"]},
        {"id": "x4", "name": "svc-four", "state": "disabled", "scopes": ["a"]},
        {"id": "x5", "name": "SVC-five", "state": "active", "scopes": ["a"]},
        {"id": "x6", "name": "svc-six", "state": "active", "scopes": ["a"], "grantType": "TOKEN"},
    ]
    ev = evaluate(p, inv(*clients), today=TODAY)
    assert [f.client_id for f in ev.findings] == ["x1"]
    assert ev.pairs_evaluated == 1


def test_ids_selector_is_exact(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "rules:\n  - {id: R, title: t, where: {ids: [abc]}, check: {type: max-scopes, max: 0}}\n",
    )
    ev = evaluate(
        p,
        inv(
            {"id": "abc", "name": "n", "scopes": ["a"]},
            {"id": "abcd", "name": "n", "scopes": ["a"]},
        ),
        today=TODAY,
    )
    assert [f.client_id for f in ev.findings] == ["abc"]


def exceptions_policy(tmp_path: Path, expires: str, clients: str = '["Legacy*"]') -> PolicySet:
    return policy(
        tmp_path,
        RULE
        + f"""
exceptions:
  - rule: R-1
    clients: {clients}
    reason: Being removed
    expires: {expires}
    ticket: SEC-1
    owner: team
""",
    )


def test_exception_waives_by_name_glob_through_its_expiry_day(tmp_path: Path) -> None:
    data = inv(
        {"id": "a", "name": "Legacy Admin", "scopes": ["admin:x"]},
        {"id": "b", "name": "Other", "scopes": ["admin:x"]},
    )
    ev = evaluate(exceptions_policy(tmp_path, "2026-11-20"), data, today=TODAY)
    waived = {f.client_id: f.waived for f in ev.findings}
    assert (
        waived["a"] is not None
        and waived["a"].reason == "Being removed"
        and waived["a"].ticket == "SEC-1"
    )
    assert waived["b"] is None
    assert ev.expired_exceptions == () and len(ev.expiring_exceptions) == 1
    assert not ev.fails(Severity.CRITICAL) and ev.fails(Severity.HIGH)  # b still fails


def test_exception_lapses_the_next_day_and_is_listed(tmp_path: Path) -> None:
    data = inv({"id": "a", "name": "Legacy Admin", "scopes": ["admin:x"]})
    ev = evaluate(exceptions_policy(tmp_path, "2026-11-19"), data, today=TODAY)
    assert ev.findings[0].waived is None
    assert [e.rule_id for e in ev.expired_exceptions] == ["R-1"]
    assert ev.fails(Severity.LOW)


def test_exception_expiring_soon_is_warned_and_far_one_is_not(tmp_path: Path) -> None:
    data = inv({"id": "a", "name": "Legacy Admin", "scopes": ["admin:x"]})
    assert (
        len(
            evaluate(
                exceptions_policy(tmp_path, "2026-12-03"), data, today=TODAY
            ).expiring_exceptions
        )
        == 1
    )
    assert (
        evaluate(exceptions_policy(tmp_path, "2026-12-04"), data, today=TODAY).expiring_exceptions
        == ()
    )


def test_exception_matches_exact_id_never_a_substring(tmp_path: Path) -> None:
    data = inv(
        {"id": "abc-123", "name": "X", "scopes": ["admin:x"]},
        {"id": "abc-1234", "name": "Y", "scopes": ["admin:x"]},
    )
    ev = evaluate(exceptions_policy(tmp_path, "2027-01-01", '["abc-123"]'), data, today=TODAY)
    assert {f.client_id: f.waived is not None for f in ev.findings} == {
        "abc-123": True,
        "abc-1234": False,
    }


def test_unused_exception_is_reported(tmp_path: Path) -> None:
    ev = evaluate(
        exceptions_policy(tmp_path, "2027-01-01", '["Nobody"]'),
        inv({"id": "a", "name": "A", "scopes": []}),
        today=TODAY,
    )
    assert [e.clients for e in ev.unused_exceptions] == [("Nobody",)]


def test_rules_needing_missing_data_are_not_evaluated_with_a_reason(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        """
rules:
  - {id: O, title: orphans, check: {type: orphan-scopes}}
  - {id: R, title: roles, check: {type: orphan-roles}}
  - {id: U, title: usage, check: {type: max-days-unused, days: 30}}
  - {id: P, title: perms, check: {type: forbidden-permissions, permissions: ["oauth:client:edit"]}}
exceptions:
  - {rule: R, clients: [x], reason: "not evaluated, so neither used nor unused"}
""",
    )
    ev = evaluate(p, inv({"id": "a", "name": "A", "scopes": ["zzz"]}), today=TODAY)
    assert ev.findings == ()
    reasons = {n.rule_id: n.reason for n in ev.not_evaluated}
    assert set(reasons) == {"O", "R", "U", "P"}
    assert "scope catalog" in reasons["O"] and "roles" in reasons["R"] and "usage" in reasons["U"]
    assert ev.unused_exceptions == ()
    assert ev.rules_evaluated == 0


def test_fingerprint_is_stable_and_survives_renames(tmp_path: Path) -> None:
    p = policy(tmp_path, RULE)
    one = evaluate(
        p, inv({"id": "a", "name": "Old name", "scopes": ["admin:x"]}), today=TODAY
    ).findings[0]
    two = evaluate(
        p, inv({"id": "a", "name": "New name", "scopes": ["admin:x"]}), today=TODAY
    ).findings[0]
    assert one.fingerprint == two.fingerprint == fingerprint("R-1", "a", "admin:x")
    assert fingerprint("R-1", "a", None) != fingerprint("R-1", "a", "")
    assert (
        len(
            {
                fingerprint("R-1", "a", "x"),
                fingerprint("R-2", "a", "x"),
                fingerprint("R-1", "b", "x"),
            }
        )
        == 3
    )


def test_thresholds(tmp_path: Path) -> None:
    ev = evaluate(
        policy(tmp_path, RULE), inv({"id": "a", "name": "A", "scopes": ["admin:x"]}), today=TODAY
    )
    assert ev.fails(Severity.HIGH) and ev.fails(Severity.INFO) and not ev.fails(Severity.CRITICAL)
    assert not ev.fails(None)
    assert ev.counts_by_severity() == {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}


def test_tutorial_on_the_sample_org() -> None:
    ev = evaluate(load_policies(("builtin:tutorial",)), load_snapshot(SAMPLE_SNAPSHOT), today=TODAY)
    found = {(f.rule_id, f.client_name, f.subject) for f in ev.findings}
    assert found == {
        ("GOA-TUT-001", "Legacy Admin Console", "admin:organization"),
        ("GOA-TUT-001", "Support Impersonation Tool", "impersonation:users"),
        ("GOA-TUT-002", "Legacy Admin Console", "admin:organization"),
        ("GOA-TUT-002", "Support Impersonation Tool", "impersonation:users"),
        ("GOA-TUT-002", "Retired Scope Client", "streaming-events:readonly"),
    }
    assert ev.findings[0].severity is Severity.HIGH  # most severe first


@pytest.mark.parametrize("builtin", ["tutorial"])
def test_evaluation_is_deterministic(builtin: str) -> None:
    policies = load_policies((f"builtin:{builtin}",))
    inventory = load_snapshot(SAMPLE_SNAPSHOT)
    assert evaluate(policies, inventory, today=TODAY) == evaluate(policies, inventory, today=TODAY)
