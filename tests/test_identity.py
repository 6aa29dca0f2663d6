"""Identity depth end to end, over real HTTP: roles, effective permissions and usage, with the fewest
requests (SPEC §2): one token, the client listing, the scope catalog, ceil(roles/100) role pages,
one org-level usage query and its polls, and organizations/me."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.fake.orgdata import (
    RETIRED_ROLE,
    SAMPLE_CLIENTS,
    SAMPLE_LAST_USE_DAYS_AGO,
    SAMPLE_TODAY,
    sample_fake,
    synthetic_fake,
)
from tests.helpers import Run, env_for
from tests.test_cli import same_findings

NOW = "2026-11-20T06:00:00Z"
POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: ROLES, title: No Master Admin, severity: critical, check: {type: forbidden-roles, names: [Master Admin]}}
  - {id: ORPHANS, title: No orphaned roles, check: {type: orphan-roles}}
  - {id: PERMS, title: No client editing, severity: critical, check: {type: forbidden-permissions, permissions: ["oauth:client:edit"]}}
  - {id: STALE, title: Used within 30 days, severity: low, where: {states: [active]}, check: {type: max-days-unused, days: 30}}
  - {id: IDLE, title: Every role is used, severity: low, check: {type: unused-roles, minWindowDays: 30}}
"""


@pytest.fixture
def policy(tmp_path: Path) -> str:
    path = tmp_path / "identity.yaml"
    path.write_text(POLICY)
    return str(path)


@pytest.mark.socket
def test_exactly_the_minimum_requests(run_cli: Run, policy: str) -> None:
    fake = synthetic_fake(300, n_roles=250, usage_running_polls=1)
    with fake.serve() as base:
        ran = run_cli(
            "check", "-p", policy, "--format", "json", "--now", NOW, env=env_for(fake, base)
        )
    assert ran.code in (0, 1), ran.stderr
    sent = [(r.method, r.path, r.query.get("pageNumber", [""])[0]) for r in fake.log]
    jobs = "/api/v2/usage/aggregates/query/jobs"
    # The token, then the two usage jobs (last use; operations) submitted first ...
    assert sent[:3] == [("POST", "/oauth/token", "")] + [("POST", jobs, "")] * 2
    # ... then, side by side, the listing, the scope catalog, one page of 500 roles, the org,
    # and the jobs polled together (Queued, then Succeeded with every row on one page).
    assert sorted(sent[3:]) == sorted(
        [
            ("GET", "/api/v2/oauth/clients", ""),
            ("GET", "/api/v2/oauth/scopes", ""),
            ("GET", "/api/v2/authorization/roles", "1"),
            *[("GET", f"{jobs}/{job}", "") for job in fake.jobs] * 2,
            ("GET", "/api/v2/organizations/me", ""),
        ]
    )
    role_requests = [r for r in fake.log if r.path == "/api/v2/authorization/roles"]
    assert all(
        r.query["pageSize"] == ["500"] and r.query["userCount"] == ["false"] for r in role_requests
    )
    last_use, operations = (r.body for r in fake.log if r.method == "POST" and "usage" in r.path)
    assert last_use["groupBy"] == ["OauthClientId"] and last_use["granularity"] == "Day"
    assert operations["groupBy"] == ["OauthClientId", "TemplateUri", "HttpMethod"]
    assert "granularity" not in operations  # totals over the window: one row per operation
    assert not [r for r in fake.log if r.path.startswith("/api/v2/usage/query")]


