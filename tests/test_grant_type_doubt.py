"""A client whose grant type is missing or not one of the API's values cannot be told apart by a
rule that selects by grant type: it is reported as not evaluated for that rule, per (rule, client)
pair with the reason, as for a state outside the API's (tests/test_client_state.py), never
silently left out. A check that reads the grant type keeps a finding (it names the value) but
does not vouch for a pass. From the API, a client without its grant type is a mis-shape (exit 3,
tests/test_misshapes.py); a grant type the API may add later is kept and judged so."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.inventory import Client, Inventory
from genesys_oauth_audit.policy.loader import load_policies
from tests.fake.orgdata import sample_fake
from tests.helpers import SAMPLE_SNAPSHOT, Ran, env_for

Run = Callable[..., Ran]
NOW = "2026-11-20T06:00:00Z"
DEPLOYER = "CX as Code Deployer"  # CLIENT-CREDENTIALS: GOA-BL-005 (critical) finds an admin role
WIDGET = "Chat Widget Implicit"  # TOKEN: GOA-BL-001 forbids it
API_TYPES = "(CODE, TOKEN, SAML2-BEARER, PASSWORD, CLIENT-CREDENTIALS)"


def snapshot(tmp_path: Path, grants: dict[str, Any]) -> Path:
    """The sample with the named clients' grant type replaced."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    for client in data["clients"]:
        if client["name"] in grants:
            client["grantType"] = grants[client["name"]]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def check(run_cli: Run, path: Path, *extra: str) -> dict[str, Any]:
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(path), "--now", NOW, *extra)
    assert ran.code in (0, 1), ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)
    return report


def pairs_of(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (n["ruleId"], n["clientName"]): n["reason"]
        for n in report["notEvaluated"]
        if n["clientName"]
    }


def test_a_misspelt_grant_type_in_a_snapshot_is_not_evaluated_not_dropped(
    run_cli: Run, tmp_path: Path
) -> None:
    before = check(run_cli, SAMPLE_SNAPSHOT, "--format", "json")
    assert any(
        f["ruleId"] == "GOA-BL-005" and f["clientName"] == DEPLOYER for f in before["findings"]
    )
    report = check(
        run_cli,
        snapshot(tmp_path, {DEPLOYER: "client_credentials", WIDGET: ""}),
        "--format",
        "json",
    )
    pairs = pairs_of(report)
    # the critical finding is not silently gone: the pair is listed, with the reason
    assert pairs[("GOA-BL-005", DEPLOYER)] == (
        "whether the rule applies cannot be told: grantType 'client_credentials' is not one of "
        f"the API's grant types {API_TYPES}"
    )
    assert not any(
        f["ruleId"] == "GOA-BL-005" and f["clientName"] == DEPLOYER for f in report["findings"]
    )
    # GOA-BL-014 selects the user-facing grant types: it cannot tell either
    assert ("GOA-BL-014", DEPLOYER) in pairs and ("GOA-BL-014", WIDGET) in pairs
    assert pairs[("GOA-BL-014", WIDGET)].endswith("grantType is missing")
    # forbidden-grant-types reads the grant type: a pass on such a value is not vouched for
    assert pairs[("GOA-BL-001", WIDGET)] == "a pass cannot be trusted: grantType is missing"
    assert pairs[("GOA-BL-002", DEPLOYER)].startswith(
        "a pass cannot be trusted: grantType 'client_credentials' is not one of"
    )
    # rules that neither select by nor read the grant type judge the clients as before
    assert ("GOA-BL-013", DEPLOYER) not in pairs and ("GOA-BL-006", DEPLOYER) not in pairs
    findings = {(f["ruleId"], f["clientName"]) for f in report["findings"]}
    assert ("GOA-BL-006", DEPLOYER) in findings
    assert all(n["location"] for n in report["notEvaluated"] if n["clientName"])


def test_the_text_report_lists_the_pair(run_cli: Run, tmp_path: Path) -> None:
    path = snapshot(tmp_path, {DEPLOYER: "client_credentials"})
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(path), "--now", NOW)
    text = " ".join(ran.stdout.split())
    assert f"- GOA-BL-005 for {DEPLOYER} (" in text
    assert "grantType 'client_credentials' is not one of the API's grant types" in text


def _evaluate(tmp_path: Path, check_yaml: str, *clients: Client) -> Any:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        f"  - id: R-1\n    title: t\n    check: {check_yaml}\n"
    )
    return evaluate(
        load_policies((str(policy),)), Inventory(clients=clients), today=date(2026, 11, 20)
    )


FUTURE = Client(id="f", name="Future", grant_type="DEVICE-CODE", state="active")
KNOWN = Client(id="k", name="Known", grant_type="CODE", state="active")


