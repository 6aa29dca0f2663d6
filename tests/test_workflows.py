"""The CI glue itself: what the action, the workflows, the GitLab template and the recipes install
and run, checked as the CI services would read them.

The action's and the template's shell lines run here with a stand-in for the program they call
(``genesys-oauth-audit`` or ``python``) that records its arguments, so what they *pass* is asserted;
tests/test_integrations.py runs the same steps with the real tool against the fake org. The files
are also validated against the schemas GitLab's and GitHub's editors use (copies in
tests/data/ci-schemas/, see SOURCE.md there). actionlint-grade and zizmor checks run in .ci/run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.helpers import DATA, ROOT

REPOSITORY = "https://github.com/genesys-oauth-audit/genesys-oauth-audit"
ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "examples" / "github-workflow.yml"
MATRIX = ROOT / "examples" / "github-orgs-matrix.yml"  # many orgs: a job per org, then merge
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB = ROOT / "ci" / "genesys-oauth-audit.gitlab-ci.yml"
GITLAB_ORGS = ROOT / "ci" / "genesys-oauth-audit-orgs.gitlab-ci.yml"
GITHUB_FILES = [ACTION, EXAMPLE, MATRIX, *WORKFLOWS]
# Where people copy an install or a version from.
RECIPES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    GITLAB,
    GITLAB_ORGS,
    *GITHUB_FILES,
    ROOT / ".pre-commit-hooks.yaml",
]


class _Yaml12Loader(yaml.SafeLoader):
    """YAML as GitHub and GitLab read it: `on:` is a key, not the boolean true of YAML 1.1."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def load(path: Path) -> Any:
    # A SafeLoader subclass: no arbitrary objects.
    return yaml.load(path.read_text(), Loader=_Yaml12Loader)


