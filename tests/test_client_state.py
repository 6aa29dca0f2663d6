"""A client whose state is missing, null or not one of the API's values cannot be told apart by a
rule that selects by state: it is reported as not evaluated for that rule, in every format, never
silently left out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
NOW = "2026-11-20T06:00:00Z"
IMPLICIT = "Chat Widget Implicit"  # TOKEN: GOA-BL-001 (states active, disabled) forbids it
PASSWORD = "Kiosk Password Client"  # PASSWORD: GOA-BL-002 (states active, disabled)
WIDGET = "Wallboard Web App"  # CODE: selected by GOA-BL-011 (state active) only


def snapshot(tmp_path: Path, states: dict[str, Any]) -> Path:
    """The sample with the named clients' state replaced (``...`` deletes the key)."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    for client in data["clients"]:
        if client["name"] in states:
            value = states[client["name"]]
            if value is ...:
                del client["state"]
            else:
                client["state"] = value
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def check(run_cli: Run, path: Path, *extra: str) -> Ran:
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(path), "--now", NOW, *extra)
    assert ran.code in (0, 1), ran.stderr
    return ran


def test_an_unknown_or_missing_state_is_not_evaluated_by_state_rules(
    run_cli: Run, tmp_path: Path
) -> None:
    path = snapshot(tmp_path, {IMPLICIT: "Active", PASSWORD: None, WIDGET: ...})
    report = json.loads(check(run_cli, path, "--format", "json").stdout)
    pairs = {
        (n["ruleId"], n["clientName"]): n["reason"]
        for n in report["notEvaluated"]
        if n["clientName"]
    }
    assert pairs[("GOA-BL-001", IMPLICIT)] == (
        "whether the rule applies cannot be told: state 'Active' is not one of the API's "
        "states (active, disabled, inactive)"
    )
    assert pairs[("GOA-BL-011", IMPLICIT)].endswith(
        "state 'Active' is not one of the API's states (active, disabled, inactive)"
    )
    assert pairs[("GOA-BL-002", PASSWORD)] == (
        "whether the rule applies cannot be told: state is missing"
    )
    assert pairs[("GOA-BL-011", WIDGET)].endswith("state is missing")
    # every rule that selects by state lists it; one that does not, judges it as before
    assert ("GOA-BL-002", IMPLICIT) in pairs and ("GOA-BL-001", WIDGET) in pairs
    # rules that do not select by state judge these clients as before
    findings = {(f["ruleId"], f["clientName"]) for f in report["findings"]}
    assert ("GOA-BL-013", WIDGET) not in findings and ("GOA-BL-001", IMPLICIT) not in findings
    assert ("GOA-BL-014", IMPLICIT) not in pairs
    # the snapshot's own line for each client is kept
    assert all(n["location"] for n in report["notEvaluated"] if n["clientName"])


def test_every_format_reports_the_pairs(run_cli: Run, tmp_path: Path) -> None:
    path = snapshot(tmp_path, {IMPLICIT: "Active"})
    outs = {fmt: tmp_path / f"r.{fmt}" for fmt in ("sarif", "junit", "markdown", "html")}
    args = [a for fmt, p in outs.items() for a in (f"--{fmt}-output", str(p))]
    text = " ".join(check(run_cli, path, *args).stdout.split())
    assert f"- GOA-BL-001 for {IMPLICIT} (02d2084a" in text
    assert "state 'Active' is not one of the API's states" in text
    sarif = json.loads(outs["sarif"].read_text())
    notes = [
        n["message"]["text"]
        for n in sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    ]
    assert any(t.startswith(f"Rule GOA-BL-001 was not evaluated for {IMPLICIT}") for t in notes)
    from junitparser import Error, JUnitXml

    errors = {
        (suite.name.split(":")[0], case.name.split(" [")[0])
        for suite in JUnitXml.fromfile(str(outs["junit"]))
        for case in suite
        if any(isinstance(r, Error) for r in case.result)
    }
    assert {("GOA-BL-001", IMPLICIT), ("GOA-BL-011", IMPLICIT)} <= errors
    assert "was **not evaluated** for Chat Widget Implicit" in outs["markdown"].read_text()
    assert "was not evaluated for Chat Widget Implicit" in outs["html"].read_text()


@pytest.mark.parametrize("state", ["active", "disabled", "inactive"])
def test_the_api_states_are_judged_as_before(run_cli: Run, tmp_path: Path, state: str) -> None:
    report = json.loads(
        check(run_cli, snapshot(tmp_path, {IMPLICIT: state}), "--format", "json").stdout
    )
    assert not any(n["clientName"] == IMPLICIT for n in report["notEvaluated"])
    found = any(
        f["ruleId"] == "GOA-BL-001" and f["clientName"] == IMPLICIT for f in report["findings"]
    )
    assert found is (state != "inactive")


def test_a_client_the_other_selectors_exclude_is_not_listed(tmp_path: Path) -> None:
    from datetime import date

    from genesys_oauth_audit.engine.evaluate import evaluate
    from genesys_oauth_audit.inventory import Client, Inventory
    from genesys_oauth_audit.policy.loader import load_policies

    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - id: R-1\n    title: t\n"
        "    where: {grantTypes: [CLIENT-CREDENTIALS], states: [active], excludeNames: [Skip*]}\n"
        "    check: {type: max-scopes, max: 0}\n"
    )
    clients = (
        Client(id="a", name="App", grant_type="CODE", state="Active"),
        Client(id="b", name="Skip me", grant_type="CLIENT-CREDENTIALS", state=None),
        Client(id="c", name="Bot", grant_type="CLIENT-CREDENTIALS", state="ACTIVE"),
        Client(id="d", name="Good", grant_type="CLIENT-CREDENTIALS", state="active"),
    )
    evaluation = evaluate(
        load_policies((str(policy),)), Inventory(clients=clients), today=date(2026, 11, 20)
    )
    assert [(n.rule_id, clients[n.client_index].id) for n in evaluation.pairs_not_evaluated] == [
        ("R-1", "c")
    ]
    assert list(evaluation.selected["R-1"]) == [2, 3]  # JUnit lists both pairs
    assert evaluation.pairs_evaluated == 1
