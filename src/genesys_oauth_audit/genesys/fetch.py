"""Wire -> inventory: read one org through the API and normalise it (docs/reliability.md).

Fetches only what the loaded policies need (roles and usage cost requests and
permissions), and never returns a partial inventory: any doubt raises. An answer
that is well-formed but impossible for a live org (no clients although this run
signs in with one, no roles, no scopes) is doubt too.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError

from genesys_oauth_audit.data.operations import CalledOperation
from genesys_oauth_audit.errors import BadResponseError, EmptyOrgError, FetchError
from genesys_oauth_audit.genesys.client import GenesysClient, RunAborted
from genesys_oauth_audit.genesys.usage import UsageData, start_usage
from genesys_oauth_audit.genesys.wire import (
    WireClient,
    WireOrganization,
    WireRole,
    WireScopeListing,
)
from genesys_oauth_audit.inventory import (
    Client,
    EntityRef,
    Inventory,
    Org,
    Role,
    Scope,
    cyclic_gc_paused,
    effective_permissions,
    policy_permissions,
    role_grants,
    role_policies,
)

log = logging.getLogger("genesys_oauth_audit.fetch")

# The largest page the Genesys listings document (the swagger states no maximum for roles); an
# API that caps it answers a smaller pageSize and more pages, which are followed.
ROLE_PAGE_SIZE = 500


@dataclass(frozen=True)
class FetchPlan:
    """What to read beyond clients, scopes and the org: roles, last use over ``usage_days``, the
    operations each client called over ``operation_days`` (at most 90, see ``genesys.usage``)."""

    roles: bool = False
    usage_days: int | None = None
    usage_timeout_seconds: float = 600.0
    operation_days: int | None = None


def fetch_inventory(
    api: GenesysClient,
    plan: FetchPlan,
    *,
    region: str,
    now: datetime,
    sleep: Callable[[float], None] | None = None,
    meanwhile: Callable[[Inventory], None] | None = None,
) -> Inventory:
    """Every OAuth client of the org, with the catalogs the plan asks for.

    ``meanwhile``: when the plan reads usage, and everything else is in while the usage query
    still runs, it is called (in this thread, in its place) with the org as read so far: the
    inventory without usage (no window, no last use, no operations). A live audit judges the
    rules that read no usage then. It is not called when the usage answer comes first, nor when
    what was read cannot be assembled (the same refusal is raised once every read is in, after
    a failed read's if one fails: the order of errors is the one without ``meanwhile``); an
    exception it raises is not the fetch's (the caller finds its own error again later). A read
    that fails meanwhile is acted on once it returns."""
    with cyclic_gc_paused():
        return _fetch_inventory(api, plan, region=region, now=now, sleep=sleep, meanwhile=meanwhile)


def _fetch_inventory(
    api: GenesysClient,
    plan: FetchPlan,
    *,
    region: str,
    now: datetime,
    sleep: Callable[[float], None] | None,
    meanwhile: Callable[[Inventory], None] | None = None,
) -> Inventory:
    # The usage queries go first: they run on the service's side (seconds) while the rest of the
    # org is read. Then the client listing, the scope catalog, the roles and the org are read side
    # by side, and the usage results polled meanwhile: a live audit takes about as long as its
    # slowest chain of requests, not the sum of them. Every request still goes through the one
    # client: one token, one pacing window, one deadline.
    pending = None
    if plan.usage_days or plan.operation_days:
        pending = start_usage(
            api,
            last_use_days=plan.usage_days or None,
            operation_days=plan.operation_days or None,
            now=now,
            timeout=plan.usage_timeout_seconds,
            sleep=sleep,
        )
    then = None
    earlier: list[Inventory] = []
    if meanwhile is not None and pending is not None:
        call = meanwhile

        def without_usage(results: list[Any]) -> None:
            raw_clients, scopes, roles, _, org = results
            if not raw_clients:
                return  # nothing to judge early (and a warning to give once, at the end)
            try:
                partial_inventory = _assemble(
                    api, raw_clients, scopes, roles, UsageData(), org, region=region, now=now
                )
            except Exception:  # raised again, in its order, once every read is in
                return
            earlier.append(partial_inventory)
            try:
                call(partial_inventory)
            except Exception as exc:  # judged again at the end, after any failed read's error
                log.debug("the work done while the usage query ran failed: %r", exc)

        then = (CLIENTS_SCOPES_ROLES_ORG, without_usage)
    raw_clients, scopes, roles, usage, org = _read_all(
        api,
        [
            partial(_read_clients, api),
            partial(api.get, "/api/v2/oauth/scopes", WireScopeListing),
            partial(_fetch_roles, api) if plan.roles else None,
            pending.collect if pending is not None else UsageData,
            partial(api.get, "/api/v2/organizations/me", WireOrganization),
        ],
        then=then,
    )
    return _assemble(
        api,
        raw_clients,
        scopes,
        roles,
        usage,
        org,
        region=region,
        now=now,
        earlier=earlier[0] if earlier else None,
    )


# The reads of ``_fetch_inventory`` that the inventory without usage is assembled from.
CLIENTS_SCOPES_ROLES_ORG = frozenset({0, 1, 2, 4})


def _assemble(
    api: GenesysClient,
    wire_clients: list[WireClient],
    scopes: WireScopeListing,
    roles: list[Role] | None,
    usage: UsageData,
    org: WireOrganization,
    *,
    region: str,
    now: datetime,
    earlier: Inventory | None = None,
) -> Inventory:
    """The inventory from what was read; an answer no audit can stand on is refused.
    ``earlier``: the same reads assembled without usage; its clients are taken with their usage
    added instead of being normalised again."""
    warnings: list[str] = []
    if not wire_clients:
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
    _no_future_clients(wire_clients, now)
    if not scopes.entities:
        raise EmptyOrgError(
            "GET /api/v2/oauth/scopes: the API listed no OAuth scopes; every org has its scope "
            "catalog, so this answer is not one to audit against"
        )
    if not org.id:
        raise BadResponseError(
            "GET /api/v2/organizations/me: the answer has no organization id; reports and "
            "snapshots must name the org they audited"
        )

    if earlier is not None:
        clients = _with_usage(earlier.clients, usage)
    else:
        roles_by_id = {role.id: role for role in roles} if roles is not None else None
        clients = tuple(
            sorted(
                (
                    _normalise_client(c, roles_by_id, usage.last_used, usage.operations)
                    for c in wire_clients
                ),
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
        usage=usage.usage,
        operation_usage=usage.operation_usage,
        usage_notes=usage.notes,
        clients=clients,
        warnings=tuple(warnings),
    )


def _no_future_clients(wire_clients: list[WireClient], now: datetime) -> None:
    """A client created or changed after this audit's time (a day of slack for clocks) is an
    answer not understood: a `dateCreated` of 2099 would keep a stale client from looking old."""
    latest = now + timedelta(days=1)
    for client in wire_clients:
        for name in ("dateCreated", "dateModified"):
            value: datetime | None = getattr(client, name)
            if value is not None and value.tzinfo is not None and value > latest:
                raise BadResponseError(
                    f"GET /api/v2/oauth/clients: client {client.id[:80]!r} has {name} "
                    f"{value.isoformat()}, after the time of this audit ({now.isoformat()})"
                )


def _read_clients(api: GenesysClient) -> list[WireClient]:
    """The client listing, every page, validated (in its reading thread, while others wait)."""
    return [
        _validate(WireClient, item, f"GET /api/v2/oauth/clients: entity {i}")
        for i, item in enumerate(api.get_all_pages("/api/v2/oauth/clients"))
    ]


def _read_all(
    api: GenesysClient,
    reads: list[Callable[[], Any] | None],
    *,
    then: tuple[frozenset[int], Callable[[list[Any]], None]] | None = None,
) -> list[Any]:
    """Every read's answer (None for a read that is not planned).

    ``then``: once the reads at these positions have all answered while another still runs, the
    function is called with the answers so far (None for the others), in this thread and its
    place: work done meanwhile, not after.

    At most five requests of the org in flight (the reads of ``_fetch_inventory``: clients,
    scopes, roles, usage, org), each waiting on the network, not on this machine; the pacing
    keeps them within the token's budget of requests per minute. Each read runs on a daemon
    thread of its own, in the caller's context (a run of many orgs names the org in every log
    line through a context variable) and in the caller's place (``GenesysClient.place``: a run
    of many orgs gives it to another org only while every read waits).

    On the first failure the others are stopped (``abort``: at their next request or wait) and,
    once they have, the failure of the first read in the list that failed is raised, the same
    error whichever thread noticed first. On Ctrl-C or a signal the reads are stopped and the run
    ends at once: daemon threads hold neither the exit nor a second Ctrl-C (an executor's threads
    would, for a request's whole --timeout).
    """
    results: list[Any] = [None] * len(reads)
    errors: list[BaseException | None] = [None] * len(reads)
    answered: set[int] = set()
    finished = threading.Condition()
    running = 0
    failed = False

    def work(i: int, read: Callable[[], Any]) -> None:
        nonlocal running, failed
        try:
            results[i] = read()
        except BaseException as exc:  # raised in the calling thread, below
            errors[i] = exc
        finally:
            api.place.leave()
            with finished:
                running -= 1
                failed = failed or errors[i] is not None
                if errors[i] is None:
                    answered.add(i)
                finished.notify_all()

    try:
        for i, read in enumerate(reads):
            if read is None:
                continue
            with finished:
                running += 1
            api.place.add()  # the reading thread works in the place this one holds
            try:
                threading.Thread(
                    target=contextvars.copy_context().run,
                    args=(work, i, read),
                    name=f"genesys-oauth-audit-read-{i}",
                    daemon=True,
                ).start()
            except BaseException as exc:
                # No thread: it neither works nor will leave.
                api.place.leave()
                with finished:
                    running -= 1
                if not isinstance(exc, RuntimeError):
                    raise
                # The machine's limit on threads: this org's read failed, like any other (the
                # reads under way are stopped; a run of many orgs reports the others).
                with finished:
                    errors[i] = FetchError(
                        f"this machine would not start another thread to read the org ({exc}); "
                        "lower --jobs, or raise the limit on processes and threads (ulimit -u)"
                    )
                    failed = True
                break
        if then is not None:
            wanted = {i for i in then[0] if reads[i] is not None}
            api.place.leave()  # waiting for the reads is not work
            try:
                with finished:
                    while running and not failed and not wanted <= answered:
                        finished.wait()
                    meanwhile = bool(running) and not failed and wanted <= answered
            finally:
                api.place.enter()
            if meanwhile:
                then[1](list(results))
        api.place.leave()  # waiting for the reads is not work
        try:
            with finished:
                while running and not failed:
                    finished.wait()
                if failed:
                    api.abort()
                    while running:
                        finished.wait()
        finally:
            api.place.enter()
    except BaseException:  # Ctrl-C, a signal: stop the reads, and do not wait for them
        api.abort()
        raise
    for error in errors:
        if error is not None and not isinstance(error, RunAborted):
            raise error
    return results


def _validate(model: type[BaseModel], item: Any, what: str) -> Any:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(entity)"
        if err["type"] == "missing" or (err["loc"] and err.get("input", ...) is None):
            # A field the API requires (or we cannot do without) that is absent or null.
            said = "missing" if err["type"] == "missing" else "null"
            entity_id = item.get("id") if isinstance(item, dict) else None
            named = f" (id {entity_id[:80]!r})" if isinstance(entity_id, str) else ""
            raise BadResponseError(
                f"{what}{named}: unexpected shape: {loc} is {said}, and the audit cannot judge "
                "the entity without it"
            ) from None
        raise BadResponseError(f"{what}: unexpected shape at {loc}: {err['msg']}") from None


# -- clients --------------------------------------------------------------------------------


def _normalise_client(
    wire: WireClient,
    roles_by_id: dict[str, Role] | None,
    last_used: dict[str, date] | None,
    operations: dict[str, tuple[CalledOperation, ...]] | None = None,
) -> Client:
    grants = role_grants(
        [(rd.roleId, rd.divisionId) for rd in wire.roleDivisions or ()]
        + [(role_id, None) for role_id in wire.roleIds or ()],
        roles_by_id,
    )
    permissions = effective_permissions(grants, roles_by_id) if roles_by_id is not None else None
    return Client(
        id=wire.id,
        name=wire.name,
        description=wire.description,
        grant_type=wire.authorizedGrantType,
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
        **_usage_fields(wire.id, last_used, operations),
    )


def _usage_fields(
    client_id: str,
    last_used: dict[str, date] | None,
    operations: dict[str, tuple[CalledOperation, ...]] | None,
) -> dict[str, Any]:
    """A client's ``last_used`` and ``operations`` from the usage answer: None where they were
    not asked for; a client the answer has no row of was not used and called nothing."""
    return {
        "last_used": last_used.get(client_id) if last_used is not None else None,
        "operations": operations.get(client_id, ()) if operations is not None else None,
    }


def _with_usage(clients: tuple[Client, ...], usage: UsageData) -> tuple[Client, ...]:
    """``clients`` as ``_normalise_client`` gives them with ``usage``: copies with their usage
    fields (``_usage_fields``), everything else the very same values."""
    last_used, operations = usage.last_used, usage.operations
    if last_used is None and operations is None:
        return clients
    return tuple(c.model_copy(update=_usage_fields(c.id, last_used, operations)) for c in clients)


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