def steps_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a composite action or of every job of a workflow."""
    if "runs" in document:
        return list(document["runs"].get("steps", []))
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- GitHub Actions hygiene --------------------------------------------------------------------------

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^\s+# (?P<version>v\d+(?:\.\d+)*)\b")


def _uses() -> list[tuple[str, int, str, str]]:
    found = []
    for path in GITHUB_FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = USES.match(line)
            if match:
                found.append((_rel(path), number, match["ref"], match["rest"]))
    return found


def test_every_third_party_action_is_pinned_to_a_commit_with_its_version() -> None:
    uses = _uses()
    assert len(uses) >= 8  # setup-python, upload-sarif, checkout, terraform, artifacts, pypi
    pins: dict[str, set[str]] = {}
    for where, number, ref, rest in uses:
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{where}:{number}: {ref} is not pinned to a full commit SHA"
        comment = VERSION_COMMENT.match(rest)
        assert comment, f"{where}:{number}: {ref} needs its version in a comment (# vX.Y.Z)"
        pins.setdefault(ref.split("@")[0], set()).add(f"{ref} {comment['version']}")
    # One action, one pin: files do not drift apart.
    assert {action: pin for action, pin in pins.items() if len(pin) > 1} == {}


def test_code_scanning_upload_is_on_the_current_major() -> None:
    uploads = [(w, n, rest) for w, n, ref, rest in _uses() if "codeql-action/upload-sarif@" in ref]
    assert {w for w, _, _ in uploads} == {
        "action.yml",
        "examples/github-workflow.yml",
        "examples/github-orgs-matrix.yml",
    }
    for where, number, rest in uploads:
        version = VERSION_COMMENT.match(rest)
        assert version and int(version["version"][1:].split(".")[0]) >= 4, f"{where}:{number}"


@pytest.mark.parametrize("path", GITHUB_FILES, ids=_rel)
def test_no_expression_is_spliced_into_a_run_script(path: Path) -> None:
    """`${{ }}` in a script is expanded into its text before the shell runs it (script injection);
    values reach scripts through `env:` instead."""
    runs = [step["run"] for step in steps_of(load(path)) if "run" in step]
    assert runs
    for script in runs:
        assert "${{" not in script, f"{_rel(path)}: {script!r}"


@pytest.mark.parametrize("path", GITHUB_FILES, ids=_rel)
def test_checkouts_do_not_persist_the_token(path: Path) -> None:
    for step in steps_of(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, _rel(path)


@pytest.mark.parametrize("path", [EXAMPLE, MATRIX, *WORKFLOWS], ids=_rel)
def test_workflows_grant_no_permission_at_the_top(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{_rel(path)}: job {name} must say what it needs"
        assert "timeout-minutes" in job, f"{_rel(path)}: job {name} has no timeout"


def _validator(name: str) -> Draft7Validator:
    schema = json.loads((DATA / "ci-schemas" / name).read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _errors(validator: Draft7Validator, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_action_matches_the_action_metadata_schema() -> None:
    assert _errors(_validator("github-actions.json"), load(ACTION)) == []


@pytest.mark.parametrize("path", [EXAMPLE, MATRIX, *WORKFLOWS], ids=_rel)
def test_workflows_match_the_workflow_schema(path: Path) -> None:
    assert _errors(_validator("github-workflows.json"), load(path)) == []


def _extended(template: dict[str, Any]) -> dict[str, Any]:
    """The template with `extends:` resolved as GitLab does (hashes merged deeply, the job's keys
    winning), so the hidden job, which the schema accepts as any anchor, is checked as a job."""

    def merge(base: Any, over: Any) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            return {
                k: merge(base[k], over[k]) if k in base and k in over else over.get(k, base.get(k))
                for k in {**base, **over}
            }
        return over

    resolved = {}
    for name, job in template.items():
        if isinstance(job, dict) and "extends" in job:
            job = merge(template[job["extends"]], {k: v for k, v in job.items() if k != "extends"})
        resolved[name] = job
    return resolved


def test_gitlab_template_matches_gitlabs_ci_schema() -> None:
    validator = _validator("gitlab-ci.json")
    template = load(GITLAB)
    assert _errors(validator, template) == []
    resolved = _extended(template)
    assert resolved["genesys-oauth-audit"]["script"] == template[".genesys-oauth-audit"]["script"]
    assert _errors(validator, resolved) == []
    # The check has teeth: mistakes in the hidden job are caught once it is extended.
    template[".genesys-oauth-audit"]["artifacts"]["when"] = "allways"
    template[".genesys-oauth-audit"]["before_scripts"] = ["true"]
    assert _errors(validator, template) == []  # a hidden key may hold anything
    assert len(_errors(validator, _extended(template))) >= 2


# -- the action's check step: what reaches the tool ------------------------------------------------


def _stub(bin_dir: Path, name: str, record: Path, code: int = 0) -> None:
    """A program that records its arguments, one per line, and exits with ``code``."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\nexit {code}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _run_check_step(tmp_path: Path, **inputs: str) -> list[str]:
    action = load(ACTION)
    check = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    values.update(inputs)
    env = {}
    for key, value in check["env"].items():
        # The runner substitutes ${{ inputs.x }} in env values (never in the script).
        env[key] = re.sub(
            r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], str(value)
        )
    record = tmp_path / "argv"
    _stub(tmp_path / "bin", "genesys-oauth-audit", record, code=1)
    ran = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]],
        cwd=tmp_path,
        env={
            "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            **env,
        },
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr  # the step records the tool's code; Verdict decides
    assert (tmp_path / "output").read_text() == "exit-code=1\n"
    return record.read_text().splitlines()


def test_action_passes_its_category_to_the_tool(tmp_path: Path) -> None:
    argv = _run_check_step(tmp_path, category="oauth-clients/pr plan", policies="builtin:baseline")
    assert argv[0] == "check"
    at = argv.index("--sarif-category")
    assert argv[at + 1] == "oauth-clients/pr plan"  # one argument, spaces and all
    assert argv[argv.index("--sarif-output") + 1] == "genesys-oauth-audit.sarif"


def test_action_leaves_the_category_to_the_tool_by_default(tmp_path: Path) -> None:
    argv = _run_check_step(tmp_path)
    assert "--sarif-category" not in argv
    assert argv[:3] == ["check", "-p", "builtin:baseline"]


