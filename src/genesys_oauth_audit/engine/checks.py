"""Every check type (SPEC §5), one function each, in one registry.

A check is ``(client, context, params) -> Iterator[Problem]``: it says which
*subjects* of one client break it and why. The engine, not the check, stamps
rule id, severity, fingerprint and exceptions. Each check carries a PASS and a
FAIL example; the test suite runs every one of them, and ``explain`` shows them.
The policy schema's enum of check types is generated from this registry.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from genesys_oauth_audit.engine.findings import Severity
from genesys_oauth_audit.engine.risk import (
    Category,
    RiskEntry,
    RiskLevel,
    permission_grants,
    risk_catalog,
)
from genesys_oauth_audit.inventory import Client, Role, UsageWindow

NEEDS_SCOPES = "scopes"
NEEDS_ROLES = "roles"
NEEDS_USAGE = "usage"

NEED_REASONS = {
    NEEDS_SCOPES: "the inventory has no scope catalog of the org",
    NEEDS_ROLES: "the inventory has no roles (fetch them, or use a snapshot written with roles)",
    NEEDS_USAGE: "the inventory has no usage data (fetch with --usage-days, or a snapshot that has it)",
}


@dataclass(frozen=True)
class Problem:
    """One subject of one client that breaks a check."""

    subject: str | None
    message: str


@dataclass(frozen=True)
class Context:
    """What the checks may compare a client against, beyond the client itself."""

    today: date
    scopes: frozenset[str] | None = None
    roles: Mapping[str, Role] | None = None
    usage: UsageWindow | None = None


class Params(BaseModel):
    """Base of every check's parameters: frozen, camelCase, no unknown keys."""

    model_config = ConfigDict(
        frozen=True, populate_by_name=True, alias_generator=to_camel, extra="forbid"
    )


CheckFn = Callable[[Client, Context, Any], Iterator[Problem]]


@dataclass(frozen=True)
class Example:
    """A PASS and a FAIL client for one parameter set; ``subjects`` is what FAIL must yield."""

    params: dict[str, Any]
    passing: dict[str, Any]
    failing: dict[str, Any]
    subjects: tuple[str | None, ...]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckType:
    name: str
    params: type[Params]
    run: CheckFn
    needs: frozenset[str]
    summary: str
    subject: str
    example: Example
    # Extra reasons a rule cannot be evaluated on this inventory (beyond ``needs``).
    precondition: Callable[[Any, Context], str | None] | None = None
    # The client fields the check reads: when one is unknown for a client (a value a plan
    # knows only after apply), the rule is not evaluated for that client instead of passing.
    reads: Callable[[Any], frozenset[str]] = lambda params: frozenset()

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()


CHECKS: dict[str, CheckType] = {}
SCOPES = frozenset({"scopes"})


def check(
    name: str,
    *,
    params: type[Params],
    summary: str,
    subject: str,
    example: Example,
    needs: frozenset[str] = frozenset(),
    precondition: Callable[[Any, Context], str | None] | None = None,
    reads: frozenset[str] | Callable[[Any], frozenset[str]] = frozenset(),
) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        if name in CHECKS:
            raise ValueError(f"check type {name} registered twice")
        reader = reads if callable(reads) else (lambda params, fields=reads: fields)
        CHECKS[name] = CheckType(
            name, params, fn, needs, summary, subject, example, precondition, reader
        )
        return fn

    return register


def _any_glob(value: str, globs: tuple[str, ...]) -> str | None:
    return next((g for g in globs if fnmatchcase(value, g)), None)


def _nonempty_strings(description: str) -> Any:
    return Field(min_length=1, description=description)


class RiskFilter(Params):
    """Forbid by the risk catalog's rating, optionally only some categories of risk."""

    risk_at_least: RiskLevel | None = Field(
        default=None,
        description="Also forbid everything the risk catalog rates at this level or above.",
    )
    categories: tuple[Category, ...] | None = Field(
        default=None, description="With riskAtLeast: only these categories of risk."
    )

    def risky(self, entries: tuple[RiskEntry, ...]) -> RiskEntry | None:
        if self.risk_at_least is None:
            return None
        return _risky(self.risk_at_least, self.categories, entries)


@lru_cache(maxsize=65536)
def _risky(
    risk_at_least: str, categories: tuple[str, ...] | None, entries: tuple[RiskEntry, ...]
) -> RiskEntry | None:
    """The first (most severe) entry at or above the floor, in the categories. Cached: the same
    granted permissions, hence the same entries, come back for thousands of clients."""
    floor = Severity(risk_at_least)
    return next(
        (
            e
            for e in entries
            if e.risk.at_least(floor) and (categories is None or e.category in categories)
        ),
        None,
    )


