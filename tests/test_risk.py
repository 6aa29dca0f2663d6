"""The risk catalog: every entry is real and sourced, and checks and views use it correctly."""

from __future__ import annotations

import json
from datetime import date
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_oauth_audit.checks import CHECKS, Context
from genesys_oauth_audit.checks.risk import (
    CATALOG_PATH,
    CATEGORIES,
    RISK_LEVELS,
    RiskCatalog,
    RiskEntry,
    permission_grants,
    risk_catalog,
)
from genesys_oauth_audit.data import permission_catalog
from genesys_oauth_audit.findings import Severity
from genesys_oauth_audit.inventory import Client
from tests.fake.orgdata import SCOPES

DATA = json.loads(CATALOG_PATH.read_text())


@pytest.mark.parametrize("entry", DATA["permissions"], ids=lambda e: e["pattern"])
def test_every_permission_entry_is_in_the_genesys_catalog_and_sourced(
    entry: dict[str, str],
) -> None:
    parts = entry["pattern"].split(":")
    assert any(
        all(fnmatchcase(c, p) for c, p in zip(perm.split(":"), parts, strict=True))
        for perm in permission_catalog()
    )
    assert entry["risk"] in RISK_LEVELS and entry["category"] in CATEGORIES
    assert entry["reason"].strip() and entry["source"].startswith("shared/genesys/")


@pytest.mark.parametrize("entry", DATA["scopes"], ids=lambda e: e["pattern"])
def test_every_scope_entry_is_a_real_scope(entry: dict[str, str]) -> None:
    assert entry["pattern"] in SCOPES
    assert (
        entry["risk"] in RISK_LEVELS and entry["category"] in CATEGORIES and entry["reason"].strip()
    )


def test_the_escalation_paths_of_the_risk_notes_are_critical() -> None:
    catalog = risk_catalog()
    for perm in (
        "authorization:role:edit",
        "authorization:grant:add",
        "oauth:client:edit",
        "oauth:client:add",
        "sso:provider:add",
        "directory:user:setPassword",
    ):
        entry = catalog.permission(perm)
        assert entry is not None and entry.risk is Severity.CRITICAL, perm
    assert catalog.permission("recording:recording:viewSensitiveData").risk is Severity.HIGH  # type: ignore[union-attr]
    assert catalog.permission("routing:queue:view") is None  # unlisted: not classified


def test_wildcard_grants_take_the_highest_rating_they_could_grant() -> None:
    catalog = risk_catalog()
    assert catalog.permission("*:*:*").risk is Severity.CRITICAL  # type: ignore[union-attr]
    assert catalog.permission("oauth:*:*").pattern in ("oauth:client:add", "oauth:client:edit")  # type: ignore[union-attr]
    assert catalog.permission("recording:*:view").risk is Severity.HIGH  # type: ignore[union-attr]
    top = catalog.highest(("routing:queue:view", "recording:recording:view"), ("users:readonly",))
    assert (
        top is not None
        and top[0].pattern == "recording:recording:view"
        and top[1] == "recording:recording:view"
    )
    scope = catalog.highest(None, ("users:readonly", "oauth"))
    assert scope is not None and scope[0].risk is Severity.CRITICAL and scope[1] == "oauth"
    wildcard = catalog.highest(("oauth:*:*", "analytics:*:view"), ())
    assert (
        wildcard is not None and wildcard[1] == "oauth:*:*"
    )  # the client's own grant, not the pattern


def run(name: str, params: dict[str, object], client: Client) -> list[str | None]:
    check = CHECKS[name]
    return [
        p.subject
        for p in check.run(
            client, Context(today=date(2026, 11, 20)), check.params.model_validate(params)
        )
    ]


def test_forbidden_permissions_by_rating_and_category() -> None:
    c = Client(
        id="c",
        name="c",
        grant_type="CLIENT-CREDENTIALS",
        permissions=(
            "oauth:client:edit",
            "recording:recording:view",
            "routing:queue:view",
            "telephony:plugin:all",
        ),
    )
    assert run("forbidden-permissions", {"riskAtLeast": "critical"}, c) == ["oauth:client:edit"]
    assert run("forbidden-permissions", {"riskAtLeast": "high"}, c) == [
        "oauth:client:edit",
        "recording:recording:view",
        "telephony:plugin:all",
    ]
    assert run(
        "forbidden-permissions", {"riskAtLeast": "high", "categories": ["bulk-data"]}, c
    ) == ["recording:recording:view"]
    # an explicit list and a rating together: one finding per permission, whichever matched
    both = run(
        "forbidden-permissions", {"permissions": ["telephony:*:*"], "riskAtLeast": "critical"}, c
    )
    assert both == ["oauth:client:edit", "telephony:plugin:all"]


