"""Evidence down to the grant, grant-side wildcards, and messages that read as sentences (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from genesys_oauth_audit import app
from genesys_oauth_audit.checks import CHECKS, Context
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.errors import PolicyError
from genesys_oauth_audit.evidence import PermissionEvidence, RoleEvidence, UsageEvidence
from genesys_oauth_audit.inventory import (
    Client,
    Inventory,
    Org,
    PermissionPolicy,
    Role,
    RoleGrant,
    UsageWindow,
    load_snapshot,
)
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import REPORTERS, renderer
from genesys_oauth_audit.report.base import SourceInfo
from tests.helpers import ROOT, SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\n"
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)

DEPLOYER = Role(
    id="r-deploy",
    name="Deployer",
    permissions=("oauth:client:*", "oauth:client:view"),
    policies=(PermissionPolicy(domain="oauth", entity_name="client", action_set=("*", "view")),),
)
READER = Role(
    id="r-read",
    name="Reader",
    permissions=("oauth:client:add", "routing:queue:view"),
    policies=(
        PermissionPolicy(domain="oauth", entity_name="client", action_set=("add",)),
        PermissionPolicy(domain="routing", entity_name="queue", action_set=("view",)),
    ),
)
MASTER = Role(
    id="r-master",
    name="Master Admin",
    permissions=("*:*:*",),
    policies=(PermissionPolicy(domain="*", entity_name="*", action_set=("*",)),),
)


def policy(tmp_path: Path, rules: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + "rules:\n" + rules)
    return str(path)


def client(**fields: Any) -> Client:
    return Client.model_validate(
        {"id": "c-1", "name": "Two Roles", "grantType": "CLIENT-CREDENTIALS", **fields}
    )


# -- evidence down to the grant ------------------------------------------------------------------


def test_a_permission_finding_names_every_granting_role_division_and_policy(tmp_path: Path) -> None:
    """A client with two roles in three divisions: the finding says which role grants what, where,
    by which of its policies (as the role states it), instead of leaving the reader to dig."""
    grants = (
        RoleGrant(role_id="r-deploy", division_id="d-emea"),
        RoleGrant(role_id="r-deploy", division_id="d-apac"),
        RoleGrant(role_id="r-read", division_id="*"),
    )
    roles = (DEPLOYER, READER)
    c = client(roles=[g.model_dump(by_alias=True) for g in grants])
    c = c.model_copy(
        update={
            "permissions": (
                "oauth:client:*",
                "oauth:client:add",
                "oauth:client:view",
                "routing:queue:view",
            )
        }
    )
    policies = load_policies(
        (
            policy(
                tmp_path,
                "  - {id: P, title: t, check: {type: forbidden-permissions, permissions: [oauth:client:add]}}\n",
            ),
        )
    )
    ev = evaluate(policies, Inventory(roles=roles, clients=(c,)), today=TODAY)
    [finding] = ev.findings
    assert finding.subject == "oauth:client:add"  # the wildcard grant and the plain one merge
    evidence = finding.evidence
    assert isinstance(evidence, PermissionEvidence)
    assert evidence.matched == "oauth:client:add"
    assert {
        (v.role_id, v.role_name, v.divisions, v.permission, v.policy_text) for v in evidence.grants
    } == {
        ("r-deploy", "Deployer", ("d-apac", "d-emea"), "oauth:client:*", "oauth:client:*,view"),
        ("r-read", "Reader", ("*",), "oauth:client:add", "oauth:client:add"),
    }
    assert "role 'Reader' grants oauth:client:add, which this rule forbids" in finding.message
    assert (
        "role 'Deployer' grants oauth:client:*, which includes the forbidden oauth:client:add"
        in finding.message
    )
    line = evidence.describe()
    assert "role 'Deployer' (divisions d-apac, d-emea), policy oauth:client:*,view" in line
    assert "role 'Reader' (all divisions), policy oauth:client:add" in line
    as_json = evidence.as_dict()
    assert as_json["kind"] == "permission"
    reader = next(g for g in as_json["grants"] if g["roleId"] == "r-read")
    assert reader == {
        "roleId": "r-read",
        "roleName": "Reader",
        "divisions": ["*"],
        "permission": "oauth:client:add",
        "policy": {"domain": "oauth", "entityName": "client", "actionSet": ["add"]},
    }


def test_a_snapshot_without_policies_names_the_flattened_permission() -> None:
    """Snapshots written before roles kept their policies still load; the evidence then names the
    permission as the role grants it."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    for role in data["roles"]:
        role.pop("policies", None)
    inv = Inventory.model_validate(data)
    assert all(r.policies is None for r in inv.roles or ())
    check = CHECKS["forbidden-permissions"]
    ctx = Context(today=TODAY, roles={r.id: r for r in inv.roles or ()})
    master = next(c for c in inv.clients if c.name == "Master Admin Integration")
    problems = list(
        check.run(master, ctx, check.params.model_validate({"permissions": ["oauth:client:add"]}))
    )
    [via] = problems[0].evidence.grants  # type: ignore[union-attr]
    assert via.policy is None and via.policy_text == "*:*:*"


