"""Overrides of included rules (SPEC §10): effective settings and where each came from, switching a
rule off until a day (as of the evaluation's day, UTC), what a run then fetches, and the commands
that show them (rules, explain, validate, test)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from genesys_oauth_audit import app
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Severity
from genesys_oauth_audit.inventory import Client, Inventory
from genesys_oauth_audit.policy.loader import load_policies
from tests.fake.orgdata import sample_fake
from tests.helpers import CLIENT_ID, DATA, SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
POLICIES = DATA / "policies"
OVERRIDES = str(POLICIES / "valid" / "overrides.yaml")
HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\n"


def write(tmp_path: Path, body: str, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return str(path)


def test_an_override_replaces_settings_and_remembers_where() -> None:
    policies = load_policies((OVERRIDES,))
    rule = policies.rule("GOA-BL-004")
    assert rule is not None and rule.override is not None
    assert rule.severity is Severity.MEDIUM
    assert rule.override.base.severity is Severity.HIGH  # the rule as included
    assert rule.where.exclude_names == ("Dev *",)
    assert str(rule.origin("severity")).endswith("overrides.yaml:16")
    assert str(rule.origin("where")).endswith("overrides.yaml:17")
    assert str(rule.origin("check")) == str(rule.source)  # not replaced: the pack's own line
    assert str(rule.source).startswith("builtin:baseline:")

    tokens = policies.rule("GOA-BL-003")
    assert tokens is not None and tokens.params.model_dump() == {"seconds": 3600}
    assert tokens.title == "Access tokens live at most an hour"
    # a field check's parameters are replaced whole: a comparison becomes a tree
    described = policies.rule("GOA-BL-013")
    assert described is not None
    assert described.params.describe() == (
        "all of (description not-empty; description not-matches '(?i)^todo')"
    )


def test_where_keys_not_given_keep_the_included_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "include: [builtin:baseline]\noverrides:\n"
        "  - {rule: GOA-BL-011, where: {excludeNames: ['Dormant by design*']}}\n",
    )
    rule = load_policies((path,)).rule("GOA-BL-011")
    assert rule is not None
    assert rule.where.states == ("active",)  # the pack's own selector stays
    assert rule.where.exclude_names == ("Dormant by design*",)


def test_an_override_of_an_override_file_applies_down_the_include_chain(tmp_path: Path) -> None:
    team = write(tmp_path, "include: [builtin:tutorial]\n", name="team.yaml")
    top = write(
        tmp_path,
        "include: [./team.yaml]\noverrides:\n  - {rule: GOA-TUT-002, severity: low}\n",
        name="top.yaml",
    )
    rule = load_policies((top,)).rule("GOA-TUT-002")
    assert rule is not None and rule.severity is Severity.LOW and team


def clients() -> Inventory:
    return Inventory(
        scopes=(),
        clients=(
            Client(id="c-1", name="Widget", grant_type="TOKEN", state="active", description="x"),
            Client(id="c-2", name="Dev Portal", grant_type="CODE", redirect_uris=("http://a/cb",)),
        ),
    )


def test_a_disabled_rule_is_listed_not_evaluated_until_its_day_passes() -> None:
    policies = load_policies((OVERRIDES,))
    on_the_day = evaluate(policies, clients(), today=date(2027, 3, 31))
    assert not [f for f in on_the_day.findings if f.rule_id == "GOA-BL-001"]
    (off,) = on_the_day.disabled
    assert (off.rule_id, off.reason, off.owner, off.ticket, off.expires) == (
        "GOA-BL-001",
        "Implicit clients are retired by 2027-03 under SEC-88.",
        "platform-team",
        "SEC-88",
        date(2027, 3, 31),
    )
    assert off.source.endswith("overrides.yaml:9") and on_the_day.expired_overrides == ()
    assert "GOA-BL-001" not in {n.rule_id for n in on_the_day.not_evaluated}

    # the next day (UTC) the override has lapsed: the rule is evaluated again, and reports say so
    after = evaluate(policies, clients(), today=date(2027, 4, 1))
    assert [f.client_name for f in after.findings if f.rule_id == "GOA-BL-001"] == ["Widget"]
    assert after.disabled == () and [d.rule_id for d in after.expired_overrides] == ["GOA-BL-001"]


def test_retuned_rules_judge_with_their_effective_settings() -> None:
    evaluation = evaluate(load_policies((OVERRIDES,)), clients(), today=date(2026, 11, 20))
    redirects = [f for f in evaluation.findings if f.rule_id == "GOA-BL-004"]
    assert redirects == []  # "Dev *" is excluded by the override's where
    assert {f.severity for f in evaluation.findings if f.rule_id == "GOA-BL-004"} <= {
        Severity.MEDIUM
    }


def test_a_disabled_usage_rule_costs_no_usage_query(tmp_path: Path) -> None:
    """Only GOA-BL-011 needs usage in the baseline: switched off, the live run asks for none; once
    the override lapses, it does."""
    path = write(
        tmp_path,
        "include: [builtin:baseline]\noverrides:\n"
        "  - {rule: GOA-BL-011, enabled: false, reason: Usage is reviewed by hand, expires: 2026-12-31}\n",
    )
    for now, usage_asked in (("2026-11-20T06:00:00Z", False), ("2027-01-01T06:00:00Z", True)):
        fake = sample_fake(usage_running_polls=0)
        env = {
            "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
        }
        out, err = io.StringIO(), io.StringIO()
        opts = app.CheckOptions(
            policies=(path,),
            format="json",
            now=datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(timezone.utc),
        )
        app.check(opts, environ=env, streams=app.Streams(out, err), transport=fake.transport())
        asked = any("usage" in r.path for r in fake.log)
        assert asked is usage_asked, now
        report = json.loads(out.getvalue())
        disabled = [d["ruleId"] for d in report["disabledRules"]]
        assert disabled == ([] if usage_asked else ["GOA-BL-011"])
        assert [d["ruleId"] for d in report["expiredOverrides"]] == (
            ["GOA-BL-011"] if usage_asked else []
        )


# -- the commands ----------------------------------------------------------------------------------


def test_rules_shows_effective_settings_and_where_each_came_from(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(POLICIES)
    ran = run_cli("rules", "-p", "valid/overrides.yaml", "--as-of", "2026-11-20")
    assert ran.code == 0, ran.stderr
    lines = ran.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("GOA-BL-004")))
    assert lines[at].split()[:2] == ["GOA-BL-004", "medium"]
    assert lines[at + 1].split(maxsplit=2) == [
        "severity",
        "medium",
        "(overridden at valid/overrides.yaml:16; included: high)",
    ]
    assert (
        "where      name matches none of 'Dev *' (overridden at valid/overrides.yaml:17)"
        in (lines[at + 2])
    )
    assert any(
        "disabled   at valid/overrides.yaml:9, until 2027-03-31 (then enabled again), owner "
        "platform-team, ticket SEC-88: Implicit clients are retired" in line
        for line in lines
    )
    plain = lines.index(next(line for line in lines if line.startswith("GOA-BL-002")))
    assert lines[plain + 1].startswith("GOA-BL-003")  # a rule not overridden has one line


def test_explain_shows_overrides_and_controls(run_cli: Run) -> None:
    ran = run_cli("explain", "GOA-BL-004", "-p", OVERRIDES)
    assert ran.code == 0, ran.stderr
    assert "severity   medium" in ran.stdout
    assert "Overridden:" in ran.stdout and "(overridden at " in ran.stdout
    assert "Controls it supports:" in ran.stdout
    assert "NIST SP 800-53 Rev. 5 SC-8: Transmission Confidentiality and Integrity" in ran.stdout
    off = run_cli("explain", "GOA-BL-001", "-p", OVERRIDES, "--as-of", "2026-11-20")
    assert "disabled   at " in off.stdout and "until 2027-03-31 (then enabled again)" in off.stdout


def test_validate_counts_overrides_and_warns_about_unknown_frameworks(run_cli: Run) -> None:
    ran = run_cli("validate", OVERRIDES)
    assert ran.code == 0
    assert ran.stdout.endswith("ok (17 rules, 0 exceptions, 5 overridden)\n")
    (warning,) = ran.stderr.splitlines()
    assert warning.endswith(
        "overrides.yaml:30:58: warning: framework 'acme-controls' is not one this tool knows; did "
        "you mean 'cis-controls-v8'? (known: nist-800-53, iso-27001-2022, soc2, cis-controls-v8); "
        "reports show it as written"
    )


def test_an_override_error_is_exit_2_with_its_location(run_cli: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "include: [builtin:baseline]\noverrides:\n  - {rule: GOA-BL-003, check: {secs: 60}}\n",
    )
    ran = run_cli("check", "-p", path, "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2 and ran.stdout == ""
    assert (
        f"{path}:5:32: error: unknown key 'secs' in overrides[0].check; did you mean 'seconds'?"
        in (ran.stderr)
    )


POLICY_TEST = """apiVersion: genesys-oauth-audit/v1
kind: PolicyTest
policies: [./p.yaml]
today: {today}
{extra}inventory:
  clients:
    - {{name: Widget, grantType: TOKEN, state: active, description: chat widget}}