# --- scopes -------------------------------------------------------------------------------------


class ForbiddenScopePrefixes(Params):
    prefixes: tuple[str, ...] = _nonempty_strings(
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
            yield Problem(scope, f"scope {scope!r} starts with forbidden prefix {prefix!r}")


class ScopeGlobs(Params):
    scopes: tuple[str, ...] = _nonempty_strings("Globs on scope ids (*, ?, [...]; case-sensitive).")


class ForbiddenScopes(RiskFilter):
    scopes: tuple[str, ...] = Field(
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
    catalog = risk_catalog()
    for scope in client.scopes:
        glob = _any_glob(scope, p.scopes)
        if glob is not None:
            yield Problem(scope, f"scope {scope!r} is forbidden (matches {glob!r})")
            continue
        entry = catalog.scope(scope)
        risky = p.risky((entry,)) if entry is not None else None
        if risky is not None:
            yield Problem(
                scope,
                f"scope {scope!r} is rated {risky.risk.value} ({risky.category}): {risky.reason}",
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
        if _any_glob(scope, p.scopes) is None:
            allowed = ", ".join(p.scopes)
            yield Problem(scope, f"scope {scope!r} is not in the allow-list ({allowed})")


class NoParams(Params):
    pass


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
            yield Problem(scope, f"scope {scope!r} does not exist in the org's scope catalog")


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
        yield Problem(None, f"client holds {len(client.scopes)} scopes; at most {p.max} allowed")


# --- grants, tokens, redirects -----------------------------------------------------------------


class GrantTypes(Params):
    grant_types: tuple[str, ...] = _nonempty_strings(
        "Allowed authorizedGrantType values: CODE, TOKEN, SAML2-BEARER, PASSWORD, CLIENT-CREDENTIALS."
    )


@check(
    "allowed-grant-types",
    reads=frozenset({"grantType"}),
    params=GrantTypes,
    summary="The client's grant type must be one of the listed ones.",
    subject="the grant type",
    example=Example(
        params={"grantTypes": ["CODE", "CLIENT-CREDENTIALS"]},
        passing={"grantType": "CODE"},
        failing={"grantType": "TOKEN"},
        subjects=("TOKEN",),
    ),
)
def allowed_grant_types(client: Client, ctx: Context, p: GrantTypes) -> Iterator[Problem]:
    """A finding for a client whose grant type is not listed (an unknown grant type too)."""
    if client.grant_type not in p.grant_types:
        shown = client.grant_type or "(none)"
        yield Problem(
            client.grant_type or None,
            f"grant type {shown} is not allowed (allowed: {', '.join(p.grant_types)})",
        )


class MaxTokenValidity(Params):
    seconds: int = Field(ge=1, description="The longest access-token lifetime allowed, in seconds.")


@check(
    "max-token-validity",
    reads=frozenset({"tokenValiditySeconds"}),
    params=MaxTokenValidity,
    summary="The client's access-token lifetime must not exceed `seconds`.",
    subject="none (one finding per client)",
    example=Example(
        params={"seconds": 43200},
        passing={"tokenValiditySeconds": 3600},
        failing={"tokenValiditySeconds": 86400},
        subjects=(None,),
    ),
)
def max_token_validity(client: Client, ctx: Context, p: MaxTokenValidity) -> Iterator[Problem]:
    """A finding for a client whose ``accessTokenValiditySeconds`` is greater than ``seconds``.

    A client whose lifetime the API did not state is not judged (the API always states it).
    """
    value = client.token_validity_seconds
    if value is not None and value > p.seconds:
        yield Problem(
            None,
            f"access tokens live {_duration(value)} ({value}s); at most {_duration(p.seconds)} ({p.seconds}s) allowed",
        )


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"


class RedirectUris(Params):
    require_https: bool = Field(default=False, description="Every redirect URI must use https.")
    forbid_localhost: bool = Field(
        default=False,
        description="No redirect URI may point at localhost, *.localhost, 127.0.0.0/8 or ::1.",
    )
    forbid_wildcards: bool = Field(default=False, description="No redirect URI may contain '*'.")


def _is_local(host: str) -> bool:
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@check(
    "redirect-uris",
    reads=frozenset({"redirectUris"}),
    params=RedirectUris,
    summary="Redirect URIs must satisfy every enabled option.",
    subject="the redirect URI",
    example=Example(
        params={"requireHttps": True, "forbidLocalhost": True, "forbidWildcards": True},
        passing={"redirectUris": ["https://app.example.com/callback"]},
        failing={
            "redirectUris": [
                "https://app.example.com/callback",
                "http://app.example.com/cb",
                "https://127.0.0.1:8080/cb",
                "https://*.example.com/cb",
            ]
        },
        subjects=(
            "http://app.example.com/cb",
            "https://127.0.0.1:8080/cb",
            "https://*.example.com/cb",
        ),
    ),
)
def redirect_uris(client: Client, ctx: Context, p: RedirectUris) -> Iterator[Problem]:
    """A finding for each redirect URI that breaks an enabled option (all broken options named)."""
    for uri in client.redirect_uris:
        broken = []
        try:
            parts = urlsplit(uri)
            scheme, host = parts.scheme.lower(), parts.hostname or ""
        except ValueError:
            scheme, host = "", ""
        if p.require_https and scheme != "https":
            broken.append(f"scheme is {scheme or '(none)'}, not https")
        if p.forbid_localhost and host and _is_local(host):
            broken.append(f"host {host} is local")
        if p.forbid_wildcards and "*" in uri:
            broken.append("contains a wildcard '*'")
        if broken:
            yield Problem(uri, f"redirect URI {uri!r}: " + "; ".join(broken))


# --- roles and permissions ---------------------------------------------------------------------


class RoleNames(Params):
    names: tuple[str, ...] = _nonempty_strings("Globs on role names (case-sensitive).")


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
        glob = _any_glob(name, p.names)
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


PERMISSION_PATTERN = re.compile(r"^[^:\s]+:[^:\s]+:[^:\s]+$")


class Permissions(RiskFilter):
    permissions: tuple[str, ...] = Field(
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
    entry = _risky(risk_at_least, categories, risk_catalog().permission_entries(granted))
    if entry is None:
        return None
    via = f" (through {entry.pattern})" if entry.pattern != granted else ""
    return (
        f"permission {granted}{via} is rated {entry.risk.value} ({entry.category}): {entry.reason}"
    )


# --- usage --------------------------------------------------------------------------------------


class MaxDaysUnused(Params):
    days: int = Field(ge=1, description="A client unused for more than this many days is stale.")


def _usage_window_long_enough(p: MaxDaysUnused, ctx: Context) -> str | None:
    if ctx.usage is not None and ctx.usage.days < p.days:
        return (
            f"the usage data covers {ctx.usage.days} days but the rule looks back {p.days} days "
            f"(fetch with --usage-days {p.days} or more)"
        )
    return None


@check(
    "max-days-unused",
    reads=frozenset({"lastUsed", "dateCreated"}),
    params=MaxDaysUnused,
    needs=frozenset({NEEDS_USAGE}),
    precondition=_usage_window_long_enough,
    summary="A client must have been used within the last `days` days (unless created within them).",
    subject="none (one finding per client)",
    example=Example(
        params={"days": 30},
        passing={"lastUsed": "2026-11-20", "dateCreated": "2024-01-01T00:00:00Z"},
        failing={"lastUsed": "2026-09-01", "dateCreated": "2024-01-01T00:00:00Z"},
        subjects=(None,),
        context={
            "today": "2026-11-24",
            "usage": {"days": 90, "start": "2026-08-26", "end": "2026-11-24"},
        },
    ),
)
def max_days_unused(client: Client, ctx: Context, p: MaxDaysUnused) -> Iterator[Problem]:
    """A finding for a client with no API use in the last ``days`` days (UTC).

    A client created within those days is not stale yet. Usage data is up to a
    day old (SPEC §2), so "the last N days" counts back from today.
    """
    # The last N days are today and the N-1 days before it (the usage window is the same).
    cutoff = ctx.today - timedelta(days=p.days - 1)
    created = client.date_created
    if created is not None and _utc_date(created) >= cutoff:
        return
    last = client.last_used
    if last is None or last < cutoff:
        since = (
            f"last used {last.isoformat()}"
            if last is not None
            else "no use recorded in the usage window"
        )
        yield Problem(None, f"not used in the last {p.days} days ({since})")


def _utc_date(value: datetime) -> date:
    # Dates from the API are UTC already; converting only the others is 20x cheaper per client.
    offset = value.utcoffset()
    if offset:
        value = value.astimezone(timezone.utc)
    return value.date()


# --- generic field comparison ---------------------------------------------------------------------

FieldOp = Literal[
    "eq",
    "ne",
    "in",
    "not-in",
    "lt",
    "le",
    "gt",
    "ge",
    "matches",
    "contains",
    "exists",
    "empty",
    "not-empty",
]
FIELD_OPS: tuple[str, ...] = get_args(FieldOp)


def _field_reads(params: Any) -> frozenset[str]:
    return frozenset({str(params.path).split(".")[0]})


class FieldCheck(Params):
    path: str = Field(
        min_length=1, description="An inventory field, dotted for nested ones (createdBy.id)."
    )
    op: FieldOp = Field(description="The comparison.")
    value: Any = Field(default=None, description="What to compare with (a list for in / not-in).")


def field_value(client: Client, path: str) -> Any:
    """The value at a dotted camelCase path of a client, or None where a step is missing.

    A step through a list maps over it: ``roles.name`` is the tuple of the
    client's role names.
    """
    if "." not in path:  # the common case, read for every client: one lookup
        name = _aliases(Client).get(path)
        return getattr(client, name) if name is not None else None
    return _step(client, path.split("."))


def _step(current: Any, parts: list[str]) -> Any:
    if not parts or current is None:
        return current
    if isinstance(current, tuple):
        values = (_step(item, parts) for item in current)
        return tuple(v for v in values if v is not None)
    if isinstance(current, BaseModel):
        name = _python_name(type(current), parts[0])
        if name is None:
            return None
        return _step(getattr(current, name), parts[1:])
    return None


def _python_name(model: type[BaseModel], alias: str) -> str | None:
    return _aliases(model).get(alias)


@cache
def _aliases(model: type[BaseModel]) -> dict[str, str]:
    """camelCase alias -> attribute name, once per model (field paths are read per client)."""
    return {(info.alias or name): name for name, info in model.model_fields.items()}


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any]:
    """Make a YAML value comparable with an inventory value (dates given as strings)."""
    if isinstance(actual, datetime) and isinstance(expected, (str, date)):
        exp = expected if isinstance(expected, datetime) else _parse_datetime(str(expected))
        if exp is not None:
            if actual.tzinfo is None:
                actual = actual.replace(tzinfo=timezone.utc)
            return actual, exp
    if isinstance(actual, date) and not isinstance(actual, datetime) and isinstance(expected, str):
        try:
            return actual, date.fromisoformat(expected)
        except ValueError:
            pass
    return actual, expected


def _parse_datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", (), [], {})


def compare(actual: Any, op: str, expected: Any) -> bool:
    """Whether ``actual op expected`` holds (SPEC §5 operators)."""
    if op == "exists":
        return actual is not None
    if op == "empty":
        return _is_empty(actual)
    if op == "not-empty":
        return not _is_empty(actual)
    if op == "contains":
        if isinstance(actual, (tuple, list)):
            return expected in actual
        return isinstance(actual, str) and isinstance(expected, str) and expected in actual
    if op == "matches":
        pattern = re.compile(str(expected))
        if isinstance(actual, (tuple, list)):
            return any(pattern.search(str(item)) for item in actual)
        return actual is not None and pattern.search(str(actual)) is not None
    if op in ("in", "not-in"):
        members = [_comparable(actual, item)[1] for item in (expected or [])]
        value = _comparable(actual, (expected or [None])[0])[0] if expected else actual
        found = value in members
        return found if op == "in" else not found
    a, e = _comparable(actual, expected)
    if op == "eq":
        return bool(a == e)
    if op == "ne":
        return bool(a != e)
    if a is None or e is None:
        return False  # a missing field fails lt/le/gt/ge
    try:
        if op == "lt":
            return bool(a < e)
        if op == "le":
            return bool(a <= e)
        if op == "gt":
            return bool(a > e)
        if op == "ge":
            return bool(a >= e)
    except TypeError:
        return False
    raise ValueError(f"unknown operator {op}")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return repr(value)


@check(
    "field",
    reads=_field_reads,
    params=FieldCheck,
    summary="A client field must satisfy a comparison (eq, ne, in, not-in, lt, le, gt, ge, matches, contains, exists, empty, not-empty).",
    subject="the field path",
    example=Example(
        params={"path": "description", "op": "not-empty"},
        passing={"description": "Nightly export to the data warehouse; owner: data-team"},
        failing={"description": ""},
        subjects=("description",),
    ),
)
def field_check(client: Client, ctx: Context, p: FieldCheck) -> Iterator[Problem]:
    """A finding for a client whose field fails the comparison; a missing field fails lt/le/gt/ge."""
    actual = field_value(client, p.path)
    if not compare(actual, p.op, p.value):
        expected = "" if p.op in ("exists", "empty", "not-empty") else f" {_show(p.value)}"
        yield Problem(p.path, f"{p.path} is {_show(actual)}; expected {p.op}{expected}")


def field_paths() -> tuple[str, ...]:
    """Every path a ``field`` check may name: client fields, and fields of nested models."""
    paths: list[str] = []
    for name, info in Client.model_fields.items():
        alias = info.alias or name
        paths.append(alias)
        annotation = info.annotation
        for sub in _nested_models(annotation):
            for sub_name, sub_info in sub.model_fields.items():
                paths.append(f"{alias}.{sub_info.alias or sub_name}")
    return tuple(paths)


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        if arg is not Ellipsis:
            yield from _nested_models(arg)
