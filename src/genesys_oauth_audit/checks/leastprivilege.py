"""Check types about least privilege from observed use: permissions, roles and scopes a client holds
but did not exercise in the usage window (the operations it called, ``leastpriv/``).

They need operation data (the usage service's aggregates query jobs); without it, or with a window
shorter than a rule's ``minWindowDays``, the rule is *not evaluated*, with the reason. Only a
successful call proves a need, and an ANY requirement the client meets with several permissions
it holds is ambiguous: its candidates count as possibly exercised, never as unused.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from pydantic import Field

from genesys_oauth_audit.checks.params import Glob, PermissionPattern
from genesys_oauth_audit.checks.registry import (
    NEEDS_OPERATIONS,
    NEEDS_ROLES,
    Context,
    Example,
    ParamProblem,
    Params,
    Problem,
    any_glob,
    check,
)
from genesys_oauth_audit.evidence import ALL_DIVISIONS, NO_DIVISION, ExerciseEvidence

if TYPE_CHECKING:
    # The analysis is imported where a check runs (below): loading a policy that names these
    # check types needs their parameters, not the least-privilege engine.
    from genesys_oauth_audit.inventory import Client, UsageWindow
    from genesys_oauth_audit.leastpriv.analysis import (
        LeastPrivilege,
        PermissionAnalysis,
        RoleUse,
        ScopeAnalysis,
    )

MAX_WINDOW_DAYS = 90  # a usage-service job covers at most 90 days (genesys/usage.py)
# Each check also reads the grant type: it picks the analysis (roles for client credentials,
# scopes for the user-facing grants), so a grant type outside the API's cannot be judged.

_WINDOW_DAYS = Field(
    default=30,
    ge=1,
    le=MAX_WINDOW_DAYS,
    description="The shortest operations window (days of usage) the rule trusts; with less, "
    "the rule is not evaluated. At most 90: the usage service reads 90 days per query.",
)

# The example clients and context, shared by the three check types' PASS/FAIL examples.
_WINDOW = {
    "days": 90,
    "start": "2026-08-26",
    "end": "2026-11-23",
    "source": "aggregates-query-jobs",
}
_QUEUES_OK = {"method": "GET", "path": "/api/v2/routing/queues", "requests": 40, "status2xx": 40}


def _window_long_enough(p: _Windowed, ctx: Context) -> str | None:
    window = ctx.operations
    if window is not None and window.days < p.min_window_days:
        return (
            f"the operation data covers {window.days} days but the rule needs at least "
            f"{p.min_window_days} (fetch with --usage-days {p.min_window_days} or more)"
        )
    return None


class _Windowed(Params):
    min_window_days: int = _WINDOW_DAYS


def _analysis(client: Client, ctx: Context) -> PermissionAnalysis | ScopeAnalysis | None:
    """The client's least-privilege analysis: the run's (computed once), else this client's own
    (a hand-built context, a client the run did not analyse); None without operation data."""
    window = ctx.operations
    if client.operations is None or window is None:
        return None
    org = ctx.least_privilege
    hit = org.get(client.id) if org is not None else None
    return hit if hit is not None else _engine(ctx).client(client, client.operations, window)


def _engine(ctx: Context) -> LeastPrivilege:
    """The run's per-org analysis engine, or one made for this context (once)."""
    org = ctx.least_privilege
    if org is not None:
        return org.engine
    engine: LeastPrivilege | None = ctx.memo.get("least-privilege")
    if engine is None:
        from genesys_oauth_audit.leastpriv.analysis import LeastPrivilege

        engine = ctx.memo["least-privilege"] = LeastPrivilege(ctx.roles or {})
    return engine


def _by_role(
    analysis: PermissionAnalysis, ctx: Context
) -> dict[str, tuple[RoleUse, str, tuple[str, ...]]]:
    """Each resolved role of the client once, with its name (the org's, else as the grant names
    it, else its id) and every division it is granted in (a role held in several divisions is
    exercised alike in each)."""
    roles: dict[str, tuple[RoleUse, list[str]]] = {}
    for use in analysis.roles:
        if not use.resolved:
            continue
        division = use.source.division_id
        entry = roles.setdefault(use.source.role_id, (use, []))
        entry[1].append(NO_DIVISION if division is None else division)
    out = {}
    for role_id, (use, ds) in roles.items():
        role = ctx.roles.get(role_id) if ctx.roles is not None else None
        name = role.name if role is not None and role.name else use.source.role_name or role_id
        out[role_id] = (
            use,
            name,
            (ALL_DIVISIONS,) if ALL_DIVISIONS in ds else tuple(sorted(set(ds))),
        )
    return out


