"""Hostile input, property-based: whatever arrives, the tool answers with exit 2 or 3 and a message,
never a traceback; hostile client text is neutralised in every format; bombs are refused cheaply."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_oauth_audit import app
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.errors import FetchError, InputFileError
from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
from genesys_oauth_audit.inventory import Client, Inventory, Scope, parse_snapshot
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.proposals import load_proposals
from genesys_oauth_audit.report import REPORTERS, renderer
from genesys_oauth_audit.report.base import SourceInfo
from genesys_oauth_audit.settings import connection_settings
from tests.helpers import DATA, SAMPLE_SNAPSHOT
from tests.test_ci_reports import markdown_tables_keep_their_columns

settings.register_profile(
    "goa",
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("goa")

KEYS = [
    "apiVersion",
    "kind",
    "rules",
    "exceptions",
    "include",
    "id",
    "title",
    "severity",
    "check",
    "type",
    "prefixes",
    "scopes",
    "where",
    "names",
    "path",
    "op",
    "value",
    "rule",
    "clients",
    "reason",
    "expires",
    "permissions",
    "riskAtLeast",
    "days",
    "max",
    "entities",
    "name",
    "authorizedGrantType",
    "scope",
    "roleDivisions",
    "format_version",
    "resource_changes",
    "change",
    "after",
    "actions",
    "kind",
    "clientId",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "Policy",
            "genesys-oauth-audit/v1",
            "CODE",
            "forbidden-scopes",
            "field",
            "eq",
            "1.2",
            "create",
        ]
    ),
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), children, max_size=6
        ),
    ),
    max_leaves=40,
)


def _yaml_text(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@given(st.one_of(JSONISH.map(_yaml_text), st.text(max_size=400)))
def test_any_policy_file_is_loaded_or_refused_with_a_location(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("p") / "policy.yaml"
    path.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\n" + text
        if text.startswith("rules")
        else text
    )
    try:
        load_policies((str(path),))
    except InputFileError as exc:
        assert exc.diagnostics and all(d.path for d in exc.diagnostics)


VALID_POLICY = (DATA / "policies" / "valid" / "every-check.yaml").read_text()


@given(st.integers(0, len(VALID_POLICY) - 1), st.text(max_size=8))
def test_a_mutated_policy_is_loaded_or_refused(
    tmp_path_factory: pytest.TempPathFactory, at: int, insert: str
) -> None:
    folder = tmp_path_factory.mktemp("m")
    (folder / "included.yaml").write_text(
        (DATA / "policies" / "valid" / "included.yaml").read_text()
    )
    path = folder / "every-check.yaml"
    path.write_text(VALID_POLICY[:at] + insert + VALID_POLICY[at + len(insert) :])
    try:
        load_policies((str(path),))
    except InputFileError as exc:
        assert all(d.line is not None for d in exc.diagnostics if d.path == str(path))


SAMPLE = json.loads(SAMPLE_SNAPSHOT.read_text())


@given(
    st.one_of(JSONISH, st.builds(lambda c: {**SAMPLE, "clients": c}, st.lists(JSONISH, max_size=3)))
)
def test_any_snapshot_is_read_or_refused(data: Any) -> None:
    try:
        parse_snapshot(json.dumps(data), "s.json")
    except InputFileError as exc:
        assert exc.diagnostics


@given(st.one_of(JSONISH.map(json.dumps), JSONISH.map(_yaml_text), st.text(max_size=300)))
def test_any_proposal_file_is_read_or_refused(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("q") / "proposal.json"
    path.write_text(text)
    try:
        load_proposals([path], None)
    except InputFileError as exc:
        assert exc.diagnostics and all(d.path == str(path) for d in exc.diagnostics)


def _api(body: bytes, path: str) -> GenesysClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.url.path == path:
            return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
        if request.url.path == "/api/v2/oauth/clients":
            return httpx.Response(200, json={"entities": [], "pageCount": 1, "total": 0})
        return httpx.Response(
            200, json={"entities": [], "id": "o", "queryStatus": "Complete", "executionId": "e"}
        )

    settings_ = connection_settings(
        region=None,
        client_id=None,
        login_url=None,
        environ={"GENESYSCLOUD_OAUTHCLIENT_ID": "i", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s"},
    )
    return GenesysClient(
        settings_,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=0),
        sleep=lambda s: None,
    )


@given(
    st.one_of(JSONISH.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)),
    st.sampled_from(
        [
            "/api/v2/oauth/clients",
            "/api/v2/oauth/scopes",
            "/api/v2/authorization/roles",
            "/api/v2/organizations/me",
        ]
    ),
)
def test_any_api_body_gives_an_inventory_or_a_fetch_error(body: bytes, path: str) -> None:
    with _api(body, path) as api:
        try:
            fetch_inventory(
                api,
                FetchPlan(roles=True),
                region="r",
                now=datetime(2026, 11, 20, tzinfo=timezone.utc),
            )
        except FetchError as exc:
            assert str(exc) and "\n" not in str(exc).strip()


# -- hostile client text in every format ------------------------------------------------------------

NASTY = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("<>&\"'`|*_[]()#!@\x00\x07\x1b\r\n\t\u202e\u2066\ufeff]]>")),
    ),
    max_size=300,
)
POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: R-1, title: t, severity: high, check: {type: forbidden-scope-prefixes, prefixes: ["admin:"]}}
  - {id: R-2, title: d, severity: low, check: {type: field, path: description, op: empty}}
"""


