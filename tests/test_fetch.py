"""The fetcher: wire -> inventory, what it asks for, and how it fails."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime, timezone

import pytest

from genesys_oauth_audit.errors import BadResponseError, FetchError, PermissionDeniedError
from genesys_oauth_audit.genesys.client import GenesysClient
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.inventory import Inventory
from tests.fake.orgdata import RETIRED_ROLE, R, synthetic_fake, uid
from tests.fake.server import FakeGenesys
from tests.helpers import FakeClock

Make = Callable[..., GenesysClient]
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def fetch(api: GenesysClient, clock: FakeClock, **plan: object) -> Inventory:
    return fetch_inventory(api, FetchPlan(**plan), region="us-east-1", now=NOW, sleep=clock.sleep)  # type: ignore[arg-type]


def by_name(inv: Inventory, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in inv.clients if c.name == name)


def test_minimal_fetch_asks_for_exactly_clients_scopes_and_org(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    inv = fetch(make_client(), clock)
    assert [(r.method, r.path) for r in fake.log] == [
        ("POST", "/oauth/token"),
        ("GET", "/api/v2/oauth/clients"),
        ("GET", "/api/v2/oauth/scopes"),
        ("GET", "/api/v2/organizations/me"),
    ]
    assert fake.log[1].query == {}  # the client listing takes no parameters
    assert inv.roles is None and inv.usage is None
    assert all(c.permissions is None for c in inv.clients)
    assert inv.org.name == "Northwind Contact Centre" and len(inv.clients) == 36


def test_normalisation_of_clients(fake: FakeGenesys, make_client: Make, clock: FakeClock) -> None:
    inv = fetch(make_client(), clock)
    code = by_name(inv, "Agent Desktop SSO Bridge")
    assert code.grant_type == "CODE" and code.state == "active"
    assert code.scopes == (
        "conversations",
        "notifications",
        "presence",
        "routing:readonly",
        "users:readonly",
    )
    assert code.redirect_uris == ("https://crm.example.com/genesys/callback",)
    assert code.token_validity_seconds == 43200
    assert code.created_by is not None and code.created_by.name == "Dana Whitfield"
    assert code.date_created == datetime(2025, 10, 16, 9, 15, tzinfo=timezone.utc)
    inactive = by_name(inv, "Decommissioned IVR Reporting")
    assert inactive.state == "inactive" and inactive.date_to_delete is not None
    # roleIds (deprecated) and roleDivisions are one list; a roleIds grant names no division
    legacy = by_name(inv, "Legacy Integration (roleIds)")
    assert {(g.role_id, g.division_id) for g in legacy.roles} == {
        (R["Reporting Reader"], None),
        (RETIRED_ROLE, None),
    }


def test_the_secret_never_enters_the_inventory(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    inv = fetch(make_client(), clock, roles=True, usage_days=90)
    assert any(c.get("secret") for c in fake.clients)
    text = inv.to_json()
    for secret in fake.secrets():
        assert secret not in text
    assert '"secret"' not in text


def test_unknown_grant_types_and_states_do_not_crash(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.clients[0]["authorizedGrantType"] = "PKCE-CODE"
    fake.clients[1]["state"] = "quarantined"
    fake.clients[2]["someNewField"] = {"added": "later"}
    del fake.clients[3]["description"]
    inv = fetch(make_client(), clock)
    assert by_name(inv, fake.clients[0]["name"]).grant_type == "PKCE-CODE"
    assert by_name(inv, fake.clients[1]["name"]).state == "quarantined"


def test_a_mis_typed_client_is_an_error_not_a_dropped_client(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.clients[4]["scope"] = "users"  # a string where a list belongs
    with pytest.raises(BadResponseError, match=r"entity 4: unexpected shape at scope"):
        fetch(make_client(), clock)


def test_roles_are_read_in_one_page_of_500_without_user_counts(
    make_client: Make, clock: FakeClock
) -> None:
    big = synthetic_fake(250, n_roles=450, clock=clock)
    api = GenesysClient(
        make_client()._settings, transport=big.transport(), sleep=clock.sleep, clock=clock
    )
    inv = fetch(api, clock, roles=True)
    [request] = [r for r in big.log if r.path == "/api/v2/authorization/roles"]
    assert request.query == {"pageSize": ["500"], "pageNumber": ["1"], "userCount": ["false"]}
    assert inv.roles is not None and len(inv.roles) == 450


def test_roles_page_on_when_the_api_caps_the_page_size(make_client: Make, clock: FakeClock) -> None:
    """Asked for 500 a page, an API that answers 100 (pageSize 100, pageCount 3, a nextUri) is
    followed page by page, at the size it answered."""
    big = synthetic_fake(250, n_roles=250, clock=clock, role_page_cap=100)
    api = GenesysClient(
        make_client()._settings, transport=big.transport(), sleep=clock.sleep, clock=clock
    )
    inv = fetch(api, clock, roles=True)
    role_requests = [r for r in big.log if r.path == "/api/v2/authorization/roles"]
    assert len(role_requests) == math.ceil(250 / 100)
    assert role_requests[0].query["pageSize"] == ["500"]
    for i, r in enumerate(role_requests, start=1):
        assert r.query["userCount"] == ["false"] and r.query["pageNumber"] == [str(i)]
    assert all(r.query["pageSize"] == ["100"] for r in role_requests[1:])  # as the answer said
    assert inv.roles is not None and len(inv.roles) == 250


def test_roles_resolve_to_names_and_effective_permissions(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    inv = fetch(make_client(), clock, roles=True)
    deployer = by_name(inv, "CX as Code Deployer")
    assert {g.name for g in deployer.roles} == {"Integration Deployer", "Role Administrator"}
    assert {g.division_id for g in deployer.roles} == {"*"}
    assert deployer.permissions is not None
    assert "authorization:role:edit" in deployer.permissions
    assert "integrations:integration:*" in deployer.permissions
    admin = by_name(inv, "Master Admin Integration")
    assert admin.permissions == ("*:*:*",)
    # an unresolved role id is kept (for orphan-roles), with no name
    poc = by_name(inv, "Abandoned POC Bot")
    assert (RETIRED_ROLE, None) in {(g.role_id, g.name) for g in poc.roles}


def test_missing_role_permission_names_it(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.permissions.discard("authorization:role:view")
    with pytest.raises(PermissionDeniedError, match="lacks permission authorization:role:view"):
        fetch(make_client(), clock, roles=True)
    fetch(make_client(), clock, roles=False)  # and without roles it is not asked for


def test_legacy_usage_is_one_org_level_query_polled_until_complete(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.usage_jobs_status = 404  # the newer usage service is absent: the legacy query serves
    fake.usage_running_polls = 3
    inv = fetch(make_client(), clock, usage_days=90)
    queries = [r for r in fake.log if r.path == "/api/v2/usage/query"]
    assert len(queries) == 1
    body = queries[0].body
    assert body["granularity"] == "Day" and body["groupBy"] == ["OAuthClientId"]
    assert body["interval"] == "2026-08-23T00:00:00.000Z/2026-11-21T00:00:00.000Z"
    polls = [r for r in fake.log if r.path.startswith("/api/v2/usage/query/")]
    assert len(polls) == 4
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0]  # a short first wait, doubling between polls
    assert not [r for r in fake.log if "/oauth/clients/" in r.path]  # never one query per client
    assert inv.usage is not None and inv.usage.days == 90 and inv.usage.source == "usage-query"
    assert inv.operation_usage is None and all(c.operations is None for c in inv.clients)
    assert by_name(inv, "Agent Desktop SSO Bridge").last_used == date(2026, 11, 20)
    assert by_name(inv, "Legacy Admin Console").last_used == date(2026, 9, 21)
    assert by_name(inv, "Abandoned POC Bot").last_used is None


def test_failed_usage_query_is_an_error_not_an_empty_result(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.usage_jobs_status = 404
    fake.usage_final_status = "Failed"
    with pytest.raises(FetchError, match="usage query failed"):
        fetch(make_client(), clock, usage_days=30)


def test_usage_poll_timeout_is_an_error(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.usage_jobs_status = 404
    fake.usage_running_polls = 10_000
    with pytest.raises(FetchError, match="still running after"):
        fetch(make_client(), clock, usage_days=30, usage_timeout_seconds=60)


def test_snapshot_round_trip_keeps_everything(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    from genesys_oauth_audit.inventory import parse_snapshot

    inv = fetch(make_client(), clock, roles=True, usage_days=90)
    again = parse_snapshot(inv.to_json(), "mem")
    assert again == inv
    data = json.loads(inv.to_json())
    assert all("lastUsed" in c for c in data["clients"])


def test_identity_of_ids(fake: FakeGenesys) -> None:
    assert uid("client:x") == uid("client:x") != uid("client:y")


# -- issue 11: answers a live org cannot give ------------------------------------------------------


def test_zero_clients_through_a_token_from_elsewhere_is_a_warning_in_the_inventory(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.tokens["given-token-value"] = 10**12
    fake.clients.clear()
    inv = fetch(make_client(env={"GENESYSCLOUD_ACCESS_TOKEN": "given-token-value"}), clock)
    assert inv.clients == () and len(inv.warnings) == 1
    assert "listed no OAuth clients" in inv.warnings[0]
    assert json.loads(inv.to_json())["warnings"] == list(inv.warnings)


def test_zero_clients_with_client_credentials_is_an_error(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.clients.clear()
    with pytest.raises(FetchError, match="not even the one this audit signs in with"):
        fetch(make_client(), clock)
    # read side by side with the listing: the scope catalog and the org, once each
    assert sorted(r.path for r in fake.api_requests()) == [
        "/api/v2/oauth/clients",
        "/api/v2/oauth/scopes",
        "/api/v2/organizations/me",
    ]


def test_a_lone_surrogate_from_the_api_is_kept_as_visible_text(
    fake: FakeGenesys, make_client: Make, clock: FakeClock
) -> None:
    fake.clients[0]["name"] = "x\ud800y"
    fake.clients[1]["description"] = "emoji 😀 spelled as an escaped pair"
    inv = fetch(make_client(), clock)
    names = {c.name for c in inv.clients}
    assert "x\\ud800y" in names
    inv.to_json().encode("utf-8")  # no surrogate is left to crash an encoder
    assert any(c.description == "emoji 😀 spelled as an escaped pair" for c in inv.clients)
