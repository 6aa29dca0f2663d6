"""Wire -> inventory: read one org through the API and normalise it (SPEC §2, §4).

Fetches only what the loaded policies need (roles and usage cost requests and
permissions), and never returns a partial inventory: any doubt raises. An answer
that is well-formed but impossible for a live org (no clients although this run
signs in with one, no roles, no scopes) is doubt too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ValidationError

from genesys_oauth_audit.errors import BadResponseError, EmptyOrgError, FetchError
from genesys_oauth_audit.genesys.client import GenesysClient, path_segment
from genesys_oauth_audit.genesys.wire import (
    WireClient,
    WireOrganization,
    WireRole,
    WireScopeListing,
    WireUsageExecution,
    WireUsageResult,
)
from genesys_oauth_audit.inventory import (
    Client,
    EntityRef,
    Inventory,
    Org,
    Role,
    Scope,
    UsageWindow,
    cyclic_gc_paused,
    effective_permissions,
    policy_permissions,
    role_grants,
    role_policies,
)

log = logging.getLogger("genesys_oauth_audit.fetch")

ROLE_PAGE_SIZE = 100


@dataclass(frozen=True)
class FetchPlan:
    """What to read beyond clients, scopes and the org."""

    roles: bool = False
    usage_days: int | None = None
    usage_timeout_seconds: float = 600.0


def fetch_inventory(
    api: GenesysClient,
    plan: FetchPlan,
    *,
    region: str,
    now: datetime,
    sleep: Callable[[float], None] | None = None,
) -> Inventory:
    """Every OAuth client of the org, with the catalogs the plan asks for."""
    with cyclic_gc_paused():
        return _fetch_inventory(api, plan, region=region, now=now, sleep=sleep)


def _fetch_inventory(
    api: GenesysClient,
    plan: FetchPlan,
    *,
    region: str,
    now: datetime,
    sleep: Callable[[float], None] | None,
) -> Inventory:
    warnings: list[str] = []
    raw_clients = api.get_all_pages("/api/v2/oauth/clients")
    if not raw_clients:
        if api.signs_in_with_client_credentials:
            raise EmptyOrgError(
                "GET /api/v2/oauth/clients: the API listed no OAuth clients, not even the one "
                "this audit signs in with; refusing to report on an empty org"
            )
        # A token issued elsewhere (GENESYSCLOUD_ACCESS_TOKEN) may belong to a user in an org
        # that really has no OAuth clients; unlikely enough to be said loudly in every report.
        warnings.append(
            "the API listed no OAuth clients; with a token from GENESYSCLOUD_ACCESS_TOKEN this "
            "audit cannot tell an empty org from a token that sees no clients"
        )
        log.warning("warning: %s", warnings[-1])
    wire_clients = [
        _validate(WireClient, item, f"GET /api/v2/oauth/clients: entity {i}")
        for i, item in enumerate(raw_clients)
    ]
    scopes = api.get("/api/v2/oauth/scopes", WireScopeListing)
    if not scopes.entities:
        raise EmptyOrgError(
            "GET /api/v2/oauth/scopes: the API listed no OAuth scopes; every org has its scope "
            "catalog, so this answer is not one to audit against"
        )
    roles = _fetch_roles(api) if plan.roles else None
    usage = (
        _fetch_usage(api, plan.usage_days, now, plan.usage_timeout_seconds, sleep)
        if plan.usage_days
        else None
    )
    org = api.get("/api/v2/organizations/me", WireOrganization)
    if not org.id:
        raise BadResponseError(
            "GET /api/v2/organizations/me: the answer has no organization id; reports and "
            "snapshots must name the org they audited"
        )

    roles_by_id = {role.id: role for role in roles} if roles is not None else None
    last_used = usage[1] if usage is not None else None
    clients = tuple(
        sorted(
            (_normalise_client(c, roles_by_id, last_used) for c in wire_clients),
            key=lambda c: (c.name.casefold(), c.id),
        )
    )
    return Inventory(
        org=Org(id=org.id, name=org.name),
        region=region,
        fetched_at=now,
        scopes=tuple(
            sorted(
                (Scope(id=s.id, description=s.description) for s in scopes.entities),
                key=lambda s: s.id,
            )
        ),
        roles=tuple(sorted(roles, key=lambda r: (r.name.casefold(), r.id)))
        if roles is not None
        else None,
        usage=usage[0] if usage is not None else None,
        clients=clients,
        warnings=tuple(warnings),
    )


def _validate(model: type[BaseModel], item: Any, what: str) -> Any:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(entity)"
        raise BadResponseError(f"{what}: unexpected shape at {loc}: {err['msg']}") from None


# -- clients --------------------------------------------------------------------------------


def _normalise_client(
    wire: WireClient,
    roles_by_id: dict[str, Role] | None,
    last_used: dict[str, date] | None,
) -> Client:
    grants = role_grants(
        [(rd.roleId, rd.divisionId) for rd in wire.roleDivisions or ()]
        + [(role_id, None) for role_id in wire.roleIds or ()],
        roles_by_id,
    )
    permissions = effective_permissions(grants, roles_by_id) if roles_by_id is not None else None
    return Client(
        id=wire.id,
        name=wire.name or "",
        description=wire.description,
        grant_type=wire.authorizedGrantType or "",
        state=wire.state,
        scopes=tuple(sorted(set(wire.scope or []))),
        roles=grants,
        permissions=permissions,
        token_validity_seconds=wire.accessTokenValiditySeconds,
        redirect_uris=tuple(wire.registeredRedirectUri or ()),
        date_created=wire.dateCreated,
        date_modified=wire.dateModified,
        date_to_delete=wire.dateToDelete,
        created_by=_ref(wire.createdBy),
        modified_by=_ref(wire.modifiedBy),
        last_used=last_used.get(wire.id) if last_used is not None else None,
    )


def _ref(ref: Any) -> EntityRef | None:
    if ref is None:
        return None
    return EntityRef(id=ref.id, name=ref.name)


# -- roles ----------------------------------------------------------------------------------


def _fetch_roles(api: GenesysClient) -> list[Role]:
    raw = api.get_all_pages(
        "/api/v2/authorization/roles",
        {"pageSize": ROLE_PAGE_SIZE, "pageNumber": 1, "userCount": "false"},
    )
    if not raw:
        raise EmptyOrgError(
            "GET /api/v2/authorization/roles: the API listed no roles; a Genesys Cloud org always "
            "has roles (at least its built-in ones), so rules about roles cannot be judged"
        )
    roles = []
    for i, item in enumerate(raw):
        wire: WireRole = _validate(WireRole, item, f"GET /api/v2/authorization/roles: entity {i}")
        stated = [
            (p.domain, p.entityName, p.actionSet or ()) for p in wire.permissionPolicies or ()
        ]
        roles.append(
            Role(
                id=wire.id,
                name=wire.name or "",
                description=wire.description,
                permissions=policy_permissions(stated),
                policies=role_policies(stated),
            )
        )
    return roles


# -- usage ----------------------------------------------------------------------------------


def _fetch_usage(
    api: GenesysClient,
    days: int,
    now: datetime,
    timeout: float,
    sleep: Callable[[float], None] | None,
) -> tuple[UsageWindow, dict[str, date]]:
    """One org-level query for every client (never one per client), polled until complete."""
    end_day = now.astimezone(timezone.utc).date() + timedelta(days=1)
    start_day = end_day - timedelta(days=days)
    interval = f"{_midnight(start_day)}/{_midnight(end_day)}"
    execution = api.post(
        "/api/v2/usage/query",
        {
            "interval": interval,
            "granularity": "Day",
            "groupBy": ["OAuthClientId"],
            "metrics": ["Requests"],
        },
        WireUsageExecution,
    )
    # The id goes into the path: percent-encoded, and refused if it could move the request
    # (an executionId of "../../oauth/clients?x=" would send the token elsewhere).
    path = (
        "/api/v2/usage/query/"
        f"{path_segment(execution.executionId, 'POST /api/v2/usage/query: executionId')}/results"
    )
    waited = 0.0
    delay = 1.0
    while True:
        result = api.get(path, WireUsageResult)
        status = result.queryStatus
        if status == "Complete":
            break
        if status == "Failed":
            raise FetchError(
                f"GET {path}: the usage query failed (queryStatus Failed); try again later"
            )
        if status != "Running":
            raise BadResponseError(f"GET {path}: unexpected queryStatus {status!r}")
        if waited + delay > timeout:
            raise FetchError(
                f"GET {path}: the usage query was still running after {waited:.0f}s; giving up "
                "(raise --usage-timeout, or audit without usage rules)"
            )
        api.wait(delay, f"polling GET {path}", sleep)
        waited += delay
        delay = min(delay * 2, 30.0)
    if result.results is None:
        raise BadResponseError(
            f"GET {path}: the usage query is Complete but its answer has no results list; "
            "refusing to judge last use without it"
        )
    last: dict[str, date] = {}
    for row in result.results:
        if not row.clientId or not row.requests or row.date is None:
            continue
        day = row.date.astimezone(timezone.utc).date() if row.date.tzinfo else row.date.date()
        if row.clientId not in last or day > last[row.clientId]:
            last[row.clientId] = day
    return UsageWindow(days=days, start=start_day, end=end_day - timedelta(days=1)), last


def _midnight(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