@pytest.mark.parametrize(
    ("check_yaml", "finding"),
    [
        # A list of what is allowed: an unknown grant type is not on it, a finding naming it.
        ("{type: allowed-grant-types, grantTypes: [CODE]}", True),
        ("{type: field, path: grantType, op: in, value: [CODE]}", True),
        ("{type: field, path: grantType, op: eq, value: CODE}", True),
        # A list of what is forbidden: it cannot say the value is not one of them in disguise.
        ("{type: forbidden-grant-types, grantTypes: [TOKEN, PASSWORD]}", False),
        ("{type: field, path: grantType, op: not-in, value: [TOKEN]}", False),
        ("{type: field, path: grantType, op: ne, value: TOKEN}", False),
    ],
)
def test_checks_that_read_an_unknown_grant_type(
    tmp_path: Path, check_yaml: str, finding: bool
) -> None:
    evaluation = _evaluate(tmp_path, check_yaml, FUTURE, KNOWN)
    assert [f.client_id for f in evaluation.findings] == (["f"] if finding else [])
    if finding:
        assert "DEVICE-CODE" in evaluation.findings[0].message
        assert evaluation.pairs_not_evaluated == ()
    else:
        assert [(n.rule_id, n.client_index) for n in evaluation.pairs_not_evaluated] == [("R-1", 0)]
        assert evaluation.pairs_not_evaluated[0].reason == (
            "a pass cannot be trusted: grantType 'DEVICE-CODE' is not one of the API's grant "
            f"types {API_TYPES}"
        )
    assert evaluation.pairs_evaluated == (2 if finding else 1)


def test_a_check_that_does_not_read_it_judges_the_client(tmp_path: Path) -> None:
    evaluation = _evaluate(tmp_path, "{type: field, path: description, op: not-empty}", FUTURE)
    assert [f.client_id for f in evaluation.findings] == ["f"]
    assert evaluation.pairs_not_evaluated == ()


def test_a_state_outside_the_api_s_is_not_vouched_for_by_a_field_check(tmp_path: Path) -> None:
    """The same mechanism for state: ``state ne inactive`` would pass 'INACTIVE'."""
    odd = Client(id="o", name="Odd", grant_type="CODE", state="INACTIVE")
    evaluation = _evaluate(tmp_path, "{type: field, path: state, op: ne, value: inactive}", odd)
    assert evaluation.findings == ()
    assert evaluation.pairs_not_evaluated[0].reason.startswith(
        "a pass cannot be trusted: state 'INACTIVE' is not one of the API's states"
    )


@pytest.mark.socket
def test_a_grant_type_the_api_adds_is_fetched_and_not_evaluated(
    run_cli: Run, tmp_path: Path
) -> None:
    """Over a socket: a value the API may add later is kept, does not crash, and is not silently
    passed by the rules that select by grant type."""
    fake = sample_fake(usage_running_polls=0)
    target = next(c for c in fake.clients if c["name"] == DEPLOYER)
    target["authorizedGrantType"] = "DEVICE-CODE"
    with fake.serve() as base:
        fetched = run_cli("fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
        ran = run_cli(
            "check", "-p", "builtin:baseline", "--format", "json", env=env_for(fake, base)
        )
    assert fetched.code == 0, fetched.stderr
    clients = json.loads((tmp_path / "s.json").read_text())["clients"]
    assert next(c for c in clients if c["name"] == DEPLOYER)["grantType"] == "DEVICE-CODE"
    assert ran.code == 1, ran.stderr
    pairs = pairs_of(json.loads(ran.stdout))
    assert pairs[("GOA-BL-005", DEPLOYER)].endswith(
        f"grantType 'DEVICE-CODE' is not one of the API's grant types {API_TYPES}"
    )


@pytest.mark.parametrize("check_type", ["unused-roles", "unused-permissions", "unused-scopes"])
def test_least_privilege_checks_read_the_grant_type(tmp_path: Path, check_type: str) -> None:
    """They pick the analysis by grant type (roles for client credentials, scopes otherwise): for
    a grant type outside the API's they have nothing to judge, which is no pass."""
    from genesys_oauth_audit.inventory import RoleGrant, UsageWindow

    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        f"  - id: R-1\n    title: t\n    check: {{type: {check_type}}}\n"
    )
    client = FUTURE.model_copy(
        update={
            "roles": (RoleGrant(role_id="r-1", division_id="*", name="Reader"),),
            "permissions": (),
            "scopes": ("users",),
            "operations": (),
        }
    )
    window = UsageWindow(days=90, start=date(2026, 8, 23), end=date(2026, 11, 20))
    inventory = Inventory(clients=(client,), roles=(), scopes=(), operation_usage=window)
    evaluation = evaluate(load_policies((str(policy),)), inventory, today=date(2026, 11, 20))
    assert evaluation.findings == ()
    assert [n.reason for n in evaluation.pairs_not_evaluated] == [
        f"a pass cannot be trusted: grantType 'DEVICE-CODE' is not one of the API's grant types "
        f"{API_TYPES}"
    ]
