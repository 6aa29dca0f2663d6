"""A role in a snapshot that states both its policies and its flattened permissions must state the
same grants: ``check`` and ``diff`` follow ``permissions``, so a role edited only in ``policies``
would show no drift and no finding. A disagreement is bad input (exit 2) at the role's
``policies``, and nothing is written; a role that states only one of them (``permissions`` only:
snapshots written before 0.2) is read as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.inventory import load_snapshot, role_disagreements
from tests.helpers import SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
NOW = "2026-11-20T06:00:00Z"
ROLE = "Reporting Reader"


def edited(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The sample with ``change`` applied to the role ``ROLE``, written as fetch writes it."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    change(next(r for r in data["roles"] if r["name"] == ROLE))
    path = tmp_path / "in" / "s.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def grant_more(role: dict[str, Any]) -> None:
    role["policies"][0]["actionSet"] = [*role["policies"][0]["actionSet"], "delete"]


def list_more(role: dict[str, Any]) -> None:
    role["permissions"] = [*role["permissions"], "oauth:client:edit"]


def line_of_policies(path: Path) -> int:
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if f'"name": "{ROLE}"' in line)
    return next(i for i in range(at, len(lines)) if '"policies"' in lines[i]) + 1


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            grant_more,
            "the policies grant 'analytics:conversationDetail:delete', which permissions lacks",
        ),
        (list_more, "permissions lists 'oauth:client:edit', which no policy grants"),
    ],
    ids=["policies edited", "permissions edited"],
)
def test_check_refuses_a_role_whose_policies_and_permissions_disagree(
    run_cli: Run, tmp_path: Path, change: Callable[[dict[str, Any]], None], said: str
) -> None:
    path = edited(tmp_path, change)
    out = tmp_path / "out"
    out.mkdir()
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(path),
        "--now",
        NOW,
        "--json-output",
        str(out / "r.json"),
        "--sarif-output",
        str(out / "r.sarif"),
    )
    assert ran.code == 2, ran.stderr
    assert ran.stdout == "" and list(out.iterdir()) == []
    first = ran.stderr.splitlines()[0]
    index = [r["name"] for r in json.loads(path.read_text())["roles"]].index(ROLE)
    assert first.startswith(f"{path}:{line_of_policies(path)}:")
    assert f"error: roles/{index}/policies: role {ROLE!r} (" in first
    assert said in first and "re-fetch the snapshot, or edit both" in first
    assert "Traceback" not in ran.stderr


def test_diff_refuses_it_too(run_cli: Run, tmp_path: Path) -> None:
    """``diff`` follows permissions: an edit only to policies would otherwise show no drift."""
    path = edited(tmp_path, grant_more)
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(path))
    assert ran.code == 2, ran.stderr
    assert f"{path}:{line_of_policies(path)}:" in ran.stderr
    assert "its policies and permissions disagree" in ran.stderr and ran.stdout == ""


def test_one_of_the_two_alone_is_read_as_before(tmp_path: Path) -> None:
    only_permissions = load_snapshot(edited(tmp_path, lambda r: r.pop("policies")))
    role = next(r for r in only_permissions.roles or () if r.name == ROLE)
    assert role.policies is None and role.permissions
    only_policies = load_snapshot(edited(tmp_path, lambda r: r.pop("permissions")))
    role = next(r for r in only_policies.roles or () if r.name == ROLE)
    assert role.policies and role.permissions == ()


def test_the_order_of_either_does_not_matter(tmp_path: Path) -> None:
    def shuffle(role: dict[str, Any]) -> None:
        role["permissions"] = list(reversed(role["permissions"]))
        role["policies"] = list(reversed(role["policies"]))
        role["policies"][0]["actionSet"] = list(reversed(role["policies"][0]["actionSet"]))

    assert load_snapshot(edited(tmp_path, shuffle)).roles


def test_every_shipped_snapshot_agrees() -> None:
    from tests.helpers import ROOT

    for path in sorted((ROOT / "examples").glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("kind") == "genesys-oauth-audit/inventory":
            assert role_disagreements(load_snapshot(path).roles or ()) == [], path
