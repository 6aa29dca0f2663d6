"""Check types about the roles of client-credentials clients and the permissions they grant."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from pydantic import Field

from genesys_oauth_audit.checks.params import Glob, PermissionPattern
from genesys_oauth_audit.checks.registry import (
    NEEDS_ROLES,
    Context,
    Example,
    NoParams,
    Params,
    Problem,
    any_glob,
    check,
    nonempty_strings,
)
from genesys_oauth_audit.checks.risk import RiskFilter, permission_grants, risk_catalog, risky
from genesys_oauth_audit.inventory import Client


class RoleNames(Params):
    names: tuple[Glob, ...] = nonempty_strings("Globs on role names (case-sensitive).")


@check(
    "forbidden-roles",
    reads=frozenset({"roles"}),
    params=RoleNames,
    needs=frozenset({NEEDS_ROLES}),
    summary="No assigned role's name may match one of the globs.",
    subject="the role name",
    example=Example(
        params={"names": ["Master Admin", "*Admin*"]},
        passing={"roles": [{"roleId": "r-2", "divisionId": "*", "name": "Reporting Reader"}]},
        failing={
            "roles": [
                {"roleId": "r-1", "divisionId": "*", "name": "Master Admin"},
                {"roleId": "r-2", "divisionId": "*", "name": "Reporting Reader"},
            ]
        },
        subjects=("Master Admin",),
        context={
            "roles": [
                {"id": "r-1", "name": "Master Admin"},
                {"id": "r-2", "name": "Reporting Reader"},
            ]
        },
    ),
)
def forbidden_roles(client: Client, ctx: Context, p: RoleNames) -> Iterator[Problem]:
    """A finding for each assigned role whose name matches a glob (roles that do not resolve
    are the business of ``orphan-roles``)."""
    assert ctx.roles is not None
    seen: set[str] = set()
    for grant in client.roles:
        role = ctx.roles.get(grant.role_id)
        name = role.name if role is not None else grant.name
        if name is None or name in seen:
            continue
        glob = any_glob(name, p.names)
        if glob is not None:
            seen.add(name)
            divisions = sorted(
                {
                    g.division_id or "(no division)"
                    for g in client.roles
                    if g.role_id == grant.role_id
                }
            )
            yield Problem(
                name,
                f"role {name!r} is forbidden (matches {glob!r}); granted in division(s) {', '.join(divisions)}",
            )


@check(
    "orphan-roles",
    reads=frozenset({"roles"}),
    params=NoParams,
    needs=frozenset({NEEDS_ROLES}),
    summary="Every assigned role id must resolve to a role of the org.",
    subject="the role id",
    example=Example(
        params={},
        passing={"roles": [{"roleId": "r-1", "divisionId": "*"}]},
        failing={
            "roles": [
                {"roleId": "r-1", "divisionId": "*"},
                {"roleId": "r-gone", "divisionId": "d-1"},
            ]
        },
        subjects=("r-gone",),
        context={"roles": [{"id": "r-1", "name": "Reporting Reader"}]},
    ),
)
def orphan_roles(client: Client, ctx: Context, p: NoParams) -> Iterator[Problem]:
    """A finding for each assigned role id that does not resolve to a role."""
    assert ctx.roles is not None
    for role_id in sorted({g.role_id for g in client.roles}):
        if role_id not in ctx.roles:
            yield Problem(role_id, f"role id {role_id} does not resolve to a role of the org")


class Permissions(RiskFilter):
    check_name = "forbidden-permissions"
    listed = "permissions"

    permissions: tuple[PermissionPattern, ...] = Field(
        default=(),
        description="Permission patterns domain:entity:action; each part may be a glob.",
    )


@lru_cache(maxsize=65536)
def _first_granted(patterns: tuple[str, ...], granted: str) -> str | None:
    """The first forbidden pattern a grant could grant. Cached: clients share roles, so the same
    grants come back thousands of times in a large org."""
    return next((q for q in patterns if permission_grants(granted, q)), None)


@check(
    "forbidden-permissions",
    reads=frozenset({"permissions"}),
    params=Permissions,
    needs=frozenset({NEEDS_ROLES}),
    summary="No effective permission may grant one of the forbidden permissions.",
    subject="the permission as granted",
    example=Example(
        params={"permissions": ["oauth:client:edit", "authorization:role:*"]},
        passing={"permissions": ["oauth:client:view", "analytics:conversationDetail:view"]},
        failing={"permissions": ["oauth:*:*", "authorization:role:edit", "analytics:*:view"]},
        subjects=("authorization:role:edit", "oauth:*:*"),
    ),
)
def forbidden_permissions(client: Client, ctx: Context, p: Permissions) -> Iterator[Problem]:
    """A finding for each effective permission that could grant a forbidden one, or that the risk
    catalog rates at ``riskAtLeast`` or above (in ``categories``, when given)."""
    for granted in client.permissions or ():
        message = _permission_verdict(p.permissions, p.risk_at_least, p.categories, granted)
        if message is not None:
            yield Problem(granted, message)


@lru_cache(maxsize=131072)
def _permission_verdict(
    patterns: tuple[str, ...],
    risk_at_least: str | None,
    categories: tuple[str, ...] | None,
    granted: str,
) -> str | None:
    """Why a granted permission is forbidden, or None. One cached call per (rule, grant): the same
    grants come back for thousands of clients that share roles."""
    pattern = _first_granted(patterns, granted)
    if pattern is not None:
        return f"permission {granted} grants forbidden {pattern}"
    if risk_at_least is None:
        return None
    entry = risky(risk_at_least, categories, risk_catalog().permission_entries(granted))
    if entry is None:
        return None
    via = f" (through {entry.pattern})" if entry.pattern != granted else ""
    return (
        f"permission {granted}{via} is rated {entry.risk.value} ({entry.category}): {entry.reason}"
    )
