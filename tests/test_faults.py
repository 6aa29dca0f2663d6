"""Fault injection over real HTTP: for every fault, either the inventory is identical to the
fault-free one, or the run exits 3 with one clear line and writes nothing that looks complete."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import TUTORIAL, Ran, Run, env_for, request_clock

NOW = "2026-11-20T06:00:00Z"
PATIENT = (
    "--max-retries",
    "12",
    "--retry-budget",
    "60",
    "--timeout",
    "0.5",
    "--usage-timeout",
    "5",
)
# For faults that must stop the run: a tight budget, so it stops in seconds (the last flag wins).
STOP = ("--max-retries", "2", "--retry-budget", "5")

pytestmark = pytest.mark.socket


def fetch(run_cli: Run, fake: FakeGenesys, out: Path, *extra: str) -> Ran:
    with fake.serve() as base:
        return run_cli(
            "fetch", "-o", str(out), "--now", NOW, *PATIENT, *extra, env=env_for(fake, base)
        )


@pytest.fixture(scope="module")
def clean_snapshot(tmp_path_factory: pytest.TempPathFactory) -> str:
    from click.testing import CliRunner

    from genesys_oauth_audit.cli import cli

    fake = sample_fake(usage_running_polls=0)
    out = tmp_path_factory.mktemp("clean") / "clean.json"
    with fake.serve() as base:
        result = CliRunner(env=env_for(fake, base)).invoke(
            cli, ["fetch", "-o", str(out), "--now", NOW, *PATIENT]
        )
    assert result.exit_code == 0, result.stderr
    return out.read_text()


@pytest.fixture(scope="module")
def clean_legacy_snapshot(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The clean snapshot where the newer usage service is absent (last use, no operations)."""
    from click.testing import CliRunner

    from genesys_oauth_audit.cli import cli

    fake = sample_fake(usage_running_polls=0, usage_jobs_status=404)
    out = tmp_path_factory.mktemp("clean-legacy") / "clean.json"
    with fake.serve() as base:
        result = CliRunner(env=env_for(fake, base)).invoke(
            cli, ["fetch", "-o", str(out), "--now", NOW, *PATIENT]
        )
    assert result.exit_code == 0, result.stderr
    return out.read_text()


def faulty(**kwargs: Any) -> FakeGenesys:
    kwargs.setdefault("usage_running_polls", 0)
    kwargs.setdefault("timeout_delay", 0.8)  # beyond the client's 0.5 s timeout
    return sample_fake(**kwargs)


# -- faults the tool must ride out: the inventory is identical ------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_mixed_faults_give_the_identical_inventory(
    run_cli: Run, tmp_path: Path, clean_snapshot: str, seed: int
) -> None:
    fake = faulty(
        fault_rate=0.3,
        fault_kinds=("5xx", "reset", "timeout", "429", "html", "truncated"),
        retry_after="0.05",  # a positive wait; "0" means the normal backoff
        seed=seed,
    )
    ran = fetch(run_cli, fake, tmp_path / "s.json")
    assert ran.code == 0, ran.stderr
    assert (tmp_path / "s.json").read_text() == clean_snapshot
    assert {r.fault for r in fake.log if r.fault}, "the seed must inject faults"


def storm(path: str, times: int, retry_after: str | None) -> Callable[[FakeGenesys], None]:
    """``times`` 429s on ``path`` with this Retry-After header (None: without one)."""

    def configure(fake: FakeGenesys) -> None:
        fake.retry_after = retry_after
        fake.fail(path, "429", times)

    return configure


@pytest.mark.parametrize(
    ("name", "configure"),
    [
        (
            "429 storm with Retry-After",
            storm("/api/v2/oauth/clients", 6, retry_after="0.05"),
        ),
        (
            "429 storm without Retry-After",
            storm("/api/v2/oauth/scopes", 4, retry_after=None),
        ),
        ("login-host throttling", lambda f: f.fail("^/oauth/token$", "login-throttle", 3)),
        ("connection resets", lambda f: f.fail("/api/v2/authorization/roles", "reset", 3)),
        ("timeouts", lambda f: f.fail("/api/v2/organizations/me", "timeout", 2)),
        ("a transient HTML 502", lambda f: f.fail("/api/v2/oauth/clients", "html", 2)),
        (
            "a truncated body (connection cut)",
            lambda f: f.fail("/api/v2/oauth/scopes", "truncated", 2),
        ),
        (
            "5xx on the usage jobs and their polls",
            lambda f: (
                f.fail("/api/v2/usage/aggregates/query/jobs$", "5xx", 2),
                f.fail("/api/v2/usage/aggregates/query/jobs/", "5xx", 2),
            ),
        ),
        (
            "5xx on the legacy usage query and its polls",
            lambda f: (
                f.__dict__.update(usage_jobs_status=404),
                f.fail("/api/v2/usage/query$", "5xx", 2),
                f.fail("/results$", "5xx", 2),
            ),
        ),
    ],
)
def test_transient_faults_are_ridden_out(
    run_cli: Run,
    tmp_path: Path,
    clean_snapshot: str,
    clean_legacy_snapshot: str,
    name: str,
    configure: Callable[[FakeGenesys], Any],
) -> None:
    fake = faulty()
    configure(fake)
    ran = fetch(run_cli, fake, tmp_path / "s.json")
    assert ran.code == 0, f"{name}: {ran.stderr}"
    expected = clean_legacy_snapshot if "legacy" in name else clean_snapshot
    assert (tmp_path / "s.json").read_text() == expected
    assert all(s.times == 0 for s in fake.scripted), f"{name}: not every scripted fault was served"


