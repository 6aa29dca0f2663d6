"""Slow, huge, deep and endless answers are bounded (issue 11): whole-response time, the run's
deadline, decompressed size, nesting depth, listings that grow, Retry-After values that would mean
"retry now", and ids that would move a request to another path.

Each case runs through MockTransport with the fake clock (the tool sees time pass without anyone
waiting) and, where the network is involved, over a real loopback socket through the CLI, which
must exit 3 with one line, no traceback, and nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_oauth_audit.errors import (
    BadResponseError,
    DeadlineError,
    PagingError,
    ResponseTooLargeError,
    TransportError,
    UnsafeIdError,
)
from genesys_oauth_audit.genesys.client import (
    MAX_JSON_DEPTH,
    GenesysClient,
    RetryPolicy,
    json_depth_exceeds,
    path_segment,
)
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.genesys.wire import WireOrganization
from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import TUTORIAL, FakeClock, Ran, env_for

Make = Callable[..., GenesysClient]
Run = Callable[..., Ran]
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
ORG = "/api/v2/organizations/me"


def fetch(api: GenesysClient, clock: FakeClock, **plan: object) -> object:
    return fetch_inventory(api, FetchPlan(**plan), region="r", now=NOW, sleep=clock.sleep)  # type: ignore[arg-type]


# -- one response is bounded in time ---------------------------------------------------------------


def test_a_dripping_body_is_cut_off_at_the_timeout_not_after_the_whole_body(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.sleep = clock.sleep  # each byte arrives 2 s (of fake time) after the one before
    fake.fail(ORG, "drip", times=1)
    api = make_client(timeout=5.0, retry=RetryPolicy(max_retries=0))
    with pytest.raises(TransportError, match=r"no complete answer within --timeout 5s"):
        api.get(ORG, WireOrganization)
    # three bytes (at 2, 4 and 6 s) were read of a body of about a hundred: the fourth never was
    assert clock.sleeps == [2.0, 2.0, 2.0]


def test_a_dripping_body_is_retried_like_any_timeout(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.sleep = clock.sleep
    fake.fail(ORG, "drip", times=1)
    org = make_client(timeout=5.0).get(ORG, WireOrganization)
    assert org.id and len([r for r in fake.log if r.path == ORG]) == 2


# -- the run is bounded by --deadline --------------------------------------------------------------


def test_the_deadline_bounds_retry_waits(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.retry_after = "30"
    fake.fail(ORG, "429", times=100)
    api = make_client(deadline=100.0, retry=RetryPolicy(max_retries=50, budget_seconds=10_000))
    with pytest.raises(DeadlineError, match=r"did not finish within --deadline 100s"):
        api.get(ORG, WireOrganization)
    assert clock.sleeps == [30.0, 30.0, 30.0]  # a fourth wait would have ended past the deadline


def test_the_deadline_bounds_pacing(fake: FakeGenesys, make_client: Make, clock: FakeClock) -> None:
    api = make_client(deadline=30.0, requests_per_minute=2)
    api.get(ORG, WireOrganization)
    api.get(ORG, WireOrganization)
    with pytest.raises(DeadlineError, match=r"--deadline 30s \(pacing before GET"):
        api.get(ORG, WireOrganization)
    assert clock.sleeps == [] and len(fake.api_requests()) == 2


def test_the_deadline_bounds_usage_polling(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.usage_jobs_status = 404  # the legacy query
    fake.usage_running_polls = 10_000
    api = make_client(deadline=50.0)
    with pytest.raises(DeadlineError, match=r"--deadline 50s \(polling GET /api/v2/usage/query/"):
        fetch(api, clock, usage_days=30, usage_timeout_seconds=600.0)
    assert sum(clock.sleeps) < 50


def test_the_deadline_bounds_usage_job_polling(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.job_running_polls = 10_000
    api = make_client(deadline=50.0)
    with pytest.raises(
        DeadlineError, match=r"--deadline 50s \(polling GET /api/v2/usage/aggregates/query/jobs"
    ):
        fetch(api, clock, usage_days=30, operation_days=30, usage_timeout_seconds=600.0)
    assert sum(clock.sleeps) < 50


def test_nothing_is_sent_once_the_deadline_has_passed(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    api = make_client(deadline=10.0)
    api.get(ORG, WireOrganization)
    clock.now += 10
    sent = len(fake.log)
    with pytest.raises(DeadlineError, match=r"before GET /api/v2/organizations/me"):
        api.get(ORG, WireOrganization)
    assert len(fake.log) == sent


def test_a_timeout_at_the_deadline_is_not_retried(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.sleep = clock.sleep
    fake.fail(ORG, "drip", times=100)
    api = make_client(timeout=30.0, deadline=5.0)
    with pytest.raises(DeadlineError):
        api.get(ORG, WireOrganization)
    assert len([r for r in fake.log if r.path == ORG]) == 1


# -- one response is bounded in size (after decompression) ----------------------------------------


@pytest.mark.parametrize("kind", ["gzip-bomb", "big"])
def test_a_body_past_the_size_cap_is_refused_and_not_retried(
    fake: FakeGenesys, make_client: Make, kind: str
) -> None:
    fake.bomb_bytes = 3 * 1024 * 1024
    fake.fail("/oauth/clients", kind, times=5)
    api = make_client(max_response_bytes=1024 * 1024)
    with pytest.raises(ResponseTooLargeError, match=r"larger than --max-response-mb 1 once"):
        api.get_all_pages("/api/v2/oauth/clients")
    assert len([r for r in fake.log if r.path == "/api/v2/oauth/clients"]) == 1


def test_a_gzip_body_under_the_cap_is_read(fake: FakeGenesys, make_client: Make) -> None:
    fake.bomb_bytes = 512 * 1024  # 0.5 MiB of whitespace in a listing: valid, and under the cap
    fake.fail("/oauth/clients", "gzip-bomb")
    assert make_client(max_response_bytes=1024 * 1024).get_all_pages("/api/v2/oauth/clients") == []


# -- nesting depth --------------------------------------------------------------------------------


def test_a_deeply_nested_body_is_refused_without_recursion(
    fake: FakeGenesys, make_client: Make
) -> None:
    fake.fail(ORG, "deep")  # 200,000 levels in 400 KB
    with pytest.raises(BadResponseError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        make_client().get(ORG, WireOrganization)


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, False),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), True),
        ('{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1), True),
        # brackets inside strings are text, whatever the escapes around them
        (json.dumps({"s": "[" * 500, "t": '\\"[[[', "u": ["]" * 300]}), False),
        (json.dumps([["x"] * 200] * 200), False),
        (json.dumps({"k": "\\" * 7 + "[" * 300}), False),
    ],
)
def test_json_depth_is_measured_without_parsing(text: str, deep: bool) -> None:
    assert json_depth_exceeds(text.encode()) is deep


def _read(text: bytes) -> tuple[int, int, bool]:
    """The reference, a character at a time, strings and escapes skipped: the deepest nesting,
    the lowest (below 0: a bracket closed more than was opened), and whether the text ends
    inside a string (cut short)."""
    depth = deepest = lowest = 0
    in_string = escaped = False
    for char in text.decode("latin-1"):
        if in_string:
            in_string, escaped = (char != '"' or escaped), (char == "\\" and not escaped)
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
            lowest = min(lowest, depth)
    return deepest, lowest, in_string


JSON_VALUES = st.recursive(
    st.none() | st.integers() | st.text('ab"\\[]{}', max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("k[", max_size=2), inner, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(JSON_VALUES, st.integers(1, 6), st.integers(0, 3))
def test_json_depth_without_parsing_agrees_with_reading_a_character_at_a_time(
    value: object, limit: int, cut: int
) -> None:
    """The C-speed passes answer as reading the text a character at a time would: for
    well-formed JSON, and for texts cut short (a truncated answer) or closed with the wrong
    bracket."""
    text = json.dumps(value).encode()
    for body in (text, text[: len(text) - cut] if cut else text, text.replace(b"]", b"}", 1)):
        deepest, lowest, cut_in_a_string = _read(body)
        # Where a bracket closes more than was opened, or the text stops inside a string, no
        # reading is the right one (and the parser refuses the text anyway).
        if lowest >= 0 and not cut_in_a_string:
            assert json_depth_exceeds(body, limit) is (deepest > limit), body


# -- a listing may not grow past what it first declared -----------------------------------------


def test_a_listing_that_grows_on_every_page_stops_at_what_it_first_declared(
    fake: FakeGenesys, make_client: Make
) -> None:
    fake.client_page_size = 10
    fake.paging_bug = "growing"
    with pytest.raises(PagingError, match="within the 2 pages the listing first declared"):
        make_client().get_all_pages("/api/v2/oauth/clients")
    assert len([r for r in fake.log if r.path == "/api/v2/oauth/clients"]) == 2


# -- Retry-After that would mean "retry now" -------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["0", "-5", "soon", "nan", "inf", "1e999", "", "Wed, 21 Oct 2015 07:28:00 GMT"]
)
def test_retry_after_that_is_not_a_positive_wait_gets_the_normal_backoff(
    fake: FakeGenesys, make_client: Make, clock: FakeClock, value: str
) -> None:
    fake.retry_after = value
    fake.fail(ORG, "429", times=3)
    api = make_client(
        retry=RetryPolicy(max_retries=8, budget_seconds=600, backoff_base=1.0, backoff_cap=30.0)
    )
    api.get(ORG, WireOrganization)
    assert len(clock.sleeps) == 3
    for n, waited in enumerate(clock.sleeps, start=1):
        assert 2 ** (n - 1) / 2 <= waited <= 2 ** (n - 1)  # the jittered exponential step


def test_a_positive_retry_after_is_honoured(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.retry_after = "2.5"
    fake.fail(ORG, "429", times=2)
    make_client().get(ORG, WireOrganization)
    assert clock.sleeps == [2.5, 2.5]


# -- ids placed in URL paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "../../oauth/clients?x=",
        "a/b",
        "..",
        ".",
        "a..b",
        "x?y",
        "x#y",
        "%2e%2e",
        "%2F",
        "id\r\nX-Injected: 1",
        "id\x00",
        "id\x7f",
        "id\x85",
        "a b",
        "back\\slash",
        "",
    ],
)
def test_an_id_that_could_move_the_request_is_refused(value: str) -> None:
    with pytest.raises(UnsafeIdError, match="cannot be placed in a URL path"):
        path_segment(value, "POST /api/v2/usage/query: executionId")


def test_an_ordinary_id_is_percent_encoded() -> None:
    assert path_segment("3f2a0c1e-77aa-4b1c-9d0e-aa11bb22cc33", "x") == (
        "3f2a0c1e-77aa-4b1c-9d0e-aa11bb22cc33"
    )
    assert path_segment("kürbis:1", "x") == "k%C3%BCrbis%3A1"


def test_a_hostile_execution_id_sends_nothing_more(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.usage_jobs_status = 404  # the legacy query
    fake.execution_id = "../../oauth/clients?x="
    with pytest.raises(UnsafeIdError, match=r"executionId.*\.\./\.\./oauth/clients\?x="):
        fetch(make_client(), clock, usage_days=30)
    # the usage query is submitted first; its answer stops the run before any other request
    assert [r.path for r in fake.api_requests()][-1] == "/api/v2/usage/query"
    assert [r.path for r in fake.api_requests()].count("/api/v2/oauth/clients") == 0


def test_a_hostile_job_id_sends_nothing_more(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.job_id = "../../oauth/clients?x="
    with pytest.raises(UnsafeIdError, match=r"POST /api/v2/usage/aggregates/query/jobs: id"):
        fetch(make_client(), clock, usage_days=30, operation_days=30)
    paths = [r.path for r in fake.api_requests()]
    assert paths == ["/api/v2/usage/aggregates/query/jobs"]  # submitted first, then nothing


def test_a_next_uri_with_dot_segments_is_not_followed(fake: FakeGenesys, make_client: Make) -> None:
    fake.client_page_size = 10
    fake.mangle["/api/v2/oauth/clients"] = lambda body: {
        **body,
        "nextUri": "/api/v2/oauth/clients/../../../oauth/token?pageNumber=2",
    }
    with pytest.raises(PagingError, match="is not an API path"):
        make_client().get_all_pages("/api/v2/oauth/clients")
    assert len(fake.api_requests()) == 1


# -- over a real socket, through the command line -------------------------------------------------


def assert_stopped(ran: Ran, folder: Path, message: str) -> None:
    """Exit 3, one line naming the cause, no traceback, no stdout, and no file written."""
    assert ran.code == 3, (ran.code, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert message in lines[0], lines[0]
    assert lines[0].endswith("[audit incomplete; no report written]")
    assert "Traceback" not in ran.stderr and ran.stdout == ""
    assert list(folder.iterdir()) == []


def run_fetch(run_cli: Run, fake: FakeGenesys, folder: Path, *flags: str) -> Ran:
    with fake.serve() as base:
        return run_cli("fetch", "-o", str(folder / "s.json"), *flags, env=env_for(fake, base))


def run_check(run_cli: Run, fake: FakeGenesys, folder: Path, *flags: str) -> Ran:
    """``check`` with every report format written to a file and text on stdout."""
    outputs = [(f"--{fmt}-output", folder / f"r.{fmt}") for fmt in REPORT_FILES]
    with fake.serve() as base:
        return run_cli(
            "check",
            "-p",
            TUTORIAL,
            *[str(part) for pair in outputs for part in pair],
            *flags,
            env=env_for(fake, base),
        )


REPORT_FILES = ("json", "sarif", "junit", "markdown", "html")


@pytest.mark.socket
def test_cli_a_dripping_body_stops_at_the_timeout(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0, drip_interval=0.25)
    fake.fail("/api/v2/oauth/clients", "drip", times=100)
    with fake.serve() as base:
        ran = run_cli(
            "fetch",
            "-o",
            str(tmp_path / "s.json"),
            "--timeout",
            "1",
            "--max-retries",
            "0",
            env=env_for(fake, base),
        )
    assert_stopped(ran, tmp_path, "no complete answer within --timeout 1s")


@pytest.mark.socket
def test_cli_the_deadline_stops_a_slow_run(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0, latency=0.4)
    with fake.serve() as base:
        ran = run_cli(
            "fetch", "-o", str(tmp_path / "s.json"), "--deadline", "1", env=env_for(fake, base)
        )
    assert_stopped(ran, tmp_path, "the audit did not finish within --deadline 1s")
    assert len(fake.log) <= 4  # about a second of 0.4 s answers, not the whole fetch


def _configure(
    fail: tuple[str, str, int] | None = None, **attributes: object
) -> Callable[[FakeGenesys], None]:
    """Set attributes of the fake, and optionally inject a fault, in one configure step."""

    def configure(fake: FakeGenesys) -> None:
        for name, value in attributes.items():
            setattr(fake, name, value)
        if fail is not None:
            fake.fail(*fail)

    return configure


@pytest.mark.socket
@pytest.mark.parametrize(
    ("configure", "flags", "message"),
    [
        (
            _configure(bomb_bytes=3 * 2**20, fail=("/oauth/clients", "gzip-bomb", 9)),
            ("--max-response-mb", "1"),
            "larger than --max-response-mb 1 once decompressed",
        ),
        (
            lambda f: f.fail("/oauth/scopes", "deep", 9),
            (),
            f"nested deeper than {MAX_JSON_DEPTH} levels",
        ),
        (
            _configure(client_page_size=10, paging_bug="growing"),
            (),
            "the listing first declared",
        ),
        (
            lambda f: f.__dict__.update(
                execution_id="../../oauth/clients?x=", usage_jobs_status=404
            ),
            ("--usage-days", "30"),
            "cannot be placed in a URL path",
        ),
        (
            lambda f: setattr(f, "job_id", "../../oauth/clients?x="),
            ("--usage-days", "30"),
            "cannot be placed in a URL path",
        ),
    ],
    ids=["gzip bomb", "deep nesting", "growing listing", "hostile executionId", "hostile job id"],
)
def test_cli_hostile_answers_stop_the_run_and_write_nothing(
    run_cli: Run,
    tmp_path: Path,
    configure: Callable[[FakeGenesys], object],
    flags: tuple[str, ...],
    message: str,
) -> None:
    fake = sample_fake(usage_running_polls=0)
    configure(fake)
    assert_stopped(run_fetch(run_cli, fake, tmp_path, *flags), tmp_path, message)
    if "--usage-days" not in flags:  # the tutorial pack reads no usage, all the rest it reads
        assert_stopped(run_check(run_cli, fake, tmp_path, *flags), tmp_path, message)
    # the hostile executionId or job id was never followed anywhere
    assert not [r for r in fake.log if "/results" in r.path or r.query.get("x")]
    if "--usage-days" in flags:  # (otherwise the jobs are polled while the listing is read)
        assert not [r for r in fake.log if r.method == "GET" and "/usage/aggregates/" in r.path]


@pytest.mark.socket
def test_cli_retry_after_zero_is_not_a_storm_of_immediate_retries(
    run_cli: Run, tmp_path: Path
) -> None:
    fake = sample_fake(usage_running_polls=0, retry_after="0")
    fake.fail("/api/v2/oauth/clients", "429", times=1000)
    with fake.serve() as base:
        ran = run_cli(
            "fetch",
            "-o",
            str(tmp_path / "s.json"),
            "--max-retries",
            "500",
            "--retry-budget",
            "1.5",
            env=env_for(fake, base),
        )
    assert_stopped(ran, tmp_path, "retry budget of 1.5s")
    # the normal backoff (0.25-0.5 s, then 0.5-1 s, ...) spends the budget in a few retries
    assert len([r for r in fake.log if r.path == "/api/v2/oauth/clients"]) <= 4


def test_the_bounds_are_flags_of_every_connected_command(run_cli: Run) -> None:
    for command in ("fetch", "check"):
        shown = run_cli(command, "--help").stdout
        assert "--deadline" in shown and "--max-response-mb" in shown and "[default: 900" in shown
    assert run_cli("fetch", "-o", "x.json", "--deadline", "0").code == 2
    assert run_cli("fetch", "-o", "x.json", "--max-response-mb", "0").code == 2
