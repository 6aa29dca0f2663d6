"""SARIF as GitHub code scanning takes it: one category per kind of run (overridable), GitHub's
documented limits on a rule enforced when writing and warned about at ``validate``, artifact URIs
relative to the repository root wherever the tool runs, and ``suppressions`` on every result or
none. Every log is validated against the official SARIF 2.1.0 schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.findings import Severity
from genesys_oauth_audit.policy.github import MARKER, truncate, utf16_length
from genesys_oauth_audit.report.sarif import PROBLEM_SEVERITY
from tests.helpers import DATA, SAMPLE_SNAPSHOT, TUTORIAL, Run
from tests.test_ci_reports import github_problems, sarif_validator

PORTAL = DATA / "proposals" / "new-portal.json"


def _sarif(run_cli: Run, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "r.sarif"
    ran = run_cli("check", *args, "--sarif-output", str(out))
    assert ran.code in (0, 1), ran.stderr
    log: dict[str, Any] = json.loads(out.read_text())
    sarif_validator().validate(log)
    assert github_problems(log) == []
    return log


def _category(log: dict[str, Any]) -> str:
    category: str = log["runs"][0]["automationDetails"]["id"]
    return category


# -- categories ----------------------------------------------------------------------------------


def test_each_kind_of_run_has_its_own_category(run_cli: Run, tmp_path: Path) -> None:
    snapshot = _sarif(run_cli, tmp_path, "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT))
    org = json.loads(SAMPLE_SNAPSHOT.read_text())["org"]["id"]
    assert _category(snapshot) == f"genesys-oauth-audit/snapshot/org-{org}/"
    alone = _sarif(run_cli, tmp_path, "-p", TUTORIAL, "--proposed", str(PORTAL))
    assert _category(alone) == "genesys-oauth-audit/proposals/"
    against = _sarif(
        run_cli,
        tmp_path,
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--proposed",
        str(PORTAL),
    )
    assert _category(against) == f"genesys-oauth-audit/proposals/org-{org}/"
    assert len({_category(snapshot), _category(alone), _category(against)}) == 3


@pytest.mark.socket
def test_a_live_org_keeps_its_category(run_cli: Run, tmp_path: Path) -> None:
    from tests.fake.orgdata import sample_fake
    from tests.helpers import env_for

    fake = sample_fake(usage_running_polls=0)
    out = tmp_path / "live.sarif"
    with fake.serve() as base:
        ran = run_cli("check", "-p", TUTORIAL, "--sarif-output", str(out), env=env_for(fake, base))
    assert ran.code in (0, 1), ran.stderr
    log = json.loads(out.read_text())
    assert github_problems(log) == []
    org = log["runs"][0]["properties"]["orgId"]
    assert org and _category(log) == f"genesys-oauth-audit/org-{org}/"  # as in 0.1


def test_sarif_category_overrides_and_ends_with_a_slash(run_cli: Run, tmp_path: Path) -> None:
    log = _sarif(
        run_cli,
        tmp_path,
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--sarif-category",
        "oauth-clients/pr plan",
    )
    assert _category(log) == "oauth-clients/pr plan/"  # GitHub: category "oauth-clients/pr plan"
    log = _sarif(
        run_cli,
        tmp_path,
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--sarif-category",
        "x/",
    )
    assert _category(log) == "x/"


@pytest.mark.parametrize("bad", ["", "  ", "a\nb"])
def test_a_blank_or_multiline_category_is_bad_input(run_cli: Run, bad: str) -> None:
    ran = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--sarif-category", bad
    )
    assert ran.code == 2 and "--sarif-category" in ran.stderr


# -- limits --------------------------------------------------------------------------------------

LONG = "word " * 400  # 2,000 characters
TAGS = [f"tag{i:02}" for i in range(25)]


def _limits_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "limits.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - id: LONG-1\n"
        f"    title: {'Very long title ' * 70}\n"
        "    severity: low\n"
        f"    description: {LONG}\n"
        f"    tags: [{', '.join(TAGS)}]\n"
        "    controls: {nist-800-53: [AC-6, AC-2]}\n"
        "    check: {type: max-scopes, max: 0}\n"
        "  - id: CTRL-1\n"
        "    title: Many controls\n"
        "    severity: info\n"
        "    tags: [scopes]\n"
        "    controls:\n"
        f"      nist-800-53: [{', '.join(f'AC-{i}' for i in range(1, 26))}]\n"
        "    check: {type: max-scopes, max: 0}\n"
    )
    return policy


def test_githubs_limits_are_enforced_when_writing(run_cli: Run, tmp_path: Path) -> None:
    log = _sarif(
        run_cli, tmp_path, "-p", str(_limits_policy(tmp_path)), "--inventory", str(SAMPLE_SNAPSHOT)
    )
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    long = rules["LONG-1"]
    assert utf16_length(long["name"]) == 255 and long["name"].endswith(MARKER)
    assert utf16_length(long["shortDescription"]["text"]) <= 1024
    assert long["shortDescription"]["text"].endswith(MARKER)
    assert utf16_length(long["fullDescription"]["text"]) <= 1024
    assert long["fullDescription"]["text"].endswith(MARKER)
    assert LONG.strip() in long["help"]["text"]  # the help keeps the whole text
    tags = long["properties"]["tags"]
    assert len(tags) == 20 and tags[0] == "security" and "nist-800-53/AC-6" not in tags
    ctrl = rules["CTRL-1"]["properties"]["tags"]
    assert len(ctrl) == 20 and ctrl[:2] == ["scopes", "security"]
    assert ctrl[2:] == [f"nist-800-53/AC-{i}" for i in range(1, 19)]  # the first controls kept
    assert rules["LONG-1"]["properties"]["problem.severity"] == "recommendation"  # low
    assert rules["CTRL-1"]["properties"]["problem.severity"] == "recommendation"  # info


def test_problem_severity_is_one_github_accepts() -> None:
    assert set(PROBLEM_SEVERITY) == set(Severity)
    assert set(PROBLEM_SEVERITY.values()) == {"error", "warning", "recommendation"}


def test_truncation_never_splits_a_character() -> None:
    text = "😀" * 600  # 1,200 UTF-16 code units
    cut = truncate(text, 1024)
    assert utf16_length(cut) <= 1024 and cut.endswith(MARKER)
    assert cut[:-1] == "😀" * len(cut[:-1])
    assert truncate("short", 1024) == "short"


def test_validate_warns_where_a_rule_would_be_truncated(run_cli: Run, tmp_path: Path) -> None:
    policy = _limits_policy(tmp_path)
    ran = run_cli("validate", str(policy))
    assert ran.code == 0, ran.stderr
    warnings = [line for line in ran.stderr.splitlines() if ": warning: " in line]
    where = {line.split(": warning: ")[0]: line for line in warnings}
    lines = policy.read_text().splitlines()
    located = {w: lines[int(w.split(":")[1]) - 1].strip() for w in where}
    assert any(text.startswith("title:") for text in located.values())
    assert any(text.startswith("description:") for text in located.values())
    assert any(text.startswith("tags:") for text in located.values())
    assert any(
        text.startswith("nist-800-53:") or text.startswith("controls:") for text in located.values()
    )
    for line in warnings:
        assert line.startswith(f"{policy}:")  # path:line:col: warning: ...
        _, line_no, col, rest = line.split(":", 3)
        assert line_no.isdigit() and col.isdigit() and rest.startswith(" warning: ")
    tags = next(w for w in warnings if "20" in w and "tags" in w)
    assert "28 SARIF tags" in tags and "leaves 8 out" in tags  # security, 25 own, 2 controls


def test_shipped_packs_need_no_truncation(run_cli: Run) -> None:
    from genesys_oauth_audit.data import pack_names

    for name in pack_names():
        ran = run_cli("validate", f"builtin:{name}")
        assert ran.code == 0 and "SARIF" not in ran.stderr, ran.stderr


# -- URIs relative to the repository root --------------------------------------------------------


def _repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "examples").mkdir()
    (repo / "ci").mkdir()
    shutil.copy(SAMPLE_SNAPSHOT, repo / "examples" / "snapshot.json")
    return repo


def _uris(log: dict[str, Any]) -> set[str]:
    return {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }


def test_uris_are_relative_to_the_repository_root_from_a_subdirectory(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repository(tmp_path)
    monkeypatch.chdir(repo / "ci")
    log = _sarif(run_cli, tmp_path, "-p", TUTORIAL, "--inventory", "../examples/snapshot.json")
    assert _uris(log) == {"examples/snapshot.json"}  # never ../examples/...
    monkeypatch.chdir(repo)
    log = _sarif(
        run_cli, tmp_path, "-p", TUTORIAL, "--inventory", str(repo / "examples" / "snapshot.json")
    )
    assert _uris(log) == {"examples/snapshot.json"}


def test_a_worktree_git_file_marks_the_root_too(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repository(tmp_path)
    (repo / ".git").rmdir()
    (repo / ".git").write_text("gitdir: /elsewhere/.git/worktrees/repo\n")
    monkeypatch.chdir(repo / "ci")
    log = _sarif(run_cli, tmp_path, "-p", TUTORIAL, "--inventory", "../examples/snapshot.json")
    assert _uris(log) == {"examples/snapshot.json"}


def test_without_a_repository_the_working_directory_is_the_root(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genesys_oauth_audit.report.sarif import repository_root

    work = tmp_path / "plain" / "sub"
    work.mkdir(parents=True)
    if repository_root(str(work)) != str(work):
        pytest.skip("the temporary directory is inside a git checkout")
    shutil.copy(SAMPLE_SNAPSHOT, work / "snapshot.json")
    monkeypatch.chdir(work)
    log = _sarif(run_cli, tmp_path, "-p", TUTORIAL, "--inventory", "snapshot.json")
    assert _uris(log) == {"snapshot.json"}
    # a file outside the root is a file:// URI, the only scheme GitHub accepts
    log = _sarif(run_cli, tmp_path, "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT))
    [uri] = _uris(log)
    assert uri.startswith("file:///") and uri.endswith("/sample-snapshot.json")


# -- suppressions --------------------------------------------------------------------------------


def test_with_waived_findings_every_result_carries_suppressions(
    run_cli: Run, tmp_path: Path
) -> None:
    policy = tmp_path / "waive.yaml"
    policy.write_text(
        f"apiVersion: genesys-oauth-audit/v1\nkind: Policy\ninclude: [{TUTORIAL}]\n"
        "exceptions:\n"
        "  - {rule: GOA-TUT-001, clients: ['*'], reason: accepted for the test}\n"
    )
    log = _sarif(
        run_cli,
        tmp_path,
        "-p",
        str(policy),
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--sarif-include-waived",
        "--fail-on",
        "never",
    )
    results = log["runs"][0]["results"]
    assert results and all("suppressions" in r for r in results)
    kinds = {bool(r["suppressions"]) for r in results}
    assert kinds == {True, False}, "the test needs waived and open findings"
    plain = _sarif(run_cli, tmp_path, "-p", str(policy), "--inventory", str(SAMPLE_SNAPSHOT))
    assert not any("suppressions" in r for r in plain["runs"][0]["results"])