cases:
  - {{name: the implicit client, client: Widget, rules: [GOA-BL-001], expect: {expect}}}
"""


@pytest.mark.parametrize(
    ("today", "disabled", "expect", "code"),
    [
        ("2027-03-31", "[GOA-BL-001]", "[]", 0),
        ("2027-04-01", "[]", "[{rule: GOA-BL-001, subject: TOKEN}]", 0),
        ("2027-04-01", "[GOA-BL-001]", "[{rule: GOA-BL-001, subject: TOKEN}]", 1),
    ],
)
def test_policy_tests_see_overrides_as_of_their_day(
    run_cli: Run, tmp_path: Path, today: str, disabled: str, expect: str, code: int
) -> None:
    write(
        tmp_path,
        "include: [builtin:baseline]\noverrides:\n"
        "  - {rule: GOA-BL-001, enabled: false, reason: retired, expires: 2027-03-31}\n",
    )
    test = tmp_path / "p.test.yaml"
    test.write_text(POLICY_TEST.format(today=today, extra=f"disabled: {disabled}\n", expect=expect))
    ran = run_cli("test", str(test))
    assert ran.code == code, ran.stdout + ran.stderr
    if code:
        assert "FAIL  rules disabled by overrides: expected ['GOA-BL-001'], got []" in ran.stdout


def test_policy_tests_can_run_one_framework(run_cli: Run, tmp_path: Path) -> None:
    write(tmp_path, "include: [builtin:baseline]\n")
    test = tmp_path / "p.test.yaml"
    # GOA-BL-001 maps no CIS safeguard: with the CIS controls only, it is not in the run
    test.write_text(
        POLICY_TEST.format(today="2026-11-20", extra="frameworks: [cis-controls-v8]\n", expect="[]")
    )
    ran = run_cli("test", str(test))
    assert ran.code == 2
    assert "rule 'GOA-BL-001' is not in the policies under test" in ran.stderr
    test.write_text(
        POLICY_TEST.format(today="2026-11-20", extra="frameworks: [nist]\n", expect="[]")
    )
    ran = run_cli("test", str(test))
    assert ran.code == 2
    assert "no rule of the policies under test maps to framework 'nist'" in ran.stderr


def test_rules_and_explain_say_an_override_has_expired(run_cli: Run, tmp_path: Path) -> None:
    """Past its expiry an override no longer switches its rule off: ``rules`` and ``explain``
    say so, as of today, instead of "until ... (then enabled again)"."""
    policy = tmp_path / "lapsed.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\ninclude: [builtin:baseline]\n"
        "overrides:\n"
        "  - {rule: GOA-BL-001, enabled: false, reason: retired, expires: 2020-01-01}\n"
    )
    for args in (("rules", "-p", str(policy)), ("explain", "GOA-BL-001", "-p", str(policy))):
        ran = run_cli(*args)
        assert ran.code == 0, ran.stderr
        assert "expired on 2020-01-01: the rule is enabled again" in ran.stdout
        assert "(then enabled again)" not in ran.stdout


def test_a_policy_whose_overrides_switch_every_rule_off_is_refused(
    run_cli: Run, tmp_path: Path
) -> None:
    """Every rule switched off checks nothing, as a policy without rules: exit 2, never a PASS.
    With one rule left on, or once an override has lapsed, the run is an ordinary one."""
    off = "  - {{rule: {rule}, enabled: false, reason: retired{expires}}}\n"

    def policy(rules: list[str], expires: str = "") -> str:
        body = "include: [builtin:tutorial]\noverrides:\n" + "".join(
            off.format(rule=r, expires=expires) for r in rules
        )
        return write(tmp_path, body)

    every = policy(["GOA-TUT-001", "GOA-TUT-002"])
    ran = run_cli("check", "-p", every, "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2 and ran.stdout == "", ran.stderr
    assert "is switched off by an override in force on" in ran.stderr
    assert "a check would pass without checking anything" in ran.stderr

    one_left = policy(["GOA-TUT-001"])
    assert run_cli("check", "-p", one_left, "--inventory", str(SAMPLE_SNAPSHOT)).code == 1

    lapsed = policy(["GOA-TUT-001", "GOA-TUT-002"], expires=", expires: 2020-01-01")
    assert run_cli("check", "-p", lapsed, "--inventory", str(SAMPLE_SNAPSHOT)).code == 1