def test_the_sample_snapshot_keeps_role_policies_as_the_api_states_them() -> None:
    inv = load_snapshot(SAMPLE_SNAPSHOT)
    deployer = next(r for r in inv.roles or () if r.name == "Integration Deployer")
    assert PermissionPolicy(
        domain="oauth", entity_name="client", action_set=("add", "edit", "view")
    ) in (deployer.policies or ())


def test_role_usage_and_value_findings_carry_their_evidence(tmp_path: Path) -> None:
    rules = (
        "  - {id: R, title: t, check: {type: forbidden-roles, names: ['*Admin']}}\n"
        "  - {id: U, title: t, check: {type: max-days-unused, days: 30}}\n"
        "  - {id: S, title: t, check: {type: forbidden-scope-prefixes, prefixes: ['admin:']}}\n"
        "  - {id: F, title: t, check: {type: field, path: grantType, op: ne, value: TOKEN}}\n"
    )
    c = Client(
        id="c-1",
        name="Old App",
        grant_type="TOKEN",
        scopes=("admin:users",),
        roles=(
            RoleGrant(role_id="r-master", division_id="d-1"),
            RoleGrant(role_id="r-master", division_id="d-2"),
        ),
        permissions=("*:*:*",),
        last_used=date(2026, 9, 1),
    )
    inv = Inventory(
        roles=(MASTER,),
        usage=UsageWindow(days=90, start=date(2026, 8, 23), end=TODAY),
        clients=(c,),
    )
    ev = evaluate(load_policies((policy(tmp_path, rules),)), inv, today=TODAY)
    by_rule = {f.rule_id: f for f in ev.findings}
    assert by_rule["R"].evidence == RoleEvidence(
        "r-master", "Master Admin", ("d-1", "d-2"), "*Admin"
    )
    assert (
        by_rule["R"].message
        == "holds role 'Master Admin' (divisions d-1, d-2), which matches the forbidden '*Admin'"
    )
    assert by_rule["U"].evidence == UsageEvidence(
        date(2026, 9, 1), None, 30, TODAY, date(2026, 8, 23), TODAY
    )
    assert (
        by_rule["U"].message
        == "not used in the last 30 days (last used 2026-09-01, 80 days before 2026-11-20)"
    )
    assert by_rule["S"].evidence is not None and by_rule["S"].evidence.as_dict() == {
        "kind": "value",
        "field": "scopes",
        "value": "admin:users",
        "parameter": "prefixes",
        "expected": "admin:",
    }
    assert by_rule["F"].message == "grant type is TOKEN (implicit), which this rule forbids"
    assert (
        by_rule["F"].evidence is not None and by_rule["F"].evidence.as_dict()["parameter"] == "ne"
    )


def test_evidence_is_built_only_for_findings_and_shared_across_clients() -> None:
    """Performance: 2,000 clients share one role; evidence is looked up once per (role, permission)
    and not at all for the clients that pass."""
    check = CHECKS["forbidden-permissions"]
    params = check.params.model_validate({"permissions": ["oauth:client:add"]})
    ctx = Context(today=TODAY, roles={r.id: r for r in (DEPLOYER, READER)})
    grant = RoleGrant(role_id="r-read", division_id="*")
    failing = [
        Client(
            id=f"f{i}",
            name=f"f{i}",
            grant_type="CLIENT-CREDENTIALS",
            roles=(grant,),
            permissions=READER.permissions,
        )
        for i in range(1000)
    ]
    passing = [
        Client(
            id=f"p{i}",
            name=f"p{i}",
            grant_type="CLIENT-CREDENTIALS",
            permissions=("routing:queue:view",),
        )
        for i in range(1000)
    ]
    for c in passing:
        assert list(check.run(c, ctx, params)) == []
    assert ctx.memo == {}  # nothing was built for passing clients
    vias = {id(next(check.run(c, ctx, params)).evidence.grants[0]) for c in failing}  # type: ignore[union-attr]
    assert len(vias) == 1  # one Via object, shared by every client with the same roles
    assert len([k for k in ctx.memo if k[0] == "stated"]) == 1


