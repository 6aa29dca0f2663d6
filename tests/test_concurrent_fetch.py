"""Reading an org side by side: one client shared by threads keeps one token, one pacing window
and one refresh after a 401; a read that fails stops the others; the requests stay as few."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import pytest

from genesys_oauth_audit.errors import AuthenticationError, PermissionDeniedError
from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.genesys.wire import WireOrganization
from genesys_oauth_audit.settings import connection_settings
from tests.fake.orgdata import synthetic_fake
from tests.fake.server import FakeGenesys
from tests.helpers import FakeClock, env_for

Make = Callable[..., GenesysClient]
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def _side_by_side(count: int, job: Callable[[], object]) -> list[BaseException]:
    """``job`` on ``count`` threads started together; the exceptions they raised."""
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_threads_that_meet_a_401_share_one_fresh_token(
    fake: FakeGenesys, make_client: Make
) -> None:
    api = make_client()
    api.get("/api/v2/organizations/me", WireOrganization)
    fake.tokens.clear()  # the token is revoked while eight reads are about to use it
    fake.latency = 0.02  # (real seconds) so that the eight requests are in flight together
    assert _side_by_side(8, lambda: api.get("/api/v2/organizations/me", WireOrganization)) == []
    assert len(fake.token_requests()) == 2  # the first login and one refresh, not eight
    rejected = [r for r in fake.log if r.status == 401]
    assert 1 <= len(rejected) <= 8
    assert len([r for r in fake.api_requests() if r.status == 200]) == 1 + 8


def test_threads_share_one_pacing_window(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    """At most ``requests_per_minute`` requests in any 60 seconds, however many threads ask."""
    sent: list[float] = []
    # The fake clock jumps a whole window when one thread waits for the pacing: a response
    # another thread is reading meanwhile must not look a minute slow and be sent again (an
    # eleventh request, when the threads happened to interleave so).
    api = make_client(
        requests_per_minute=4, on_request=lambda what: sent.append(clock()), timeout=3600
    )
    assert _side_by_side(10, lambda: api.get("/api/v2/organizations/me", WireOrganization)) == []
    api_sent = sent[1:]  # the first is the login, which the limit does not count
    assert len(api_sent) == 10
    for i, at in enumerate(api_sent):
        assert len([t for t in api_sent[i:] if t - at < 60.0]) <= 4
    assert len(clock.sleeps) == 2  # two full windows waited for: 4 + 4 + 2 requests


def test_a_failed_read_stops_the_others_and_is_the_error(clock: FakeClock) -> None:
    """The listing is refused (403) while the usage jobs would run for minutes: the run stops
    with the listing's error at once, not after the usage poll gives up."""
    fake = synthetic_fake(50, n_roles=20, clock=clock, job_running_polls=10_000, latency=0.01)
    fake.permissions.discard("oauth:client:view")
    settings = connection_settings(
        region=None, client_id=None, login_url=None, environ=env_for(fake)
    )
    api = GenesysClient(settings, transport=fake.transport(), sleep=clock.sleep, clock=clock)
    with pytest.raises(PermissionDeniedError, match="oauth:client:view"):
        fetch_inventory(
            api,
            FetchPlan(roles=True, usage_days=30, operation_days=30),
            region="us-east-1",
            now=NOW,
            sleep=clock.sleep,
        )
    polls = [r for r in fake.log if r.method == "GET" and "/usage/aggregates/" in r.path]
    assert len(polls) <= 2 * 4  # stopped at its next wait, long before the usage timeout
    assert sum(clock.sleeps) < 60


@pytest.mark.parametrize("clients", [40, 4000])
def test_the_requests_grow_only_by_result_pages(clients: int, clock: FakeClock) -> None:
    """Token, the last-use job, listing, scopes, one role page of 450 roles, org, a Queued poll
    and the job's rows: 40 clients or 4,000, never a request per client. The service pages rows
    1,000 at a time (one row per client and day of use), so a larger org reads more result
    pages, and only those (the README says what scales with what)."""
    fake = synthetic_fake(clients, n_roles=450, clock=clock, usage_running_polls=1)
    settings = connection_settings(
        region=None, client_id=None, login_url=None, environ=env_for(fake)
    )
    api = GenesysClient(settings, transport=fake.transport(), sleep=clock.sleep, clock=clock)
    inventory = fetch_inventory(
        api,
        FetchPlan(roles=True, usage_days=90),
        region="us-east-1",
        now=NOW,
        sleep=clock.sleep,
    )
    assert len(inventory.clients) == clients
    paths = [r.path for r in fake.log]
    result_pages = -(-len([c for c in inventory.clients if c.last_used]) // 1000)
    assert paths.count("/api/v2/authorization/roles") == 1
    assert paths.count("/api/v2/oauth/clients") == 1
    # token, submission, listing, scopes, roles, org; a Queued poll and the rows' pages
    assert len(paths) == 6 + 1 + max(1, result_pages)


def test_a_refused_login_is_sent_once_however_many_reads_wait_for_it() -> None:
    """Five reads need a token; the login is refused: no second login with the same credentials
    (each counts against lockouts and login limits), whichever thread takes the lock next."""
    for _ in range(10):  # the threads race differently each time
        fake = synthetic_fake(20, n_roles=5, usage_running_polls=0, latency=0.005)
        env = env_for(fake) | {"GENESYSCLOUD_OAUTHCLIENT_SECRET": "not-the-secret-at-all"}
        settings = connection_settings(region=None, client_id=None, login_url=None, environ=env)
        with (
            GenesysClient(settings, transport=fake.transport()) as api,
            pytest.raises(AuthenticationError),
        ):
            fetch_inventory(api, FetchPlan(roles=True), region="us-east-1", now=NOW)
        assert len(fake.token_requests()) == 1


def test_a_throttled_token_is_waited_out_once_not_once_a_thread() -> None:
    """Every API request is answered 429 (Retry-After: 1) for the first second: the reads side
    by side wait it out together, and the retry budget pays for that second once."""
    fake = synthetic_fake(20, n_roles=5, usage_running_polls=0, latency=0.005)
    inner = fake.transport()
    throttled_until: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/"):
            if not throttled_until:
                throttled_until.append(time.monotonic() + 1.0)
            if time.monotonic() < throttled_until[0]:
                return httpx.Response(429, headers={"Retry-After": "1"}, json={"status": 429})
        return inner.handle_request(request)

    settings = connection_settings(
        region=None, client_id=None, login_url=None, environ=env_for(fake)
    )
    # A budget of 1.5 s: one second of waiting fits; five threads each paying it would not.
    retry = RetryPolicy(budget_seconds=1.5)
    with GenesysClient(settings, transport=httpx.MockTransport(handler), retry=retry) as api:
        inventory = fetch_inventory(api, FetchPlan(roles=True), region="us-east-1", now=NOW)
        assert len(inventory.clients) == 20
        assert api.stats.waited_seconds <= 1.5