@pytest.mark.socket
def test_findings_of_roles_permissions_and_usage(run_cli: Run, policy: str) -> None:
    fake = sample_fake(usage_running_polls=0)
    with fake.serve() as base:
        ran = run_cli(
            "check", "-p", policy, "--format", "json", "--now", NOW, env=env_for(fake, base)
        )
    assert ran.code == 1, ran.stderr
    found = {
        (f["ruleId"], f["clientName"], f["subject"]) for f in json.loads(ran.stdout)["findings"]
    }

    def by_rule(rule: str) -> set[tuple[str, str | None]]:
        return {(name, subject) for r, name, subject in found if r == rule}

    assert by_rule("ROLES") == {("Master Admin Integration", "Master Admin")}
    assert by_rule("ORPHANS") == {
        ("Abandoned POC Bot", RETIRED_ROLE),
        ("Legacy Integration (roleIds)", RETIRED_ROLE),
    }
    assert by_rule("PERMS") == {
        ("CX as Code Deployer", "oauth:client:edit"),
        ("OAuth Rotation Bot", "oauth:client:edit"),
        # a wildcard grant is reported as the forbidden permission it includes
        ("Master Admin Integration", "oauth:client:edit"),
    }
    # computed independently from the fixture: active, created 30+ days ago, last used 30+ days ago or never
    created = {c["name"]: c for c in SAMPLE_CLIENTS}
    expected_stale = set()
    for name, client in created.items():
        ago = SAMPLE_LAST_USE_DAYS_AGO.get(name)
        days_old = (SAMPLE_TODAY - date.fromisoformat(client["dateCreated"][:10])).days
        if client["state"] == "active" and (ago is None or ago >= 30) and days_old >= 30:
            expected_stale.add((name, None))
    assert by_rule("STALE") == expected_stale
    assert (
        "<script>alert('xss')</script> Widget",
        None,
    ) in expected_stale  # never used, 90 days old
    assert ("Audit Runner", None) not in expected_stale  # used today
    report = json.loads(ran.stdout)
    assert report["notEvaluated"] == []
    admin = next(c for c in report["clients"] if c["name"] == "Master Admin Integration")
    assert admin["grantType"] == "CLIENT-CREDENTIALS" and admin["roles"] == ["Master Admin"]
    assert admin["permissionCount"] == 1 and admin["highestRisk"] == "critical"


@pytest.mark.socket
def test_a_missing_role_permission_is_named_and_unneeded_roles_are_not_asked_for(
    run_cli: Run, policy: str, tmp_path: Path
) -> None:
    fake = sample_fake(usage_running_polls=0)
    fake.permissions.discard("authorization:role:view")
    with fake.serve() as base:
        ran = run_cli(
            "check",
            "-p",
            policy,
            "--json-output",
            str(tmp_path / "r.json"),
            env=env_for(fake, base),
        )
        assert ran.code == 3 and "lacks permission authorization:role:view" in ran.stderr
        assert not (tmp_path / "r.json").exists()
        fake.log.clear()
        ok = run_cli("check", "-p", "builtin:tutorial", env=env_for(fake, base))
    assert ok.code == 1
    assert not [r for r in fake.log if "roles" in r.path or "usage" in r.path]


def test_fetch_writes_roles_and_usage_that_check_can_use_offline(
    run_cli: Run, policy: str, tmp_path: Path
) -> None:
    fake = sample_fake(usage_running_polls=0)
    snapshot = tmp_path / "s.json"
    with fake.serve() as base:
        assert (
            run_cli(
                "fetch",
                "-o",
                str(snapshot),
                "--usage-days",
                "30",
                "--now",
                NOW,
                env=env_for(fake, base),
            ).code
            == 0
        )
        # The same 30 days of last use and of operations as the snapshot (a live check reads
        # 90 days of operations unless told otherwise).
        live = run_cli(
            "check",
            "-p",
            policy,
            "--format",
            "json",
            "--now",
            NOW,
            "--usage-days",
            "30",
            env=env_for(fake, base),
        )
    offline = run_cli(
        "check", "-p", policy, "--inventory", str(snapshot), "--format", "json", "--now", NOW
    )
    assert same_findings(live, offline) and json.loads(live.stdout)["findings"]
    assert {f["ruleId"] for f in json.loads(live.stdout)["findings"]} >= {"STALE", "IDLE"}
