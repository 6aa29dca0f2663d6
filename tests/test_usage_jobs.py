"""Usage from the newer usage service (aggregates query jobs): at most two jobs, submitted first and
polled together; results paged by cursor, refused when the cursor misbehaves; operations stored per
client as swagger keys; the legacy query when the service answers 404 or 403, said in the inventory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.errors import (
    BadResponseError,
    FetchError,
    PagingError,
    PermissionDeniedError,
)
from genesys_oauth_audit.genesys.client import GenesysClient
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.inventory import Inventory, parse_snapshot
from tests.fake.orgdata import sample_fake, synthetic_fake
from tests.fake.server import FakeGenesys
from tests.helpers import FakeClock, Run, env_for

Make = Callable[..., GenesysClient]
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
JOBS = "/api/v2/usage/aggregates/query/jobs"
LEGACY = "/api/v2/usage/query"


def fetch(api: GenesysClient, clock: FakeClock, **plan: Any) -> Inventory:
    return fetch_inventory(api, FetchPlan(**plan), region="us-east-1", now=NOW, sleep=clock.sleep)


def full(api: GenesysClient, clock: FakeClock, **plan: Any) -> Inventory:
    """What ``fetch`` reads: roles, last use and operations over 90 days."""
    return fetch(api, clock, roles=True, usage_days=90, operation_days=90, **plan)


def by_name(inv: Inventory, name: str) -> Any:
    return next(c for c in inv.clients if c.name == name)


def usage_requests(fake: FakeGenesys) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.log if "/usage/" in r.path]


# -- two jobs, submitted first, polled together ---------------------------------------------------


def test_both_jobs_are_submitted_first_and_polled_together(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.job_running_polls = 2  # Queued, Running, then Succeeded
    full(make_client(), clock)
    a, b = fake.jobs
    assert usage_requests(fake) == [
        ("POST", JOBS),
        ("POST", JOBS),
        *[("GET", f"{JOBS}/{a}"), ("GET", f"{JOBS}/{b}")] * 3,
    ]
    # a short first wait that doubles, once per round for both jobs
    assert clock.sleeps == [0.25, 0.5, 1.0]
    last_use, operations = (r.body for r in fake.log if r.method == "POST" and r.path == JOBS)
    interval = "2026-08-23T00:00:00.000Z/2026-11-21T00:00:00.000Z"
    assert last_use == {
        "interval": interval,
        "granularity": "Day",
        "groupBy": ["OauthClientId"],
        "metrics": ["Requests"],
    }
    assert operations == {
        "interval": interval,
        "groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"],
        "metrics": ["Requests", "Status200", "Status300", "Status400", "Status429", "Status500"],
    }
    polls = [r for r in fake.log if r.method == "GET" and r.path.startswith(JOBS)]
    assert all(r.query == {"pageSize": ["1000"]} for r in polls)  # the largest page: fewest pages
    assert not [r for r in fake.log if r.path.startswith(LEGACY) or "/oauth/clients/" in r.path]


def test_a_job_answered_200_is_read_at_once(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.job_running_polls = 0  # done when submitted: the service answers 200, not 202
    full(make_client(), clock)
    assert clock.sleeps == []
    assert [s for _, s in usage_requests(fake)].count(JOBS) == 2
    assert len(usage_requests(fake)) == 4


def test_last_use_and_operations_land_on_the_inventory(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    inv = full(make_client(), clock)
    window = {"days": 90, "start": date(2026, 8, 23), "end": date(2026, 11, 20)}
    assert inv.usage is not None and inv.operation_usage is not None
    assert inv.usage.model_dump(include=set(window)) == window
    assert inv.usage.source == inv.operation_usage.source == "aggregates-query-jobs"
    assert inv.usage_notes == ()
    assert by_name(inv, "Agent Desktop SSO Bridge").last_used == date(2026, 11, 20)
    assert by_name(inv, "Legacy Admin Console").last_used == date(2026, 9, 21)
    assert by_name(inv, "Abandoned POC Bot").last_used is None
    # Issue 15's example: a wide role, three operations, as swagger keys with status counts.
    master = by_name(inv, "Master Admin Integration")
    assert [(o.method, o.path) for o in master.operations] == [
        ("POST", "/api/v2/analytics/conversations/aggregates/query"),
        ("GET", "/api/v2/routing/queues"),
        ("GET", "/api/v2/routing/wrapupcodes"),
    ]
    aggregates = master.operations[0]
    assert aggregates.status429 > 0 and aggregates.status4xx == aggregates.status429
    assert aggregates.requests == aggregates.status2xx + aggregates.status4xx
    # A template spelt with another parameter name is the swagger key; an unknown one is kept.
    hr = by_name(inv, "HR Directory Sync")
    assert ("PATCH", "/api/v2/users/{userId}") in [(o.method, o.path) for o in hr.operations]
    sandbox = by_name(inv, "Dev Sandbox Client")
    assert ("GET", "/api/v2/sandbox/experiments") in [
        (o.method, o.path) for o in sandbox.operations
    ]
    # Denied calls are stored as such (4xx only), never dropped.
    [jobs] = [o for o in by_name(inv, "Recording Archive Export").operations if o.method == "POST"]
    assert jobs.status2xx == 0 and jobs.status4xx == jobs.requests > 0
    # A client that made no call in the window called nothing; the fetch read its operations.
    assert by_name(inv, "Abandoned POC Bot").operations == ()
    # The usage rows' requests add up, per client, to what the last-use job counted.
    total = sum(sum(days.values()) for cid, days in fake.usage.items() if cid == master.id)
    in_window = sum(
        n
        for day, n in fake.usage[master.id].items()
        if date.fromisoformat(day) >= date(2026, 8, 23)
    )
    assert sum(o.requests for o in master.operations) == in_window <= total


def test_the_snapshot_round_trips_operations(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    inv = full(make_client(), clock)
    again = parse_snapshot(inv.to_json(), "mem")
    assert again == inv
    data = json.loads(inv.to_json())
    assert data["schemaVersion"] == 2
    assert data["operationUsage"]["source"] == "aggregates-query-jobs"
    assert all("operations" in c for c in data["clients"])
    assert "usageNotes" not in data  # nothing to say: the key stays out


def test_without_operations_asked_only_the_last_use_job_runs(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    inv = fetch(make_client(), clock, usage_days=30)
    assert [s for m, s in usage_requests(fake) if m == "POST"] == [JOBS]
    assert inv.operation_usage is None and all(c.operations is None for c in inv.clients)
    data = json.loads(inv.to_json())
    assert not any("operations" in c for c in data["clients"])


@pytest.mark.parametrize("n", [40, 400])
def test_the_request_count_does_not_grow_with_the_clients(
    n: int, make_client: Make, clock: FakeClock
) -> None:
    fake = synthetic_fake(n, n_roles=50, clock=clock)
    api = make_client(env=env_for(fake), transport=fake.transport())
    full(api, clock)
    # token, clients, scopes, one role page, two jobs, two polls each, organizations/me
    assert len(fake.log) == 1 + 1 + 1 + 1 + 2 + 4 + 1
    assert api.stats.requests == len(fake.api_requests())


def test_a_large_org_costs_a_page_per_thousand_rows_never_a_request_per_client(
    make_client: Make, clock: FakeClock
) -> None:
    fake = synthetic_fake(3000, n_roles=50, clock=clock)
    full(make_client(env=env_for(fake), transport=fake.transport()), clock)
    for job_id, job in fake.jobs.items():
        rows = len(job["rows"])
        pages = [r for r in fake.log if r.path.endswith(job_id) and r.status == 200]
        assert rows > 1000 and len(pages) == -(-rows // 1000)  # ceil: 1,000 rows a page
    assert len(fake.log) < 30  # for 3,000 clients


# -- cursor paging, and how it may go wrong -------------------------------------------------------


def test_results_are_followed_by_cursor_until_the_last_page(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    whole = full(make_client(), clock)
    paged_fake = sample_fake(clock=clock, job_page_size=7)
    paged = full(make_client(env=env_for(paged_fake), transport=paged_fake.transport()), clock)
    assert paged.clients == whole.clients
    pages = [r for r in paged_fake.log if r.method == "GET" and r.path.startswith(JOBS)]
    cursors = [r.query["after"][0] for r in pages if "after" in r.query]
    assert len(cursors) == len(set(cursors)) > 10  # every page asked once, each cursor new
    assert all(r.query["pageSize"] == ["7"] for r in pages if "after" in r.query)


@pytest.mark.parametrize(
    ("bug", "error", "message"),
    [
        ("repeat-next", PagingError, "repeats"),
        ("stuck-after", PagingError, "does not advance"),
        ("empty-page", PagingError, "empty but announces another page"),
        ("no-entities", BadResponseError, "has no entities list"),
        ("foreign-next", PagingError, "another host"),
        ("other-job", PagingError, "leaves the job's results"),
        ("no-after", PagingError, "carries no 'after' cursor"),
        ("status-changes", BadResponseError, "after the job succeeded"),
    ],
)
def test_a_cursor_that_misbehaves_stops_the_fetch(
    bug: str, error: type[Exception], message: str, make_client: Make, clock: FakeClock
) -> None:
    fake = sample_fake(clock=clock, job_page_size=50, job_paging_bug=bug)
    with pytest.raises(error, match=message):
        full(make_client(env=env_for(fake), transport=fake.transport()), clock)
    assert all(r.host == "api.mypurecloud.com" or r.path == "/oauth/token" for r in fake.log)
    assert not [r for r in fake.log if r.method == "GET" and r.path == "/api/v2/oauth/clients"][1:]
    assert len(fake.log) < 40  # stopped, not followed on and on


def test_a_row_with_requests_but_no_day_is_refused(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    template = f"{JOBS}/{{jobId}}"

    def drop_dates(body: Any) -> Any:
        for row in body.get("entities", []):
            row.pop("date", None)
        return body

    fake.mangle[template] = drop_dates
    with pytest.raises(BadResponseError, match="requests but no date"):
        fetch(make_client(), clock, usage_days=30)


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        ("Failed", FetchError, "ended Failed \\(internal.server.error: The query failed.\\)"),
        ("Cancelled", FetchError, "ended Cancelled"),
        ("Exploded", BadResponseError, "unexpected queryStatus 'Exploded'"),
    ],
)
def test_a_job_that_does_not_succeed_is_an_error(
    status: str,
    error: type[Exception],
    message: str,
    fake: FakeGenesys,
    make_client: Make,
    clock: FakeClock,
) -> None:
    fake.job_final_status = status
    with pytest.raises(error, match=message):
        full(make_client(), clock)


def test_a_job_still_running_at_the_usage_timeout_is_an_error(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.job_running_polls = 10_000
    with pytest.raises(FetchError, match="still running after"):
        full(make_client(), clock, usage_timeout_seconds=60)
    assert sum(clock.sleeps) <= 60


def test_a_403_on_the_results_names_the_permission(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    # The job was accepted, then the results were refused: not a fallback, an error (exit 3).
    original = fake._usage_job_results

    def refuse(*args: Any, **kwargs: Any) -> Any:
        fake.permissions.discard("usage:organization:view")
        return original(*args, **kwargs)

    fake._usage_job_results = refuse  # type: ignore[method-assign]
    with pytest.raises(PermissionDeniedError, match="lacks permission usage:organization:view"):
        full(make_client(), clock)


# -- the legacy query when the newer service is absent or refused ---------------------------------


@pytest.mark.parametrize(
    ("configure", "said"),
    [
        (lambda f: setattr(f, "usage_jobs_status", 404), "answered 404"),
        (lambda f: f.permissions.discard("usage:organization:view"), "answered 403"),
    ],
    ids=["404", "403"],
)
def test_the_legacy_query_serves_last_use_when_the_service_is_absent_or_refused(
    configure: Callable[[FakeGenesys], Any],
    said: str,
    fake: FakeGenesys,
    make_client: Make,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", "genesys_oauth_audit")
    configure(fake)
    inv = full(make_client(), clock)
    # One refused submission (the second job is not tried), then the legacy query.
    assert usage_requests(fake)[:2] == [("POST", JOBS), ("POST", LEGACY)]
    assert [m for m, s in usage_requests(fake)].count("POST") == 2
    assert inv.usage is not None and inv.usage.source == "usage-query" and inv.usage.days == 90
    assert by_name(inv, "Agent Desktop SSO Bridge").last_used == date(2026, 11, 20)
    assert inv.operation_usage is None and all(c.operations is None for c in inv.clients)
    [note] = inv.usage_notes
    assert said in note and "no operation data" in note
    if said == "answered 403":
        assert "usage:organization:view" in note
    assert note in caplog.text


def test_a_refusal_with_no_last_use_asked_reads_nothing_more(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.permissions.discard("usage:organization:view")
    inv = fetch(make_client(), clock, operation_days=90)
    assert usage_requests(fake) == [("POST", JOBS)]
    assert inv.usage is None and inv.operation_usage is None
    assert "answered 403" in inv.usage_notes[0]


def test_other_errors_of_the_service_are_not_a_fallback(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.usage_jobs_status = 400
    with pytest.raises(FetchError, match="HTTP 400"):
        full(make_client(), clock)
    assert not [r for r in fake.log if r.path == LEGACY]


def test_last_use_beyond_90_days_comes_from_the_legacy_query(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.today = "2026-11-20"  # the service refuses what starts more than a year back
    inv = fetch(make_client(), clock, roles=True, usage_days=180, operation_days=180)
    posts = [(r.path, r.body) for r in fake.log if r.method == "POST" and "/usage/" in r.path]
    assert [p for p, _ in posts] == [JOBS, LEGACY]  # operations job first, then the legacy query
    assert posts[1][1]["interval"] == "2026-05-25T00:00:00.000Z/2026-11-21T00:00:00.000Z"
    assert inv.usage is not None and (inv.usage.days, inv.usage.source) == (180, "usage-query")
    assert inv.operation_usage is not None
    assert (inv.operation_usage.days, inv.operation_usage.source) == (90, "aggregates-query-jobs")
    assert [n.split(":")[0] for n in inv.usage_notes] == [
        "operations were read over the last 90 days, not 180",
        "last use over 180 days came from the legacy usage query",
    ]


def test_no_job_asks_for_more_than_the_service_allows(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.today = "2026-11-20"
    for days in (1, 30, 89, 90):
        fetch(make_client(), clock, usage_days=days, operation_days=days)
    for r in fake.log:
        if r.method == "POST" and r.path == JOBS:
            start, end = (
                datetime.fromisoformat(t.replace("Z", "+00:00"))
                for t in r.body["interval"].split("/")
            )
            assert timedelta(days=1) <= end - start <= timedelta(days=90)
            assert r.status == 202


# -- over a real socket, through the command line --------------------------------------------------


@pytest.mark.socket
def test_fetch_over_http_writes_operations_and_names_the_source(
    run_cli: Run, tmp_path: Path
) -> None:
    fake = sample_fake(usage_running_polls=0)
    out = tmp_path / "s.json"
    with fake.serve() as base:
        ran = run_cli("fetch", "-o", str(out), "--now", NOW.isoformat(), env=env_for(fake, base))
    assert ran.code == 0, ran.stderr
    assert "usage over 90 days, operations over 90 days" in ran.stderr
    data = json.loads(out.read_text())
    assert data["usage"]["source"] == data["operationUsage"]["source"] == "aggregates-query-jobs"
    master = next(c for c in data["clients"] if c["name"] == "Master Admin Integration")
    assert len(master["operations"]) == 3
    assert [r.method for r in fake.log if r.path == JOBS] == ["POST", "POST"]
