"""The fake is faithful: every JSON body it serves validates against the official OpenAPI extracts.

The extracts (tests/data/genesys/openapi-oauth-subset.json and openapi-usage-jobs.json, copies
of shared/genesys/) are made stricter here: objects may not carry properties the API does not
define, so a misspelt field in the fake fails this test instead of silently teaching the tool a
wrong shape. The two extracts share some definitions (ErrorBody, DomainEntityRef): they agree.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.genesys.wire import WireOrganization
from tests.fake.server import FakeGenesys
from tests.helpers import DATA, FakeClock

OPENAPI = DATA / "genesys" / "openapi-oauth-subset.json"
USAGE_JOBS = DATA / "genesys" / "openapi-usage-jobs.json"
EXTRACTS = (OPENAPI, USAGE_JOBS)


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for extract in EXTRACTS:
        data = json.loads(extract.read_text())
        for name, definition in data["definitions"].items():
            assert definitions.get(name, definition) == definition, f"{name} differs"
            definitions[name] = copy.deepcopy(definition)
        paths.update(data["paths"])
    for definition in definitions.values():
        if definition.get("type") == "object" and "properties" in definition:
            definition.setdefault("additionalProperties", False)
    return {"paths": paths, "definitions": definitions}


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
    fake.job_page_size = 25  # and the results' cursor
    fetch_inventory(
        make_client(),
        FetchPlan(roles=True, usage_days=90, operation_days=90),
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
        "/api/v2/usage/aggregates/query/jobs",
        "/api/v2/usage/aggregates/query/jobs/{jobId}",
    }
    statuses = {(e.template, e.status) for e in fake.log if e.template and "usage" in e.template}
    assert statuses == {
        ("/api/v2/usage/aggregates/query/jobs", 202),
        ("/api/v2/usage/aggregates/query/jobs/{jobId}", 202),  # Queued, Running
        ("/api/v2/usage/aggregates/query/jobs/{jobId}", 200),  # Succeeded, every page
    }
    assert check_log(fake) >= 30


def test_the_legacy_usage_query_matches_the_api(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], clock: FakeClock
) -> None:
    fake.usage_jobs_status = 404  # the newer service is absent: the fallback's bodies
    fetch_inventory(
        make_client(),
        FetchPlan(usage_days=90, operation_days=90),
        region="us-east-1",
        now=datetime(2026, 11, 20, tzinfo=timezone.utc),
        sleep=clock.sleep,
    )
    templates = {(e.template, e.status) for e in fake.log if e.template and "usage" in e.template}
    assert templates == {
        ("/api/v2/usage/aggregates/query/jobs", 404),
        ("/api/v2/usage/query", 202),
        ("/api/v2/usage/query/{executionId}/results", 200),
    }
    check_log(fake)


@pytest.mark.parametrize("status", ["Failed", "Cancelled"])
def test_a_job_that_did_not_succeed_answers_as_the_api_does(
    status: str, fake: FakeGenesys, make_client: Callable[..., GenesysClient], clock: FakeClock
) -> None:
    fake.job_final_status = status
    with pytest.raises(Exception, match=f"ended {status}"):
        fetch_inventory(
            make_client(),
            FetchPlan(usage_days=30),
            region="us-east-1",
            now=datetime(2026, 11, 20, tzinfo=timezone.utc),
            sleep=clock.sleep,
        )
    assert check_log(fake) >= 3


def test_a_refused_job_answers_as_the_api_does(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient], clock: FakeClock
) -> None:
    fake.permissions.discard("usage:organization:view")
    fetch_inventory(
        make_client(),
        FetchPlan(usage_days=30),
        region="us-east-1",
        now=datetime(2026, 11, 20, tzinfo=timezone.utc),
        sleep=clock.sleep,
    )
    assert ("/api/v2/usage/aggregates/query/jobs", 403) in {
        (e.template, e.status) for e in fake.log
    }
    check_log(fake)


def test_every_query_the_fake_accepts_is_a_valid_request_and_bad_ones_are_400(
    fake: FakeGenesys, make_client: Callable[..., GenesysClient]
) -> None:
    from genesys_oauth_audit.errors import ApiError
    from genesys_oauth_audit.genesys.wire import WireUsageJob

    api = make_client()
    path = "/api/v2/usage/aggregates/query/jobs"
    ok = {"interval": "2026-08-23T00:00:00.000Z/2026-11-21T00:00:00.000Z", "groupBy": ["Platform"]}
    api.post(path, ok, WireUsageJob)
    for bad in (
        {},
        {"interval": "2026-01-01T00:00:00Z/2026-06-01T00:00:00Z"},  # more than 90 days
        {"interval": "yesterday/today"},
        {**ok, "groupBy": ["OAuthClientId"]},  # the old spelling
        {**ok, "metrics": ["Requests", "Status201"]},
        {**ok, "granularity": "Hour"},
    ):
        with pytest.raises(ApiError, match="HTTP 400"):
            api.post(path, bad, WireUsageJob)
    answered = [e for e in fake.log if e.template == path]
    assert [e.status for e in answered] == [202] + [400] * 6
    for entry in answered:
        validate_response(entry.method, path, entry.status or 0, entry.response_json)
        if entry.status == 202:
            validate_request(entry.method, path, entry.body)


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


@pytest.mark.parametrize("extract", EXTRACTS, ids=lambda p: p.name)
def test_the_extract_is_the_shared_one(extract: Path) -> None:
    shared = DATA.parent.parent.parent / "shared" / "genesys" / extract.name
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert json.loads(shared.read_text()) == json.loads(extract.read_text())
