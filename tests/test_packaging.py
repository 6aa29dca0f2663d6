"""Packaging: the wheel carries its data; ``--help`` is fast because the CLI imports lazily."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT


def test_cli_import_is_lazy() -> None:
    code = (
        "import sys, genesys_oauth_audit.cli\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'jsonschema', 'yaml') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"--help would import {out.stdout.strip()}"


def test_python_dash_m_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "genesys_oauth_audit", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "Exit codes:" in out.stdout


def test_wheel_carries_packs_schemas_and_catalog(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for pack in (ROOT / "policies").glob("*.yaml"):
        assert f"genesys_oauth_audit/_data/policies/{pack.name}" in names
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"genesys_oauth_audit/_data/schemas/{schema.name}" in names
    assert "genesys_oauth_audit/data/permissions.txt" in names
    assert "genesys_oauth_audit/data/operations.json" in names


def test_readme_exit_code_table_matches_the_code() -> None:
    from genesys_oauth_audit.errors import ExitCode

    readme = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} | {code.meaning} |" in readme


def test_readme_setup_commands_are_the_ci_ones() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && pytest"
    )
    assert test_command in readme
    assert test_command.replace("pip install -e", "pip install -q -e") in ci
    assert (
        "genesys-oauth-audit check -p policies/tutorial.yaml --inventory examples/sample-snapshot.json"
        in readme
    )


def test_docs_exit_code_table_matches_the_code() -> None:
    from genesys_oauth_audit.errors import ExitCode

    docs = (ROOT / "docs" / "exit-codes.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} | {code.meaning} |" in docs


def test_docs_links_resolve() -> None:
    import re

    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
