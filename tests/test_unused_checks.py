"""The least-privilege check types (unused-permissions, unused-roles, unused-scopes): thresholds,
ignore globs, divisions, ambiguity, windows, and what they need of the inventory."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from genesys_oauth_audit.checks import CHECKS, Context
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.errors import PolicyError
from genesys_oauth_audit.evidence import ExerciseEvidence
from genesys_oauth_audit.inventory import Client, Inventory, Role, UsageWindow
from genesys_oauth_audit.leastpriv.org import analyse_inventory
from genesys_oauth_audit.policy.loader import load_policies

TODAY = date(2026, 11, 20)
WINDOW = UsageWindow(days=90, start=date(2026, 8, 23), end=TODAY, source="aggregates-query-jobs")
ROLES = {
    "r-master": Role(id="r-master", name="Master Admin", permissions=("*:*:*",)),
    "r-routing": Role(id="r-routing", name="Routing Admin", permissions=("routing:*:*",)),
    "r-queue": Role(id="r-queue", name="Queue Reader", permissions=("routing:queue:view",)),
    "r-users": Role(id="r-users", name="User Admin", permissions=("directory:user:*",)),
    "r-ui": Role(id="r-ui", name="UI Only", permissions=("ui:homeScreen:view",)),
    "r-analytics": Role(id="r-analytics", name="Analytics", permissions=("analytics:*:*",)),
}


def call(method: str, path: str, ok: int = 10, **counts: int) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "requests": ok + sum(counts.values()),
        "status2xx": ok,
        **counts,
    }


QUEUES = call("GET", "/api/v2/routing/queues")
DETAILS = call("POST", "/api/v2/analytics/conversations/details/query")


def cc(*roles: tuple[str, str | None], operations: list[dict[str, Any]] | None = None) -> Client:
    return Client.model_validate(
        {
            "id": "c-1",
            "name": "Integration",
            "grantType": "CLIENT-CREDENTIALS",
            "roles": [{"roleId": r, "divisionId": d} for r, d in roles],
            "operations": [QUEUES] if operations is None else operations,
        }
    )


def ctx(window: UsageWindow | None = WINDOW) -> Context:
    return Context(today=TODAY, roles=ROLES, operations=window)


def problems(name: str, client: Client, context: Context | None = None, **params: Any) -> list[Any]:
    check = CHECKS[name]
    return list(check.run(client, context or ctx(), check.params.model_validate(params)))


# -- unused-permissions ---------------------------------------------------------------------------


def test_one_finding_per_role_with_the_issue_s_sentence() -> None:
    [p] = problems("unused-permissions", cc(("r-master", "*")))
    assert p.subject == "Master Admin"
    assert p.message.startswith(
        "role 'Master Admin' grants 1465 permissions; 1 was exercised in 90 days"
    )
    ev = p.evidence
    assert isinstance(ev, ExerciseEvidence)
    assert (ev.granted, ev.observable, ev.exercised, ev.unused) == (
        1465,
        1465,
        ("routing:queue:view",),
        1464,
    )
    assert ev.divisions == ("*",) and ev.source == "aggregates-query-jobs"
    assert ev.as_dict()["kind"] == "least-privilege"


def test_a_role_in_several_divisions_is_one_finding_naming_each() -> None:
    [p] = problems("unused-permissions", cc(("r-routing", "d-1"), ("r-routing", "d-2")))
    assert p.subject == "Routing Admin"
    assert isinstance(p.evidence, ExerciseEvidence) and p.evidence.divisions == ("d-1", "d-2")
    assert "divisions d-1, d-2" in p.evidence.describe()


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({}, ["Routing Admin", "User Admin"]),  # any unused permission
        ({"maxUnused": 5}, ["Routing Admin"]),  # User Admin leaves 5: not more than 5
        ({"maxUnused": 4}, ["Routing Admin", "User Admin"]),
        ({"maxUnusedShare": 0.99}, ["User Admin"]),  # routing: 81 of 82 = 98.8%; users: 100%
        ({"maxUnused": 10, "maxUnusedShare": 0.5}, ["Routing Admin"]),  # both must be exceeded
    ],
)
def test_thresholds_by_count_and_share(params: dict[str, Any], found: list[str]) -> None:
    client = cc(("r-routing", "*"), ("r-users", "*"), ("r-queue", "*"))
    assert sorted(p.subject for p in problems("unused-permissions", client, **params)) == found


def test_a_fully_exercised_role_and_an_unobservable_one_pass() -> None:
    assert problems("unused-permissions", cc(("r-queue", "*"), ("r-ui", "*"))) == []


def test_ignored_permissions_leave_every_count() -> None:
    client = cc(("r-routing", "*"))
    [p] = problems("unused-permissions", client, ignore=["routing:skill:*", "routing:wrapupCode:*"])
    ev = p.evidence
    assert isinstance(ev, ExerciseEvidence)
    assert ev.ignored > 0 and ev.granted == 82 - ev.ignored and ev.unused == 81 - ev.ignored
    everything_else = ["routing:*:add", "routing:*:edit", "routing:*:delete"]
    [q] = problems("unused-permissions", client, ignore=everything_else)
    assert isinstance(q.evidence, ExerciseEvidence) and q.evidence.unused < ev.unused + ev.ignored
    # Ignoring the whole grant leaves nothing to judge.
    assert problems("unused-permissions", client, ignore=["routing:*:*"]) == []


def test_ambiguous_candidates_are_possibly_exercised_never_unused() -> None:
    [p] = problems("unused-permissions", cc(("r-analytics", "*"), operations=[DETAILS]))
    ev = p.evidence
    assert isinstance(ev, ExerciseEvidence)
    assert ev.exercised == () and len(ev.ambiguous) == 2
    assert ev.unused == ev.observable - 2
    assert "2 possibly" in p.message


def test_denied_calls_prove_nothing() -> None:
    denied = call("GET", "/api/v2/routing/queues", ok=0, status4xx=12)
    [p] = problems("unused-permissions", cc(("r-queue", "*"), operations=[denied]))
    assert p.message.startswith("role 'Queue Reader' grants 1 permission; 0 were exercised")


def test_an_unresolved_role_is_left_to_orphan_roles() -> None:
    assert problems("unused-permissions", cc(("r-gone", "*"))) == []
    assert problems("unused-roles", cc(("r-gone", "*"))) == []


def test_max_unused_0_with_a_share_is_a_policy_error(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - {id: A, title: a, check: {type: unused-permissions, maxUnused: 0, maxUnusedShare: 0.5}}\n"
        "  - {id: B, title: b, check: {type: unused-roles, minWindowDays: 120}}\n"
        "  - {id: C, title: c, check: {type: unused-permissions, ignore: ['rout:*:*']}}\n"
    )
    with pytest.raises(PolicyError) as err:
        load_policies((str(path),))
    text = str(err.value)
    assert "maxUnusedShare adds nothing" in text
    assert "minWindowDays" in text and "90" in text
    assert "'rout:*:*' matches no permission" in text


# -- unused-roles ---------------------------------------------------------------------------------


def test_a_role_nothing_exercised_is_reported_with_its_grants() -> None:
    [p] = problems("unused-roles", cc(("r-queue", "*"), ("r-users", None)))
    assert p.subject == "User Admin"
    assert p.message == "role 'User Admin' grants 5 permissions; none was exercised in 90 days"
    ev = p.evidence
    assert isinstance(ev, ExerciseEvidence)
    assert ev.unused_grants == ("directory:user:*",) and ev.divisions == ("",)
    assert "no division (roleIds)" in ev.describe()


def test_a_role_with_only_possibly_exercised_or_unobservable_permissions_is_not_unused() -> None:
    client = cc(("r-analytics", "*"), ("r-ui", "*"), operations=[DETAILS])
    assert problems("unused-roles", client) == []


def test_ignored_role_names() -> None:
    client = cc(("r-queue", "*"), ("r-users", "*"))
    assert problems("unused-roles", client, ignore=["User *"]) == []


# -- unused-scopes --------------------------------------------------------------------------------


def app(scopes: list[str], operations: list[dict[str, Any]]) -> Client:
    return Client.model_validate(
        {
            "id": "a-1",
            "name": "App",
            "grantType": "CODE",
            "scopes": scopes,
            "operations": operations,
        }
    )


def test_unused_and_read_only_scopes() -> None:
    client = app(["routing", "users", "analytics:readonly"], [QUEUES])
    found = {p.subject: p for p in problems("unused-scopes", client)}
    assert set(found) == {"routing", "users", "analytics:readonly"}
    assert found["routing"].message.endswith("'routing:readonly' would do")
    ev = found["routing"].evidence
    assert isinstance(ev, ExerciseEvidence) and ev.narrow_to == "routing:readonly"
    assert ev.exercised == ("GET /api/v2/routing/queues",)
    assert [p.subject for p in problems("unused-scopes", client, narrowable=False)] == [
        "analytics:readonly",
        "users",
    ]
    assert [p.subject for p in problems("unused-scopes", client, ignore=["users*"])] == [
        "analytics:readonly",
        "routing",
    ]


def test_scopes_are_not_judged_for_client_credentials_nor_permissions_for_apps() -> None:
    assert problems("unused-scopes", cc(("r-master", "*"))) == []
    assert problems("unused-permissions", app(["routing"], [])) == []
    assert problems("unused-roles", app(["routing"], [])) == []


def test_a_client_without_operation_data_is_not_judged() -> None:
    client = Client.model_validate(
        {"id": "x", "name": "X", "grantType": "CODE", "scopes": ["users"]}
    )
    assert problems("unused-scopes", client) == []
    assert problems("unused-scopes", app(["users"], []), ctx(window=None)) == []


# -- through the engine: needs, windows, and the analysis computed once ---------------------------

POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: PERMS, title: p, check: {type: unused-permissions, minWindowDays: 60}}
  - {id: ROLES, title: r, check: {type: unused-roles, minWindowDays: 30}}
  - {id: SCOPES, title: s, check: {type: unused-scopes}}
"""


