"""Pre-change checks: request bodies and Terraform plans of the CX-as-Code provider (--proposed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fake.orgdata import sample_fake
from tests.helpers import CLIENT_ID, DATA, ROOT, SAMPLE_SNAPSHOT, Run
from tests.test_ci_reports import github_problems, sarif_validator

PLAN = ROOT / "examples" / "terraform" / "plan.json"
MINIFIED = DATA / "plan-minified.json"
PROPOSALS = DATA / "proposals"
NOW = "2026-11-20T06:00:00Z"


def check(
    run_cli: Run, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    ran = run_cli(
        "check", "-p", "builtin:baseline", *args, "--format", "json", "--now", NOW, env=env
    )
    assert ran.code in (0, 1), ran.stderr
    return ran.code, json.loads(ran.stdout)


def findings(report: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {(f["ruleId"], f["clientName"], f["subject"]) for f in report["findings"]}


def line_of(path: Path, line: int) -> str:
    return path.read_text().splitlines()[line - 1]


def test_plan_creates_updates_and_replacements_are_judged_as_they_will_be(run_cli: Run) -> None:
    code, report = check(run_cli, "--proposed", str(PLAN))
    assert code == 1
    assert findings(report) == {
        ("GOA-BL-006", "Client Deployer", "oauth:client:add"),  # role created in the same plan
        ("GOA-BL-006", "Client Deployer", "oauth:client:edit"),
        ("GOA-BL-001", "Chat Widget", "TOKEN"),  # an update, judged after the change
        ("GOA-BL-004", "Chat Widget", "https://*.example.com/chat"),
        ("GOA-BL-004", "Partner Portal", "http://localhost:3000/callback"),
        ("GOA-BL-014", "Partner Portal", "oauth"),
        ("GOA-BL-003", "Partner Portal", None),
    }
    names = {c["name"] for c in report["clients"]}
    assert names == {
        "Warehouse Export",
        "Partner Portal",
        "Client Deployer",
        "Chat Widget",
        "WFM Vendor",
        "Dynamic Scopes App",
    }
    assert "Old Admin Tool" not in names and "Retired Integration" not in names  # no-op and delete
    assert report["source"]["kind"] == "proposal" and report["source"]["proposals"] == [str(PLAN)]


def test_plan_findings_point_at_the_resource_in_the_plan(run_cli: Run) -> None:
    _, report = check(run_cli, "--proposed", str(PLAN))
    for f in report["findings"]:
        assert f["location"]["path"] == str(PLAN)
        address = next(
            c
            for c in ("partner_portal", "client_deployer", "chat_widget")
            if c.split("_")[0] in f["clientName"].lower()
        )
        assert f'"address": "genesyscloud_oauth_client.{address}"' in line_of(
            PLAN, f["location"]["line"]
        )
    by_name = {f["clientName"]: f for f in report["findings"]}
    assert (
        by_name["Chat Widget"]["clientId"] == "02d2084a-d039-5e26-9367-3bc02ad44a32"
    )  # the update keeps its id
    assert by_name["Partner Portal"]["clientId"] is None  # not created yet


def test_roles_planned_alongside_resolve_to_names_and_permissions(run_cli: Run) -> None:
    _, report = check(run_cli, "--proposed", str(PLAN))
    clients = {c["name"]: c for c in report["clients"]}
    assert clients["Client Deployer"]["roles"] == ["CX as Code Client Deployer"]
    assert (
        clients["Client Deployer"]["permissionCount"] == 4
        and clients["Client Deployer"]["highestRisk"] == "critical"
    )
    assert clients["Warehouse Export"]["roles"] == ["Warehouse Reader"]
    assert (
        clients["WFM Vendor"]["grantType"] == "SAML2-BEARER"
    )  # the provider's SAML2BEARER spelling
    assert clients["Partner Portal"]["grantType"] == "CODE"


def test_values_known_after_apply_are_not_evaluated_not_passed(
    run_cli: Run, tmp_path: Path
) -> None:
    junit = tmp_path / "j.xml"
    _, report = check(run_cli, "--proposed", str(PLAN), "--junit-output", str(junit))
    pending = [n for n in report["notEvaluated"] if n["clientName"] == "Dynamic Scopes App"]
    assert [n["ruleId"] for n in pending] == ["GOA-BL-014"]
    assert pending[0]["reason"] == "scopes is known only after apply"
    assert '"address": "genesyscloud_oauth_client.dynamic_scopes"' in line_of(
        PLAN, pending[0]["location"]["line"]
    )
    from junitparser import Error, JUnitXml

    errors = [
        (suite.name.split(":")[0], case.name)
        for suite in JUnitXml.fromfile(str(junit))
        for case in suite
        if any(isinstance(r, Error) for r in case.result)
    ]
    assert errors == [
        ("GOA-BL-014", f"Dynamic Scopes App [proposed {PLAN}:{pending[0]['location']['line']}]")
    ]


def test_minified_plan_locations_carry_a_column(run_cli: Run, tmp_path: Path) -> None:
    sarif = tmp_path / "r.sarif"
    ran = run_cli(
        "check", "-p", "builtin:baseline", "--proposed", str(MINIFIED), "--sarif-output", str(sarif)
    )
    assert ran.code == 1
    log = json.loads(sarif.read_text())
    sarif_validator().validate(log)
    assert github_problems(log) == []
    text = MINIFIED.read_text()
    for result in log["runs"][0]["results"]:
        loc = result["locations"][0]["physicalLocation"]
        assert (
            loc["artifactLocation"]["uri"] == "tests/data/plan-minified.json"
        )  # relative: annotates the PR
        assert loc["region"]["startLine"] == 1
        column = loc["region"]["startColumn"]
        assert text[column - 1 :].startswith('"genesyscloud_oauth_client.')
    assert log["runs"][0]["automationDetails"]["id"] == "genesys-oauth-audit/proposals/"


def test_module_plan_with_instance_keys_resolves_roles_through_the_configuration(
    run_cli: Run,
) -> None:
    _, alone = check(run_cli, "--proposed", str(PROPOSALS / "module-plan.json"))
    reasons = {n["ruleId"]: n["reason"] for n in alone["notEvaluated"] if n["clientName"]}
    # one role is planned in the module, the other is an existing id: without the org's roles it cannot be judged
    assert {"GOA-BL-005", "GOA-BL-006", "GOA-BL-010"} <= set(reasons)
    assert reasons["GOA-BL-010"].startswith("roles cannot be resolved: role 1931f233")
    _, with_org = check(
        run_cli,
        "--proposed",
        str(PROPOSALS / "module-plan.json"),
        "--inventory",
        str(SAMPLE_SNAPSHOT),
    )
    assert findings(with_org) == {
        ("GOA-BL-010", "Recording Export EU", "1931f233-8cb4-58b3-a99d-70b6ddd632b3")
    }
    client = with_org["clients"][0]
    assert client["roles"] == ["1931f233-8cb4-58b3-a99d-70b6ddd632b3", "Recording Exporter (TF)"]
    assert (
        client["highestRisk"] == "high"
    )  # recording:recording:viewSensitiveData, from the planned role


def test_request_bodies_json_and_yaml(run_cli: Run) -> None:
    _, report = check(
        run_cli,
        "--proposed",
        str(PROPOSALS / "new-portal.json"),
        "--proposed",
        str(PROPOSALS / "batch.yaml"),
    )
    assert findings(report) == {("GOA-BL-014", "New Partner Portal", "authorization")}
    by_name = {c["name"]: c for c in report["clients"]}
    assert set(by_name) == {"New Partner Portal", "Rotation Bot v2", "Chat Widget Implicit"}
    lines = {
        n["clientName"]: n["location"]["line"] for n in report["notEvaluated"] if n["clientName"]
    }
    assert lines["Rotation Bot v2"] == 2  # the object's line in the YAML list
    _, with_org = check(
        run_cli,
        "--proposed",
        str(PROPOSALS / "batch.yaml"),
        "--proposed",
        str(PROPOSALS / "new-portal.json"),
        "--inventory",
        str(SAMPLE_SNAPSHOT),
    )
    found = findings(with_org)
    assert (
        "GOA-BL-006",
        "Rotation Bot v2",
        "oauth:client:edit",
    ) in found  # its role resolves in the org
    assert (
        "GOA-BL-009",
        "New Partner Portal",
        "streaming-events:readonly",
    ) in found  # the org's scope catalog
    # an update keeps the client's usage history: the widget was used two days ago, so it is not stale
    assert not any(f[0] == "GOA-BL-011" for f in found)
    located = {f["clientName"]: f["location"] for f in with_org["findings"]}
    assert located["Rotation Bot v2"] == {"path": str(PROPOSALS / "batch.yaml"), "line": 2}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("broken.json", "broken.json:2:13: error: not valid JSON: Expecting value"),
        ("garbage.png.json", "garbage.png.json:1:1: error: not JSON or YAML: not UTF-8 text"),
        (
            "plan-v2.json",
            "plan-v2.json:1:1: error: unsupported Terraform plan format_version '2.0'",
        ),
        (
            "missing-grant.yaml",
            "missing-grant.yaml:1:1: error: missing required key 'authorizedGrantType'",
        ),
        (
            "typo-scopes.json",
            "typo-scopes.json:4:3: error: unknown key 'scopes'; did you mean 'scope'?",
        ),
    ],
)
def test_bad_proposal_files_exit_2_with_file_and_line(
    run_cli: Run, name: str, message: str
) -> None:
    ran = run_cli("check", "-p", "builtin:baseline", "--proposed", str(PROPOSALS / name))
    assert ran.code == 2 and ran.stdout == ""
    assert message in ran.stderr and "Traceback" not in ran.stderr


def test_bad_proposals_fail_before_the_network(run_cli: Run) -> None:
    env = {
        "GENESYSCLOUD_REGION": "http://127.0.0.1:9",
        "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y",
    }
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--proposed",
        str(PROPOSALS / "typo-scopes.json"),
        env=env,
    )
    assert ran.code == 2


def test_the_client_secret_of_a_plan_is_never_output(run_cli: Run, tmp_path: Path) -> None:
    outs = [tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit", "markdown")]
    args = [
        a
        for fmt, path in zip(("json", "sarif", "junit", "markdown"), outs, strict=True)
        for a in (f"--{fmt}-output", str(path))
    ]
    ran = run_cli(
        "-vv",
        "check",
        "-p",
        "builtin:baseline",
        "--proposed",
        str(PROPOSALS / "module-plan.json"),
        *args,
    )
    everything = ran.stdout + ran.stderr + "".join(p.read_text() for p in outs)
    assert "planned-secret-never-print-me" not in everything


@pytest.mark.socket
def test_proposals_against_a_live_org(run_cli: Run) -> None:
    fake = sample_fake(usage_running_polls=0)
    with fake.serve() as base:
        env = {
            "GENESYSCLOUD_REGION": base,
            "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
        }
        _, report = check(run_cli, "--proposed", str(PROPOSALS / "batch.yaml"), env=env)
    assert report["source"]["kind"] == "live" and report["source"]["proposals"] == [
        str(PROPOSALS / "batch.yaml")
    ]
    assert ("GOA-BL-006", "Rotation Bot v2", "oauth:client:add") in findings(report)
    assert [c["name"] for c in report["clients"]] == [
        "Rotation Bot v2",
        "Chat Widget Implicit",
    ]  # only the proposals
    assert any(
        r.path == "/api/v2/authorization/roles" for r in fake.log
    )  # roles read to resolve the proposals


def test_an_empty_proposal_file_says_what_was_expected(run_cli: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    ran = run_cli("check", "-p", "builtin:baseline", "--proposed", str(empty))
    assert ran.code == 2
    assert (
        f"{empty}:1:1: error: the file is empty; expected an OAuth client request body or a "
        "Terraform plan" in ran.stderr
    )
