"""The fake is faithful: every JSON body it serves validates against the official OpenAPI extract.

The extract (tests/data/genesys/openapi-oauth-subset.json, a copy of
shared/genesys/openapi-oauth-subset.json) is made stricter here: objects may
not carry properties the API does not define, so a misspelt field in the fake
fails this test instead of silently teaching the tool a wrong shape.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import pytest
from jsonschema import Draft4Validator

from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.genesys.wire import WireOrganization
from tests.fake.server import FakeGenesys
from tests.helpers import DATA, FakeClock

OPENAPI = DATA / "genesys" / "openapi-oauth-subset.json"


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    data = json.loads(OPENAPI.read_text())
    definitions = copy.deepcopy(data["definitions"])
    for definition in definitions.values():
        if definition.get("type") == "object" and "properties" in definition:
            definition.setdefault("additionalProperties", False)
    return {"paths": data["paths"], "definitions": definitions}


def validate_response(method: str, template: str, status: int, body: Any) -> None:
    operation = spec()["paths"][template][method.lower()]
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {template} does not document status {status}"
    schema = {"definitions": spec()["definitions"], **response["schema"]}
    errors = sorted(Draft4Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {template} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


def validate_request(method: str, template: str, body: Any) -> None:
    operation = spec()["paths"][template][method.lower()]
    param = next(p for p in operation["parameters"] if p["in"] == "body")
    schema = {"definitions": spec()["definitions"], **param["schema"]}
    errors = list(Draft4Validator(schema).iter_errors(body))
    assert not errors, errors[0].message


def check_log(fake: FakeGenesys) -> int:
    checked = 0
    for entry in fake.log:
        if entry.template is None:
            continue
        assert entry.response_json is not None or entry.fault in (
            "truncated",
            "wrongtype",
            "empty",
            "html",
            "reset",
            "timeout",
        )
        if entry.response_json is not None:
            assert entry.status is not None
            validate_response(entry.method, entry.template, entry.status, entry.response_json)
            checked += 1
        if entry.body is not None:
            validate_request(entry.method, entry.template, entry.body)
    return checked


def test_every_success_body_matches_the_api(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], clock: FakeClock
) -> None:
    fake.usage_running_polls = 2
    fake.client_page_size = 10  # exercise the paged envelope too
    fetch_inventory(
        make_client(),
        FetchPlan(roles=True, usage_days=90),
        region="us-east-1",
        now=datetime(2026, 11, 20, tzinfo=timezone.utc),
        sleep=clock.sleep,
    )
    templates = {e.template for e in fake.log if e.template}
    assert templates == {
        "/api/v2/oauth/clients",
        "/api/v2/oauth/scopes",
        "/api/v2/organizations/me",
        "/api/v2/authorization/roles",
        "/api/v2/usage/query",
        "/api/v2/usage/query/{executionId}/results",
    }
    assert check_log(fake) >= 10


def test_unpaged_listing_matches_the_api(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    make_client().get_all_pages("/api/v2/oauth/clients")
    assert check_log(fake) == 1


@pytest.mark.parametrize("kind", ["429", "5xx"])
def test_error_bodies_match_the_api(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], kind: str
) -> None:
    fake.fail("/organizations/me", kind, times=2)
    make_client().get("/api/v2/organizations/me", WireOrganization)
    assert check_log(fake) == 3


def test_401_403_and_404_bodies_match_the_api(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    api = make_client(retry=RetryPolicy(max_retries=0))
    api.get("/api/v2/organizations/me", WireOrganization)
    fake.tokens.clear()
    api.get("/api/v2/organizations/me", WireOrganization)  # 401, then a fresh token
    fake.permissions.clear()
    with pytest.raises(Exception, match="403"):
        api.get_all_pages("/api/v2/oauth/clients")
    statuses = {e.status for e in fake.log if e.template}
    assert {200, 401, 403} <= statuses
    check_log(fake)


def test_the_extract_is_the_shared_one() -> None:
    shared = DATA.parent.parent.parent / "shared" / "genesys" / "openapi-oauth-subset.json"
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert json.loads(shared.read_text()) == json.loads(OPENAPI.read_text())