# -- grant-side wildcards are not pattern wildcards ----------------------------------------------

TEN = [
    "oauth:client:add",
    "oauth:client:edit",
    "oauth:client:delete",
    "authorization:role:add",
    "authorization:role:edit",
    "authorization:grant:add",
    "authorization:settings:edit",
    "sso:provider:add",
    "directory:user:setPassword",
    "mfa:verifier:edit",
]


def test_a_star_grant_against_ten_patterns_gives_at_most_ten_findings_each_naming_the_role(
    tmp_path: Path,
) -> None:
    rules = f"  - {{id: P, title: t, check: {{type: forbidden-permissions, permissions: {json.dumps(TEN)}}}}}\n"
    c = Client(
        id="c-1",
        name="God Mode",
        grant_type="CLIENT-CREDENTIALS",
        roles=(RoleGrant(role_id="r-master", division_id="*"),),
        permissions=("*:*:*",),
    )
    ev = evaluate(
        load_policies((policy(tmp_path, rules),)),
        Inventory(roles=(MASTER,), clients=(c,)),
        today=TODAY,
    )
    assert len(ev.findings) <= 10
    assert sorted(f.subject or "" for f in ev.findings) == sorted(TEN)
    for f in ev.findings:
        assert (
            f.message
            == f"role 'Master Admin' grants *:*:*, which includes the forbidden {f.subject}"
        )
        assert isinstance(f.evidence, PermissionEvidence)
        assert [v.role_name for v in f.evidence.grants] == ["Master Admin"]


def test_a_star_pattern_matches_granted_permissions_and_says_so(tmp_path: Path) -> None:
    """Forbidding *:*:* as a pattern forbids every permission a client holds: each finding says the
    client holds that permission, never that routing:queue:view "grants" *:*:*."""
    rules = "  - {id: P, title: t, check: {type: forbidden-permissions, permissions: ['*:*:*']}}\n"
    c = Client(
        id="c-1",
        name="Reader",
        grant_type="CLIENT-CREDENTIALS",
        roles=(RoleGrant(role_id="r-read", division_id="*"),),
        permissions=READER.permissions,
    )
    ev = evaluate(
        load_policies((policy(tmp_path, rules),)),
        Inventory(roles=(READER,), clients=(c,)),
        today=TODAY,
    )
    messages = sorted(f.message for f in ev.findings)
    assert messages == [
        "role 'Reader' grants oauth:client:add, which matches the forbidden pattern *:*:*",
        "role 'Reader' grants routing:queue:view, which matches the forbidden pattern *:*:*",
    ]
    assert not any("grants forbidden" in m for m in messages)


def test_a_literal_star_pattern_points_to_the_wildcard_grants_check(tmp_path: Path) -> None:
    path = policy(
        tmp_path,
        "  - {id: P, title: t, check: {type: forbidden-permissions, permissions: ['[*]:[*]:[*]']}}\n",
    )
    with pytest.raises(PolicyError, match="use the wildcard-grants check type"):
        load_policies((path,))


def test_wildcard_grants_forbids_the_grant_itself(tmp_path: Path) -> None:
    rules = (
        "  - {id: W, title: t, check: {type: wildcard-grants}}\n"
        "  - {id: A, title: t, check: {type: wildcard-grants, allow: [action]}}\n"
    )
    queue = Role(id="r-q", name="Queue Admin", permissions=("routing:queue:*",))
    c = Client(
        id="c-1",
        name="Wild",
        grant_type="CLIENT-CREDENTIALS",
        roles=(
            RoleGrant(role_id="r-master", division_id="*"),
            RoleGrant(role_id="r-q", division_id="*"),
        ),
        permissions=("*:*:*", "routing:queue:*"),
    )
    ev = evaluate(
        load_policies((policy(tmp_path, rules),)),
        Inventory(roles=(MASTER, queue), clients=(c,)),
        today=TODAY,
    )
    found = {(f.rule_id, f.subject): f.message for f in ev.findings}
    assert found == {
        (
            "W",
            "*:*:*",
        ): "role 'Master Admin' grants *:*:*, with * as its domain, entity and action, which this rule forbids",
        (
            "W",
            "routing:queue:*",
        ): "role 'Queue Admin' grants routing:queue:*, with * as its action, which this rule forbids",
        (
            "A",
            "*:*:*",
        ): "role 'Master Admin' grants *:*:*, with * as its domain and entity, which this rule forbids",
    }