def test_token_expiry_mid_run(run_cli: Run, tmp_path: Path, clean_snapshot: str) -> None:
    fake = faulty(token_lifetime=8, clock=request_clock())
    ran = fetch(run_cli, fake, tmp_path / "s.json")
    assert ran.code == 0, ran.stderr
    assert (tmp_path / "s.json").read_text() == clean_snapshot
    assert len(fake.token_requests()) >= 2


def test_retry_after_is_honoured(run_cli: Run, tmp_path: Path, clean_snapshot: str) -> None:
    fake = faulty(retry_after="1")
    fake.fail("/api/v2/oauth/scopes", "429", 2)
    started = time.monotonic()
    ran = fetch(run_cli, fake, tmp_path / "s.json")
    # A lower bound, the waits Retry-After demands: a busy machine only adds to it, so it cannot
    # fail at random (how fast the tool is, is the benchmarks' business).
    assert ran.code == 0 and time.monotonic() - started >= 2.0
    assert (tmp_path / "s.json").read_text() == clean_snapshot


# -- faults that must stop the run: exit 3, one line, nothing written ------------------------------


@pytest.mark.parametrize(
    ("name", "configure", "extra", "message"),
    [
        (
            "truncated bodies, every time",
            lambda f: f.fail("/api/v2/oauth/scopes", "truncated", 100),
            (),
            "connection failed",
        ),
        (
            "an HTML 502, every time",
            lambda f: f.fail("/api/v2/oauth/clients", "html", 100),
            (),
            "HTML error page",
        ),
        (
            "wrong JSON types",
            lambda f: f.fail("/api/v2/oauth/scopes", "wrongtype"),
            (),
            "unexpected response shape",
        ),
        (
            "an empty 200 body",
            lambda f: f.fail("/api/v2/organizations/me", "empty"),
            (),
            "empty body",
        ),
        (
            "a repeated page",
            lambda f: f.page_clients(10, "repeat"),
            (),
            "repeats",
        ),
        (
            "a looping nextUri",
            lambda f: f.page_clients(10, "loop"),
            (),
            "repeats",
        ),
        (
            "an endless listing",
            lambda f: f.page_clients(10, "endless"),
            (),
            "neither pageCount nor total",
        ),
        (
            "a listing that overruns its pageCount",
            lambda f: f.page_clients(10, "overrun"),
            (),
            "first declared",
        ),
        (
            "a usage query that stays Running",
            lambda f: setattr(f, "usage_running_polls", 10_000),
            ("--usage-timeout", "2"),
            "still running",
        ),
        (
            "a usage job that ends Failed",
            lambda f: setattr(f, "job_final_status", "Failed"),
            (),
            "the usage job ended Failed",
        ),
        (
            "a usage job that is Cancelled",
            lambda f: setattr(f, "job_final_status", "Cancelled"),
            (),
            "the usage job ended Cancelled",
        ),
        (
            "a legacy usage query that ends Failed",
            lambda f: f.__dict__.update(usage_jobs_status=404, usage_final_status="Failed"),
            (),
            "usage query failed",
        ),
        (
            "5xx beyond the retry budget",
            lambda f: f.fail("/api/v2/authorization/roles", "5xx", 100),
            ("--max-retries", "2"),
            "giving up after 3 attempts",
        ),
    ],
)
def test_faults_that_stop_the_run(
    run_cli: Run,
    tmp_path: Path,
    name: str,
    configure: Callable[[FakeGenesys], Any],
    extra: tuple[str, ...],
    message: str,
) -> None:
    fake = faulty()
    configure(fake)
    snapshot, report = tmp_path / "s.json", tmp_path / "r.json"
    ran = fetch(run_cli, fake, snapshot, *STOP, *extra)
    assert ran.code == 3, f"{name}: {ran.code} {ran.stderr}"
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in ran.stderr, (
        f"{name}: {ran.stderr}"
    )
    assert not snapshot.exists()
    with fake.serve() as base:  # and a check writes no report either
        checked = run_cli(
            "check",
            "-p",
            TUTORIAL,
            "--json-output",
            str(report),
            *PATIENT,
            *STOP,
            *extra,
            env=env_for(fake, base),
        )
    if "usage" not in name and "roles" not in message:  # the tutorial needs neither roles nor usage
        assert checked.code in (1, 3)
    assert checked.code != 0
    if checked.code == 3:
        assert not report.exists() and checked.stdout == ""
    assert list(tmp_path.iterdir()) == ([report] if report.exists() else [])


def test_the_retry_budget_bounds_the_total_time(run_cli: Run, tmp_path: Path) -> None:
    fake = faulty(retry_after="1")
    fake.fail("/api/v2/oauth/clients", "429", 1000)
    with fake.serve() as base:
        ran = run_cli(
            "fetch",
            "-o",
            str(tmp_path / "s.json"),
            "--max-retries",
            "100",
            "--retry-budget",
            "3",
            env=env_for(fake, base),
        )
    assert ran.code == 3 and "retry budget of 3s" in ran.stderr
    # Counted, not timed: three waits of Retry-After: 1 s fill the 3 s budget, so the first
    # request and three retries, not the 101 that --max-retries alone would allow.
    listings = [r for r in fake.log if r.path == "/api/v2/oauth/clients"]
    assert [r.fault for r in listings] == ["429"] * 4
