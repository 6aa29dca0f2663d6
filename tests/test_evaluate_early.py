"""The rules that read no usage are judged while the org's usage query runs, not after it: the
evaluation is the one judging every rule at the end gives, the final step judges only the usage
rules, and an audit whose usage answer fails still writes nothing."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_oauth_audit.engine import evaluate as engine
from genesys_oauth_audit.engine.evaluate import (
    evaluate,
    evaluate_early,
    reads_no_usage,
)
from genesys_oauth_audit.findings import Subject
from genesys_oauth_audit.genesys.client import GenesysClient
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.inventory import Inventory, load_snapshot
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.policy.model import PolicySet, Rule
from genesys_oauth_audit.settings import connection_settings
from tests.fake.orgdata import sample_fake, synthetic_fake
from tests.helpers import SAMPLE_SNAPSHOT, Run, env_for, record_calls

TODAY = date(2026, 11, 20)
NOW = "2026-11-20T06:00:00Z"
FAST = ("--max-retries", "8", "--retry-budget", "60", "--timeout", "5")

# Exceptions that waive, expire, expire soon and go unused; an override that switches a rule
# off; a field rule on last use (judged with the usage) and one on the name (judged early).
EXTRA = """apiVersion: genesys-oauth-audit/v1
kind: Policy
include: [builtin:baseline, builtin:least-privilege]
overrides:
  - {rule: GOA-BL-003, enabled: false, reason: tested elsewhere}
rules:
  - id: T-LAST-USE
    title: Used this year
    severity: low
    check: {type: field, path: lastUsed, op: gt, value: "2026-01-01"}
  - id: T-NAME
    title: Named for its owner
    severity: low
    check: {type: field, path: name, op: matches, value: "^[A-Z]"}
exceptions:
  - {rule: GOA-BL-001, clients: ["*"], reason: waived, expires: 2026-11-25}
  - {rule: GOA-BL-002, clients: ["*"], reason: expired, expires: 2026-01-01}
  - {rule: GOA-BL-010, clients: [nobody], reason: unused}
"""


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    path = tmp_path_factory.mktemp("early") / "policy.yaml"
    path.write_text(EXTRA)
    return load_policies((str(path),))


def without_usage(inventory: Inventory) -> Inventory:
    """The org as read before its usage answer: no windows, no last use, no operations."""
    return inventory.model_copy(
        update={
            "usage": None,
            "operation_usage": None,
            "usage_notes": (),
            "clients": tuple(
                c.model_copy(update={"last_used": None, "operations": None})
                for c in inventory.clients
            ),
        }
    )


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the rules judged, in order, by every evaluation from now on."""
    seen: list[str] = []
    rule = engine._Judge.rule

    def spy(self: engine._Judge, r: Rule) -> Any:
        seen.append(r.id)
        return rule(self, r)

    monkeypatch.setattr(engine._Judge, "rule", spy)
    return seen


def test_judging_early_gives_the_evaluation_judging_at_the_end_gives(
    policies: PolicySet, judged: list[str]
) -> None:
    inventory = load_snapshot(SAMPLE_SNAPSHOT)
    early = evaluate_early(policies, without_usage(inventory), today=TODAY)
    assert [o is not None for o in early.outcomes] == [reads_no_usage(r) for r in policies.rules]
    deferred = [r.id for r in policies.rules if not reads_no_usage(r)]
    assert "T-LAST-USE" in deferred and "GOA-BL-011" in deferred and "T-NAME" not in deferred
    judged.clear()

    both = evaluate(policies, inventory, today=TODAY, early=early)
    assert judged == deferred  # only the rules that read usage were left
    judged.clear()
    at_the_end = evaluate(policies, inventory, today=TODAY)
    assert judged == [r.id for r in policies.rules]
    assert both == at_the_end
    # The run is a real one: findings, a waiver, an expired, an expiring and an unused exception,
    # a switched-off rule, and a rule not evaluated for want of data.
    assert at_the_end.findings and any(f.waived for f in at_the_end.findings)
    assert at_the_end.expired_exceptions and at_the_end.expiring_exceptions
    assert at_the_end.unused_exceptions and at_the_end.disabled
    assert any(f.rule_id == "T-LAST-USE" for f in at_the_end.findings)