@pytest.fixture(scope="module")
def hostile_policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("h") / "p.yaml"
    path.write_text(POLICY)
    return load_policies((str(path),))


@given(NASTY, NASTY, NASTY)
def test_hostile_client_text_is_neutralised_in_every_format(
    hostile_policy: Any, name: str, description: str, scope: str
) -> None:
    from lxml import etree

    client = Client(
        id="c-1", name=name, grant_type="CODE", description=description, scopes=("admin:" + scope,)
    )
    evaluation = evaluate(
        hostile_policy,
        Inventory(clients=(client,), scopes=(Scope(id="users"),)),
        today=date(2026, 11, 20),
    )
    info = app.run_info(
        hostile_policy,
        SourceInfo(kind="live", org_id="o", org_name=name, region="r"),
        app.CheckOptions(policies=()),
        datetime(2026, 11, 20, tzinfo=timezone.utc),
        color=False,
    )
    out = {fmt: renderer(fmt)(evaluation, info) for fmt in REPORTERS}
    control = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
    assert not control.search(out["text"])  # no terminal escapes, no bidi reordering
    assert json.loads(out["json"])["findings"][0]["clientName"] == name  # JSON carries it exactly
    for result in json.loads(out["sarif"])["runs"][0]["results"]:
        assert not control.search(result["message"]["text"])
    doc = etree.fromstring(out["junit"].encode())  # well-formed whatever the name
    assert all("\n" not in (c.get("name") or "") for c in doc.iter("testcase"))
    md = out["markdown"]
    prose = re.sub(r"`[^`]*`", "", md)  # inside code spans, < and @ are text, not HTML or mentions
    assert not re.search(r"<(?!/?(sub|details|summary)>)", prose)  # no HTML but our own
    assert "\x1b" not in md and "@" not in prose.replace("&#64;", "")
    markdown_tables_keep_their_columns(md)


# -- bombs ----------------------------------------------------------------------------------------------


def test_alias_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    lines = [
        "apiVersion: genesys-oauth-audit/v1",
        "kind: Policy",
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    ]
    for i in range(1, 10):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 10) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(InputFileError, match="alias bomb"):
            load_policies((str(bomb),))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, peak


def test_a_huge_policy_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    rule = "  - {id: R-%d, title: t, check: {type: max-scopes, max: 1}}\n"
    big.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        + "".join(rule % i for i in range(60_000))
    )
    assert big.stat().st_size > 2 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(InputFileError, match="may be at most"):
            load_policies((str(big),))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak


def test_cli_never_shows_a_traceback_for_a_hostile_file(tmp_path: Path) -> None:
    from genesys_oauth_audit.cli import main

    hostile = tmp_path / "x.yaml"
    hostile.write_bytes(b"\xff\xfe\x00garbage: [unclosed")
    stderr = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(stderr):
        code = main(["validate", str(hostile)])
    assert code == 2 and "Traceback" not in stderr.getvalue()
