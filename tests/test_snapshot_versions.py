"""Snapshot schema versions: version 2 adds operations, the operations window and the usage source;
a version-1 snapshot (written by 0.1, tests/data/snapshots/v1-sample.json) still loads and audits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesys_oauth_audit.errors import SnapshotError
from genesys_oauth_audit.inventory import SNAPSHOT_VERSION, load_snapshot, parse_snapshot
from tests.helpers import DATA, SAMPLE_SNAPSHOT, Run

V1 = DATA / "snapshots" / "v1-sample.json"


def test_a_version_1_snapshot_loads_with_its_usage_source_stated() -> None:
    raw = json.loads(V1.read_text())
    assert raw["schemaVersion"] == 1 and "source" not in raw["usage"]
    inv = load_snapshot(V1)
    assert inv.schema_version == SNAPSHOT_VERSION == 2
    # 0.1 read usage only through the legacy query: that is what its snapshots hold.
    assert inv.usage is not None and inv.usage.source == "usage-query"
    assert inv.operation_usage is None and inv.usage_notes == ()
    assert all(c.operations is None for c in inv.clients)
    # Everything else means what it meant: the same clients as today's sample, without operations.
    current = load_snapshot(SAMPLE_SNAPSHOT)
    assert [c.model_copy(update={"operations": None}) for c in current.clients] == list(inv.clients)


def test_a_version_1_snapshot_is_written_back_as_version_2() -> None:
    data = json.loads(load_snapshot(V1).to_json())
    assert data["schemaVersion"] == 2
    assert data["usage"]["source"] == "usage-query"
    assert data["operationUsage"] is None
    assert not any("operations" in c for c in data["clients"])
    assert parse_snapshot(json.dumps(data), "mem") == load_snapshot(V1)


@pytest.mark.parametrize("version", [0, 3, "2", True, None, 2.0])
def test_an_unknown_version_is_refused_with_the_versions_read(version: object) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["schemaVersion"] = version
    with pytest.raises(SnapshotError, match="this version of the tool reads 1 and 2"):
        parse_snapshot(json.dumps(data), "x.json")


def test_a_version_1_snapshot_cannot_claim_operations_it_never_had_a_window_for() -> None:
    """A version-1 snapshot with operations but no operations window audits nothing from them:
    the least-privilege rules need the window, and say so."""
    data = json.loads(V1.read_text())
    data["clients"][0]["operations"] = []
    inv = parse_snapshot(json.dumps(data), "v1.json")
    assert inv.operation_usage is None


def test_check_audits_a_version_1_snapshot_and_says_what_it_cannot_judge(
    run_cli: Run, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "-p",
        "builtin:least-privilege",
        "--inventory",
        str(V1),
        "--json-output",
        str(report),
    )
    assert ran.code == 1, ran.stderr
    data = json.loads(report.read_text())
    assert data["source"]["usage"]["lastUse"]["source"] == "usage-query"
    assert data["source"]["usage"]["operations"] is None
    assert data["leastPrivilege"] is None
    reasons = {n["ruleId"]: n["reason"] for n in data["notEvaluated"]}
    assert set(reasons) == {"GOA-LP-001", "GOA-LP-002", "GOA-LP-003"}
    assert all("no operation data" in r for r in reasons.values())
    assert (
        "Usage: last use over 90 days, 2026-08-23 to 2026-11-20, from the legacy usage query"
        in " ".join(ran.stdout.split())
    )
