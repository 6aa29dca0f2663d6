"""Least privilege from observed use: granted versus exercised permissions and scopes, against the
real operations catalog (real operation keys and permission ids)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_oauth_audit.data.operations import CalledOperation, operations_catalog
from genesys_oauth_audit.inventory import Client, Role, RoleGrant, UsageWindow
from genesys_oauth_audit.leastpriv.analysis import (
    LeastPrivilege,
    OperationEvidence,
    PermissionAnalysis,
    ScopeAnalysis,
    scope_power,
)
from genesys_oauth_audit.leastpriv.recommend import recommend_role

WINDOW = UsageWindow(days=90, start=date(2026, 8, 23), end=date(2026, 11, 20))

QUEUES = "GET /api/v2/routing/queues"  # ANY routing:queue:view
QUEUE = "GET /api/v2/routing/queues/{queueId}"  # ALL routing:queue:view
WRAPUPCODES = "GET /api/v2/routing/wrapupcodes"  # ALL routing:wrapupCode:view
MEMBERS = "GET /api/v2/routing/queues/{queueId}/members"  # ANY of 4 routing permissions
DETAILS = "POST /api/v2/analytics/conversations/details/query"  # ANY of 2 analytics permissions
AGGREGATES = "POST /api/v2/analytics/conversations/aggregates/query"  # ANY of 1
DIVISIONS = "POST /api/v2/authorization/divisions"  # ALL of division:add, grant:add
USER = "GET /api/v2/users/{userId}"  # no permission required
ROLLBACK = "POST /api/v2/businessrules/decisiontables/{tableId}/versions/{tableVersion}/rollback"
DOCUMENT = "DELETE /api/v2/contentmanagement/documents/{documentId}"  # content_management_user
BILLING = "GET /api/v2/billing/trusteebillingoverview/{trustorOrgId}"


def call(key: str, ok: int = 1, **counts: int) -> CalledOperation:
    """A usage record as the rows spell it: template without the leading slash."""
    method, path = key.split(" ", 1)
    total = ok + sum(v for k, v in counts.items() if k != "status429")
    return CalledOperation(
        method=method, path=path.lstrip("/"), requests=total, status2xx=ok, **counts
    )


def role(name: str, *permissions: str) -> Role:
    return Role(id=f"role-{name}", name=name, permissions=permissions)


def analyse(
    roles: list[Role],
    calls: list[CalledOperation],
    divisions: dict[str, list[str | None]] | None = None,
) -> PermissionAnalysis:
    grants = [
        RoleGrant(role_id=r.id, division_id=d, name=r.name)
        for r in roles
        for d in (divisions or {}).get(r.name, ["*"])
    ]
    return LeastPrivilege(roles).permissions(
        client_id="c1", client_name="Client", grants=grants, calls=calls, window=WINDOW
    )


def evidence(a: PermissionAnalysis, key: str) -> OperationEvidence:
    return next(e for e in a.operations if e.key == key)


# --- ALL, ANY, ambiguous -------------------------------------------------------------------------


def test_all_needs_every_listed_permission() -> None:
    a = analyse(
        [role("Div", "authorization:division:add", "authorization:grant:add")], [call(DIVISIONS)]
    )
    [e] = a.operations
    assert e.status == "proven"
    assert e.exercised == ("authorization:division:add", "authorization:grant:add")
    assert a.exercised == ("authorization:division:add", "authorization:grant:add")
    assert a.counts.exercised == 2 and a.counts.unused == 0


def test_all_with_a_permission_not_held_is_reported_and_never_counted_exercised() -> None:
    a = analyse([role("Div", "authorization:division:add")], [call(DIVISIONS)])
    [e] = a.operations
    assert e.status == "not-held"
    assert e.exercised == ("authorization:division:add",)
    assert e.not_held == ("authorization:grant:add",)
    assert a.exercised == ("authorization:division:add",)
    assert a.not_held == ("authorization:grant:add",)
    assert a.counts.not_held == 1
    assert recommend_role(a).permissions == ("authorization:division:add",)


def test_any_with_one_held_candidate_is_proven() -> None:
    a = analyse([role("R", "analytics:conversationDetail:view")], [call(DETAILS)])
    [e] = a.operations
    assert e.status == "proven"
    assert e.exercised == ("analytics:conversationDetail:view",)
    assert e.candidates == ()


def test_any_with_several_held_candidates_is_ambiguous_and_guesses_nothing() -> None:
    a = analyse([role("Analytics", "analytics:*:*")], [call(DETAILS)])
    [e] = a.operations
    assert e.status == "ambiguous"
    # All candidates, in the catalog's order; none is exercised, none is unused.
    assert e.candidates == (
        "analytics:conversationDetail:view",
        "analytics:agentConversationDetail:view",
    )
    assert a.exercised == ()
    assert a.possibly == (
        "analytics:agentConversationDetail:view",
        "analytics:conversationDetail:view",
    )
    assert a.counts.ambiguous == 2
    [grant] = a.granted
    assert grant.state == "possibly-used"
    assert a.counts.unused == a.counts.granted - 2
    [choice] = recommend_role(a).confidence.ambiguous
    assert choice.operation == DETAILS and choice.candidates == e.candidates


def test_an_ambiguous_call_that_a_proven_permission_allows_needs_nothing_more() -> None:
    a = analyse([role("Routing", "routing:*:*")], [call(QUEUES), call(MEMBERS)])
    members = evidence(a, MEMBERS)
    assert members.status == "ambiguous"
    assert set(members.candidates) == {
        "routing:queue:view",
        "routing:queue:edit",
        "routing:queue:readonly",
        "routing:queueMember:manage",
    }
    assert members.satisfied_by == ("routing:queue:view",)
    # The other candidates are unused: dropping them breaks no call that was seen.
    assert a.possibly == ()
    assert a.exercised == ("routing:queue:view",)
    assert recommend_role(a).confidence.ambiguous == ()


def test_any_with_no_candidate_held_is_not_held() -> None:
    a = analyse([role("Routing", "routing:skill:view")], [call(DETAILS)])
    [e] = a.operations
    assert e.status == "not-held"
    assert e.not_held == (
        "analytics:conversationDetail:view",
        "analytics:agentConversationDetail:view",
    )
    assert a.exercised == ()


# --- wildcards -----------------------------------------------------------------------------------


def test_wildcard_grants_are_partly_used_fully_unused_or_unobservable() -> None:
    wide = role(
        "Wide",
        "routing:*:*",
        "routing:queue:*",
        "routing:wrapupCode:view",
        "directory:user:view",
        "affiliateOrganization:*:*",
        "ui:homeScreen:view",  # no API operation requires it
    )
    a = analyse([wide], [call(QUEUE), call(WRAPUPCODES), call(BILLING)])
    by = {g.permission: g for g in a.granted}
    assert by["routing:*:*"].state == "partly-used"
    assert by["routing:*:*"].exercised == ("routing:queue:view", "routing:wrapupCode:view")
    assert by["routing:queue:*"].state == "partly-used"
    assert by["routing:queue:*"].exercised == ("routing:queue:view",)
    assert by["routing:wrapupCode:view"].state == "used"
    assert by["directory:user:view"].state == "unused"
    # A wildcard that covers exactly what was exercised is used, not partly used.
    assert by["affiliateOrganization:*:*"].covers == 1
    assert by["affiliateOrganization:*:*"].state == "used"
    assert by["ui:homeScreen:view"].state == "unobservable"
    assert [g.permission for g in a.unused] == ["directory:user:view"]
    assert {g.permission for g in a.partly_used} == {"routing:*:*", "routing:queue:*"}
    routing_ids = {p for p in operations_catalog().permission_ids if p.startswith("routing:")}
    assert by["routing:*:*"].covers == len(routing_ids)
    c = a.counts
    assert c.exercised == 3
    assert c.unobservable == 1
    assert c.granted == len(routing_ids) + 1 + 1 + 1  # + directory, affiliate, ui
    assert c.unused == c.granted - c.exercised - c.ambiguous - c.unobservable
    assert c.unused_share == pytest.approx(c.unused / (c.granted - c.unobservable))


def test_a_master_admin_wildcard_covers_the_whole_catalog() -> None:
    a = analyse([role("Master Admin", "*:*:*")], [call(QUEUES)])
    assert a.counts.granted == len(operations_catalog().permission_ids)
    [g] = a.granted
    assert g.state == "partly-used" and g.exercised == ("routing:queue:view",)


# --- per role and division -----------------------------------------------------------------------


def test_use_is_reported_per_role_and_division() -> None:
    reporting = role("Reporting Admin", "analytics:*:*", "routing:queue:view")
    queues = role("Queue Reader", "routing:queue:view")
    a = analyse(
        [reporting, queues],
        [call(AGGREGATES), call(QUEUES)],
        divisions={"Reporting Admin": ["div-a", "div-b"], "Queue Reader": [None]},
    )
    uses = {(r.source.role_name, r.source.division_id): r for r in a.roles}
    assert set(uses) == {
        ("Reporting Admin", "div-a"),
        ("Reporting Admin", "div-b"),
        ("Queue Reader", None),
    }
    ra = uses[("Reporting Admin", "div-a")]
    analytics_ids = {p for p in operations_catalog().permission_ids if p.startswith("analytics:")}
    assert ra.permissions == len(analytics_ids) + 1
    assert ra.exercised == ("analytics:conversationAggregate:view", "routing:queue:view")
    assert ra.unused == ra.permissions - 2
    assert not ra.wholly_unused
    assert uses[("Queue Reader", None)].exercised == ("routing:queue:view",)
    # The same grant through two roles lists both sources.
    [queue_view] = [g for g in a.granted if g.permission == "routing:queue:view"]
    assert {(s.role_name, s.division_id) for s in queue_view.sources} == {
        ("Reporting Admin", "div-a"),
        ("Reporting Admin", "div-b"),
        ("Queue Reader", None),
    }


def test_a_role_none_of_whose_permissions_was_exercised_is_wholly_unused() -> None:
    a = analyse([role("Used", "routing:queue:view"), role("Idle", "oauth:*:*")], [call(QUEUES)])
    assert [r.source.role_name for r in a.roles if r.wholly_unused] == ["Idle"]


def test_a_role_that_does_not_resolve_grants_nothing() -> None:
    grants = [RoleGrant(role_id="gone", division_id="*")]
    a = LeastPrivilege([]).permissions(
        client_id="c", client_name="C", grants=grants, calls=[call(QUEUES)], window=WINDOW
    )
    [r] = a.roles
    assert not r.resolved and not r.wholly_unused and r.grants == ()
    assert a.counts.granted == 0
    assert evidence(a, QUEUES).status == "not-held"


# --- what proves nothing -------------------------------------------------------------------------


def test_only_2xx_proves_a_need() -> None:
    r = role("Routing", "routing:*:*")
    a = analyse(
        [r],
        [
            call(QUEUES, ok=0, status4xx=3),  # attempted, denied
            call(QUEUE, ok=0, status4xx=2, status429=2),  # throttled only
            call(WRAPUPCODES, ok=0, status5xx=1),
            call(MEMBERS, ok=0, status3xx=1),
        ],
    )
    statuses = {e.key: e.status for e in a.operations}
    assert statuses == {
        QUEUES: "denied",
        QUEUE: "unproven",
        WRAPUPCODES: "unproven",
        MEMBERS: "unproven",
    }
    assert a.exercised == () and a.possibly == ()
    assert [e.key for e in a.denied] == [QUEUES]
    assert a.counts.unused == a.counts.granted
    assert recommend_role(a).confidence.denied_operations == (QUEUES,)


def test_operations_without_permission_data_and_unknown_templates_are_listed() -> None:
    calls = [
        call(USER),
        call(ROLLBACK),
        call(DOCUMENT),
        CalledOperation(method="GET", path="api/v2/made/up/{thing}", requests=4, status2xx=4),
    ]
    a = analyse([role("R", "routing:queue:view")], calls)
    statuses = {e.key: e.status for e in a.operations}
    assert statuses == {
        USER: "no-permission-required",
        ROLLBACK: "no-permission-data",
        DOCUMENT: "no-permission-data",
        "GET /api/v2/made/up/{thing}": "unknown-operation",
    }
    assert a.limits.no_data_operations == (ROLLBACK, DOCUMENT)
    assert a.limits.unknown_operations == ("GET /api/v2/made/up/{thing}",)
    assert [e.key for e in a.unknown_operations] == ["GET /api/v2/made/up/{thing}"]
    assert [e.key for e in a.no_permission_data] == [ROLLBACK, DOCUMENT]
    assert a.limits.requests == 7
    assert a.limits.window == WINDOW
    assert any("WebSocket" in n for n in a.limits.notes)
    assert any("lags up to a day" in n for n in a.limits.notes)


def test_two_spellings_of_one_operation_are_one() -> None:
    calls = [
        CalledOperation(
            method="GET", path="api/v2/routing/queues/{queueId}", requests=2, status2xx=2
        ),
        CalledOperation(method="get", path="/api/v2/routing/queues/{id}", requests=3, status4xx=3),
    ]
    a = analyse([role("R", "routing:queue:view")], calls)
    [e] = a.operations
    assert e.key == QUEUE and e.match == "exact"
    assert (e.call.requests, e.call.status2xx, e.call.status4xx) == (5, 2, 3)
    assert e.status == "proven"


def test_deprecated_operations_are_flagged() -> None:
    key = "GET /api/v2/analytics/botflows/{botFlowId}/reportingturns"
    a = analyse([role("R", "analytics:botFlowReportingTurn:view")], [call(key)])
    assert evidence(a, key).deprecated


# --- user-facing clients: scopes -----------------------------------------------------------------


def scopes(assigned: list[str], calls: list[CalledOperation]) -> ScopeAnalysis:
    return LeastPrivilege().scopes(
        client_id="u1",
        client_name="Web app",
        grant_type="CODE",
        assigned=assigned,
        calls=calls,
        window=WINDOW,
    )


def test_the_least_powerful_held_scope_is_needed() -> None:
    s = scopes(["routing", "routing:readonly", "users"], [call(QUEUES)])
    [e] = s.operations
    assert e.accepted == ("routing", "routing:readonly")
    assert e.needed == ("routing:readonly",)
    assert s.needed == ("routing:readonly",)
    states = {u.scope: u.state for u in s.scopes}
    assert states == {"routing": "unused", "routing:readonly": "used", "users": "unused"}
    assert s.unused == ("routing", "users")
    assert s.counts.used == 1 and s.counts.unused == 2


def test_a_full_scope_used_only_for_reading_is_narrowable() -> None:
    s = scopes(["routing", "analytics"], [call(QUEUES), call(AGGREGATES, ok=0, status4xx=1)])
    assert s.needed == ("routing:readonly",)
    states = {u.scope: (u.state, u.operations) for u in s.scopes}
    assert states["routing"] == ("narrowable", (QUEUES,))
    assert states["analytics"] == ("unused", ())
    assert [e.key for e in s.denied] == [AGGREGATES]


def test_a_write_needs_the_full_scope() -> None:
    s = scopes(["routing"], [call("POST /api/v2/routing/queues"), call(QUEUES)])
    assert s.needed == ("routing", "routing:readonly")
    assert {u.scope: u.state for u in s.scopes} == {"routing": "used"}


def test_equally_weak_scopes_are_ambiguous() -> None:
    key = "GET /api/v2/locations/search"  # locations, locations:readonly, search:readonly
    s = scopes(["locations:readonly", "search:readonly"], [call(key)])
    [e] = s.operations
    assert e.status == "ambiguous"
    assert e.needed == ("locations:readonly", "search:readonly")
    assert s.needed == ()
    assert {u.state for u in s.scopes} == {"possibly-used"}
    # Satisfied once another call needs one of them anyway.
    s2 = scopes(
        ["locations:readonly", "search:readonly"],
        [call(key), call("GET /api/v2/locations")],
    )
    assert next(e for e in s2.operations if e.key == key).satisfied_by == ("locations:readonly",)
    assert {u.scope: u.state for u in s2.scopes} == {
        "locations:readonly": "used",
        "search:readonly": "unused",
    }


def test_scope_statuses_without_evidence() -> None:
    s = scopes(
        ["users"],
        [
            call(QUEUES),  # routing scopes only: not held
            call("GET /api/v2/date"),  # no OAuth scope
            call("GET /api/v2/agentic/virtualagents"),  # scopes unknown
            CalledOperation(method="GET", path="api/v2/nope", requests=1, status2xx=1),
        ],
    )
    statuses = {e.key: e.status for e in s.operations}
    assert statuses == {
        QUEUES: "not-held",
        "GET /api/v2/date": "no-scope-required",
        "GET /api/v2/agentic/virtualagents": "no-scope-data",
        "GET /api/v2/nope": "unknown-operation",
    }
    assert s.limits.no_data_operations == ("GET /api/v2/agentic/virtualagents",)
    assert s.limits.unknown_operations == ("GET /api/v2/nope",)
    assert any("enforces OAuth scopes" in n for n in s.limits.notes)


def test_scope_power_prefers_readonly() -> None:
    assert scope_power("users:readonly") < scope_power("users")


# --- dispatch by grant type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grant_type", "kind"),
    [
        ("CLIENT-CREDENTIALS", PermissionAnalysis),
        ("CODE", ScopeAnalysis),
        ("TOKEN", ScopeAnalysis),
        ("SAML2-BEARER", ScopeAnalysis),
        ("PASSWORD", ScopeAnalysis),
        ("SOMETHING-NEW", type(None)),
    ],
)
def test_the_analysis_fits_the_grant_type(grant_type: str, kind: type) -> None:
    r = role("R", "routing:queue:view")
    client = Client(
        id="c",
        name="C",
        grant_type=grant_type,
        scopes=("routing:readonly",),
        roles=(RoleGrant(role_id=r.id, division_id="*", name=r.name),),
    )
    result = LeastPrivilege([r]).client(client, [call(QUEUES)], WINDOW)
    assert isinstance(result, kind)
    if isinstance(result, PermissionAnalysis):
        assert result.exercised == ("routing:queue:view",)
    if isinstance(result, ScopeAnalysis):
        assert result.needed == ("routing:readonly",) and result.grant_type == grant_type


# --- invariants over random roles and calls ------------------------------------------------------

_CATALOG_IDS = sorted(operations_catalog().permission_ids)
_KEYS = [op.key for op in operations_catalog() if op.permissions.usable][:400]


def _grant_strategy() -> st.SearchStrategy[str]:
    def widen(pid: str, mask: int) -> str:
        parts = pid.split(":")
        return ":".join("*" if mask & (1 << i) else p for i, p in enumerate(parts))

    return st.builds(widen, st.sampled_from(_CATALOG_IDS), st.sampled_from([0, 0, 0, 4, 6, 2]))


@settings(max_examples=60, deadline=None)
@given(
    roles=st.lists(st.lists(_grant_strategy(), min_size=1, max_size=12), min_size=1, max_size=3),
    divisions=st.lists(st.sampled_from(["*", "d1", "d2", None]), min_size=1, max_size=3),
    called=st.lists(
        st.tuples(st.sampled_from(_KEYS), st.integers(0, 3), st.integers(0, 3)), max_size=12
    ),
)
def test_invariants(
    roles: list[list[str]],
    divisions: list[str | None],
    called: list[tuple[str, int, int]],
) -> None:
    org = [Role(id=f"r{i}", name=f"R{i}", permissions=tuple(p)) for i, p in enumerate(roles)]
    grants = [
        RoleGrant(role_id=r.id, division_id=d, name=r.name)
        for r, d in zip(org, divisions * 3, strict=False)
    ]
    calls = [call(k, ok=ok, status4xx=bad) for k, ok, bad in called if ok or bad]
    lp = LeastPrivilege(org)
    a = lp.permissions(client_id="c", client_name="C", grants=grants, calls=calls, window=WINDOW)
    covered = set().union(
        *(
            lp.expand(g)
            for r in org
            if any(x.role_id == r.id for x in grants)
            for g in r.permissions
        )
    )
    c = a.counts
    assert c.granted == c.exercised + c.ambiguous + c.unused + c.unobservable
    assert set(a.exercised) <= covered and set(a.possibly) <= covered
    assert not set(a.exercised) & set(a.possibly)
    # Only calls with a 2xx prove anything.
    proving = {e.key for e in a.operations if e.exercised or e.candidates}
    assert proving <= {x.key for x in calls if x.status2xx}
    # The recommendation grants only exercised permissions, each in divisions where it is granted.
    rec = recommend_role(a)
    assert set(rec.permissions) == set(a.exercised)
    for proposed in rec.roles:
        for pid in proposed.permissions:
            where = {
                g.division_id
                for g in grants
                for r in org
                if r.id == g.role_id and pid in set().union(*(lp.expand(p) for p in r.permissions))
            }
            assert set(proposed.divisions) <= where


# --- scale: work per org, not per client ---------------------------------------------------------


def test_the_benchmark_runs_and_shares_work_across_clients() -> None:
    from benchmarks.bench_leastpriv import run

    result = run(clients=150, operations=12, roles=40, repeat=1)
    assert result["analysed"] == result["recommendations"] == 150
    assert result["operationsAnalysed"] == 150 * 12
    # Each role is indexed once and each distinct grant expanded once, whatever the client count.
    assert result["roleIndexes"] <= 40
    assert result["grantExpansions"] <= result["distinctGrants"]
    assert result["exercisedTotal"] > 0


def test_scopes_no_call_proves_are_all_unused_as_the_full_judgement_says() -> None:
    """With no call that needs a scope (none at all, only failures, only calls needing none)
    every assigned scope is unused with no operations, and the counts say so: what judging
    each scope against the needs finds (the analysis skips that when nothing was needed)."""
    for calls in (
        [],
        [call(QUEUES, ok=0, status4xx=2)],
        [call("GET /api/v2/date"), call(QUEUES, ok=0, status5xx=1)],
    ):
        s = scopes(["users", "routing", "routing:readonly"], calls)
        assert [(u.scope, u.state, u.operations) for u in s.scopes] == [
            ("routing", "unused", ()),
            ("routing:readonly", "unused", ()),
            ("users", "unused", ()),
        ]
        assert s.assigned == ("routing", "routing:readonly", "users")
        assert s.counts == (3, 0, 0, 0, 3)
    # One proving call and the same scopes are judged one by one: used, and unused.
    s = scopes(["users", "routing", "routing:readonly"], [call(QUEUES)])
    assert [u.state for u in s.scopes] == ["unused", "used", "unused"]
    assert s.counts == (3, 1, 0, 0, 2)
