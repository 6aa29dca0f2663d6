"""Drift that sees privilege change: effective permissions through roles and divisions, role
policies, state and deletion dates, usage, classes of change and ``diff --fail-on`` (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLE_SNAPSHOT, Ran
from tests.test_diff import by_name, changed_snapshot

Run = Callable[..., Ran]


def role(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in data["roles"] if r["name"] == name)


def reader_gains_client_edit(data: dict[str, Any]) -> None:
    reader = role(data, "Reporting Reader")
    reader["permissions"] = sorted([*reader["permissions"], "oauth:client:edit"])
    reader["policies"].append({"domain": "oauth", "entityName": "client", "actionSet": ["edit"]})


def holders(data: dict[str, Any], name: str) -> set[str]:
    rid = role(data, name)["id"]
    return {c["name"] for c in data["clients"] if any(g["roleId"] == rid for g in c["roles"])}


def test_a_role_edit_is_a_privilege_gain_of_every_client_holding_the_role(
    run_cli: Run, tmp_path: Path
) -> None:
    """A role gaining oauth:client:edit changes no client record, yet nine clients can now edit
    OAuth clients: today's "no drift" would miss a privilege escalation."""
    new = changed_snapshot(tmp_path, reader_gains_client_edit)
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "json")
    assert ran.code == 1
    report = json.loads(ran.stdout)
    assert report["drift"] is True and report["classes"] == ["privilege-gain"]
    expected = holders(json.loads(SAMPLE_SNAPSHOT.read_text()), "Reporting Reader")
    assert len(expected) == 9
    gained = {
        c["name"]: next(ch for ch in c["changes"] if ch["field"] == "permissions")
        for c in report["changed"]
    }
    assert set(gained) == expected
    crm = gained["CRM Data Sync"]
    assert crm["classes"] == ["privilege-gain"]
    assert crm["gainedGrants"] == [
        {
            "permission": "oauth:client:edit",
            "division": "*",
            "roles": [
                {
                    "id": role(json.loads(SAMPLE_SNAPSHOT.read_text()), "Reporting Reader")["id"],
                    "name": "Reporting Reader",
                }
            ],
            "cause": "role edited",
        }
    ]
    [changed_role] = report["roles"]["changed"]
    assert (changed_role["name"], changed_role["gained"], changed_role["holders"]) == (
        "Reporting Reader",
        ["oauth:client:edit"],
        9,
    )
    text = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new)).stdout
    assert "PRIVILEGE GAINS (10):" in text
    assert (
        "CRM Data Sync (605a32ff-c393-5825-a2b2-0a78c71bad53) gained permissions: oauth:client:edit "
        "(all divisions) via role 'Reporting Reader' (role edited)" in text
    )
    md = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "markdown").stdout
    assert "🔺 **privilege gain**" in md and "### Privilege gains" in md


def test_fail_on_privilege_gain_ignores_other_drift(run_cli: Run, tmp_path: Path) -> None:
    def fresh(name: str) -> Path:
        (tmp_path / name).mkdir()
        return tmp_path / name

    renamed = changed_snapshot(
        fresh("renamed"), lambda d: by_name(d, "CRM Data Sync").update(name="CRM Sync")
    )
    gate = ("--fail-on", "privilege-gain")
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(renamed)).code == 1  # any drift, by default
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(renamed), *gate).code == 0
    escalated = changed_snapshot(fresh("escalated"), reader_gains_client_edit)
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(escalated), *gate).code == 1
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(escalated), "--fail-on", "never").code == 0
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(renamed), "--fail-on", "config").code == 1
    # a loss is not a gain
    lost = changed_snapshot(
        fresh("lost"),
        lambda d: role(d, "Reporting Reader").update(
            permissions=["routing:queue:view"],
            policies=[{"domain": "routing", "entityName": "queue", "actionSet": ["view"]}],
        ),
    )
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(lost), *gate).code == 0
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(lost), "--fail-on", "privilege-loss").code == 1


def test_fail_on_never_cannot_be_combined(run_cli: Run) -> None:
    ran = run_cli(
        "diff",
        str(SAMPLE_SNAPSHOT),
        str(SAMPLE_SNAPSHOT),
        "--fail-on",
        "never",
        "--fail-on",
        "state",
    )
    assert ran.code == 2 and "never" in ran.stderr


def test_the_classes_are_in_the_help(run_cli: Run) -> None:
    from genesys_oauth_audit.engine.drift_classes import DRIFT_CLASSES

    out = run_cli("diff", "--help").stdout
    for name in DRIFT_CLASSES:
        assert f"  {name} " in out


