"""Baselines and counts that add up: one set of numbers in every format (issue 13, SPEC §10)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.findings import BaselineEntry, Counts, Evaluation, Severity, apply_baseline
from genesys_oauth_audit.report import REPORTERS, renderer
from genesys_oauth_audit.report.base import RunInfo
from tests.helpers import SAMPLE_SNAPSHOT, TUTORIAL, Ran
from tests.test_ci_reports import canonical

Run = Callable[..., Ran]
NAMES = ("total", "shown", "hidden", "waived", "unchanged", "open", "new", "absent")


@pytest.fixture
def baselined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Evaluation, RunInfo]:
    """The canonical evaluation (every severity, a waiver) with a baseline that knows some of its
    findings and two that no longer occur, reported at --min-severity medium."""
    monkeypatch.chdir(tmp_path)
    evaluation, info = canonical(tmp_path)
    known = [
        BaselineEntry(fingerprint=f.fingerprint, rule_id=f.rule_id, client_id=f.client_id)
        for f in evaluation.findings
        if f.rule_id in ("H-1", "L-1")
    ]
    gone = [
        BaselineEntry(
            fingerprint="0" * 32,
            rule_id="C-1",
            client_id="x-1",
            client_name="Deleted App",
            subject="admin:z",
        ),
        BaselineEntry(
            fingerprint="1" * 32, rule_id="M-1", client_id="x-2", client_name="Fixed App"
        ),
    ]
    evaluation = apply_baseline(evaluation, known + gone)
    return evaluation, replace(info, min_severity=Severity.MEDIUM, baseline="baseline.json")


def sentence_numbers(text: str) -> dict[str, int | None]:
    """The numbers of the counts sentence that text, Markdown and HTML print."""
    line = " ".join(text.split())
    start = line.index("Findings: ")
    sentence = line[start : line.index(".", start) if "." in line[start:] else None]
    found: dict[str, int | None] = {}
    for name, pattern in (
        ("total", r"(\d+) total"),
        ("shown", r"(\d+) shown"),
        ("hidden", r"(\d+) hidden below"),
        ("waived", r"(\d+) waived"),
        ("unchanged", r"(\d+) unchanged"),
        ("open", r"(\d+) open"),
        ("new", r"(\d+) new"),
        ("absent", r"(\d+) baseline entries absent"),
    ):
        match = re.search(pattern, sentence)
        found[name] = int(match.group(1)) if match else None
    return found


def expected(c: Counts) -> dict[str, int | None]:
    return {name: getattr(c, name) for name in NAMES}


def numbers(fmt: str, out: str) -> dict[str, int | None]:
    if fmt == "json":
        summary = json.loads(out)["summary"]
        return {name: summary[name] for name in NAMES}
    if fmt == "sarif":
        summary = json.loads(out)["runs"][0]["properties"]["summary"]
        return {name: summary[name] for name in NAMES}
    if fmt == "junit":
        suite = ET.fromstring(out).find("testsuite")
        assert suite is not None
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        return {name: int(v) if (v := props[f"findings.{name}"]) else None for name in NAMES}
    found = sentence_numbers(out)
    # Without a baseline the open findings are "open" and nothing is unchanged; with one, the
    # open findings are the new ones. Nothing hidden is not said.
    if found["open"] is None:
        found["open"] = found["new"]
    if found["new"] is None and found["unchanged"] is None:
        found["unchanged"] = 0
    if found["hidden"] is None:
        found["hidden"] = 0
    return found


def test_every_format_prints_the_same_numbers(baselined: tuple[Evaluation, RunInfo]) -> None:
    evaluation, info = baselined
    counts = info.counts(evaluation)
    want = expected(counts)
    assert want == {
        "total": 46,
        "shown": 20,  # critical, high and medium only
        "hidden": 26,
        "waived": 1,
        "unchanged": 7,  # the H-1 findings the baseline knows
        "open": 12,
        "new": 12,
        "absent": 2,
    }
    assert counts.total == counts.shown + counts.hidden
    assert counts.shown == counts.open + counts.waived + counts.unchanged
    for fmt in REPORTERS:
        assert numbers(fmt, renderer(fmt)(evaluation, info)) == want, fmt


def test_the_numbers_add_up_without_a_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, info = canonical(tmp_path)
    info = replace(info, min_severity=Severity.CRITICAL)
    counts = info.counts(evaluation)
    assert (counts.new, counts.absent) == (None, None)
    # the by-severity counts are of what is shown: never "13 (13 critical, 26 high)"
    assert dict(counts.by_severity) == {"critical": 6, "high": 0, "medium": 0, "low": 0, "info": 0}
    assert counts.failing == 13  # --fail-on high counts hidden high findings too
    for fmt in REPORTERS:
        assert numbers(fmt, renderer(fmt)(evaluation, info)) == expected(counts), fmt
    text = renderer("text")(evaluation, info)
    assert "6 open (6 critical)" in " ".join(text.split())


def test_absent_baseline_entries_are_listed_everywhere(
    baselined: tuple[Evaluation, RunInfo],
) -> None:
    evaluation, info = baselined
    assert [e.client_name for e in evaluation.absent] == ["Deleted App", "Fixed App"]
    text = renderer("text")(evaluation, info)
    assert "Absent: in the baseline, no longer found (2; fixed or deleted):" in text
    assert "- C-1 Deleted App (x-1) admin:z" in text
    assert "2 baseline entries absent" in renderer("markdown")(evaluation, info)
    assert "Deleted App (x-1) admin:z" in renderer("html")(evaluation, info)
    report: dict[str, Any] = json.loads(renderer("json")(evaluation, info))
    assert [e["clientName"] for e in report["absentBaselineEntries"]] == [
        "Deleted App",
        "Fixed App",
    ]


def test_a_baselined_run_says_what_is_known_not_none(run_cli: Run, tmp_path: Path) -> None:
    """With --baseline, text and Markdown used to say "Findings: 0 (none)" while 41 known
    findings existed; they now say how many are unchanged, new and absent."""
    baseline = tmp_path / "b.json"
    first = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--write-baseline",
        str(baseline),
    )
    assert first.code == 1
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    gone = next(c for c in data["clients"] if c["name"] == "Master Admin Integration")
    data["clients"].remove(gone)
    changed = tmp_path / "s.json"
    changed.write_text(json.dumps(data, indent=2))
    args = (
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(changed),
        "--baseline",
        str(baseline),
    )
    text = run_cli(*args)
    assert text.code == 0
    flat = " ".join(text.stdout.split())
    known = len(json.loads(baseline.read_text())["findings"])
    match = re.search(
        r"of those shown, 0 new, (\d+) unchanged, 0 waived; (\d+) baseline entries absent", flat
    )
    assert match, flat[:400]
    assert int(match.group(1)) + int(match.group(2)) == known
    report = json.loads(run_cli(*args, "--format", "json").stdout)
    assert int(match.group(2)) == len(report["absentBaselineEntries"]) >= 1
    assert {e["clientName"] for e in report["absentBaselineEntries"]} == {gone["name"]}
    assert "Master Admin Integration" in text.stdout.split("Absent:")[1]
    md = run_cli(*args, "--format", "markdown").stdout
    assert "Findings: 0 (none)" not in md and f"{match.group(1)} unchanged" in md


def test_tutorial_counts_in_json_match_the_text(run_cli: Run) -> None:
    text = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--min-severity", "high"
    )
    report = json.loads(
        run_cli(
            "check",
            "-p",
            TUTORIAL,
            "--inventory",
            str(SAMPLE_SNAPSHOT),
            "--min-severity",
            "high",
            "--format",
            "json",
        ).stdout
    )
    got = sentence_numbers(text.stdout)
    assert got["total"] == report["summary"]["total"] and got["shown"] == report["summary"]["shown"]
    assert (
        got["hidden"]
        == report["summary"]["hidden"]
        == report["summary"]["total"] - report["summary"]["shown"]
    )
