"""Check types: every registry example (PASS and FAIL) runs here, plus the edge cases of each check."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from genesys_oauth_audit.checks import CHECKS, Context, Example
from genesys_oauth_audit.checks.field import compare, field_paths, field_value
from genesys_oauth_audit.checks.risk import permission_grants
from genesys_oauth_audit.inventory import Client, Role, UsageWindow


def client(**fields: Any) -> Client:
    return Client.model_validate(
        {"id": "c-1", "name": "Example Client", "grantType": "CODE", **fields}
    )


def context(example_ctx: dict[str, Any]) -> Context:
    return Context(
        today=date.fromisoformat(example_ctx.get("today", "2026-11-24")),
        scopes=frozenset(example_ctx["scopes"]) if "scopes" in example_ctx else frozenset(),
        roles={r["id"]: Role.model_validate(r) for r in example_ctx.get("roles", [])},
        usage=UsageWindow.model_validate(example_ctx["usage"]) if "usage" in example_ctx else None,
        operations=(
            UsageWindow.model_validate(example_ctx["operations"])
            if "operations" in example_ctx
            else None
        ),
    )


def run(
    name: str, params: dict[str, Any], c: Client, ctx: Context | None = None
) -> list[str | None]:
    check = CHECKS[name]
    return [
        p.subject for p in check.run(c, ctx or context({}), check.params.model_validate(params))
    ]


@pytest.mark.parametrize("name", list(CHECKS))
def test_registry_example_passes_and_fails(name: str) -> None:
    check = CHECKS[name]
    ex: Example = check.example
    ctx = context(ex.context)
    assert run(name, ex.params, client(**ex.passing), ctx) == []
    subjects = run(name, ex.params, client(**ex.failing), ctx)
    assert sorted(subjects, key=str) == sorted(ex.subjects, key=str)


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_check_documents_itself(name: str) -> None:
    check = CHECKS[name]
    assert check.doc and check.summary and check.subject


def test_the_registry_has_every_check_type_of_the_spec() -> None:
    assert set(CHECKS) == {
        "forbidden-scope-prefixes",
        "forbidden-scopes",
        "allowed-scopes",
        "orphan-scopes",
        "max-scopes",
        "allowed-grant-types",
        "forbidden-grant-types",
        "max-token-validity",
        "redirect-uris",
        "forbidden-roles",
        "orphan-roles",
        "forbidden-permissions",
        "wildcard-grants",
        "max-days-unused",
        "unused-permissions",
        "unused-roles",
        "unused-scopes",
        "field",
    }


def test_scope_prefixes_are_case_sensitive() -> None:
    assert run(
        "forbidden-scope-prefixes", {"prefixes": ["admin:"]}, client(scopes=["Admin:x", "admin:y"])
    ) == ["admin:y"]


@pytest.mark.parametrize(
    ("uri", "broken"),
    [
        ("https://app.example.com/cb", False),
        ("http://app.example.com/cb", True),
        ("HTTPS://APP.EXAMPLE.COM/cb", False),
        ("https://localhost/cb", True),
        ("https://LOCALHOST:8443/cb", True),
        ("https://dev.localhost/cb", True),
        ("https://127.1.2.3/cb", True),
        ("https://[::1]:8080/cb", True),
        ("https://localhost.example.com/cb", False),
        ("https://app.example.com/*", True),
        ("com.example.app://callback", True),
        ("not a uri", True),
    ],
)
def test_redirect_uri_rules(uri: str, broken: bool) -> None:
    params = {"requireHttps": True, "forbidLocalhost": True, "forbidWildcards": True}
    assert run("redirect-uris", params, client(redirectUris=[uri])) == ([uri] if broken else [])


def test_redirect_options_are_independent() -> None:
    c = client(redirectUris=["http://localhost/cb"])
    assert run("redirect-uris", {"forbidWildcards": True}, c) == []
    assert run("redirect-uris", {"forbidLocalhost": True}, c) == ["http://localhost/cb"]


@pytest.mark.parametrize(
    ("granted", "pattern", "grants"),
    [
        ("oauth:client:edit", "oauth:client:edit", True),
        ("oauth:*:*", "oauth:client:edit", True),
        ("*:*:*", "authorization:role:edit", True),
        ("oauth:client:view", "oauth:client:edit", False),
        ("oauth:client:edit", "oauth:client:*", True),
        ("oauth:client:view", "oauth:client:[ae]*", False),
        ("analytics:*:view", "oauth:client:edit", False),
        ("oauth:client", "oauth:client:edit", False),
    ],
)
def test_permission_grants(granted: str, pattern: str, grants: bool) -> None:
    assert permission_grants(granted, pattern) is grants


def test_forbidden_permissions_one_finding_per_forbidden_permission() -> None:
    """A concrete grant is its own subject; a wildcard grant is reported for each forbidden
    permission it includes, merged with the concrete grant of the same permission."""
    c = client(permissions=["oauth:client:edit", "oauth:*:*", "oauth:client:view"])
    assert run(
        "forbidden-permissions", {"permissions": ["oauth:client:edit", "oauth:client:add"]}, c
    ) == [
        "oauth:client:edit",
        "oauth:client:add",
    ]


def test_forbidden_roles_uses_the_catalog_name_and_reports_each_role_once() -> None:
    ctx = context({"roles": [{"id": "r-1", "name": "Master Admin"}]})
    c = client(
        roles=[
            {"roleId": "r-1", "divisionId": "*"},
            {"roleId": "r-1", "divisionId": "d-2"},
            {"roleId": "gone", "divisionId": "*"},
        ]
    )
    assert run("forbidden-roles", {"names": ["*Admin"]}, c, ctx) == ["Master Admin"]
    assert run("orphan-roles", {}, c, ctx) == ["gone"]


def test_max_days_unused_edges() -> None:
    ctx = context(
        {"today": "2026-11-24", "usage": {"days": 90, "start": "2026-08-27", "end": "2026-11-24"}}
    )
    p = {"days": 30}
    old = "2020-01-01T00:00:00Z"
    assert (
        run("max-days-unused", p, client(lastUsed="2026-10-26", dateCreated=old), ctx) == []
    )  # day 30 counts
    assert run("max-days-unused", p, client(lastUsed="2026-10-25", dateCreated=old), ctx) == [None]
    assert run("max-days-unused", p, client(lastUsed=None, dateCreated=old), ctx) == [None]
    assert (
        run("max-days-unused", p, client(lastUsed=None, dateCreated="2026-11-01T00:00:00Z"), ctx)
        == []
    )  # new
    assert run("max-days-unused", p, client(lastUsed=None), ctx) == [
        None
    ]  # creation unknown: judged


def test_max_days_unused_needs_a_long_enough_window() -> None:
    check = CHECKS["max-days-unused"]
    assert check.precondition is not None
    ctx = context({"usage": {"days": 30, "start": "2026-10-26", "end": "2026-11-24"}})
    reason = check.precondition(check.params.model_validate({"days": 90}), ctx)
    assert reason is not None and "--usage-days 90" in reason


def test_max_token_validity_unknown_is_not_judged() -> None:
    assert run("max-token-validity", {"seconds": 60}, client()) == []
    assert run("max-token-validity", {"seconds": 60}, client(tokenValiditySeconds=61)) == [None]


def test_allowed_grant_types_flags_unknown_grant_types() -> None:
    assert run("allowed-grant-types", {"grantTypes": ["CODE"]}, client(grantType="PKCE-CODE")) == [
        "PKCE-CODE"
    ]


# -- field -------------------------------------------------------------------------------------------


def test_field_paths_cover_nested_models() -> None:
    paths = field_paths()
    for expected in (
        "name",
        "createdBy.id",
        "modifiedBy.name",
        "roles.name",
        "lastUsed",
        "tokenValiditySeconds",
    ):
        assert expected in paths


def test_field_value_walks_models_and_lists() -> None:
    c = client(
        createdBy={"id": "u-1", "name": "Dana"},
        roles=[
            {"roleId": "r1", "divisionId": "*", "name": "A"},
            {"roleId": "r2", "divisionId": "*"},
        ],
    )
    assert field_value(c, "createdBy.id") == "u-1"
    assert field_value(c, "roles.name") == ("A",)
    assert field_value(c, "modifiedBy.id") is None
    assert field_value(c, "nope") is None


@pytest.mark.parametrize(
    ("actual", "op", "value", "holds"),
    [
        ("a", "eq", "a", True),
        ("a", "ne", "a", False),
        ("active", "in", ["active", "disabled"], True),
        ("inactive", "not-in", ["active", "disabled"], True),
        (5, "lt", 6, True),
        (6, "le", 6, True),
        (7, "gt", 6, True),
        (6, "ge", 7, False),
        (None, "lt", 6, False),
        (None, "ge", 6, False),
        (None, "ne", 6, True),
        ("Svc Deployer", "matches", "^Svc ", True),
        ("svc deployer", "matches", "^Svc ", False),
        (None, "matches", ".*", False),
        (("users", "routing"), "contains", "users", True),
        ("an admin tool", "contains", "admin", True),
        ((), "contains", "x", False),
        (None, "exists", None, False),
        ("", "exists", None, True),
        ("", "empty", None, True),
        ((), "empty", None, True),
        (None, "not-empty", None, False),
        (("x",), "not-empty", None, True),
        (date(2026, 1, 2), "lt", "2026-02-01", True),
        (5, "lt", "six", False),
    ],
)
def test_field_operators(actual: Any, op: str, value: Any, holds: bool) -> None:
    assert compare(actual, op, value) is holds


def test_field_compares_datetimes_with_dates_given_as_text() -> None:
    c = client(dateCreated="2024-03-01T10:00:00Z")
    assert run("field", {"path": "dateCreated", "op": "ge", "value": "2024-01-01"}, c) == []
    assert run("field", {"path": "dateCreated", "op": "lt", "value": "2024-01-01"}, c) == [
        "dateCreated"
    ]


def test_field_message_shows_expected_and_actual() -> None:
    check = CHECKS["field"]
    [problem] = check.run(
        client(tokenValiditySeconds=86400),
        context({}),
        check.params.model_validate({"path": "tokenValiditySeconds", "op": "le", "value": 3600}),
    )
    assert problem.message == (
        "access-token lifetime (seconds) is 86400; this rule requires at most 3600"
    )


def test_the_contributing_guides_worked_example_registers_and_runs() -> None:
    """CONTRIBUTING.md's "Adding a check type" example is real code: executed in the namespace
    of checks/grants.py it registers a check type whose own PASS/FAIL example holds."""
    import re
    from pathlib import Path

    from genesys_oauth_audit.checks import grants

    text = (Path(__file__).resolve().parent.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert block is not None
    namespace = dict(vars(grants))
    try:
        exec(compile(block.group(1), "CONTRIBUTING.md", "exec"), namespace)
        assert "max-redirect-uris" in CHECKS
        test_registry_example_passes_and_fails("max-redirect-uris")
    finally:
        CHECKS.pop("max-redirect-uris", None)