@pytest.mark.parametrize(
    "unlike",
    [
        "another day",
        "a client fewer",
        "other roles",
        "other policies",
        "proposals",
        "a client otherwise",
        "the org read afresh",
    ],
)
def test_an_early_judgement_of_something_else_is_not_taken(
    policies: PolicySet, judged: list[str], unlike: str
) -> None:
    """Taken only for the same policy set, day, scopes, roles and client values (the very
    objects), and never for proposals (subjects): otherwise every rule is judged again, and the
    answer is still the right one."""
    inventory = load_snapshot(SAMPLE_SNAPSHOT)
    early_on = without_usage(inventory)
    day, judged_policies = TODAY, policies
    if unlike == "another day":
        day = date(2026, 11, 21)
    elif unlike == "a client fewer":
        early_on = early_on.model_copy(update={"clients": early_on.clients[1:]})
    elif unlike == "other roles":
        early_on = early_on.model_copy(update={"roles": (early_on.roles or ())[1:]})
    elif unlike == "other policies":
        judged_policies = load_policies(("builtin:baseline", "builtin:least-privilege"))
    elif unlike == "a client otherwise":  # the same ids, one client another grant type
        first, *rest = early_on.clients
        other = "TOKEN" if first.grant_type != "TOKEN" else "CODE"
        early_on = early_on.model_copy(
            update={"clients": (first.model_copy(update={"grant_type": other}), *rest)}
        )
    elif unlike == "the org read afresh":  # equal, but not the values judged: judged again
        early_on = without_usage(load_snapshot(SAMPLE_SNAPSHOT))
    early = evaluate_early(judged_policies, early_on, today=day)
    subjects = None
    if unlike == "proposals":
        subjects = [Subject(c) for c in inventory.clients]
    judged.clear()
    got = evaluate(policies, inventory, today=TODAY, early=early, subjects=subjects)
    assert judged == [r.id for r in policies.rules]
    assert got == evaluate(policies, inventory, today=TODAY)


def _fetched(fake: Any, plan: FetchPlan, meanwhile: Any = None) -> Inventory:
    """The org ``fake`` serves, read by ``fetch_inventory`` through its MockTransport."""
    settings_ = connection_settings(
        region=None,
        client_id=None,
        login_url=None,
        environ={
            "GENESYSCLOUD_OAUTHCLIENT_ID": "auditor-id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials["auditor-id"],
        },
    )
    with GenesysClient(settings_, transport=fake.transport(), requests_per_minute=0) as api:
        return fetch_inventory(
            api,
            plan,
            region="test",
            now=datetime(2026, 11, 20, tzinfo=timezone.utc),
            meanwhile=meanwhile,
        )


def _org(seed: int, clients: int) -> Inventory:
    fake = synthetic_fake(clients, n_roles=30, seed=seed, usage_running_polls=0)
    return _fetched(fake, FetchPlan(roles=True, usage_days=90, operation_days=90))


@settings(max_examples=12, derandomize=True, deadline=None)
@given(seed=st.integers(1, 10_000), clients=st.integers(1, 60))
def test_judging_early_equals_judging_at_the_end_on_synthetic_orgs(
    policies: PolicySet, seed: int, clients: int
) -> None:
    inventory = _org(seed, clients)
    early = evaluate_early(policies, without_usage(inventory), today=TODAY)
    assert evaluate(policies, inventory, today=TODAY, early=early) == evaluate(
        policies, inventory, today=TODAY
    )


@pytest.mark.parametrize("usage", ["last use", "operations", "both"])
def test_the_org_read_while_its_usage_query_runs_is_the_org_read_at_the_end(usage: str) -> None:
    """The clients assembled early (without usage) are taken with their usage added at the end:
    the inventory is the one assembled from scratch, and ``meanwhile`` saw it without usage."""
    seen: list[Inventory] = []

    def read(meanwhile: Any) -> Inventory:
        plan = FetchPlan(
            roles=True,
            usage_days=90 if usage != "operations" else None,
            operation_days=90 if usage != "last use" else None,
        )
        fake = synthetic_fake(40, n_roles=20, seed=7, usage_running_polls=1)
        return _fetched(fake, plan, meanwhile)

    early = read(seen.append)
    assert len(seen) == 1 and seen[0] == without_usage(early)
    assert early == read(None)
    assert any(c.last_used or c.operations for c in early.clients)


