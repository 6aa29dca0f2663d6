"""Where users already work: the GitHub Action's steps, the GitLab template, the pre-commit hooks.

The composite action's shell steps are run here, as the runner would run them, against the fake org
over real HTTP; the GitLab template's script runs the same way; the pre-commit hooks run their
entries on the files their patterns select.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fake.orgdata import sample_fake
from tests.helpers import CLIENT_ID, ROOT, SAMPLE_SNAPSHOT
from tests.test_ci_reports import github_problems, sarif_validator

BIN = Path(sys.executable).parent
TOOL = shutil.which("genesys-oauth-audit", path=str(BIN)) or shutil.which("genesys-oauth-audit")


def _tool_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def _expand(script: str, inputs: dict[str, str]) -> str:
    """Replace ${{ inputs.x }} as the Actions runner would (the test supplies the values)."""
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], script)


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return loaded


def test_action_declares_its_inputs_and_uses_the_tool(action: dict[str, Any]) -> None:
    assert action["runs"]["using"] == "composite"
    assert {
        "policies",
        "region",
        "fail-on",
        "baseline",
        "proposed",
        "inventory",
        "sarif-file",
    } <= set(action["inputs"])
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert not any(
        "secret" in json.dumps(v).lower() for v in action["inputs"].values() if "default" in v
    )


@pytest.mark.skipif(
    TOOL is None, reason="the genesys-oauth-audit command is not installed in this environment"
)
@pytest.mark.parametrize(("fail_on", "expected"), [("low", 1), ("never", 0)])
def test_action_steps_run_against_a_fake_org(
    action: dict[str, Any], tmp_path: Path, fail_on: str, expected: int
) -> None:
    steps = {s.get("id") or s.get("name"): s for s in action["runs"]["steps"]}
    check, verdict = steps["check"], steps["Verdict"]
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update({"policies": "builtin:tutorial\nbuiltin:baseline", "fail-on": fail_on})
    output, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    fake = sample_fake(usage_running_polls=0)
    with fake.serve() as base:
        env = _tool_env(
            {
                "GENESYSCLOUD_REGION": base,
                "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary),
                **{k: _expand(v, inputs) for k, v in check["env"].items()},
            }
        )
        ran = subprocess.run(
            ["bash", "-e", "-c", check["run"]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
    assert ran.returncode == 0, ran.stderr  # the step records the code; the verdict step decides
    assert output.read_text().strip() == f"exit-code={expected}"
    assert "## genesys-oauth-audit:" in summary.read_text()
    log = json.loads((tmp_path / inputs["sarif-file"]).read_text())
    sarif_validator().validate(log)
    assert github_problems(log) == []
    assert fake.secrets()[0] not in ran.stdout + ran.stderr + summary.read_text()
    decided = subprocess.run(
        ["bash", "-c", verdict["run"]], env={**os.environ, "EXIT_CODE": str(expected)}
    )
    assert decided.returncode == expected


def test_gitlab_template_publishes_junit_and_fails_the_job(tmp_path: Path) -> None:
    template = yaml.safe_load((ROOT / "ci" / "genesys-oauth-audit.gitlab-ci.yml").read_text())
    job = template[".genesys-oauth-audit"]
    assert template["genesys-oauth-audit"]["extends"] == ".genesys-oauth-audit"
    junit = job["artifacts"]["reports"]["junit"]
    assert job["artifacts"]["when"] == "always"
    assert any(f"--junit-output {junit}" in line for line in job["script"])
    if TOOL is None:
        pytest.skip("the genesys-oauth-audit command is not installed in this environment")
    env = _tool_env(
        {
            **{k: str(v) for k, v in job["variables"].items()},
            "GOA_ARGS": f"--inventory {SAMPLE_SNAPSHOT}",
        }
    )
    ran = subprocess.run(
        ["sh", "-e", "-c", "\n".join(job["script"])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 1  # findings fail the job
    from junitparser import JUnitXml

    assert sum(suite.failures for suite in JUnitXml.fromfile(str(tmp_path / junit))) > 0


def test_precommit_hooks_run_their_entries() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"genesys-oauth-audit-validate", "genesys-oauth-audit-test"}
    files = [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("policies/**/*.yaml"))]

    def selects(hook: dict[str, Any], file: str) -> bool:
        return bool(re.search(hook["files"], file)) and not re.search(
            hook.get("exclude", "^$"), file
        )

    # Editing a policy runs the tests that exercise it, not only editing a test.
    assert selects(hooks["genesys-oauth-audit-test"], "policies/baseline.yaml")
    assert selects(hooks["genesys-oauth-audit-test"], "policies/tests/baseline.test.yaml")
    assert not selects(hooks["genesys-oauth-audit-validate"], "policies/tests/baseline.test.yaml")
    for hook in hooks.values():
        selected = [f for f in files if selects(hook, f)]
        assert selected, hook["id"]
        # As pre-commit runs a hook: entry, then args, then the files unless pass_filenames is off.
        command = [*hook["entry"].split(), *hook.get("args", [])]
        if hook.get("pass_filenames", True):
            command += selected
        else:
            assert hook["args"], f"{hook['id']} runs on nothing without filenames or args"
        if TOOL is None:
            continue
        ran = subprocess.run(command, cwd=ROOT, env=_tool_env({}), capture_output=True, text=True)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        if hook["id"] == "genesys-oauth-audit-test":
            # Every shipped pack's tests ran, whichever file triggered the hook.
            for test_file in sorted((ROOT / "policies" / "tests").glob("*.test.yaml")):
                assert f"policies/tests/{test_file.name}" in ran.stdout
    broken = ROOT / "tests" / "data" / "policies" / "invalid" / "unknown-key.yaml"
    if TOOL is not None:
        ran = subprocess.run(
            [*hooks["genesys-oauth-audit-validate"]["entry"].split(), str(broken)],
            env=_tool_env({}),
            capture_output=True,
            text=True,
        )
        assert ran.returncode == 2 and "did you mean 'title'" in ran.stderr