def _ignored(permission: str, patterns: tuple[str, ...]) -> bool:
    parts = permission.split(":")
    return any(
        all(fnmatchcase(part, glob) for part, glob in zip(parts, pattern.split(":"), strict=False))
        for pattern in patterns
    )


def _evidence(
    analysis: PermissionAnalysis | ScopeAnalysis,
    window: UsageWindow,
    *,
    role: RoleUse | None = None,
    role_name: str | None = None,
    divisions: tuple[str, ...] = (),
    scope: str | None = None,
    granted: int = 1,
    observable: int = 1,
    exercised: tuple[str, ...] = (),
    ambiguous: tuple[str, ...] = (),
    unused: int = 0,
    unused_grants: tuple[str, ...] = (),
    ignored: int = 0,
    narrow_to: str | None = None,
) -> ExerciseEvidence:
    return ExerciseEvidence(
        role_id=role.source.role_id if role is not None else None,
        role_name=role_name,
        divisions=divisions,
        scope=scope,
        granted=granted,
        observable=observable,
        exercised=exercised,
        ambiguous=ambiguous,
        unused=unused,
        unused_grants=unused_grants,
        ignored=ignored,
        narrow_to=narrow_to,
        days=window.days,
        window_start=window.start,
        window_end=window.end,
        source=window.source,
        requests=analysis.limits.requests,
        operations=analysis.limits.operations,
    )


def _were(n: int) -> str:
    return f"{n} was" if n == 1 else f"{n} were"


def _permissions(n: int) -> str:
    return f"{n} permission" if n == 1 else f"{n} permissions"


# --- unused-permissions --------------------------------------------------------------------------


class UnusedPermissions(_Windowed):
    ignore: tuple[PermissionPattern, ...] = Field(
        default=(),
        description="Permissions (domain:entity:action, globs per part) never counted: neither "
        "granted nor unused (permissions used only by rare jobs, or only in the UI).",
    )
    max_unused: int | None = Field(
        default=None,
        ge=0,
        description="A role may leave at most this many permissions unused.",
    )
    max_unused_share: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="A role may leave at most this share (0 to 1) of the permissions usage can "
        "show unused.",
    )

    def problems(self) -> Iterator[ParamProblem]:
        if self.max_unused == 0 and self.max_unused_share is not None:
            yield ParamProblem(
                "maxUnused 0 already reports every unused permission; maxUnusedShare adds "
                "nothing (give one threshold, or a maxUnused above 0)",
                ("maxUnused",),
            )

    def exceeded(self, unused: int, share: float) -> bool:
        """Whether a role's unused permissions break the rule: every threshold given must be
        exceeded (with none, any unused permission does)."""
        if self.max_unused is None and self.max_unused_share is None:
            return unused > 0
        return (self.max_unused is None or unused > self.max_unused) and (
            self.max_unused_share is None or share > self.max_unused_share
        )


def _role_counts(
    use: RoleUse, engine: LeastPrivilege, ignore: tuple[str, ...]
) -> tuple[int, int, tuple[str, ...], tuple[str, ...], int]:
    """(granted, observable, exercised, ambiguous, ignored) for one role, without the ids the
    rule ignores (wildcards expanded over the catalog to find them)."""
    if not ignore:
        return use.permissions, use.observable, use.exercised, use.possibly, 0
    covered: set[str] = set()
    unobservable: set[str] = set()
    for grant in use.grants:
        ids = engine.expand(grant.permission)
        covered.update(ids)
        if not ids and "*" not in grant.permission:
            unobservable.add(grant.permission)
    dropped = {pid for pid in covered if _ignored(pid, ignore)}
    dropped_unobservable = {pid for pid in unobservable if _ignored(pid, ignore)}
    exercised = tuple(pid for pid in use.exercised if pid not in dropped)
    ambiguous = tuple(pid for pid in use.possibly if pid not in dropped)
    ignored = len(dropped) + len(dropped_unobservable)
    observable = len(covered) - len(dropped)
    return use.permissions - ignored, observable, exercised, ambiguous, ignored