def test_work_that_fails_while_the_usage_query_runs_is_not_the_fetchs_error() -> None:
    """``meanwhile`` raising (a bug in a check judged early) neither fails the fetch nor replaces
    a failed read's error: the caller judges again at the end and finds its own error then."""
    from genesys_oauth_audit.errors import BadResponseError

    def broken(_: Inventory) -> None:
        raise ValueError("a bug in a rule judged early")

    plan = FetchPlan(roles=True, usage_days=90)
    fake = synthetic_fake(20, n_roles=10, seed=3, usage_running_polls=1)
    assert _fetched(fake, plan, broken) == _fetched(
        synthetic_fake(20, n_roles=10, seed=3, usage_running_polls=1), plan
    )
    failing = synthetic_fake(20, n_roles=10, seed=3, usage_running_polls=1)
    failing.mangle["/api/v2/usage/aggregates/query/jobs/{jobId}"] = lambda body: {
        k: v for k, v in body.items() if k != "entities"
    }
    with pytest.raises(BadResponseError, match="has no entities list"):
        _fetched(failing, plan, broken)


# -- live: during the usage query, over a real loopback socket ----------------------------------


def _usage_requests(fake: Any) -> int:
    return len([r for r in fake.log if "/usage/" in r.path])


@pytest.mark.socket
def test_a_live_audit_judges_the_rules_without_usage_while_the_usage_query_runs(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judged: list[str]
) -> None:
    """The usage jobs answer "running" twice. The rules that read no usage are judged before the
    usage answer has been read, and not again at the end (each rule is judged once); the report
    is the one an offline check of the same org gives."""
    fake = sample_fake(usage_running_polls=2)
    when = record_calls(monkeypatch, engine, "evaluate_early", lambda: _usage_requests(fake))
    snapshot = tmp_path / "snap.json"
    policy = "builtin:baseline"
    with fake.serve() as base:
        env = env_for(fake, base)
        live = run_cli("check", "-p", policy, "--format", "json", "--now", NOW, *FAST, env=env)
        usage_requests = _usage_requests(fake)
        assert sorted(judged) == sorted(r.id for r in load_policies((policy,)).rules)
        assert run_cli("fetch", "-o", str(snapshot), "--now", NOW, *FAST, env=env).code == 0
    assert live.code == 1, live.stderr
    # Judged once, before the last of the usage requests was answered.
    assert len(when) == 1 and when[0] < usage_requests
    offline = run_cli(
        "check", "-p", policy, "--inventory", str(snapshot), "--format", "json", "--now", NOW
    )

    def findings(text: str) -> list[tuple[Any, ...]]:
        return [
            (f["ruleId"], f["clientId"], f["subject"], f["message"], f["fingerprint"])
            for f in json.loads(text)["findings"]
        ]

    assert findings(live.stdout) == findings(offline.stdout) != []


@pytest.mark.socket
def test_a_usage_answer_that_fails_after_the_early_judgement_still_writes_nothing(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: the rules judged early are never reported without the rest. A usage result
    without its rows (no ``entities``) ends the audit with exit 3 and no report, as before."""
    fake = sample_fake(usage_running_polls=1)
    fake.mangle["/api/v2/usage/aggregates/query/jobs/{jobId}"] = lambda body: {
        k: v for k, v in body.items() if k != "entities"
    }
    calls = record_calls(monkeypatch, engine, "evaluate_early")
    report = tmp_path / "report.json"
    with fake.serve() as base:
        ran = run_cli(
            "check",
            "-p",
            "builtin:baseline",
            "--json-output",
            str(report),
            "--now",
            NOW,
            *FAST,
            env=env_for(fake, base),
        )
    assert len(calls) == 1
    assert ran.code == 3 and ran.stdout == "" and not report.exists()
    assert "says Succeeded but has no entities list" in ran.stderr


@pytest.mark.socket
def test_a_failed_usage_read_is_the_error_even_when_the_rest_could_not_be_judged_early(
    run_cli: Run, tmp_path: Path
) -> None:
    """An empty scope catalog cannot be audited (exit 3), but a read that failed comes first, as
    without the early judgement: the error is the usage answer's, and nothing is written."""
    fake = sample_fake(usage_running_polls=1)
    fake.mangle["/api/v2/oauth/scopes"] = lambda body: {**body, "entities": [], "total": 0}
    fake.mangle["/api/v2/usage/aggregates/query/jobs/{jobId}"] = lambda body: {
        k: v for k, v in body.items() if k != "entities"
    }
    with fake.serve() as base:
        ran = run_cli(
            "check", "-p", "builtin:baseline", "--now", NOW, *FAST, env=env_for(fake, base)
        )
    assert ran.code == 3 and ran.stdout == ""
    assert "says Succeeded but has no entities list" in ran.stderr
    assert "no OAuth scopes" not in ran.stderr
