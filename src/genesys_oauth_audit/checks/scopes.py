"""Check types about the OAuth scopes of user-facing clients (code, implicit, SAML2 bearer, password)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from genesys_oauth_audit.checks.params import Glob
from genesys_oauth_audit.checks.registry import (
    NEEDS_SCOPES,
    Context,
    Example,
    NoParams,
    Params,
    Problem,
    any_glob,
    check,
    nonempty_strings,
)
from genesys_oauth_audit.checks.risk import RiskFilter, risk_catalog
from genesys_oauth_audit.evidence import ValueEvidence

if TYPE_CHECKING:
    from genesys_oauth_audit.inventory import Client

SCOPES = frozenset({"scopes"})


class ForbiddenScopePrefixes(Params):
    prefixes: tuple[str, ...] = nonempty_strings(
        "Scope id prefixes no client may hold, e.g. admin:."
    )


@check(
    "forbidden-scope-prefixes",
    reads=SCOPES,
    params=ForbiddenScopePrefixes,
    summary="No assigned scope may start with one of the prefixes.",
    subject="the scope id",
    example=Example(
        params={"prefixes": ["admin:", "impersonation:"]},
        passing={"scopes": ["users:readonly", "analytics"]},
        failing={"scopes": ["users", "admin:organization", "impersonation:users"]},
        subjects=("admin:organization", "impersonation:users"),
    ),
)
def forbidden_scope_prefixes(
    client: Client, ctx: Context, p: ForbiddenScopePrefixes
) -> Iterator[Problem]:
    """A finding for each assigned scope that starts with a forbidden prefix (case-sensitive)."""
    for scope in client.scopes:
        prefix = next((pre for pre in p.prefixes if scope.startswith(pre)), None)
        if prefix is not None:
            yield Problem(
                scope,
                f"holds scope {scope!r}, which starts with the forbidden prefix {prefix!r}",
                ValueEvidence("scopes", scope, "prefixes", prefix),
            )


class ScopeGlobs(Params):
    scopes: tuple[Glob, ...] = nonempty_strings("Globs on scope ids (*, ?, [...]; case-sensitive).")


class ForbiddenScopes(RiskFilter):
    check_name = "forbidden-scopes"
    listed = "scopes"

    scopes: tuple[Glob, ...] = Field(
        default=(), description="Globs on scope ids (*, ?, [...]; case-sensitive)."
    )


@check(
    "forbidden-scopes",
    reads=SCOPES,
    params=ForbiddenScopes,
    summary="No assigned scope may match one of the globs.",
    subject="the scope id",
    example=Example(
        params={"scopes": ["recordings*", "users"]},
        passing={"scopes": ["users:readonly"]},
        failing={"scopes": ["recordings:readonly", "users"]},
        subjects=("recordings:readonly", "users"),
    ),
)
def forbidden_scopes(client: Client, ctx: Context, p: ForbiddenScopes) -> Iterator[Problem]:
    """A finding for each assigned scope that matches a forbidden glob, or that the risk catalog
    rates at ``riskAtLeast`` or above (in ``categories``, when given)."""
    # A scope's verdict depends on the rule alone: judged once per rule and scope (clients share
    # scopes; an org has hundreds of thousands of scope grants), the problem, immutable, shared.
    # The entry holds the parameters, so its key (their identity) cannot be reused by another.
    key = ("forbidden-scopes", id(p))
    memo = ctx.memo.get(key)
    if memo is None or memo[0] is not p:
        memo = ctx.memo[key] = (p, {})
    verdicts: dict[str, Problem | None] = memo[1]
    for scope in client.scopes:
        if scope in verdicts:
            problem = verdicts[scope]
        else:
            problem = verdicts[scope] = _scope_problem(scope, p)
        if problem is not None:
            yield problem


def _scope_problem(scope: str, p: ForbiddenScopes) -> Problem | None:
    """The problem of one assigned scope under a ``forbidden-scopes`` rule, or None."""
    glob = any_glob(scope, p.scopes)
    if glob is not None:
        why = (
            "which this rule forbids" if glob == scope else f"which matches the forbidden {glob!r}"
        )
        return Problem(
            scope,
            f"holds scope {scope!r}, {why}",
            ValueEvidence("scopes", scope, "scopes", glob),
        )
    entry = risk_catalog().scope(scope)
    risky = p.risky((entry,)) if entry is not None else None
    if risky is None:
        return None
    return Problem(
        scope,
        f"holds scope {scope!r}, rated {risky.risk.value} by the risk catalog "
        f"({risky.category}): {risky.reason}",
        ValueEvidence("scopes", scope, "riskAtLeast", p.risk_at_least),
    )


@check(
    "allowed-scopes",
    reads=SCOPES,
    params=ScopeGlobs,
    summary="Every assigned scope must match one of the globs (an allow-list).",
    subject="the scope id",
    example=Example(
        params={"scopes": ["*:readonly", "analytics"]},
        passing={"scopes": ["users:readonly", "analytics"]},
        failing={"scopes": ["users:readonly", "users"]},
        subjects=("users",),
    ),
)
def allowed_scopes(client: Client, ctx: Context, p: ScopeGlobs) -> Iterator[Problem]:
    """A finding for each assigned scope that matches none of the allowed globs."""
    for scope in client.scopes:
        if any_glob(scope, p.scopes) is None:
            allowed = ", ".join(repr(g) for g in p.scopes)
            yield Problem(
                scope,
                f"holds scope {scope!r}, which matches none of the allowed {allowed}",
                ValueEvidence("scopes", scope, "scopes", p.scopes),
            )


@check(
    "orphan-scopes",
    reads=SCOPES,
    params=NoParams,
    needs=frozenset({NEEDS_SCOPES}),
    summary="Every assigned scope must exist in the org's scope catalog.",
    subject="the scope id",
    example=Example(
        params={},
        passing={"scopes": ["users:readonly"]},
        failing={"scopes": ["users:readonly", "admin:oauthclient"]},
        subjects=("admin:oauthclient",),
        context={"scopes": ["users", "users:readonly"]},
    ),
)
def orphan_scopes(client: Client, ctx: Context, p: NoParams) -> Iterator[Problem]:
    """A finding for each assigned scope that is absent from the org's scope catalog."""
    assert ctx.scopes is not None
    for scope in client.scopes:
        if scope not in ctx.scopes:
            yield Problem(
                scope,
                f"holds scope {scope!r}, which the org's scope catalog does not list",
                ValueEvidence("scopes", scope),
            )


class MaxScopes(Params):
    max: int = Field(ge=0, description="The most scopes a client may hold.")


@check(
    "max-scopes",
    reads=SCOPES,
    params=MaxScopes,
    summary="A client may hold at most `max` scopes.",
    subject="none (one finding per client)",
    example=Example(
        params={"max": 2},
        passing={"scopes": ["users:readonly", "analytics"]},
        failing={"scopes": ["users", "analytics", "routing"]},
        subjects=(None,),
    ),
)
def max_scopes(client: Client, ctx: Context, p: MaxScopes) -> Iterator[Problem]:
    """A finding for a client with more than ``max`` scopes."""
    if len(client.scopes) > p.max:
        yield Problem(
            None,
            f"holds {len(client.scopes)} scopes, more than the {p.max} this rule allows",
            ValueEvidence("scopes", client.scopes, "max", p.max),
        )