@pytest.fixture
def policies(tmp_path: Any) -> Any:
    path = tmp_path / "lp.yaml"
    path.write_text(POLICY)
    return load_policies((str(path),))


def inventory(**kw: Any) -> Inventory:
    fields: dict[str, Any] = {
        "roles": tuple(ROLES.values()),
        "operation_usage": WINDOW,
        "clients": (cc(("r-master", "*")), app(["users"], [QUEUES])),
    }
    fields.update(kw)
    return Inventory(**fields)


def test_without_operation_data_every_rule_says_why(policies: Any) -> None:
    inv = inventory(
        operation_usage=None,
        usage_notes=("POST /api/v2/usage/aggregates/query/jobs answered 403: ...",),
    )
    result = evaluate(policies, inv, today=TODAY)
    reasons = {n.rule_id: n.reason for n in result.not_evaluated}
    assert set(reasons) == {"PERMS", "ROLES", "SCOPES"}
    assert all("no operation data" in r and "answered 403" in r for r in reasons.values())


def test_without_roles_the_permission_rules_say_why(policies: Any) -> None:
    result = evaluate(policies, inventory(roles=None), today=TODAY)
    assert {n.rule_id for n in result.not_evaluated} == {"PERMS", "ROLES"}
    assert [f.rule_id for f in result.findings] == ["SCOPES"]


def test_a_window_shorter_than_the_rule_asks_is_not_evaluated(policies: Any) -> None:
    short = UsageWindow(days=45, start=date(2026, 10, 7), end=TODAY, source="aggregates-query-jobs")
    result = evaluate(policies, inventory(operation_usage=short), today=TODAY)
    [n] = result.not_evaluated
    assert n.rule_id == "PERMS"
    assert n.reason == (
        "the operation data covers 45 days but the rule needs at least 60 "
        "(fetch with --usage-days 60 or more)"
    )


def test_the_analysis_given_is_the_one_judged(
    policies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = inventory()
    org = analyse_inventory(inv)
    assert org is not None and len(org) == 2
    import genesys_oauth_audit.engine.evaluate as engine

    monkeypatch.setattr(engine, "analyse_inventory", lambda _: pytest.fail("computed again"))
    result = evaluate(policies, inv, today=TODAY, least_privilege=org)
    assert {f.rule_id for f in result.findings} == {"PERMS", "SCOPES"}
