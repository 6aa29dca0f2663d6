"""Same snapshot, same policy, same answer on any day: time-based checks judge as of the snapshot's
fetchedAt, a live org as of now, and ``--as-of`` overrides both (issue 13)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
FETCHED = date(2026, 11, 20)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

TIME_POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: STALE, title: Stale, severity: medium, check: {type: max-days-unused, days: 90}}
  - {id: STALE30, title: Stale 30, severity: low, where: {states: [active]}, check: {type: max-days-unused, days: 30}}
  - {id: ROLES, title: No admin, severity: high, check: {type: forbidden-roles, names: ["*Admin*"]}}
"""


def _shift(value: Any, days: int) -> Any:
    """Every date and date-time in a snapshot, moved back by ``days``."""
    if isinstance(value, dict):
        return {k: _shift(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    if isinstance(value, str) and DATE.match(value):
        if len(value) == 10:
            return (date.fromisoformat(value) - timedelta(days=days)).isoformat()
        moved = datetime.fromisoformat(value.replace("Z", "+00:00")) - timedelta(days=days)
        return moved.isoformat().replace("+00:00", "Z")
    return value


def findings(ran: Ran) -> list[tuple[str, str, str | None, str]]:
    report = json.loads(ran.stdout)
    return sorted(
        (f["ruleId"], f["clientId"], f["subject"], f["fingerprint"]) for f in report["findings"]
    )


def test_a_snapshot_and_its_time_shifted_copy_give_identical_findings(
    run_cli: Run, tmp_path: Path
) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    shifted = tmp_path / "shifted.json"
    shifted.write_text(json.dumps(_shift(data, 137), indent=2))
    assert json.loads(shifted.read_text())["fetchedAt"] == "2026-07-06T06:00:00Z"
    policy = tmp_path / "p.yaml"
    policy.write_text(TIME_POLICY)
    runs = []
    for snapshot in (SAMPLE_SNAPSHOT, shifted):
        for pack in (str(policy), "builtin:strict"):
            ran = run_cli(
                "check", "-p", pack, "--inventory", str(snapshot), "--format", "json",
                "--now", "2026-11-30T12:00:00Z",
            )  # fmt: skip
            assert ran.code == 1, ran.stderr
            runs.append(findings(ran))
    assert runs[0] == runs[2] and runs[1] == runs[3]
    assert any(rule == "STALE" for rule, *_ in runs[0])  # time-based rules did judge something


def test_a_snapshot_is_judged_as_of_its_fetch_not_today(run_cli: Run, tmp_path: Path) -> None:
    """The sample's usage ends 2026-11-20; on 2026-11-30 a client last used 88 days before the fetch
    is not "unused for more than 90 days"."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    target = next(c for c in data["clients"] if c["state"] == "active" and c["lastUsed"])
    target["lastUsed"] = (FETCHED - timedelta(days=88)).isoformat()
    snapshot = tmp_path / "s.json"
    snapshot.write_text(json.dumps(data, indent=2))
    policy = tmp_path / "p.yaml"
    policy.write_text(TIME_POLICY)
    args = ("check", "-p", str(policy), "--inventory", str(snapshot), "--format", "json")
    late = run_cli(*args, "--now", "2026-11-30T12:00:00Z")
    report = json.loads(late.stdout)
    assert report["asOf"] == {"date": "2026-11-20", "basis": "snapshot"}
    stale = {f["clientId"] for f in report["findings"] if f["ruleId"] == "STALE"}
    assert target["id"] not in stale
    # --as-of overrides the snapshot's date: ten days later the client is stale
    later = json.loads(run_cli(*args, "--as-of", "2026-11-30").stdout)
    assert later["asOf"] == {"date": "2026-11-30", "basis": "as-of"}
    assert target["id"] in {f["clientId"] for f in later["findings"] if f["ruleId"] == "STALE"}
    usage = next(
        f["evidence"]
        for f in later["findings"]
        if f["ruleId"] == "STALE" and f["clientId"] == target["id"]
    )
    assert usage == {
        "kind": "usage",
        "lastUsed": "2026-08-24",
        "dateCreated": target["dateCreated"][:10],
        "days": 90,
        "asOf": "2026-11-30",
        "windowStart": "2026-08-23",
        "windowEnd": "2026-11-20",
    }


def test_exception_expiry_is_judged_as_of_the_snapshot(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        TIME_POLICY
        + 'exceptions:\n  - {rule: ROLES, clients: ["*"], reason: go-live, expires: 2026-11-25}\n'
    )
    args = ("check", "-p", str(policy), "--inventory", str(SAMPLE_SNAPSHOT), "--format", "json")
    on_fetch = json.loads(run_cli(*args, "--now", "2026-12-30T00:00:00Z").stdout)
    assert on_fetch["expiredExceptions"] == []
    assert [e["expires"] for e in on_fetch["expiringExceptions"]] == ["2026-11-25"]
    assert {f["waived"] is not None for f in on_fetch["findings"] if f["ruleId"] == "ROLES"} == {
        True
    }
    after = json.loads(run_cli(*args, "--as-of", "2026-11-26").stdout)
    assert [e["expires"] for e in after["expiredExceptions"]] == ["2026-11-25"]


@pytest.mark.parametrize(
    ("fmt", "needle"),
    [
        ("text", "as of 2026-11-20 (the snapshot's fetchedAt)"),
        ("markdown", "as of 2026-11-20 (the snapshot's fetchedAt)"),
        ("html", "as of 2026-11-20 (the snapshot&#x27;s fetchedAt)"),
        ("json", '"basis": "snapshot"'),
        ("sarif", '"date": "2026-11-20"'),
        ("junit", '<property name="asOf" value="2026-11-20 (snapshot)" />'),
    ],
)
def test_every_report_states_the_as_of_date(run_cli: Run, fmt: str, needle: str) -> None:
    ran = run_cli(
        "check", "-p", "builtin:tutorial", "--inventory", str(SAMPLE_SNAPSHOT), "--format", fmt,
        "--now", "2027-02-01T00:00:00Z",
    )  # fmt: skip
    assert needle in ran.stdout


def test_a_live_org_is_judged_as_of_now() -> None:
    from genesys_oauth_audit.app import as_of_day
    from genesys_oauth_audit.report.base import SourceInfo

    now = datetime.fromisoformat("2026-11-30T23:30:00-05:00")
    live = SourceInfo(kind="live", fetched_at=now)
    assert as_of_day(None, live, now) == (date(2026, 12, 1), "now")  # UTC
    snapshot = SourceInfo(
        kind="snapshot", fetched_at=datetime.fromisoformat("2026-11-20T06:00:00+00:00")
    )
    assert as_of_day(None, snapshot, now) == (date(2026, 11, 20), "snapshot")
    assert as_of_day(date(2027, 1, 1), snapshot, now) == (date(2027, 1, 1), "as-of")


def test_check_refuses_a_bad_as_of_date(run_cli: Run) -> None:
    ran = run_cli(
        "check",
        "-p",
        "builtin:tutorial",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--as-of",
        "20261120",
    )
    assert ran.code == 2 and "--as-of" in ran.stderr


# -- policy tests: today: and --as-of agree --------------------------------------------------------

TEST_FILE = """apiVersion: genesys-oauth-audit/v1
kind: PolicyTest
policies: [p.yaml]
{today}
inventory:
  roles: [{{id: r-1, name: Master Admin, permissions: ["*:*:*"]}}]
  clients:
    - {{name: Admin Bot, grantType: CLIENT-CREDENTIALS, roles: [{{roleId: r-1, divisionId: "*"}}], permissions: ["*:*:*"]}}
cases:
  - name: waived until the exception lapses
    client: Admin Bot
    expect: [{{rule: ROLES, subject: Master Admin, waived: true}}]
"""
EXPIRING = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: ROLES, title: No admin, check: {type: forbidden-roles, names: ["*Admin*"]}}
exceptions:
  - {rule: ROLES, clients: [Admin Bot], reason: go-live, expires: 2026-12-31}
"""


def test_policy_tests_judge_as_of_today_or_the_flag(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(EXPIRING)
    path = tmp_path / "a.test.yaml"
    path.write_text(TEST_FILE.format(today="today: 2026-12-01"))
    ran = run_cli("test", str(path))
    assert ran.code == 0, ran.stdout + ran.stderr
    assert "(as of 2026-12-01)" in ran.stdout
    # --as-of overrides today:, as it overrides a snapshot's date in check: the waiver lapsed
    late = run_cli("test", str(path), "--as-of", "2027-01-01")
    assert late.code == 1 and "(as of 2027-01-01)" in late.stdout
    assert "missing:    ROLES subject='Master Admin', waived" in late.stdout


def test_a_policy_test_on_a_snapshot_defaults_to_its_fetch_date(
    run_cli: Run, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(TIME_POLICY)
    path = tmp_path / "s.test.yaml"
    path.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: PolicyTest\npolicies: [p.yaml]\n"
        f"inventoryFile: {SAMPLE_SNAPSHOT}\n"
        "cases:\n  - {name: fresh, client: CRM Data Sync, rules: [STALE], expect: []}\n"
    )
    ran = run_cli("test", str(path))
    assert ran.code == 0, ran.stdout + ran.stderr
    assert "(as of 2026-11-20)" in ran.stdout
