"""The many-orgs recipes, run: the GitHub Actions matrix workflow (examples/github-orgs-matrix.yml)
and the GitLab parallel:matrix pipeline (ci/genesys-oauth-audit-orgs.gitlab-ci.yml). Their shell
steps run here as the runners would run them, with the real tool, against fake orgs over real
HTTP: the matrix comes from ``orgs list --json``, each job audits one org, the merge job writes
the SARIF, the JUnit report and the summary. Both files are also checked against the schemas the
CI services' editors use (tests/test_workflows.py does the rest: pins, permissions, no
expression in a script; .ci/run adds actionlint and zizmor)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.fake.orgdata import sample_fake
from tests.helpers import ROOT
from tests.test_ci_reports import EXTERNAL, github_problems, sarif_validator
from tests.test_workflows import GITLAB_ORGS, MATRIX, _errors, _extended, _validator, load

BIN = Path(sys.executable).parent
TOOL = shutil.which("genesys-oauth-audit", path=str(BIN)) or shutil.which("genesys-oauth-audit")
needs_tool = pytest.mark.skipif(
    TOOL is None, reason="the genesys-oauth-audit command is not installed in this environment"
)
EXAMPLE_ORGS = ROOT / "examples" / "orgs.yaml"


def _orgs_names() -> list[str]:
    from genesys_oauth_audit.policy.orgsfile import load_orgs_file

    return list(load_orgs_file(EXAMPLE_ORGS).names)


@pytest.fixture
def served_orgs(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The example orgs file's orgs, each a fake org over its own socket; the orgs file in
    ``tmp_path`` names the same orgs and variables, with the fakes' addresses as regions."""
    from genesys_oauth_audit.policy.orgsfile import load_orgs_file

    orgs = load_orgs_file(EXAMPLE_ORGS)
    lines = ["apiVersion: genesys-oauth-audit/v1", "kind: Orgs", "orgs:"]
    secrets: dict[str, str] = {}
    with ExitStack() as stack:
        for org in orgs.orgs:
            fake = sample_fake(
                usage_running_polls=0, credentials={f"{org.name}-id": f"{org.name}-secret-xyz"}
            )
            fake.org = {"id": f"org-{org.name}", "name": f"Org {org.name}"}
            url = stack.enter_context(fake.serve())
            policies = f", policies: [{', '.join(org.policies)}]" if org.policies else ""
            lines.append(
                f'  - {{name: {org.name}, region: "{url}", clientIdEnv: {org.client_id_env}, '
                f"clientSecretEnv: {org.client_secret_env}{policies}}}"
            )
            secrets[org.name] = f"{org.name}-secret-xyz"
        (tmp_path / "orgs.yaml").write_text("\n".join(lines) + "\n")
        # Every org on loopback: a subprocess is beyond the tests' network guard.
        assert "127.0.0.1" in (tmp_path / "orgs.yaml").read_text()
        for org in load_orgs_file(tmp_path / "orgs.yaml").orgs:
            assert org.region.startswith("http://127.0.0.1:"), org.region
        yield {"orgs": orgs, "secrets": secrets}


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def _sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_gitlab_pipeline_matches_gitlabs_schema_and_the_orgs_file() -> None:
    validator = _validator("gitlab-ci.json")
    pipeline = load(GITLAB_ORGS)
    assert _errors(validator, pipeline) == []
    assert _errors(validator, _extended(pipeline)) == []
    [matrix] = pipeline["genesys-oauth-audit-org"]["parallel"]["matrix"]
    assert matrix["ORG"] == _orgs_names()
    merge = pipeline["genesys-oauth-audit-merge"]
    assert merge["artifacts"]["when"] == "always"
    assert merge["needs"] == [{"job": "genesys-oauth-audit-org", "artifacts": True}]
    assert all(rule.get("when") == "always" for rule in merge["rules"])


def test_the_github_workflow_reads_its_matrix_with_the_tool() -> None:
    workflow = load(MATRIX)
    audit = workflow["jobs"]["audit"]
    assert audit["strategy"]["matrix"] == "${{ fromJSON(needs.orgs.outputs.matrix) }}"
    assert audit["strategy"]["fail-fast"] is False
    assert audit["environment"]["name"] == "genesys-${{ matrix.org }}"
    [listing] = [s for s in workflow["jobs"]["orgs"]["steps"] if s.get("id") == "list"]
    assert "orgs list --json" in listing["run"]
    assert workflow["jobs"]["merge"]["if"] == "${{ !cancelled() }}"


