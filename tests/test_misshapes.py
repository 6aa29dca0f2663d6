"""The gate never passes on an answer it did not understand (issue 11).

A listing without its entities, an org with no clients although this run signs in with one, no
roles, no scopes, a usage result without results, an org without an id: each is exit 3 with one
line and nothing written, over a real socket through the CLI. A property test throws random
mis-shapes at every answer the fetch reads and asserts the same. The one empty answer that can be
real (no clients, seen through a token issued elsewhere) passes with a warning in every format.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from genesys_oauth_audit import app
from genesys_oauth_audit.errors import AuditError, ExitCode
from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import ROOT, TUTORIAL, Ran, env_for
from tests.test_bounds import assert_stopped, run_fetch

Run = Callable[..., Ran]
CLIENTS = "/api/v2/oauth/clients"
SCOPES = "/api/v2/oauth/scopes"
ORG = "/api/v2/organizations/me"
ROLES = "/api/v2/authorization/roles"
USAGE = "/api/v2/usage/query"
RESULTS = "/api/v2/usage/query/{executionId}/results"
JOBS = "/api/v2/usage/aggregates/query/jobs"
JOB = "/api/v2/usage/aggregates/query/jobs/{jobId}"
STATIC_TOKEN = "static-token-value-4567"


def token_env(fake: FakeGenesys, base: str) -> dict[str, str]:
    fake.tokens[STATIC_TOKEN] = 10**12
    return {"GENESYSCLOUD_REGION": base, "GENESYSCLOUD_ACCESS_TOKEN": STATIC_TOKEN}


def without(key: str) -> Callable[[Any], Any]:
    return lambda body: {k: v for k, v in body.items() if k != key}


def first_entity(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    """The listing with its first entity changed (every other entity as the API sent it)."""

    def mangle(body: Any) -> Any:
        entities = list(body.get("entities") or [])
        if entities:
            entities[0] = change(entities[0])
        return {**body, "entities": entities}

    return mangle


def first_policy(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    """The role listing with the first permission policy of its first role changed."""

    def role(entity: dict[str, Any]) -> dict[str, Any]:
        policies = list(entity.get("permissionPolicies") or [])
        if policies:
            policies[0] = change(policies[0])
        return {**entity, "permissionPolicies": policies}

    return first_entity(role)


def nulled(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda entity: {**entity, key: None}


def complete_without_results(body: Any) -> Any:
    return without("results")(body) if body.get("queryStatus") == "Complete" else body


def succeeded_without_entities(body: Any) -> Any:
    return without("entities")(body) if body.get("queryStatus") == "Succeeded" else body


# -- each mis-shape, through the CLI over a socket ------------------------------------------------


@pytest.mark.socket
@pytest.mark.parametrize(
    ("template", "mangle", "message"),
    [
        (CLIENTS, lambda b: {}, "has no entities list"),
        (CLIENTS, lambda b: {"foo": "bar"}, "has no entities list"),
        (CLIENTS, lambda b: {**b, "entities": None}, "has no entities list"),
        (
            CLIENTS,
            lambda b: {**b, "entities": [], "total": 0},
            "the API listed no OAuth clients, not even the one this audit signs in with",
        ),
        (SCOPES, lambda b: {**b, "entities": [], "total": 0}, "the API listed no OAuth scopes"),
        (SCOPES, lambda b: {**b, "entities": None}, "unexpected response shape: entities"),
        (ROLES, lambda b: {}, "has no entities list"),
        (ROLES, lambda b: {**b, "entities": [], "total": 0}, "the API listed no roles"),
        (JOB, succeeded_without_entities, "says Succeeded but has no entities list"),
        (ORG, without("id"), "the answer has no organization id"),
        (ORG, lambda b: {**b, "id": None}, "the answer has no organization id"),
        # A role without its policies would read as a role that grants nothing.
        (ROLES, first_entity(without("permissionPolicies")), "permissionPolicies is missing"),
        (ROLES, first_entity(nulled("permissionPolicies")), "permissionPolicies is null"),
        # OAuthClient requires name and authorizedGrantType: without its grant type a client
        # would drop out of every rule that selects by grant type.
        (CLIENTS, first_entity(without("authorizedGrantType")), "authorizedGrantType is missing"),
        (CLIENTS, first_entity(nulled("authorizedGrantType")), "authorizedGrantType is null"),
        (CLIENTS, first_entity(without("name")), "name is missing"),
        (CLIENTS, first_entity(nulled("name")), "name is null"),
        # An empty grant type is no grant type either.
        (CLIENTS, first_entity(lambda e: {**e, "authorizedGrantType": ""}), "authorizedGrantType"),
        # A permission policy without its domain, entity or actions would grant nothing: a
        # "*:*:*" role would read as harmless.
        (ROLES, first_policy(without("domain")), "permissionPolicies.0.domain is missing"),
        (ROLES, first_policy(nulled("entityName")), "permissionPolicies.0.entityName is null"),
        (ROLES, first_policy(lambda p: {**p, "domain": ""}), "permissionPolicies.0.domain"),
        (ROLES, first_policy(without("actionSet")), "permissionPolicies.0.actionSet is missing"),
        (ROLES, first_policy(lambda p: {}), "permissionPolicies.0.domain is missing"),
        # Counts are JSON integers, never negative: `true` is not a one-second token.
        (
            CLIENTS,
            first_entity(lambda e: {**e, "accessTokenValiditySeconds": True}),
            "accessTokenValiditySeconds",
        ),
        (
            CLIENTS,
            first_entity(lambda e: {**e, "accessTokenValiditySeconds": -1}),
            "accessTokenValiditySeconds",
        ),
        (CLIENTS, lambda b: {**b, "total": str(b["total"])}, "total"),
        # An id of "" names nothing: a role held by it would read as a deleted role (a finding
        # about the wrong thing), a client by it would have no identity for its fingerprints.
        (CLIENTS, first_entity(lambda e: {**e, "id": ""}), "id"),
        (
            CLIENTS,
            first_entity(lambda e: {**e, "roleDivisions": [{"roleId": "", "divisionId": "*"}]}),
            "roleDivisions.0.roleId",
        ),
        (CLIENTS, first_entity(lambda e: {**e, "scope": [""]}), "scope.0"),
        (ROLES, first_entity(lambda e: {**e, "id": ""}), "id"),
        (SCOPES, lambda b: {**b, "entities": [{**b["entities"][0], "id": ""}]}, "id"),
        # A creator on record that names no one would pass a rule asking for one.
        (CLIENTS, first_entity(lambda e: {**e, "createdBy": {"id": ""}}), "createdBy.id"),
    ],
    ids=[
        "clients {}",
        "clients foo",
        "clients entities null",
        "zero clients",
        "zero scopes",
        "scopes entities null",
        "roles {}",
        "zero roles",
        "usage job without results",
        "org without id",
        "org id null",
        "role without permissionPolicies",
        "role permissionPolicies null",
        "client without authorizedGrantType",
        "client authorizedGrantType null",
        "client without name",
        "client name null",
        "client grant type empty",
        "policy without domain",
        "policy entityName null",
        "policy domain empty",
        "policy without actionSet",
        "policy {}",
        "token validity true",
        "token validity negative",
        "total as text",
        "client id empty",
        "role division roleId empty",
        "client scope empty",
        "role id empty",
        "scope id empty",
        "creator id empty",
    ],
)
def test_fetch_refuses_an_answer_it_did_not_understand(
    run_cli: Run, tmp_path: Path, template: str, mangle: Callable[[Any], Any], message: str
) -> None:
    fake = sample_fake(usage_running_polls=0)
    fake.mangle[template] = mangle
    with fake.serve() as base:
        ran = run_cli("fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
    assert_stopped(ran, tmp_path, message)
    assert any(r.fault == "mangle" for r in fake.log)


@pytest.mark.socket
@pytest.mark.parametrize(
    ("template", "mangle", "message"),
    [
        (CLIENTS, lambda b: {}, "has no entities list"),
        (CLIENTS, lambda b: {"entities": None}, "has no entities list"),
        (CLIENTS, lambda b: {**b, "entities": [], "total": 0}, "the API listed no OAuth clients"),
        (ROLES, lambda b: {}, "has no entities list"),
        (SCOPES, lambda b: {**b, "entities": []}, "the API listed no OAuth scopes"),
        (ORG, lambda b: {"name": "x"}, "no organization id"),
        (ROLES, first_entity(without("permissionPolicies")), "permissionPolicies is missing"),
        (CLIENTS, first_entity(nulled("authorizedGrantType")), "authorizedGrantType is null"),
    ],
    ids=[
        "clients {}",
        "clients null",
        "zero clients",
        "roles {}",
        "zero scopes",
        "org",
        "role without policies",
        "client grant type null",
    ],
)
def test_check_writes_no_report_on_an_answer_it_did_not_understand(
    run_cli: Run, tmp_path: Path, template: str, mangle: Callable[[Any], Any], message: str
) -> None:
    fake = sample_fake(usage_running_polls=0)
    fake.mangle[template] = mangle
    outputs = [(f"--{fmt}-output", str(tmp_path / f"r.{fmt}")) for fmt in REPORT_FORMATS]
    with fake.serve() as base:
        ran = run_cli(
            "check",
            "-p",
            "builtin:baseline",  # reads roles as well as clients, scopes and the org
            *[part for pair in outputs for part in pair],
            env=env_for(fake, base),
        )
    assert_stopped(ran, tmp_path, message)


REPORT_FORMATS = ("json", "sarif", "junit", "markdown", "html")


@pytest.mark.socket
def test_a_role_with_an_empty_policy_list_is_a_real_role(run_cli: Run, tmp_path: Path) -> None:
    """``permissionPolicies: []`` is a role that grants nothing, not a mis-shape: only a missing or
    null list is refused."""
    fake = sample_fake(usage_running_polls=0)
    fake.mangle[ROLES] = first_entity(lambda role: {**role, "permissionPolicies": []})
    with fake.serve() as base:
        ran = run_cli("fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
    assert ran.code == 0, ran.stderr
    assert any(r.fault == "mangle" for r in fake.log)
    roles = json.loads((tmp_path / "s.json").read_text())["roles"]
    role = next(r for r in roles if r["id"] == fake.roles[0]["id"])
    assert role["permissions"] == [] and role["policies"] == []


DAY = "2026-11-19T00:00:00.000Z"


def complete_with_rows(rows: list[dict[str, Any]]) -> Callable[[Any], Any]:
    return lambda b: {**b, "results": rows} if b.get("queryStatus") == "Complete" else b


def succeeded_with_rows(rows: list[dict[str, Any]]) -> Callable[[Any], Any]:
    return lambda b: {**b, "entities": rows} if b.get("queryStatus") == "Succeeded" else b


@pytest.mark.socket
@pytest.mark.parametrize(
    ("template", "mangle", "message"),
    [
        (RESULTS, complete_with_rows([{}]), "a row names no clientId"),
        (RESULTS, complete_with_rows([{"requests": 4, "date": DAY}]), "a row names no clientId"),
        (
            RESULTS,
            complete_with_rows([{"clientId": "", "requests": 0}]),
            "a row names no clientId",
        ),
        (
            RESULTS,
            complete_with_rows([{"clientId": "c-1", "requests": 4}]),
            "a row for client 'c-1' has requests but no date",
        ),
        (JOB, succeeded_with_rows([{}]), "a row names no OAuth client"),
        (
            JOB,
            succeeded_with_rows([{"oauthClient": {"id": "c-1"}, "requestCount": 4}]),
            "a row for client 'c-1' has requests but no date",
        ),
    ],
    ids=[
        "legacy {}",
        "legacy no clientId",
        "legacy empty clientId",
        "legacy no date",
        "jobs {}",
        "jobs no date",
    ],
)
def test_both_usage_paths_refuse_a_row_they_cannot_attribute(
    run_cli: Run, tmp_path: Path, template: str, mangle: Callable[[Any], Any], message: str
) -> None:
    """Grouped by client per day, every row of either usage service names its client, and a row
    with requests names its day: the legacy query is held to what the jobs are (issue 11)."""
    fake = sample_fake(
        usage_running_polls=0, usage_jobs_status=404 if template == RESULTS else None
    )
    fake.mangle[template] = mangle
    with fake.serve() as base:
        ran = run_cli(
            "fetch",
            "--usage-days",
            "30",
            "-o",
            str(tmp_path / "s.json"),
            env=env_for(fake, base),
        )
    assert_stopped(ran, tmp_path, message)
    assert any(r.fault == "mangle" and r.template == template for r in fake.log)


# -- zero clients through a token from elsewhere: a loud warning in every format --------------------

WARNING = "the API listed no OAuth clients"


@pytest.mark.socket
def test_zero_clients_with_a_static_token_is_a_warning_in_every_format(
    run_cli: Run, tmp_path: Path
) -> None:
    from tests.test_ci_reports import sarif_validator

    fake = sample_fake(usage_running_polls=0)
    fake.mangle[CLIENTS] = lambda b: {**b, "entities": [], "total": 0, "pageSize": 0}
    outputs = {fmt: tmp_path / f"r.{fmt}" for fmt in REPORT_FORMATS}
    with fake.serve() as base:
        ran = run_cli(
            "check",
            "-p",
            TUTORIAL,
            *[part for fmt, path in outputs.items() for part in (f"--{fmt}-output", str(path))],
            env=token_env(fake, base),
        )
        fetched = run_cli("fetch", "-o", str(tmp_path / "s.json"), env=token_env(fake, base))
    assert ran.code == 0, ran.stderr
    assert f"WARNING: {WARNING}" in ran.stdout  # text
    assert f"warning: {WARNING}" in ran.stderr  # and said on stderr while it ran
    report = json.loads(outputs["json"].read_text())
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert report["warnings"] and WARNING in report["warnings"][0]
    sarif = json.loads(outputs["sarif"].read_text())
    assert not list(sarif_validator().iter_errors(sarif))
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["level"] == "warning" and WARNING in n["message"]["text"] for n in notes)
    assert f"WARNING: {WARNING}" in outputs["junit"].read_text()
    assert "**Warning:**" in outputs["markdown"].read_text()
    assert WARNING in outputs["markdown"].read_text().replace("\\", "")
    assert WARNING in outputs["html"].read_text()

    # the snapshot keeps the warning, and a check of the snapshot repeats it
    assert fetched.code == 0, fetched.stderr
    snapshot = json.loads((tmp_path / "s.json").read_text())
    assert snapshot["clients"] == [] and WARNING in snapshot["warnings"][0]
    again = run_cli("check", "-p", TUTORIAL, "--inventory", str(tmp_path / "s.json"))
    assert again.code == 0 and f"WARNING: {WARNING}" in again.stdout


def test_a_snapshot_without_warnings_keeps_its_shape(tmp_path: Path) -> None:
    from genesys_oauth_audit.inventory import load_snapshot

    sample = ROOT / "examples" / "sample-snapshot.json"
    assert "warnings" not in json.loads(sample.read_text())
    assert load_snapshot(sample).to_json() == sample.read_text()


# -- a lone surrogate or non-ASCII in a name: shown, never a crash ---------------------------------


@pytest.mark.socket
def test_a_lone_surrogate_in_a_client_name_is_escaped_not_a_crash(
    run_cli: Run, tmp_path: Path
) -> None:
    fake = sample_fake(usage_running_polls=0)
    fake.clients[0]["name"] = "Bad \ud800 name – ünïcödé 😀"  # json.dumps spells it \ud800
    outputs = {fmt: tmp_path / f"r.{fmt}" for fmt in REPORT_FORMATS}
    with fake.serve() as base:
        fetched = run_cli("fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
        checked = run_cli(
            "check",
            "-p",
            TUTORIAL,
            *[part for fmt, path in outputs.items() for part in (f"--{fmt}-output", str(path))],
            env=env_for(fake, base),
        )
    assert fetched.code == 0, fetched.stderr
    assert checked.code in (0, 1), checked.stderr
    names = [c["name"] for c in json.loads((tmp_path / "s.json").read_text())["clients"]]
    assert "Bad \\ud800 name – ünïcödé 😀" in names
    for path in outputs.values():
        path.read_text(encoding="utf-8")  # every report is valid UTF-8


# -- random mis-shapes of every answer: exit 3, nothing written, never 0 or 1 ----------------------

NOT_STR = st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.just({"a": 1}))
NOT_INT: st.SearchStrategy[object] = st.one_of(
    st.just("abc"), st.just([]), st.just({"a": 1}), st.just(1.5)
)
NOT_LIST = st.one_of(st.just("abc"), st.integers(), st.just({"a": 1}))
NOT_DICT = st.one_of(st.just("abc"), st.integers(), st.just([1]), st.none())
NOT_DATE: st.SearchStrategy[object] = st.one_of(
    st.just("not a date"), st.just([]), st.just({"a": 1})
)
NOT_ID = st.one_of(NOT_STR, st.none())
NOT_BODY = st.one_of(st.none(), st.just("text"), st.integers(), st.just([{"id": "x"}]))
HOSTILE_ID = st.sampled_from(["../../oauth/clients?x=", "a/b", "..", "x#y", "%2e%2e", "a\r\nb"])

DROP, EMPTY = "drop", "empty"
# (operation, path into its body ("*" = a random element), what to put there): every one of these
# is an answer the real API never gives and the gate must not believe.
MISSHAPES: list[tuple[str, tuple[Any, ...], Any]] = [
    *[(t, (), NOT_BODY) for t in (CLIENTS, SCOPES, ORG, ROLES, USAGE, RESULTS, JOBS, JOB)],
    (CLIENTS, ("entities",), st.sampled_from([DROP, EMPTY]) | NOT_LIST | st.none()),
    (CLIENTS, ("entities", "*"), NOT_DICT),
    (CLIENTS, ("entities", "*", "id"), st.just(DROP) | NOT_ID),
    # OAuthClient requires name and authorizedGrantType: missing or null is a mis-shape too.
    (CLIENTS, ("entities", "*", "name"), st.just(DROP) | NOT_STR | st.none()),
    (CLIENTS, ("entities", "*", "description"), NOT_STR),
    (CLIENTS, ("entities", "*", "authorizedGrantType"), st.just(DROP) | NOT_STR | st.none()),
    (CLIENTS, ("entities", "*", "state"), NOT_STR),
    (CLIENTS, ("entities", "*", "scope"), NOT_LIST),
    (CLIENTS, ("entities", "*", "roleIds"), NOT_LIST),
    (CLIENTS, ("entities", "*", "roleDivisions"), NOT_LIST | st.just([{"roleId": "r"}])),
    (CLIENTS, ("entities", "*", "registeredRedirectUri"), NOT_LIST),
    (CLIENTS, ("entities", "*", "accessTokenValiditySeconds"), NOT_INT),
    (CLIENTS, ("entities", "*", "dateCreated"), NOT_DATE),
    (CLIENTS, ("entities", "*", "createdBy"), st.just("abc") | st.integers()),
    (CLIENTS, ("total",), NOT_INT | st.just(1_000)),
    (CLIENTS, ("pageCount",), NOT_INT),
    (SCOPES, ("entities",), st.sampled_from([DROP, EMPTY]) | NOT_LIST | st.none()),
    (SCOPES, ("entities", "*"), NOT_DICT),
    (SCOPES, ("entities", "*", "id"), st.just(DROP) | NOT_ID),
    (SCOPES, ("entities", "*", "description"), NOT_STR),
    (ORG, ("id",), st.sampled_from([DROP, ""]) | NOT_ID),
    (ORG, ("name",), NOT_STR),
    (ROLES, ("entities",), st.sampled_from([DROP, EMPTY]) | NOT_LIST | st.none()),
    (ROLES, ("entities", "*"), NOT_DICT),
    (ROLES, ("entities", "*", "id"), st.just(DROP) | NOT_ID),
    (ROLES, ("entities", "*", "name"), NOT_STR),
    # A role without its policies would read as one that grants nothing ([] stays legal).
    (ROLES, ("entities", "*", "permissionPolicies"), st.just(DROP) | NOT_LIST | st.none()),
    (ROLES, ("entities", "*", "permissionPolicies", "*", "actionSet"), NOT_LIST),
    (ROLES, ("entities", "*", "permissionPolicies", "*", "domain"), NOT_STR),
    (ROLES, ("total",), NOT_INT | st.just(1_000)),
    (USAGE, ("executionId",), st.just(DROP) | NOT_ID | HOSTILE_ID),
    (RESULTS, ("results",), st.just(DROP) | NOT_LIST | st.none()),
    (RESULTS, ("results", "*"), NOT_DICT.filter(lambda v: v is not None)),
    (RESULTS, ("results", "*", "requests"), NOT_INT),
    # Every row of the sample has requests: a row with requests but no day is a mis-shape.
    (RESULTS, ("results", "*", "date"), st.just(DROP) | NOT_DATE | st.none()),
    (RESULTS, ("results", "*", "clientId"), st.sampled_from([DROP, ""]) | NOT_STR | st.none()),
    (RESULTS, ("queryStatus",), st.sampled_from([DROP, "Weird", ""]) | NOT_STR | st.none()),
    (JOBS, ("id",), st.just(DROP) | NOT_ID | HOSTILE_ID),
    (JOB, ("entities",), st.just(DROP) | NOT_LIST | st.none()),
    (JOB, ("entities", "*"), NOT_DICT),
    (JOB, ("entities", "*", "requestCount"), NOT_INT | st.just(-5)),
    (JOB, ("entities", "*", "status200"), NOT_INT | st.just(-1)),
    (JOB, ("entities", "*", "date"), NOT_DATE),
    (JOB, ("entities", "*", "oauthClient"), NOT_DICT | st.just({"name": "no id"})),
    (JOB, ("entities", "*", "templateUri"), NOT_STR),
    (JOB, ("entities", "*", "httpMethod"), NOT_STR),
    (
        JOB,
        ("nextUri",),
        st.sampled_from(
            ["https://evil.example.com/api/v2/x", "/api/v2/oauth/clients?after=a", "/x/../y"]
        ),
    ),
    (JOB, ("queryStatus",), st.sampled_from([DROP, "Weird", ""]) | NOT_STR | st.none()),
]
# The legacy query is read when the newer service is absent.
LEGACY = (USAGE, RESULTS)


class _Inapplicable(Exception):
    """The answer has nothing at the path to mis-shape (an empty list, a key it lacks)."""


def _need(condition: object) -> None:
    # Not hypothesis's assume: the fake answers in the tool's reading threads, where assume is
    # not allowed; the test assumes in its own thread that some answer was mis-shaped.
    if not condition:
        raise _Inapplicable


def _apply(body: Any, path: tuple[Any, ...], value: Any, pick: int) -> Any:
    """``body`` with ``value`` put at ``path`` (or the key dropped, or the list emptied)."""
    if not path:
        return value
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        if part == "*":
            _need(isinstance(node, list) and node)
            node = node[pick % len(node)]
        else:
            _need(isinstance(node, dict) and part in node)
            node = node[part]
    last = path[-1]
    if last == "*":
        _need(isinstance(node, list) and node)
        node[pick % len(node)] = value
    elif value == DROP:
        _need(last in node)
        del node[last]
    elif value == EMPTY:
        node[last] = []
    else:
        node[last] = value
    return body


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_any_misshape_of_any_answer_is_exit_3_with_nothing_written(
    tmp_path: Path, data: st.DataObject
) -> None:
    template, path, values = data.draw(st.sampled_from(MISSHAPES), label="misshape")
    value = data.draw(values, label="value")
    pick = data.draw(st.integers(min_value=0, max_value=40), label="element")
    fake = sample_fake(usage_running_polls=0, usage_jobs_status=404 if template in LEGACY else None)
    seen: list[Any] = []

    def mangle(body: Any) -> Any:
        if template == RESULTS and body.get("queryStatus") != "Complete":
            return body
        if template == JOB and body.get("queryStatus") != "Succeeded":
            return body
        try:
            changed = _apply(body, path, value, pick)
        except _Inapplicable:
            return body
        seen.append(changed)
        return changed

    fake.mangle[template] = mangle
    out = tmp_path / f"snapshot-{len(list(tmp_path.iterdir()))}.json"
    failure: AuditError | None = None
    try:
        app.fetch(
            app.ConnectionOptions(max_retries=0),
            out,
            roles=True,
            usage_days=90,
            now=datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc),
            environ=env_for(fake),
            streams=app.Streams(stdout=io.StringIO(), stderr=io.StringIO()),
            transport=fake.transport(),
        )
    except AuditError as exc:
        failure = exc
    assume(seen)  # some answer had the part this example mis-shapes
    assert failure is not None, "a mis-shaped answer was audited as if complete"
    assert failure.exit_code == ExitCode.INCOMPLETE, str(failure)
    assert str(failure) and "\n" not in str(failure)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.socket
def test_an_answer_that_names_a_key_twice_is_not_understood(run_cli: Run, tmp_path: Path) -> None:
    """JSON readers keep one value of a key named twice (Python's the last): a client listing
    with a second ``"entities"`` would be read as an org without its implicit-grant clients. It
    is an answer the tool did not understand: exit 3, nothing written."""
    fake = sample_fake(usage_running_polls=0)
    handle = fake.handle

    def twice(request: Any) -> Any:
        response = handle(request)
        if request.url.path != CLIENTS or response.status_code != 200:
            return response
        body = response.content.rstrip()
        assert body.endswith(b"}")
        # The same listing, its implicit-grant clients left out by a second "entities" (and a
        # second "total" that agrees with it).
        entities = [c for c in json.loads(body)["entities"] if c["authorizedGrantType"] != "TOKEN"]
        again = json.dumps(entities).encode()
        return type(response)(
            200,
            headers={"Content-Type": "application/json"},
            content=body[:-1] + b', "entities": ' + again + b', "total": %d}' % len(entities),
        )

    fake.handle = twice  # type: ignore[method-assign]
    with fake.serve() as base:
        ran = run_cli("fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
    assert_stopped(ran, tmp_path, "GET /api/v2/oauth/clients")
    assert "names a key twice in one object" in ran.stderr


@pytest.mark.socket
@pytest.mark.parametrize(
    ("created", "message"),
    [
        # a time the checks cannot convert to UTC or count back from: not an internal error
        (
            "0001-01-01T00:00:00+14:00",
            "dateCreated: Input should be greater than or equal to 1900-01-01",
        ),
        # a client "created" in 2099 would never look old enough to judge stale
        (
            "2099-01-01T00:00:00.000Z",
            "has dateCreated 2099-01-01T00:00:00+00:00, after the time of",
        ),
    ],
    ids=["year 1", "after the audit"],
)
def test_a_client_created_at_a_time_the_audit_cannot_judge_is_not_understood(
    run_cli: Run, tmp_path: Path, created: str, message: str
) -> None:
    """Exit 3, one line, nothing written."""
    fake = sample_fake(usage_running_polls=0)
    fake.mangle[CLIENTS] = first_entity(lambda entity: {**entity, "dateCreated": created})
    assert_stopped(run_fetch(run_cli, fake, tmp_path), tmp_path, message)


@pytest.mark.socket
def test_a_negative_count_from_the_legacy_usage_query_is_not_understood(
    run_cli: Run, tmp_path: Path
) -> None:
    """The usage service's counts may not be negative, and neither may the legacy query's: a row
    of -1 requests would mark an unused client as used."""
    fake = sample_fake(usage_running_polls=0)
    fake.usage_jobs_status = 404  # the legacy usage query answers instead

    def negative(body: Any) -> Any:
        rows = [dict(r) for r in body.get("results") or []]
        if rows:
            rows[0]["requests"] = -1
        return {**body, "results": rows}

    fake.mangle[RESULTS] = negative
    assert_stopped(run_fetch(run_cli, fake, tmp_path), tmp_path, "requests")


@pytest.mark.socket
@pytest.mark.parametrize("service", ["jobs", "legacy"])
def test_a_usage_row_dated_outside_the_window_is_not_understood(
    run_cli: Run, tmp_path: Path, service: str
) -> None:
    """A row dated 2099 would make a stale client look used until then: a row outside the window
    the tool asked for is an answer it did not understand."""
    fake = sample_fake(usage_running_polls=0)
    if service == "legacy":
        fake.usage_jobs_status = 404

    def future(body: Any) -> Any:
        key = "entities" if service == "jobs" else "results"
        rows = [dict(r) for r in body.get(key) or []]
        dated = [r for r in rows if r.get("date")]
        if dated:
            dated[0]["date"] = "2099-01-01" if service == "jobs" else "2099-01-01T00:00:00.000Z"
        return {**body, key: rows}

    fake.mangle[JOB if service == "jobs" else RESULTS] = future
    assert_stopped(
        run_fetch(run_cli, fake, tmp_path),
        tmp_path,
        "is dated 2099-01-01, outside the window asked for",
    )
