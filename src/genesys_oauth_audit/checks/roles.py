"""Check types about the roles of client-credentials clients and the permissions they grant."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

from pydantic import Field

from genesys_oauth_audit.checks.granting import client_divisions, granted_by, who_grants
from genesys_oauth_audit.checks.params import Glob, PermissionPattern
from genesys_oauth_audit.checks.registry import (
    NEEDS_ROLES,
    Context,
    Example,
    NoParams,
    ParamProblem,
    Params,
    Problem,
    any_glob,
    check,
    nonempty_strings,
)
from genesys_oauth_audit.checks.risk import (
    RiskEntry,
    RiskFilter,
    permission_grants,
    risk_catalog,
    risky,
)
from genesys_oauth_audit.evidence import PermissionEvidence, RoleEvidence, Via, divisions_text
from genesys_oauth_audit.severity import Severity

if TYPE_CHECKING:
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
    for grant in client.roles:  # most clients pass: look at names first, divisions only on a match
        if grant.role_id in seen:
            continue
        seen.add(grant.role_id)
        role = ctx.roles.get(grant.role_id)
        name = role.name if role is not None else grant.name
        if name is None:
            continue
        glob = any_glob(name, p.names)
        if glob is not None:
            divisions = client_divisions(client, ctx)[grant.role_id]
            why = (
                "which this rule forbids"
                if glob == name
                else f"which matches the forbidden {glob!r}"
            )
            yield Problem(
                name,
                f"holds role {name!r} ({divisions_text(divisions)}), {why}",
                RoleEvidence(grant.role_id, name, divisions, glob),
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
    if all(g.role_id in ctx.roles for g in client.roles):
        return
    for role_id, divisions in sorted(client_divisions(client, ctx).items()):
        if role_id not in ctx.roles:
            yield Problem(
                role_id,
                f"holds role id {role_id} ({divisions_text(divisions)}), which does not resolve "
                "to a role of the org",
                RoleEvidence(role_id, None, divisions, None),
            )


class Permissions(RiskFilter):
    check_name = "forbidden-permissions"
    listed = "permissions"

    permissions: tuple[PermissionPattern, ...] = Field(
        default=(),
        description="Permission patterns domain:entity:action; each part may be a glob.",
    )


@lru_cache(maxsize=65536)
def _first_granted(patterns: tuple[str, ...], granted: str) -> str | None:
    """The first forbidden pattern that matches a granted permission (no part of it ``*``).
    Cached: clients share roles, so the same grants come back thousands of times."""
    return next((q for q in patterns if permission_grants(granted, q)), None)


def is_wildcard_grant(granted: str) -> bool:
    """Whether a granted permission has ``*`` as its domain, entity or action: it then grants every
    permission that matches it, not one permission named ``*``."""
    return "*" in granted.split(":")


def meet(granted: str, pattern: str) -> str:
    """What a wildcard grant and a pattern have in common, as one pattern: per part, the grant's
    own value, or the pattern's where the grant says ``*`` (``*:*:*`` and ``oauth:client:add``
    meet in ``oauth:client:add``)."""
    return ":".join(
        q if g == "*" else g for g, q in zip(granted.split(":"), pattern.split(":"), strict=True)
    )


class Verdict(NamedTuple):
    """One way a granted permission breaks the rule: the finding's subject, what of the rule it
    broke (a pattern or a risk catalog entry), and the end of the sentence saying so."""

    subject: str
    matched: str
    why: str


@check(
    "forbidden-permissions",
    reads=frozenset({"permissions"}),
    params=Permissions,
    needs=frozenset({NEEDS_ROLES}),
    summary="No effective permission may match a forbidden pattern; a wildcard grant "
    "(`oauth:*:*`, `*:*:*`) is reported for each forbidden permission it includes.",
    subject="the permission as granted; for a wildcard grant, the forbidden permission it includes",
    example=Example(
        params={"permissions": ["oauth:client:edit", "authorization:role:*"]},
        passing={"permissions": ["oauth:client:view", "analytics:conversationDetail:view"]},
        failing={"permissions": ["oauth:*:*", "authorization:role:edit", "analytics:*:view"]},
        subjects=("authorization:role:edit", "oauth:client:edit"),
    ),
)
def forbidden_permissions(client: Client, ctx: Context, p: Permissions) -> Iterator[Problem]:
    """A finding for each effective permission that matches a forbidden pattern, or that the risk
    catalog rates at ``riskAtLeast`` or above (in ``categories``, when given), naming every role
    that grants it, its divisions and the policy that states it.

    A pattern matches granted permissions: ``*:*:*`` in ``permissions`` forbids every permission a
    client holds. A *grant* whose domain, entity or action is ``*`` (``oauth:*:*``) is not matched
    as a name: it is reported once for each forbidden pattern it includes ("role 'Master Admin'
    grants *:*:*, which includes the forbidden oauth:client:add"), so a client with ``*:*:*``
    yields at most one finding per pattern; rated by the risk catalog, it is one finding naming
    the most severe permission it includes. To forbid wildcard grants as such, use
    ``wildcard-grants``.
    """
    found: dict[str, list[tuple[str, Verdict]]] | None = None
    known = _judged(p.permissions, p.risk_at_least, p.categories)
    for granted in client.permissions or ():
        verdicts = known.get(granted)
        if verdicts is None:
            verdicts = known[granted] = _verdicts(
                p.permissions, p.risk_at_least, p.categories, granted
            )
        for verdict in verdicts:
            if found is None:
                found = {}
            found.setdefault(verdict.subject, []).append((granted, verdict))
    if found is None:
        return
    for subject, hits in found.items():
        clauses = []
        vias: list[Via] = []
        for granted, verdict in hits:
            by = granted_by(client, ctx, granted)
            vias.extend(by)
            clauses.append(f"{who_grants(by, granted)}, {verdict.why}")
        yield Problem(
            subject,
            "; ".join(clauses),
            PermissionEvidence(subject, hits[0][1].matched, tuple(vias)),
        )


@lru_cache(maxsize=256)
def _judged(
    patterns: tuple[str, ...], risk_at_least: str | None, categories: tuple[str, ...] | None
) -> dict[str, tuple[Verdict, ...]]:
    """The verdicts of one rule's parameters so far, by granted permission: looked up once per
    (rule, client), then one dict lookup per permission the client holds, instead of a cached
    call that hashes the rule's patterns again for each one."""
    return {}


@lru_cache(maxsize=131072)
def _verdicts(
    patterns: tuple[str, ...],
    risk_at_least: str | None,
    categories: tuple[str, ...] | None,
    granted: str,
) -> tuple[Verdict, ...]:
    """How a granted permission breaks the rule, if it does. One cached call per (rule, grant): the
    same grants come back for thousands of clients that share roles."""
    if not is_wildcard_grant(granted):
        pattern = _first_granted(patterns, granted)
        if pattern is not None:
            why = (
                "which this rule forbids"
                if pattern == granted
                else f"which matches the forbidden pattern {pattern}"
            )
            return (Verdict(granted, pattern, why),)
        if risk_at_least is None:
            return ()
        entry = risky(risk_at_least, categories, risk_catalog().permission_entries(granted))
        if entry is None:
            return ()
        return (Verdict(granted, entry.pattern, _rated(entry)),)
    verdicts: dict[str, Verdict] = {}
    for pattern in patterns:
        if permission_grants(granted, pattern):
            subject = meet(granted, pattern)
            verdicts.setdefault(
                subject, Verdict(subject, pattern, f"which includes the forbidden {pattern}")
            )
    if risk_at_least is not None and granted not in verdicts:
        # Rated by the catalog, a wildcard grant is one finding: the grant itself, with the most
        # severe entry it includes and how many more (not one finding per catalog entry).
        floor = Severity(risk_at_least)
        entries = [
            e
            for e in risk_catalog().permission_entries(granted)
            if e.risk.at_least(floor) and (categories is None or e.category in categories)
        ]
        if entries:
            more = (
                f", and {len(entries) - 1} more rated {floor.value} or above"
                if len(entries) > 1
                else ""
            )
            verdicts[granted] = Verdict(
                granted,
                ", ".join(e.pattern for e in entries),
                f"which includes {entries[0].pattern}, {_rated(entries[0])}{more}",
            )
    return tuple(verdicts.values())


def _rated(entry: RiskEntry) -> str:
    return f"rated {entry.risk.value} by the risk catalog ({entry.category}): {entry.reason}"


WildcardPart = Literal["domain", "entity", "action"]
PARTS: tuple[str, ...] = get_args(WildcardPart)


class WildcardGrants(Params):
    allow: tuple[WildcardPart, ...] = Field(
        default=(),
        description="The parts that may be '*' (domain, entity, action): [action] allows "
        "routing:queue:* but not oauth:*:*; default: none may.",
    )

    def problems(self) -> Iterator[ParamProblem]:
        if set(self.allow) == set(PARTS):
            yield ParamProblem(
                "allow names every part: as written the rule forbids nothing", at=("allow",)
            )


@lru_cache(maxsize=65536)
def _wild_parts(allow: tuple[str, ...], granted: str) -> tuple[str, ...]:
    parts = granted.split(":")
    if len(parts) != 3:
        return ()
    return tuple(
        name for name, part in zip(PARTS, parts, strict=True) if part == "*" and name not in allow
    )


@check(
    "wildcard-grants",
    reads=frozenset({"permissions"}),
    params=WildcardGrants,
    needs=frozenset({NEEDS_ROLES}),
    summary="No granted permission may have `*` as its domain, entity or action, except in the "
    "parts `allow` names (the literal `*:*:*` grant of Master Admin, `oauth:*:*`, ...).",
    subject="the permission as granted (`*:*:*`)",
    example=Example(
        params={"allow": ["action"]},
        passing={"permissions": ["routing:queue:*", "oauth:client:view"]},
        failing={"permissions": ["*:*:*", "oauth:*:*", "routing:queue:*"]},
        subjects=("*:*:*", "oauth:*:*"),
    ),
)
def wildcard_grants(client: Client, ctx: Context, p: WildcardGrants) -> Iterator[Problem]:
    """A finding for each granted permission whose domain, entity or action is ``*`` (and not
    allowed), naming the roles that grant it. Unlike a ``*`` in ``forbidden-permissions``, which
    is a pattern over permissions, this looks at the grant itself."""
    for granted in client.permissions or ():
        parts = _wild_parts(p.allow, granted)
        if parts:
            by = granted_by(client, ctx, granted)
            yield Problem(
                granted,
                f"{who_grants(by, granted)}, {_and(parts)}, which this rule forbids",
                PermissionEvidence(granted, None, by),
            )


def _and(parts: tuple[str, ...]) -> str:
    """``with * as its domain``, ``... as its entity and action``."""
    words = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f"with * as its {words}"
