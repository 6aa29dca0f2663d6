"""The release path: what .github/workflows/release.yml builds, checks and publishes.

The distributions are built here from the checkout as the workflow builds them (hatchling, the
project's build backend), and scripts/check_dist.py, the workflow's gate, must pass them for the
right tag and refuse them for a wrong tag or a wheel missing its data.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from genesys_oauth_audit import __version__
from tests.helpers import ROOT
from tests.test_workflows import load, steps_of

RELEASE = ROOT / ".github" / "workflows" / "release.yml"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def _check(dist: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_dist.py"), str(dist), *args],
        capture_output=True,
        text=True,
    )


def test_built_distributions_pass_for_their_own_tag(dist: Path) -> None:
    ran = _check(dist, "--tag", f"v{__version__}")
    assert ran.returncode == 0, ran.stderr
    assert "ready to publish" in ran.stdout


def test_a_tag_that_is_not_the_version_is_refused(dist: Path) -> None:
    ran = _check(dist, "--tag", "v99.0.0")
    assert ran.returncode == 1
    assert f"tag v99.0.0 does not match the package version {__version__}" in ran.stderr


def test_a_wheel_without_its_packs_is_refused(dist: Path, tmp_path: Path) -> None:
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    (tmp_path / sdist.name).write_bytes(sdist.read_bytes())
    dropped = "genesys_oauth_audit/_data/policies/baseline.yaml"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp_path / wheel.name, "w") as out:
        for item in src.infolist():
            if item.filename not in (
                dropped,
                "genesys_oauth_audit/_data/schemas/policy.schema.json",
            ):
                out.writestr(item, src.read(item))
    ran = _check(tmp_path, "--tag", f"v{__version__}")
    assert ran.returncode == 1
    assert f"lacks {dropped}" in ran.stderr
    assert "lacks genesys_oauth_audit/_data/schemas/policy.schema.json" in ran.stderr


def test_two_wheels_are_refused(dist: Path, tmp_path: Path) -> None:
    for item in dist.iterdir():
        (tmp_path / item.name).write_bytes(item.read_bytes())
    (tmp_path / "genesys_oauth_audit-0.0.1-py3-none-any.whl").write_bytes(b"")
    ran = _check(tmp_path)
    assert ran.returncode == 1 and "expected exactly one wheel" in ran.stderr


def test_release_workflow_builds_checks_then_publishes_with_trusted_publishing() -> None:
    workflow = load(RELEASE)
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    scripts = "\n".join(step.get("run", "") for step in steps_of({"jobs": {"build": build}}))
    assert "python -m build" in scripts
    assert "twine check --strict dist/*" in scripts
    assert 'scripts/check_dist.py --tag "$TAG" dist/' in scripts
    assert build["permissions"] == {"contents": "read"}
    # Publishing: only after the checks, from the `pypi` environment, with an OIDC token and no
    # stored password.
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    [upload] = [s for s in publish["steps"] if "gh-action-pypi-publish@" in s.get("uses", "")]
    assert "with" not in upload or "password" not in upload["with"]
    assert "secrets." not in RELEASE.read_text()