def test_wildcard_grants_that_allow_every_part_forbid_nothing(tmp_path: Path) -> None:
    path = policy(
        tmp_path,
        "  - {id: W, title: t, check: {type: wildcard-grants, allow: [domain, entity, action]}}\n",
    )
    with pytest.raises(PolicyError, match="as written the rule forbids nothing"):
        load_policies((path,))


def test_shipped_packs_use_the_check_type_that_says_it_best() -> None:
    baseline = {r.id: r for r in load_policies(("builtin:baseline",)).rules}
    strict = {r.id: r for r in load_policies(("builtin:strict",)).rules}
    assert baseline["GOA-BL-001"].check_type.name == "forbidden-grant-types"
    assert baseline["GOA-BL-002"].check_type.name == "forbidden-grant-types"
    assert strict["GOA-ST-011"].check_type.name == "wildcard-grants"


# -- messages read as sentences -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "op", "value", "actual", "message"),
    [
        (
            "grantType",
            "ne",
            "TOKEN",
            {"grantType": "TOKEN"},
            "grant type is TOKEN (implicit), which this rule forbids",
        ),
        (
            "grantType",
            "eq",
            "CODE",
            {"grantType": "TOKEN"},
            "grant type is TOKEN (implicit); this rule requires CODE (authorization code)",
        ),
        (
            "state",
            "in",
            ["active"],
            {"state": "disabled"},
            "state is 'disabled', which is not one of 'active'",
        ),
        (
            "state",
            "not-in",
            ["inactive"],
            {"state": "inactive"},
            "state is 'inactive', one of the forbidden 'inactive'",
        ),
        (
            "tokenValiditySeconds",
            "lt",
            3600,
            {"tokenValiditySeconds": 7200},
            "access-token lifetime (seconds) is 7200; this rule requires less than 3600",
        ),
        (
            "tokenValiditySeconds",
            "ge",
            60,
            {"tokenValiditySeconds": 30},
            "access-token lifetime (seconds) is 30; this rule requires at least 60",
        ),
        (
            "description",
            "matches",
            "owner:",
            {"description": "x"},
            "description is 'x', which does not match the pattern /owner:/",
        ),
        (
            "scopes",
            "contains",
            "users",
            {"scopes": ["a"]},
            "scopes is ['a'], which does not contain 'users'",
        ),
        ("createdBy.id", "exists", None, {}, "createdBy.id is missing"),
        ("description", "not-empty", None, {"description": ""}, "description is empty"),
        (
            "description",
            "empty",
            None,
            {"description": "x"},
            "description is 'x'; this rule requires it to be empty",
        ),
    ],
)
def test_field_messages_phrase_operators_in_words(
    path: str, op: str, value: Any, actual: dict[str, Any], message: str
) -> None:
    check = CHECKS["field"]
    params: dict[str, Any] = {"path": path, "op": op}
    if value is not None:
        params["value"] = value
    [problem] = check.run(
        client(**actual), Context(today=TODAY), check.params.model_validate(params)
    )
    assert problem.message == message


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_check_type_says_why_in_a_sentence(name: str) -> None:
    """No operator codes, no "expected X", no bare "is forbidden (matches ...)": each failing example
    of the registry reads as a sentence and carries evidence."""
    check = CHECKS[name]
    ex = check.example
    ctx = Context(
        today=date.fromisoformat(ex.context.get("today", "2026-11-24")),
        scopes=frozenset(ex.context.get("scopes", ())),
        roles={r["id"]: Role.model_validate(r) for r in ex.context.get("roles", [])},
        usage=UsageWindow.model_validate(ex.context["usage"]) if "usage" in ex.context else None,
        operations=(
            UsageWindow.model_validate(ex.context["operations"])
            if "operations" in ex.context
            else None
        ),
    )
    failing = Client.model_validate(
        {"id": "c-1", "name": "Example", "grantType": "CODE", **ex.failing}
    )
    problems = list(check.run(failing, ctx, check.params.model_validate(ex.params)))
    assert problems
    for p in problems:
        assert "expected " not in p.message and "grants forbidden" not in p.message, p.message
        assert not any(
            f" {op} " in f" {p.message} " for op in ("ne", "eq", "le", "lt", "ge", "gt")
        ), p.message
        assert p.evidence is not None


# -- every format carries the evidence ------------------------------------------------------------