def test_action_inputs_are_arguments_not_shell(tmp_path: Path) -> None:
    hostile = 'x"; touch pwned; echo "'
    argv = _run_check_step(tmp_path, category=hostile, baseline="$(touch pwned2)")
    assert argv[argv.index("--sarif-category") + 1] == hostile
    assert argv[argv.index("--baseline") + 1] == "$(touch pwned2)"
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_action_uploads_without_a_category_of_its_own() -> None:
    """upload-sarif ignores `category` when the SARIF names its run category, which the tool
    always does: the action's `category` input must reach the tool instead."""
    action = load(ACTION)
    [upload] = [s for s in action["runs"]["steps"] if "upload-sarif@" in s.get("uses", "")]
    assert "category" not in upload["with"]
    assert "category" in action["inputs"] and action["inputs"]["category"]["default"] == ""


def test_action_installs_the_tool_from_its_own_checkout() -> None:
    action = load(ACTION)
    [install] = [s for s in action["runs"]["steps"] if "pip install" in s.get("run", "")]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert shlex.split(install["run"])[-1] == "$ACTION_PATH"


# -- installs that exist ---------------------------------------------------------------------------

PIP_INSTALL = re.compile(r"pip3? install\b(?P<args>[^\n`|&;#]*)")
BARE_NAME = re.compile(r"^genesys-oauth-audit(\[[\w,]+\])?$")


def test_no_recipe_installs_the_bare_name_from_an_index() -> None:
    """Until the name is published, whoever registers it would run with the Genesys secret."""
    offenders = []
    for path in RECIPES:
        text = path.read_text()
        if path.suffix == ".md":  # the commands people copy; prose may name the bad one
            text = "\n".join(re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S))
        for match in PIP_INSTALL.finditer(text):
            for word in match["args"].split():
                if BARE_NAME.match(word.strip("\"'")):
                    offenders.append(f"{_rel(path)}: pip install{match['args']}")
    assert offenders == []


RELEASE_REF = re.compile(
    r"genesys-oauth-audit/genesys-oauth-audit(?:@|/archive/|/)(v\d+\.\d+\.\d+)"
    r"|GOA_REF: \"?(v\d+\.\d+\.\d+)|rev: (v\d+\.\d+\.\d+)"
)


def test_recipes_pin_one_release() -> None:
    refs: dict[str, set[str]] = {}
    for path in RECIPES:
        for match in RELEASE_REF.finditer(path.read_text()):
            ref = next(group for group in match.groups() if group)
            refs.setdefault(ref, set()).add(_rel(path))
    assert len(refs) == 1, f"recipes name different releases: {refs}"
    [files] = refs.values()
    assert {"ci/genesys-oauth-audit.gitlab-ci.yml", "examples/github-workflow.yml"} <= files
    assert "docs/ci-recipes.md" in files and "docs/getting-started.md" in files


def test_gitlab_template_installs_the_pinned_repository(tmp_path: Path) -> None:
    job = load(GITLAB)[".genesys-oauth-audit"]
    variables = {k: str(v) for k, v in job["variables"].items()}
    record = tmp_path / "argv"
    _stub(tmp_path / "bin", "python", record)

    def install(**override: str) -> list[str]:
        subprocess.run(
            ["sh", "-e", "-c", "\n".join(job["before_script"])],
            env={"PATH": f"{tmp_path / 'bin'}{os.pathsep}/usr/bin:/bin", **variables, **override},
            check=True,
        )
        return record.read_text().splitlines()

    ref = variables["GOA_REF"]
    assert install()[-1] == f"{REPOSITORY}/archive/{ref}.tar.gz"
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert install(GOA_REF=commit)[-1] == f"{REPOSITORY}/archive/{commit}.tar.gz"
    published = f"genesys-oauth-audit=={ref.removeprefix('v')}"
    assert install(GOA_PACKAGE=published)[-1] == published
    assert install()[:4] == ["-m", "pip", "install", "--quiet"]


def test_example_workflow_installs_the_pinned_repository() -> None:
    workflow = load(EXAMPLE)
    [job] = workflow["jobs"].values()
    [install] = [s for s in job["steps"] if "pip install" in s.get("run", "")]
    assert job["env"]["GOA_REF"].startswith("v")
    assert shlex.split(install["run"])[-1] == f"{REPOSITORY}/archive/$GOA_REF.tar.gz"
    # The Genesys secrets reach only the steps that need them, never the install.
    assert "env" not in install and not any("secrets." in str(v) for v in job["env"].values())