@check(
    "unused-permissions",
    reads=frozenset({"grantType", "roles", "operations"}),
    params=UnusedPermissions,
    needs=frozenset({NEEDS_ROLES, NEEDS_OPERATIONS}),
    precondition=_window_long_enough,
    window_days=lambda p: p.min_window_days,
    summary="A client-credentials client's roles may leave at most `maxUnused` (or "
    "`maxUnusedShare`) of their permissions unexercised in the usage window.",
    subject="the role name (one finding per client and granting role)",
    example=Example(
        params={"minWindowDays": 30, "maxUnusedShare": 0.5},
        passing={
            "grantType": "CLIENT-CREDENTIALS",
            "roles": [{"roleId": "r-1", "divisionId": "*", "name": "Queue Reader"}],
            "operations": [_QUEUES_OK],
        },
        failing={
            "grantType": "CLIENT-CREDENTIALS",
            "roles": [{"roleId": "r-2", "divisionId": "*", "name": "Routing Admin"}],
            "operations": [_QUEUES_OK],
        },
        subjects=("Routing Admin",),
        context={
            "roles": [
                {"id": "r-1", "name": "Queue Reader", "permissions": ["routing:queue:view"]},
                {"id": "r-2", "name": "Routing Admin", "permissions": ["routing:*:*"]},
            ],
            "operations": _WINDOW,
        },
    ),
)
def unused_permissions(client: Client, ctx: Context, p: UnusedPermissions) -> Iterator[Problem]:
    """A finding for each role of the client that grants permissions the operations it called in
    the window did not need ("role 'Reporting Admin' grants 212 permissions; 3 were exercised in
    90 days"), when the unused ones exceed the thresholds.

    Counted over what API usage can show: a wildcard grant is expanded over the operations
    catalog; a permission no operation requires (a UI-only one) is *unobservable* and never
    unused; candidates of an ambiguous ANY requirement are possibly exercised, not unused.
    ``ignore`` takes permissions out of every count. Without thresholds, any unused permission
    is a finding; with both, both must be exceeded (``maxUnused: 10, maxUnusedShare: 0.5``:
    more than 10 and more than half).
    """
    from genesys_oauth_audit.leastpriv.analysis import PermissionAnalysis

    analysis = _analysis(client, ctx)
    window = ctx.operations
    if not isinstance(analysis, PermissionAnalysis) or window is None:
        return
    engine = _engine(ctx)
    for use, name, divisions in _by_role(analysis, ctx).values():
        granted, observable, exercised, ambiguous, ignored = _role_counts(use, engine, p.ignore)
        unused = observable - len(exercised) - len(ambiguous)
        if unused <= 0:
            continue
        share = unused / observable if observable else 0.0
        if not p.exceeded(unused, share):
            continue
        maybe = f", {len(ambiguous)} possibly" if ambiguous else ""
        yield Problem(
            name,
            f"role {name!r} grants {_permissions(granted)}; {_were(len(exercised))} exercised in "
            f"{window.days} days{maybe} ({unused} unused, {share:.0%} of what usage can show)",
            _evidence(
                analysis,
                window,
                role=use,
                role_name=name,
                divisions=divisions,
                granted=granted,
                observable=observable,
                exercised=exercised,
                ambiguous=ambiguous,
                unused=unused,
                unused_grants=tuple(
                    g.permission
                    for g in use.grants
                    if g.state == "unused" and not _ignored(g.permission, p.ignore)
                ),
                ignored=ignored,
            ),
        )


# --- unused-roles --------------------------------------------------------------------------------


class UnusedRoles(_Windowed):
    ignore: tuple[Glob, ...] = Field(
        default=(), description="Globs on role names never reported (case-sensitive)."
    )