def sample_finding_in_every_format(tmp_path: Path) -> dict[str, str]:
    policies = load_policies(("builtin:baseline",))
    inv = load_snapshot(SAMPLE_SNAPSHOT)
    ev = evaluate(policies, inv, today=TODAY)
    source = SourceInfo(
        kind="snapshot",
        org_id=inv.org.id,
        org_name=inv.org.name,
        region=inv.region,
        fetched_at=inv.fetched_at,
        path="examples/sample-snapshot.json",
    )
    info = app.run_info(
        policies, source, app.CheckOptions(policies=()), inv.fetched_at or NOW, color=False
    )
    return {fmt: renderer(fmt)(ev, info) for fmt in REPORTERS}


def test_one_permission_finding_shows_its_evidence_in_every_format(tmp_path: Path) -> None:
    out = sample_finding_in_every_format(tmp_path)
    line = (
        "via role 'OAuth Client Manager' (all divisions), policy oauth:client:add,delete,edit,view"
    )
    assert line in out["text"].replace("\n          ", " ")
    assert line.replace("'", "&#x27;") in out["html"]
    assert (
        "via role 'OAuth Client Manager' \\(all divisions\\), policy oauth:client:add,delete,edit,view"
        in out["markdown"]
    )
    assert line in out["junit"].replace("&#x27;", "'").replace("&apos;", "'")
    sarif = json.loads(out["sarif"])
    results = [
        r
        for r in sarif["runs"][0]["results"]
        if r["properties"]["clientName"] == "OAuth Rotation Bot" and r["ruleId"] == "GOA-BL-006"
    ]
    assert results and all(line in r["message"]["text"] for r in results)
    assert results[0]["properties"]["evidence"]["grants"][0]["policy"]["actionSet"] == [
        "add",
        "delete",
        "edit",
        "view",
    ]
    report = json.loads(out["json"])
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    Draft202012Validator(schema).validate(report)
    kinds = {f["evidence"]["kind"] for f in report["findings"]}
    assert kinds == {"permission", "role", "usage", "value"}
    bot = next(
        f
        for f in report["findings"]
        if f["clientName"] == "OAuth Rotation Bot" and f["ruleId"] == "GOA-BL-006"
    )
    assert bot["evidence"]["grants"][0]["roleName"] == "OAuth Client Manager"


def test_a_role_name_in_evidence_is_neutralised(tmp_path: Path) -> None:
    hostile = Role(
        id="r-x", name="Evil\x1b[31m <b>|x|</b> @octocat", permissions=("oauth:client:add",)
    )
    c = Client(
        id="c-1",
        name="c",
        grant_type="CLIENT-CREDENTIALS",
        roles=(RoleGrant(role_id="r-x", division_id="*"),),
        permissions=("oauth:client:add",),
    )
    policies = load_policies(
        (
            policy(
                tmp_path,
                "  - {id: P, title: t, check: {type: forbidden-permissions, permissions: [oauth:client:add]}}\n",
            ),
        )
    )
    ev = evaluate(policies, Inventory(org=Org(id="o"), roles=(hostile,), clients=(c,)), today=TODAY)
    info = app.run_info(
        policies,
        SourceInfo(kind="live", org_id="o", region="r"),
        app.CheckOptions(policies=()),
        NOW,
        color=False,
    )
    for fmt in ("text", "markdown", "html", "sarif"):
        out = renderer(fmt)(ev, info)
        assert "\x1b" not in out and "\\x1b" in out  # shown as a visible escape
        if fmt in ("markdown", "html"):
            assert "<b>" not in out
        if fmt == "markdown":
            assert "@octocat" not in out


def test_the_docs_show_the_finding_as_the_tool_prints_it(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/report-formats.md shows one finding in every format: its text lines, JSON finding and
    Markdown row are what the tool prints today."""
    doc = (ROOT / "docs" / "report-formats.md").read_text(encoding="utf-8")
    monkeypatch.chdir(ROOT)
    args = ("check", "-p", "builtin:baseline", "--inventory", "examples/sample-snapshot.json")
    text = run_cli(*args).stdout
    block = doc.split("**text**\n\n```\n", 1)[1].split("```", 1)[0]
    header, elided, *finding_lines = block.strip("\n").splitlines()
    assert elided.strip() == "..." and header in text.splitlines()
    assert "\n".join(finding_lines) in text
    md = run_cli(*args, "--format", "markdown").stdout
    row = doc.split("**markdown** (a row of the findings table)\n\n```\n", 1)[1].split("\n```", 1)[
        0
    ]
    assert row in md
    finding = json.loads(doc.split("**json** (`findings[]`)\n\n```json\n", 1)[1].split("```", 1)[0])
    report = json.loads(run_cli(*args, "--format", "json").stdout)
    assert finding in report["findings"]
