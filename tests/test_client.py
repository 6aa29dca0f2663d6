"""The HTTP client against the fake (MockTransport): login, token reuse, retries, budgets, pacing, paging."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from genesys_oauth_audit.errors import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    PagingError,
    PermissionDeniedError,
    TransportError,
)
from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.genesys.wire import WireOrganization, WireScopeListing
from tests.fake.server import FakeGenesys
from tests.helpers import CLIENT_ID, FakeClock, env_for

Make = Callable[..., GenesysClient]


def test_login_uses_the_login_host_with_basic_auth_and_a_form(
    fake: FakeGenesys, make_client: Make
) -> None:
    api = make_client()
    org = api.get("/api/v2/organizations/me", WireOrganization)
    assert org.name == "Northwind Contact Centre"
    token_req, org_req = fake.log
    assert token_req.host == "login.mypurecloud.com" and token_req.method == "POST"
    assert token_req.had_basic and not token_req.had_bearer
    assert token_req.body == {"grant_type": "client_credentials"}
    assert org_req.host == "api.mypurecloud.com" and org_req.had_bearer and not org_req.had_basic


def test_basic_header_encodes_id_and_secret(fake: FakeGenesys, make_client: Make) -> None:
    seen: list[str] = []
    inner = fake.transport()

    def spy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            seen.append(request.headers["Authorization"])
        return inner.handle_request(request)

    api = make_client(transport=httpx.MockTransport(spy))
    api.get("/api/v2/organizations/me", WireOrganization)
    expected = base64.b64encode(f"{CLIENT_ID}:{fake.credentials[CLIENT_ID]}".encode()).decode()
    assert seen == [f"Basic {expected}"]


def test_token_is_reused_until_shortly_before_expiry(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.token_lifetime = 600  # renew a minute (a tenth: 60 s) before the end
    api = make_client()
    for _ in range(5):
        api.get("/api/v2/organizations/me", WireOrganization)
    assert len(fake.token_requests()) == 1
    clock.now += 539
    api.get("/api/v2/organizations/me", WireOrganization)
    assert len(fake.token_requests()) == 1
    clock.now += 2  # now inside the renewal margin
    api.get("/api/v2/organizations/me", WireOrganization)
    assert len(fake.token_requests()) == 2
    assert not [r for r in fake.log if r.status == 401]


def test_a_401_gets_one_fresh_token_and_a_retry(fake: FakeGenesys, make_client: Make) -> None:
    api = make_client()
    api.get("/api/v2/organizations/me", WireOrganization)
    fake.tokens.clear()  # the server forgets the token (revoked, or expired by its clock)
    api.get("/api/v2/organizations/me", WireOrganization)
    statuses = [(r.path, r.status) for r in fake.log]
    assert statuses == [
        ("/oauth/token", 200),
        ("/api/v2/organizations/me", 200),
        ("/api/v2/organizations/me", 401),
        ("/oauth/token", 200),
        ("/api/v2/organizations/me", 200),
    ]


def test_a_second_401_is_an_authentication_error(fake: FakeGenesys, make_client: Make) -> None:
    fake.token_lifetime = 0  # every token is dead on arrival
    api = make_client()
    with pytest.raises(AuthenticationError, match="a freshly issued token was rejected too"):
        api.get("/api/v2/organizations/me", WireOrganization)
    assert len(fake.token_requests()) == 2


def test_static_access_token_is_used_and_not_refreshed(
    fake: FakeGenesys, make_client: Make
) -> None:
    fake.tokens["given-token"] = 10**12
    api = make_client(env={"GENESYSCLOUD_ACCESS_TOKEN": "given-token"})
    api.get("/api/v2/organizations/me", WireOrganization)
    assert fake.token_requests() == []
    fake.tokens.clear()
    with pytest.raises(
        AuthenticationError, match="GENESYSCLOUD_ACCESS_TOKEN is expired or invalid"
    ):
        api.get("/api/v2/organizations/me", WireOrganization)
    assert fake.token_requests() == []


def test_wrong_secret_is_one_clear_authentication_error(
    fake: FakeGenesys, make_client: Make
) -> None:
    env = {**env_for(fake), "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong"}
    api = make_client(env=env)
    with pytest.raises(AuthenticationError) as err:
        api.get("/api/v2/organizations/me", WireOrganization)
    message = str(err.value)
    assert "invalid_client" in message and "GENESYSCLOUD_OAUTHCLIENT_SECRET" in message
    assert "\n" not in message
    assert len(fake.token_requests()) == 1  # bad credentials are not retried


def test_login_throttling_is_retried(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.fail("^/oauth/token$", "login-throttle", times=2)
    api = make_client()
    api.get("/api/v2/organizations/me", WireOrganization)
    assert [r.status for r in fake.token_requests()] == [400, 400, 200]
    assert len(clock.sleeps) == 2


def test_429_waits_retry_after(fake: FakeGenesys, make_client: Make, clock: FakeClock) -> None:
    fake.retry_after = "7"
    fake.fail("/organizations/me", "429", times=2)
    api = make_client()
    api.get("/api/v2/organizations/me", WireOrganization)
    assert clock.sleeps == [7.0, 7.0]
    assert api.stats.retries == 2


@pytest.mark.parametrize("kind", ["5xx", "html", "reset", "timeout"])
def test_transient_failures_are_retried_with_bounded_jittered_backoff(
    fake: FakeGenesys, make_client: Make, clock: FakeClock, kind: str
) -> None:
    fake.fail("/organizations/me", kind, times=4)
    api = make_client(
        retry=RetryPolicy(max_retries=8, budget_seconds=600, backoff_base=1.0, backoff_cap=4.0)
    )
    org = api.get("/api/v2/organizations/me", WireOrganization)
    assert org.name
    # equal jitter: attempt n waits between half and all of min(cap, base * 2**(n-1))
    for n, waited in enumerate(clock.sleeps, start=1):
        ceiling = min(4.0, 2 ** (n - 1))
        assert ceiling / 2 <= waited <= ceiling
    assert len(clock.sleeps) == 4


def test_retries_are_bounded_per_request(fake: FakeGenesys, make_client: Make) -> None:
    fake.fail("/organizations/me", "5xx", times=100)
    api = make_client(retry=RetryPolicy(max_retries=3, budget_seconds=600))
    with pytest.raises(
        TransportError,
        match=r"giving up after 4 attempts.*\(--max-retries 3: the retries of any one request\)",
    ):
        api.get("/api/v2/organizations/me", WireOrganization)
    assert len([r for r in fake.log if r.path == "/api/v2/organizations/me"]) == 4


def test_retry_budget_bounds_the_total_wait(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.retry_after = "30"
    fake.fail("/organizations/me", "429", times=100)
    api = make_client(retry=RetryPolicy(max_retries=50, budget_seconds=100))
    with pytest.raises(TransportError, match="retry budget of 100s"):
        api.get("/api/v2/organizations/me", WireOrganization)
    assert sum(clock.sleeps) <= 100


def test_403_names_the_missing_permission(fake: FakeGenesys, make_client: Make) -> None:
    fake.permissions.discard("oauth:client:view")
    api = make_client()
    with pytest.raises(PermissionDeniedError) as err:
        api.get_all_pages("/api/v2/oauth/clients")
    message = str(err.value)
    assert "lacks permission oauth:client:view" in message
    assert "missing.permissions" in message


def test_other_errors_carry_the_api_message_and_context_id(
    fake: FakeGenesys, make_client: Make
) -> None:
    api = make_client()
    with pytest.raises(ApiError) as err:
        api.get("/api/v2/no/such/thing", WireOrganization)
    assert "HTTP 404 not.found: The requested resource was not found. (contextId " in str(err.value)


def test_persistent_html_502_says_a_proxy_answered(fake: FakeGenesys, make_client: Make) -> None:
    fake.fail("/organizations/me", "html", times=100)
    api = make_client(retry=RetryPolicy(max_retries=2, budget_seconds=600))
    with pytest.raises(TransportError, match="HTML error page"):
        api.get("/api/v2/organizations/me", WireOrganization)


def test_truncated_json_is_a_bad_response_not_a_crash(fake: FakeGenesys, make_client: Make) -> None:
    fake.fail("/oauth/scopes", "truncated")
    api = make_client()
    with pytest.raises(
        BadResponseError,
        match=r"GET /api/v2/oauth/scopes: HTTP 200 body is not valid JSON .*truncated\?",
    ):
        api.get("/api/v2/oauth/scopes", WireScopeListing)


def test_empty_body_is_a_bad_response(fake: FakeGenesys, make_client: Make) -> None:
    fake.fail("/oauth/scopes", "empty")
    with pytest.raises(BadResponseError, match="empty body"):
        make_client().get("/api/v2/oauth/scopes", WireScopeListing)


def test_wrong_json_types_are_a_bad_response(fake: FakeGenesys, make_client: Make) -> None:
    fake.fail("/oauth/scopes", "wrongtype")
    with pytest.raises(BadResponseError, match="unexpected response shape: entities"):
        make_client().get("/api/v2/oauth/scopes", WireScopeListing)


def test_pacing_keeps_under_the_per_minute_limit(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    api = make_client(requests_per_minute=10)
    for _ in range(25):
        api.get("/api/v2/organizations/me", WireOrganization)
    sent = [clock.now]  # the fake clock only moves by sleeping
    assert len(clock.sleeps) == 2 and all(abs(s - 60.0) < 1e-6 for s in clock.sleeps)
    assert sent and len(fake.api_requests()) == 25
    assert not [r for r in fake.log if r.status == 429]


# -- paging ------------------------------------------------------------------------------------------


def test_one_answer_when_the_listing_says_it_is_complete(
    fake: FakeGenesys, make_client: Make
) -> None:
    entities = make_client().get_all_pages("/api/v2/oauth/clients")
    assert len(entities) == len(fake.clients)
    assert len([r for r in fake.log if r.path == "/api/v2/oauth/clients"]) == 1


def test_follows_next_uri_when_there_is_more(fake: FakeGenesys, make_client: Make) -> None:
    fake.client_page_size = 10
    entities = make_client().get_all_pages("/api/v2/oauth/clients")
    assert [e["id"] for e in entities] == [c["id"] for c in fake.clients]
    pages = [
        r.query.get("pageNumber", ["1"])[0] for r in fake.log if r.path == "/api/v2/oauth/clients"
    ]
    assert pages == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("bug", "message"),
    [
        ("repeat", "repeats"),
        ("loop", "repeats"),
        ("short-total", r"total=41 but gave 36"),
        ("foreign-next", "another host"),
    ],
)
def test_broken_paging_is_an_error_never_a_partial_list(
    fake: FakeGenesys, make_client: Make, bug: str, message: str
) -> None:
    fake.client_page_size = 10
    fake.paging_bug = bug
    with pytest.raises(PagingError, match=message):
        make_client().get_all_pages("/api/v2/oauth/clients")
    if bug == "foreign-next":
        assert {r.host for r in fake.log} <= {"login.mypurecloud.com", "api.mypurecloud.com"}


def test_endless_paging_without_counts_is_refused_at_once(
    fake: FakeGenesys, make_client: Make
) -> None:
    fake.client_page_size = 5
    fake.paging_bug = "endless"
    with pytest.raises(PagingError, match="states neither pageCount nor total"):
        make_client().get_all_pages("/api/v2/oauth/clients")
    assert len([r for r in fake.log if r.path == "/api/v2/oauth/clients"]) == 1


def test_paging_beyond_the_announced_page_count_stops(fake: FakeGenesys, make_client: Make) -> None:
    fake.client_page_size = 10
    fake.paging_bug = "overrun"  # nextUri keeps coming after pageCount
    with pytest.raises(PagingError, match="more than the 36 entities it first declared"):
        make_client().get_all_pages("/api/v2/oauth/clients")
    assert len([r for r in fake.log if r.path == "/api/v2/oauth/clients"]) == 4


def test_no_secret_or_token_in_debug_logs(
    fake: FakeGenesys, make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="genesys_oauth_audit")
    fake.fail("/oauth/clients", "5xx", times=2)
    fake.fail("/oauth/scopes", "429")
    api = make_client()
    api.get_all_pages("/api/v2/oauth/clients")
    api.get("/api/v2/oauth/scopes", WireScopeListing)
    text = caplog.text
    assert "GET /api/v2/oauth/clients" in text  # the log does say something
    for secret in fake.secrets():
        assert secret not in text


def _paged(fake: FakeGenesys, change: Any) -> None:
    """The client listing 10 a page, each page's body changed by ``change(body, page)``."""
    fake.client_page_size = 10
    handle = fake.handle

    def changed(request: httpx.Request) -> httpx.Response:
        response = handle(request)
        if request.url.path != "/api/v2/oauth/clients" or response.status_code != 200:
            return response
        page = int(request.url.params.get("pageNumber", "1"))
        body = change(json.loads(response.content), page)
        return httpx.Response(200, json=body)

    fake.handle = changed  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # a first page that states neither total nor pageCount nor nextUri: it looks complete
        (
            lambda body, page: {
                k: v for k, v in body.items() if k not in ("total", "pageCount", "nextUri")
            },
            "states neither pageCount nor total",
        ),
        # no total; the first page's nextUri jumps to page 3 (page 2 never read)
        (
            lambda body, page: {
                **{k: v for k, v in body.items() if k != "total"},
                **(
                    {"nextUri": body["nextUri"].replace("pageNumber=2", "pageNumber=3")}
                    if page == 1
                    else {}
                ),
            },
            "page 2 of the listing says it is page 3",
        ),
        # the first page answers as the last one, without total or nextUri
        (
            lambda body, page: {
                **{k: v for k, v in body.items() if k not in ("total", "nextUri")},
                "pageNumber": body["pageCount"],
            },
            "asked for the first page, the answer is page 4",
        ),
    ],
    ids=["no counts", "a page skipped", "the last page first"],
)
def test_a_listing_that_skips_pages_is_refused(
    fake: FakeGenesys, make_client: Make, change: Any, message: str
) -> None:
    """A listing read in part must never pass for the whole org (36 clients, 10 a page)."""
    _paged(fake, change)
    with pytest.raises(PagingError, match=message):
        make_client().get_all_pages("/api/v2/oauth/clients")