@check(
    "unused-roles",
    reads=frozenset({"grantType", "roles", "operations"}),
    params=UnusedRoles,
    needs=frozenset({NEEDS_ROLES, NEEDS_OPERATIONS}),
    precondition=_window_long_enough,
    window_days=lambda p: p.min_window_days,
    summary="Every role of a client-credentials client must have had a permission exercised in "
    "the usage window.",
    subject="the role name",
    example=Example(
        params={"minWindowDays": 30},
        passing={
            "grantType": "CLIENT-CREDENTIALS",
            "roles": [{"roleId": "r-1", "divisionId": "*", "name": "Queue Reader"}],
            "operations": [_QUEUES_OK],
        },
        failing={
            "grantType": "CLIENT-CREDENTIALS",
            "roles": [
                {"roleId": "r-1", "divisionId": "*", "name": "Queue Reader"},
                {"roleId": "r-3", "divisionId": "*", "name": "User Admin"},
            ],
            "operations": [_QUEUES_OK],
        },
        subjects=("User Admin",),
        context={
            "roles": [
                {"id": "r-1", "name": "Queue Reader", "permissions": ["routing:queue:view"]},
                {"id": "r-3", "name": "User Admin", "permissions": ["directory:user:*"]},
            ],
            "operations": _WINDOW,
        },
    ),
)
def unused_roles(client: Client, ctx: Context, p: UnusedRoles) -> Iterator[Problem]:
    """A finding for each role of the client none of whose permissions any call in the window
    needed: the role can go. A role whose permissions API usage cannot show (UI-only ones) is
    not judged; one with a possibly exercised permission (an ambiguous ANY) is not unused."""
    from genesys_oauth_audit.leastpriv.analysis import PermissionAnalysis

    analysis = _analysis(client, ctx)
    window = ctx.operations
    if not isinstance(analysis, PermissionAnalysis) or window is None:
        return
    for use, name, divisions in _by_role(analysis, ctx).values():
        if not use.wholly_unused or use.observable == 0:
            continue
        if p.ignore and any_glob(name, p.ignore):
            continue
        yield Problem(
            name,
            f"role {name!r} grants {_permissions(use.permissions)}; none was exercised in "
            f"{window.days} days",
            _evidence(
                analysis,
                window,
                role=use,
                role_name=name,
                divisions=divisions,
                granted=use.permissions,
                observable=use.observable,
                unused=use.observable,
                unused_grants=tuple(g.permission for g in use.grants if g.state == "unused"),
            ),
        )


# --- unused-scopes -------------------------------------------------------------------------------


class UnusedScopes(_Windowed):
    ignore: tuple[Glob, ...] = Field(
        default=(), description="Globs on scope ids never reported (case-sensitive)."
    )
    narrowable: bool = Field(
        default=True,
        description="Also report a scope of which only its read-only form (x:readonly) was needed.",
    )


@check(
    "unused-scopes",
    reads=frozenset({"grantType", "scopes", "operations"}),
    params=UnusedScopes,
    needs=frozenset({NEEDS_OPERATIONS}),
    precondition=_window_long_enough,
    window_days=lambda p: p.min_window_days,
    summary="Every scope of a user-facing client must have been needed by a call in the usage "
    "window (and, with `narrowable`, needed for more than reading).",
    subject="the scope id",
    example=Example(
        params={"minWindowDays": 30},
        passing={"grantType": "CODE", "scopes": ["routing:readonly"], "operations": [_QUEUES_OK]},
        failing={
            "grantType": "CODE",
            "scopes": ["routing", "users"],
            "operations": [_QUEUES_OK],
        },
        subjects=("routing", "users"),
        context={"operations": _WINDOW},
    ),
)
def unused_scopes(client: Client, ctx: Context, p: UnusedScopes) -> Iterator[Problem]:
    """A finding for each scope of a user-facing client (authorization code, implicit, SAML2
    bearer, password) that no successful call in the window needed, and, with ``narrowable``,
    for each scope whose read-only form would have done (a client that holds ``routing`` but
    only read queues needed ``routing:readonly``). The scope a call needed is the least
    powerful one that allows it among those the client holds; equally weak candidates are
    possibly used, never unused."""
    from genesys_oauth_audit.leastpriv.analysis import ScopeAnalysis

    analysis = _analysis(client, ctx)
    window = ctx.operations
    if not isinstance(analysis, ScopeAnalysis) or window is None:
        return
    for use in analysis.scopes:
        if p.ignore and any_glob(use.scope, p.ignore):
            continue
        if use.state == "unused":
            yield Problem(
                use.scope,
                f"scope {use.scope!r} was needed by no call in {window.days} days",
                _evidence(analysis, window, scope=use.scope, unused=1),
            )
        elif use.state == "narrowable" and p.narrowable:
            readonly = f"{use.scope}:readonly"
            yield Problem(
                use.scope,
                f"scope {use.scope!r} was needed only for reading in {window.days} days: "
                f"{readonly!r} would do",
                _evidence(
                    analysis,
                    window,
                    scope=use.scope,
                    exercised=use.operations,
                    narrow_to=readonly,
                ),
            )
