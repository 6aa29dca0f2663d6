"""The Markdown report stays under GitHub's 1 MiB job-summary limit (GitHub drops a larger summary
whole): past the cap it keeps the summary and the most severe findings, says how many entries were
left out and where every finding is. Bytes are counted, never time."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from genesys_oauth_audit import app
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Evaluation
from genesys_oauth_audit.inventory import Client, Inventory, Org
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import markdown
from genesys_oauth_audit.report.base import RunInfo, SourceInfo
from tests.helpers import SAMPLE_SNAPSHOT, TUTORIAL, Run
from tests.test_ci_reports import markdown_tables_keep_their_columns

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
MIB = 1024 * 1024
POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: CRIT, title: No admin scopes, severity: critical, check: {type: forbidden-scope-prefixes, prefixes: ["admin:"]}}
  - {id: LOW, title: Read-only scopes, severity: low, check: {type: allowed-scopes, scopes: ["*:readonly"]}}
  - {id: INFO, title: Described, severity: info, check: {type: field, path: description, op: not-empty}}
"""


def large_org(tmp_path: Path, clients: int = 1080) -> tuple[Evaluation, RunInfo]:
    """An org of ``clients`` clients, every one with a dozen findings and a long name: well past
    1 MiB of Markdown when nothing is left out."""
    policy = tmp_path / "big.yaml"
    policy.write_text(POLICY)
    policies = load_policies((str(policy),))
    scopes = tuple(f"area{i:02}:write" for i in range(10))
    inventory = Inventory(
        org=Org(id="big", name="Big Org"),
        region="eu-west-1",
        fetched_at=NOW,
        clients=tuple(
            Client(
                id=f"c{i:05}",
                name=f"Integration {i:05} for the regional contact centre team",
                grant_type="CLIENT-CREDENTIALS",
                scopes=(*scopes, *(("admin:all",) if i % 100 == 0 else ())),
            )
            for i in range(clients)
        ),
    )
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20))
    source = SourceInfo(kind="snapshot", org_id="big", org_name="Big Org", path="org.json")
    info = app.run_info(policies, source, app.CheckOptions(policies=()), NOW, color=False)
    return evaluation, info


def _finding_rows(text: str) -> list[str]:
    return [
        line for line in text.splitlines() if re.match(r"\| \S+ (critical|low|info) \| `", line)
    ]


def test_a_large_org_stays_under_the_cap_and_keeps_the_most_severe(tmp_path: Path) -> None:
    evaluation, info = large_org(tmp_path)
    counting = [f for f in evaluation.findings if f.counts]
    whole = markdown.render(evaluation, info, max_bytes=10 * MIB)
    assert len(whole.encode()) > MIB  # what 0.1 wrote: GitHub would drop all of it
    capped = markdown.render(evaluation, info)
    size = len(capped.encode())
    assert size <= markdown.MAX_BYTES < MIB
    assert size > markdown.MAX_BYTES - 4096  # filled, not cut early
    # the summary is whole
    assert capped.startswith(whole.split("### Top findings")[0].rstrip("\n"))
    # every critical finding is kept, and rows are a prefix of the findings, most severe first
    rows = _finding_rows(capped)
    assert rows == _finding_rows(whole)[: len(rows)]
    critical = sum(1 for f in counting if f.severity.value == "critical")
    assert critical == 11 and sum(" critical " in r for r in rows) == critical
    # the notice says how many were left out, and the numbers add up
    notice = next(line for line in capped.splitlines() if "Shortened to fit" in line)
    left = int(re.search(r"leaves out (\d+) findings", notice)[1])  # type: ignore[index]
    assert left == len(counting) - len(rows) > 0
    assert "--json-output" in notice  # no report file given: how to get one
    markdown_tables_keep_their_columns(capped)
    assert capped.count("<details>") == capped.count("</details>")
    assert capped.rstrip().endswith("</sub>")  # the footer stays


def test_the_notice_names_the_full_report_written_beside_it(tmp_path: Path) -> None:
    from dataclasses import replace

    evaluation, info = large_org(tmp_path, clients=300)
    info = replace(info, outputs=(("json", "out/report.json"), ("markdown", "summary.md")))
    capped = markdown.render(evaluation, info, max_bytes=64 * 1024)
    assert len(capped.encode()) <= 64 * 1024
    notice = next(line for line in capped.splitlines() if "Shortened to fit" in line)
    assert "`out/report.json` (json)" in notice and "summary.md" not in notice


@pytest.mark.parametrize("cap", [16 * 1024, 100 * 1024, 400 * 1024])
def test_the_cap_is_configurable_and_always_held(tmp_path: Path, cap: int) -> None:
    evaluation, info = large_org(tmp_path, clients=400)
    capped = markdown.render(evaluation, info, max_bytes=cap)
    assert len(capped.encode()) <= cap
    assert "Shortened to fit" in capped and "### Top findings" in capped


def test_a_small_report_is_untouched(tmp_path: Path) -> None:
    evaluation, info = large_org(tmp_path, clients=5)
    text = markdown.render(evaluation, info)
    assert "Shortened" not in text and "left out to fit" not in text
    assert text == markdown.render(evaluation, info, max_bytes=10 * MIB)


def test_the_cli_job_summary_names_the_json_report(run_cli: Run, tmp_path: Path) -> None:
    """End to end through write_reports: the outputs of the run reach the Markdown reporter."""
    from genesys_oauth_audit.report.base import RunInfo as Info

    seen: list[Info] = []
    real = markdown.render

    def spy(evaluation: Evaluation, run: Info, *, max_bytes: int = markdown.MAX_BYTES) -> str:
        seen.append(run)
        return real(evaluation, run, max_bytes=max_bytes)

    mp = pytest.MonkeyPatch()
    mp.setattr(markdown, "render", spy)
    try:
        ran = run_cli(
            "check",
            "-p",
            TUTORIAL,
            "--inventory",
            str(SAMPLE_SNAPSHOT),
            "--json-output",
            str(tmp_path / "r.json"),
            "--markdown-output",
            str(tmp_path / "s.md"),
        )
    finally:
        mp.undo()
    assert ran.code == 1, ran.stderr
    assert seen and seen[0].outputs == (
        ("json", str(tmp_path / "r.json")),
        ("markdown", str(tmp_path / "s.md")),
    )