def test_a_division_change_and_a_new_assignment_are_gains_with_their_cause(
    run_cli: Run, tmp_path: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        poller = by_name(data, "Queue Stats Poller")
        for g in poller["roles"]:
            g["divisionId"] = "*"  # from one division to all of them
        crm = by_name(data, "CRM Data Sync")
        crm["roles"].append(
            {
                "roleId": role(data, "Role Administrator")["id"],
                "divisionId": "*",
                "name": "Role Administrator",
            }
        )

    new = changed_snapshot(tmp_path, mutate)
    report = json.loads(run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "json").stdout)
    perms = {
        c["name"]: next(ch for ch in c["changes"] if ch["field"] == "permissions")
        for c in report["changed"]
    }
    poller = perms["Queue Stats Poller"]
    assert {g["cause"] for g in poller["gainedGrants"]} == {"role granted in another division"}
    assert {g["division"] for g in poller["gainedGrants"]} == {"*"}
    assert poller["lostGrants"] == []  # one division is covered by all of them
    crm = perms["CRM Data Sync"]
    assert {g["permission"] for g in crm["gainedGrants"]} >= {
        "authorization:role:edit",
        "authorization:grant:add",
    }
    assert {g["cause"] for g in crm["gainedGrants"]} == {"role newly assigned"}


def test_a_wildcard_already_held_covers_what_it_includes(run_cli: Run, tmp_path: Path) -> None:
    """Master Admin (*:*:*) gaining another role's oauth:client:edit is no privilege gain."""

    def mutate(data: dict[str, Any]) -> None:
        master = by_name(data, "Master Admin Integration")
        master["roles"].append(
            {
                "roleId": role(data, "OAuth Client Manager")["id"],
                "divisionId": "*",
                "name": "OAuth Client Manager",
            }
        )

    new = changed_snapshot(tmp_path, mutate)
    report = json.loads(run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "json").stdout)
    [master] = report["changed"]
    fields = {ch["field"] for ch in master["changes"]}
    assert fields == {"roles"}  # the assignment is drift; the permissions were already held


def test_state_deletion_date_and_usage_changes_are_classed(run_cli: Run, tmp_path: Path) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    used = next(c for c in data["clients"] if c["lastUsed"])
    idle = next(c for c in data["clients"] if c["lastUsed"] is None and c["state"] == "active")

    def mutate(d: dict[str, Any]) -> None:
        by_name(d, used["name"])["lastUsed"] = None
        by_name(d, idle["name"])["lastUsed"] = "2026-11-26"
        kiosk = by_name(d, "Kiosk Password Client")
        kiosk["state"], kiosk["dateToDelete"] = "inactive", "2026-12-27T06:00:00Z"

    new = changed_snapshot(tmp_path, mutate)
    report = json.loads(run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "json").stdout)
    changes = {c["name"]: {ch["field"]: ch for ch in c["changes"]} for c in report["changed"]}
    assert changes[used["name"]]["usage"]["after"].startswith("newly idle")
    assert changes[idle["name"]]["usage"]["after"] == "newly used: last used 2026-11-26"
    kiosk = changes["Kiosk Password Client"]
    assert (
        kiosk["state"]["classes"] == ["state"]
        and kiosk["dateToDelete"]["after"] == "2026-12-27T06:00:00+00:00"
    )
    assert set(report["classes"]) == {"state", "usage"}
    gate = run_cli(
        "diff",
        str(SAMPLE_SNAPSHOT),
        str(new),
        "--fail-on",
        "privilege-gain",
        "--fail-on",
        "client-added",
    )
    assert gate.code == 0


def test_snapshots_without_roles_say_what_was_not_compared(run_cli: Run, tmp_path: Path) -> None:
    def strip(d: dict[str, Any]) -> None:
        d["roles"] = None
        for c in d["clients"]:
            c.pop("permissions", None)

    new = changed_snapshot(tmp_path, strip)
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new))
    assert (
        "Note: effective permissions and roles not compared: the newer snapshot has no roles"
        in ran.stdout
    )


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_role_names_in_drift_are_neutralised(run_cli: Run, tmp_path: Path, fmt: str) -> None:
    def mutate(d: dict[str, Any]) -> None:
        reader_gains_client_edit(d)
        role(d, "Reporting Reader")["name"] = "Reader \x1b[31m<b>|x|</b>"

    new = changed_snapshot(tmp_path, mutate)
    out = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", fmt).stdout
    assert "\x1b" not in out
    if fmt == "markdown":
        assert "<b>" not in out


def test_a_renamed_role_is_a_role_change_not_a_privilege_change(
    run_cli: Run, tmp_path: Path
) -> None:
    new = changed_snapshot(
        tmp_path, lambda d: role(d, "Reporting Reader").update(name="Report Reader")
    )
    report = json.loads(run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "json").stdout)
    assert report["classes"] == ["role"] and report["changed"] == []
    [renamed] = report["roles"]["changed"]
    assert (renamed["name"], renamed["renamedFrom"]) == ("Report Reader", "Reporting Reader")
    assert run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--fail-on", "privilege-gain").code == 0
