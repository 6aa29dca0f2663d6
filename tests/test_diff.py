"""Drift between two snapshots (SPEC §9): added, removed, renamed, gained and lost; exit 0/1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLE_SNAPSHOT, Run


def changed_snapshot(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> Path:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["fetchedAt"] = "2026-11-27T06:00:00Z"
    mutate(data)
    path = tmp_path / "new.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def by_name(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in data["clients"] if c["name"] == name)


def drift(data: dict[str, Any]) -> None:
    data["clients"].remove(by_name(data, "Old Survey Integration"))
    wallboard = by_name(data, "Wallboard Web App")
    wallboard["scopes"] = sorted(
        (set(wallboard["scopes"]) | {"recordings:readonly"}) - {"notifications"}
    )
    wallboard["redirectUris"] = ["https://wallboard.example.com/auth/callback"]
    kiosk = by_name(data, "Kiosk Password Client")
    kiosk["name"], kiosk["state"] = "Lobby Kiosk", "disabled"
    crm = by_name(data, "CRM Data Sync")
    crm["roles"] = [
        *crm["roles"],
        {
            "roleId": "4472b98d-b1f4-5370-8a28-4ec06c537ab2",
            "divisionId": "*",
            "name": "OAuth Client Manager",
        },
    ]
    crm["tokenValiditySeconds"] = 86400
    by_name(data, "Dev Sandbox Client")["grantType"] = "TOKEN"
    shadow = dict(
        data["clients"][0],
        id="11111111-2222-4333-8444-555555555555",
        name="Shadow | <b>Integration</b>",
    )
    data["clients"].append(shadow)


def test_no_drift_exits_0(run_cli: Run) -> None:
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(SAMPLE_SNAPSHOT))
    assert ran.code == 0 and "(no drift)" in ran.stdout


def test_drift_in_json(run_cli: Run, tmp_path: Path) -> None:
    new = changed_snapshot(tmp_path, drift)
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "json")
    assert ran.code == 1
    report = json.loads(ran.stdout)
    assert report["drift"] is True
    assert [c["name"] for c in report["added"]] == ["Shadow | <b>Integration</b>"]
    assert [c["name"] for c in report["removed"]] == ["Old Survey Integration"]
    changes = {c["name"]: {ch["field"]: ch for ch in c["changes"]} for c in report["changed"]}
    assert set(changes) == {
        "CRM Data Sync",
        "Dev Sandbox Client",
        "Lobby Kiosk",
        "Wallboard Web App",
    }
    assert changes["Wallboard Web App"]["scopes"]["gained"] == ["recordings:readonly"]
    assert changes["Wallboard Web App"]["scopes"]["lost"] == ["notifications"]
    assert changes["Wallboard Web App"]["redirectUris"]["lost"] == [
        "http://localhost:3000/auth/callback"
    ]
    assert changes["CRM Data Sync"]["roles"]["gained"] == ["OAuth Client Manager in *"]
    assert (
        changes["CRM Data Sync"]["tokenValiditySeconds"]["before"],
        changes["CRM Data Sync"]["tokenValiditySeconds"]["after"],
    ) == ("3600", "86400")
    assert (
        changes["Dev Sandbox Client"]["grantType"]["before"],
        changes["Dev Sandbox Client"]["grantType"]["after"],
    ) == ("CODE", "TOKEN")
    kiosk = next(c for c in report["changed"] if c["name"] == "Lobby Kiosk")
    assert (
        kiosk["renamedFrom"] == "Kiosk Password Client"
    )  # matched by id, so a rename is not add + remove
    assert changes["Lobby Kiosk"]["state"]["after"] == "disabled"


def test_drift_in_text_and_markdown_neutralise_names(run_cli: Run, tmp_path: Path) -> None:
    new = changed_snapshot(tmp_path, drift)
    text = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new))
    assert text.code == 1 and "1 added, 1 removed, 4 changed" in text.stdout
    assert (
        "~ Lobby Kiosk (758ea772-5c55-5aaa-ac5f-398bad0d6662) (renamed from Kiosk Password Client)"
        in text.stdout
    )
    md = run_cli("diff", str(SAMPLE_SNAPSHOT), str(new), "--format", "markdown")
    assert md.code == 1 and "<b>" not in md.stdout and "Shadow \\| &lt;b&gt;" in md.stdout


def test_snapshots_of_different_orgs_are_refused(run_cli: Run, tmp_path: Path) -> None:
    other = changed_snapshot(tmp_path, lambda d: d["org"].update(id="another-org"))
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(other))
    assert ran.code == 2 and "different orgs" in ran.stderr


@pytest.mark.parametrize("bad", ["missing.json", "broken.json"])
def test_bad_snapshots_exit_2(run_cli: Run, tmp_path: Path, bad: str) -> None:
    (tmp_path / "broken.json").write_text("{")
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(tmp_path / bad))
    assert ran.code == 2