@needs_tool
@pytest.mark.socket
def test_the_github_workflow_runs_end_to_end(tmp_path: Path, served_orgs: dict[str, Any]) -> None:
    workflow = load(MATRIX)
    ref = {"GOA_REF": workflow["env"]["GOA_REF"]}
    output = tmp_path / "github_output"
    [listing] = [s for s in workflow["jobs"]["orgs"]["steps"] if s.get("id") == "list"]
    ran = _sh(listing["run"], tmp_path, _env({**ref, "GITHUB_OUTPUT": str(output)}))
    assert ran.returncode == 0, ran.stderr
    key, _, value = output.read_text().strip().partition("=")
    matrix = json.loads(value)
    assert key == "matrix"
    assert [job["org"] for job in matrix["include"]] == _orgs_names()
    [step] = [s for s in workflow["jobs"]["audit"]["steps"] if s.get("name") == "Audit the org"]
    (tmp_path / "reports").mkdir()
    for job in matrix["include"]:
        org = job["org"]
        # The job's environment (genesys-<org>) gives the org's secrets as the standard variables.
        env = _env(
            {
                **ref,
                "ORG": org,
                "GENESYSCLOUD_OAUTHCLIENT_ID": f"{org}-id",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": served_orgs["secrets"][org],
            }
        )
        ran = _sh(step["run"], tmp_path, env)
        assert ran.returncode == 1, ran.stderr  # findings at or above high: the job is red
        # upload-artifact, then download-artifact with merge-multiple: one folder of reports.
        shutil.move(tmp_path / f"goa-{org}.json", tmp_path / "reports" / f"goa-{org}.json")
    summary = tmp_path / "summary.md"
    [merge] = [
        s for s in workflow["jobs"]["merge"]["steps"] if s.get("name") == "Merge the reports"
    ]
    ran = _sh(merge["run"], tmp_path, _env({**ref, "GITHUB_STEP_SUMMARY": str(summary)}))
    assert ran.returncode == 1, ran.stderr
    sarif = json.loads((tmp_path / "oauth-orgs.sarif").read_text())
    sarif_validator().validate(sarif)
    assert github_problems(sarif) == []
    assert [r["properties"]["org"] for r in sarif["runs"]] == _orgs_names()
    assert len({r["automationDetails"]["id"] for r in sarif["runs"]}) == len(_orgs_names())
    text = summary.read_text()
    assert text.startswith("## genesys-oauth-audit: ❌ **FAIL** (3 orgs: 0 pass, 3 fail)")
    assert len(text.encode()) < 1024 * 1024
    for secret in served_orgs["secrets"].values():
        assert secret not in text + json.dumps(sarif)


@needs_tool
@pytest.mark.socket
def test_the_gitlab_pipeline_runs_end_to_end(tmp_path: Path, served_orgs: dict[str, Any]) -> None:
    from lxml import etree

    pipeline = _extended(load(GITLAB_ORGS))
    audit, merge = pipeline["genesys-oauth-audit-org"], pipeline["genesys-oauth-audit-merge"]
    variables = {k: str(v) for k, v in audit["variables"].items()}
    [matrix] = audit["parallel"]["matrix"]
    # GitLab gives every job the project's CI/CD variables: each org's, named in orgs.yaml.
    project = {}
    for org in served_orgs["orgs"].orgs:
        project[org.client_id_env] = f"{org.name}-id"
        project[org.client_secret_env] = served_orgs["secrets"][org.name]
    for org in matrix["ORG"][:-1]:
        ran = _sh("\n".join(audit["script"]), tmp_path, _env({**variables, **project, "ORG": org}))
        assert ran.returncode == 1, ran.stderr
    # The last org's job was lost: the merge says so, and fails.
    ran = _sh("\n".join(merge["script"]), tmp_path, _env(variables))
    assert ran.returncode == 3, ran.stderr
    junit = tmp_path / merge["artifacts"]["reports"]["junit"]
    doc = etree.parse(str(junit))
    schema = etree.XMLSchema(etree.parse(str(EXTERNAL / "junit-windyroad-ant.xsd")))
    assert schema.validate(doc), schema.error_log
    suites = [str(s.get("name")) for s in doc.getroot().findall("testsuite")]
    assert suites[-1] == f"{matrix['ORG'][-1]}: not audited"
    assert any(name.startswith(f"{matrix['ORG'][0]}: GOA-") for name in suites)
    for path in merge["artifacts"]["paths"]:
        assert (tmp_path / path).exists()