def test_forbidden_permission_message_names_the_rating_and_the_entry() -> None:
    check = CHECKS["forbidden-permissions"]
    c = Client(
        id="c", name="c", grant_type="CLIENT-CREDENTIALS", permissions=("authorization:*:*",)
    )
    [problem] = check.run(
        c,
        Context(today=date(2026, 11, 20)),
        check.params.model_validate({"riskAtLeast": "critical"}),
    )
    # No role resolves (the context has none): the client itself is said to hold the grant.
    assert problem.message.startswith(
        "the client holds authorization:*:*, which includes authorization:"
    )
    assert "rated critical by the risk catalog (privilege-escalation)" in problem.message
    assert "more rated critical or above" in problem.message
    assert problem.subject == "authorization:*:*"


def test_forbidden_scopes_by_rating() -> None:
    c = Client(
        id="c",
        name="c",
        grant_type="CODE",
        scopes=("oauth", "recordings:readonly", "users:readonly"),
    )
    assert run("forbidden-scopes", {"riskAtLeast": "critical"}, c) == ["oauth"]
    assert run("forbidden-scopes", {"riskAtLeast": "high", "categories": ["bulk-data"]}, c) == [
        "recordings:readonly"
    ]
    assert run("forbidden-scopes", {"scopes": ["users*"], "riskAtLeast": "critical"}, c) == [
        "oauth",
        "users:readonly",
    ]


def test_forbidden_scopes_judged_once_per_rule_answer_as_judged_afresh() -> None:
    """The verdicts one evaluation keeps per rule and scope are what a fresh context finds for
    every client, and a rule with other parameters gets its own (never another rule's)."""
    check = CHECKS["forbidden-scopes"]
    clients = [
        Client(id=f"c{i}", name=f"c{i}", grant_type="CODE", scopes=scopes)
        for i, scopes in enumerate(
            [
                ("oauth", "users:readonly"),
                ("users:readonly", "recordings:readonly"),
                ("oauth", "recordings:readonly", "analytics"),
                (),
            ]
        )
    ]
    shared = Context(today=date(2026, 11, 20))
    for params in (
        {"riskAtLeast": "critical"},
        {"scopes": ["users*"], "riskAtLeast": "high", "categories": ["bulk-data"]},
        {"scopes": ["analytics", "oauth"]},
    ):
        p = check.params.model_validate(params)
        for c in clients:
            kept = list(check.run(c, shared, p))
            afresh = list(check.run(c, Context(today=date(2026, 11, 20)), p))
            assert kept == afresh, (params, c.scopes)
    assert len([k for k in shared.memo if k[0] == "forbidden-scopes"]) == 3


_PARTS = st.sampled_from(
    ["*", "oauth", "client", "edit", "add", "authorization", "role", "recording", "view", "o*", "?"]
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    granted=st.one_of(
        st.lists(_PARTS, min_size=1, max_size=4).map(":".join),
        st.sampled_from([e["pattern"] for e in DATA["permissions"]]),
        st.text(max_size=12),
    )
)
def test_permission_entries_by_name_are_the_glob_matches(granted: str) -> None:
    """The catalog finds a grant's entries by name when no part of it is ``*``, and among its
    domain's when only its entity or action is; the answer is the one matching the grant against
    every entry gives, wildcard grants and odd shapes included."""
    fresh = RiskCatalog(risk_catalog().permissions, ())
    assert fresh.permission_entries(granted) == tuple(
        e for e in fresh.permissions if permission_grants(granted, e.pattern)
    )


def test_a_catalog_with_a_glob_entry_matches_every_grant_against_it() -> None:
    """A glob entry (a catalog edited to rate ``oauth:client:*``) turns the lookups by name and by
    domain off."""
    entry = RiskEntry("oauth:client:*", Severity.CRITICAL, "integrity", "why", "shared/genesys/x")
    catalog = RiskCatalog((entry,), ())
    assert catalog.permission_entries("oauth:client:edit") == (entry,)
    assert catalog.permission_entries("oauth:*:add") == (entry,)
    assert catalog.permission_entries("oauth:role:edit") == ()
