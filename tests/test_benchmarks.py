"""The benchmark scripts run (at a small scale here) and report what they claim.

Only counts and the shape of the report are asserted: the timings themselves are the benchmark's
business, never the default test run's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_audit import (
    BUDGETS,
    Ratio,
    evaluation,
    main,
    over_budget,
    ratio_table,
    refusals,
    run,
    side_by_side,
    startup,
)


@pytest.mark.socket
def test_bench_audit_small() -> None:
    result = run(clients=120, roles=150, latency=0.0)
    assert (
        result["requests"] == 1 + 1 + 1 + 1 + 1 + 2 + 1
    )  # token, clients, scopes, 1 role page (500 a page), usage + 2 polls, org
    assert result["rolePages"] == 1
    assert (
        result["perClientUsageRequests"] > 2 * 120
    )  # a usage query and a poll per client, and more
    assert result["findings"] > 0


def test_side_by_side_runs_each_job_as_often() -> None:
    calls: list[str] = []
    measured, yardstick = side_by_side(
        lambda: calls.append("measured"), lambda: calls.append("yardstick"), runs=3
    )
    assert calls == ["yardstick", "measured"] * 3  # alternating, so a busy spell hits both
    assert min(measured.wall, measured.cpu, yardstick.wall, yardstick.cpu) >= 0


def test_evaluation_benchmark_small() -> None:
    figures, ratio = evaluation(60, runs=1)
    assert figures["clients"] == 60 and figures["findings"] > 0
    assert ratio.name == "evaluation" and ratio.seconds > 0 and ratio.yardstick_seconds > 0
    assert "60 clients" in ratio.what and "json.loads" in ratio.yardstick


def test_startup_benchmark_small() -> None:
    figures, ratio = startup(runs=1)
    assert set(figures) == {"helpBestSeconds", "helpMedianSeconds"}
    assert ratio.name == "startup" and ratio.seconds > 0


def test_refusal_benchmarks_small() -> None:
    ratios = refusals(runs=1)
    assert [r.name for r in ratios] == ["alias bomb", "oversized policy"]
    assert all(r.seconds > 0 and r.yardstick == "load builtin:baseline" for r in ratios)


def test_the_ratio_table_and_the_budget_check() -> None:
    within = Ratio("startup", "--help", 0.05, "python -c pass", 0.01)
    over = Ratio("evaluation", "evaluate", 13.0, "json.loads", 1.0)
    table = ratio_table([within, over]).splitlines()
    assert table[0] == "| measured | CPU s | yardstick | CPU s | ratio | budget |"
    assert table[2] == "| --help | 0.050 | python -c pass | 0.010 | 5.00× | ≤ 10× |"
    assert table[3] == "| evaluate | 13.000 | json.loads | 1.000 | 13.00× | ≤ 12× |"
    assert over_budget([within, over]) == ["evaluate: 13.00× its yardstick, over the budget of 12×"]
    assert over_budget([Ratio("startup", "--help", 0.05, "nothing", 0.0)])  # no yardstick
    assert set(BUDGETS) == {"evaluation", "startup", "alias bomb", "oversized policy"}


@pytest.mark.socket
def test_the_whole_suite_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    code = main(
        [
            "--sizes",
            "30",
            "--roles",
            "20",
            "--latency",
            "0",
            "--evaluate",
            "40",
            "--runs",
            "1",
            "--startup-runs",
            "1",
            "--json",
            str(out),
        ]
    )
    assert code == 0  # without --check, a ratio over budget is reported, not fatal
    results = json.loads(out.read_text())
    [org] = results["orgs"]
    # token, clients, scopes, 1 role page, usage + 2 polls, org
    assert org["clients"] == 30 and org["requests"] == 8 and org["rolePages"] == 1
    assert org["snapshotMiB"] >= 0 and org["findings"] > 0
    assert results["evaluation"]["clients"] == 40
    assert set(results["ratios"]) == set(BUDGETS)
    for figures in results["ratios"].values():
        assert set(figures) == {
            "what",
            "cpuSeconds",
            "yardstick",
            "yardstickCpuSeconds",
            "ratio",
            "budget",
        }
    printed = capsys.readouterr().out
    assert "| 30 clients, 20 roles, 0 ms/request |" in printed
    assert printed.count("× |") == 2 * len(BUDGETS)  # a ratio and a budget in each row


@pytest.mark.socket
def test_bench_orgs_small() -> None:
    """The many-orgs benchmark at a tiny size: every org audited in each run with the findings it
    has alone, and the throttled org's two 429s served (the seconds are the benchmark's)."""
    from benchmarks.bench_orgs import run as run_orgs
    from benchmarks.bench_orgs import table

    result = run_orgs(
        orgs=2, clients=30, roles=10, latency=0.0, jobs=1, retry_after=1, usage_polls=0
    )
    assert [a["org"] for a in result["alone"]] == ["org-00", "org-01"]
    assert all(a["findings"] > 0 and a["requests"] >= 7 for a in result["alone"])
    assert result["throttled"]["throttled429s"] == 2
    assert result["together"]["ratioToSlowestAlone"] > 0
    # The tool's own CPU time is measured apart from the fake orgs' (this process's threads).
    assert all(a["cpuSeconds"] > 0 for a in result["alone"])
    assert result["together"]["cpuSeconds"] > 0 and result["together"]["serversCpuSeconds"] > 0
    assert "all 2 orgs in one run, `--jobs 1`" in table(result)
    assert "The fake orgs' servers (this benchmark's process) used" in table(result)


@pytest.mark.socket
def test_run_all_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every row of the one table at a tiny size: the tool and its yardstick make the same
    number of requests (the tool one more at most), and each row has both figures."""
    from benchmarks.run_all import main as run_all

    out = tmp_path / "all.json"
    code = run_all(
        [
            *("--live", "30", "--roles", "20", "--latency", "0"),
            *("--offline", "40", "--runs", "1", "--startup-runs", "1"),
            *("--orgs", "2", "--org-clients", "20", "--json", str(out)),
        ]
    )
    assert code == 0
    results = json.loads(out.read_text())
    [live] = results["live"]
    requests = live["requests"]
    # token, last-use job, listing, scopes, one role page, org, two polls of the job
    assert requests["tool"] == requests["yardstick"] == 8
    assert requests["scopesYardstick"] == 3 and requests["scopesTool"] == 4  # + the org
    assert results["offline"]["sizes"]["40"]["findings"] > 0
    areas = [row["area"] for row in results["rows"]]
    assert areas == [
        "live",
        "live",
        *["offline"] * 4,  # CPU and memory; and with the least-privilege pack
        *["formats"] * 5,
        "start-up",
        "start-up",
        "many orgs",
        "many orgs",  # and that run's own CPU time
    ]
    assert all(row["figure"] > 0 and row["yardstick_figure"] >= 0 for row in results["rows"])
    printed = capsys.readouterr().out
    assert printed.startswith("| area | measured | figure | yardstick | figure | ratio | target |")
    assert printed.count("\n| ") == len(areas)  # a line per row after the header
