"""Least privilege from observed use: which granted permissions and scopes a client exercised in the
usage window, which it did not, and the evidence for each (issue 15).

The evidence is the operations the client called (``CalledOperation``) and the
catalog of what each operation requires (``operations.py``). The rules:

- Only a call that succeeded (some 2xx) proves a need. An operation whose calls
  only failed with a 4xx other than 429 is *attempted, denied*; one with no 2xx
  and no such 4xx (only 3xx, 429 or 5xx) is *unproven*. Neither proves anything.
- ``ALL``: every listed permission was needed. ``ANY``: the client's own
  permissions among those listed are the candidates; one candidate is proven,
  several are *ambiguous*: all are listed, none is picked.
- A permission the catalog says was needed but that no role grants today is
  reported as *not held* (the roles changed in the window, or the catalog is
  out of date); it is never counted as exercised, so a recommendation built
  from ``exercised`` never grants more than the client has.
- A granted permission may be a wildcard (``routing:*:*``). It is expanded
  over the catalog's permission ids: it is *used* for the exercised ids it
  covers and unused for the rest. A grant that covers no id any operation
  requires (a UI-only permission) is *unobservable*, not unused: API usage
  cannot show it.

Everything is computed per org once (role expansions, wildcard matches,
operation lookups are cached) and per client in time linear in the client's
operations and role grants, so an org of thousands of clients takes
milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import product
from typing import Literal

from genesys_oauth_audit.inventory import Client, Role, RoleGrant, UsageWindow
from genesys_oauth_audit.operations import (
    CalledOperation,
    MatchKind,
    Operation,
    OperationsCatalog,
    Requirement,
    operations_catalog,
)

CLIENT_CREDENTIALS = "CLIENT-CREDENTIALS"
USER_FACING_GRANT_TYPES = ("CODE", "TOKEN", "SAML2-BEARER", "PASSWORD")

Outcome = Literal["succeeded", "denied", "unproven"]
PermissionStatus = Literal[
    "proven",  # succeeded; the permissions it needed are exercised
    "ambiguous",  # succeeded; ANY of several the client holds: candidates listed
    "not-held",  # succeeded, yet some needed permission (ALL) or every candidate (ANY) is not granted
    "no-permission-required",  # the documentation says the operation needs none
    "no-permission-data",  # the catalog has no usable permission data for it
    "unknown-operation",  # the template matches no catalog operation
    "denied",  # no 2xx, some 4xx other than 429: attempted, denied
    "unproven",  # no 2xx and no such 4xx (3xx, 429 or 5xx only)
]
GrantState = Literal["used", "partly-used", "possibly-used", "unused", "unobservable"]
ScopeStatus = Literal[
    "proven",
    "ambiguous",  # several equally weak scopes the client holds allow it
    "not-held",  # no scope the client holds allows it (scope enforcement off?)
    "no-scope-required",  # the operation takes no PureCloud OAuth scope
    "no-scope-data",  # no public source gives the operation's scopes
    "unknown-operation",
    "denied",
    "unproven",
]
ScopeState = Literal["used", "narrowable", "possibly-used", "unused"]

LIMIT_NOTES = (
    "Usage data lags up to a day: the most recent day of the window may be incomplete.",
    "An operation used less often than the window is long (a quarterly job) looks unused.",
    "Calls over the notification (WebSocket) channel and features used only through the "
    "Genesys Cloud UI do not appear in API usage.",
    "Only calls that succeeded (2xx) prove a need; roles are as they are today, so a role "
    "changed during the window can make a permission look unused or not held.",
)
SCOPE_LIMIT_NOTES = (
    *LIMIT_NOTES,
    "Scopes limit a token only where the org enforces OAuth scopes (off by default).",
)


def _outcome(call: CalledOperation) -> Outcome:
    if call.status2xx > 0:
        return "succeeded"
    if call.status4xx > call.status429:
        return "denied"
    return "unproven"


def _merged(calls: Iterable[CalledOperation], catalog: OperationsCatalog) -> list[_Call]:
    """The calls by catalog operation (two template spellings of one operation are one), ordered
    by path then method, as the catalog is."""
    merged: dict[str, _Call] = {}
    for call in calls:
        res = catalog.resolve(call.method, call.path)
        seen = merged.get(res.key)
        if seen is None:
            if call.key != res.key:
                call = call.model_copy(update={"method": res.method, "path": res.path})
            merged[res.key] = _Call(res.key, res.match, res.operation, call)
        else:
            c = seen.call
            merged[res.key] = replace(
                seen,
                call=c.model_copy(
                    update={
                        "requests": c.requests + call.requests,
                        "status2xx": c.status2xx + call.status2xx,
                        "status3xx": c.status3xx + call.status3xx,
                        "status4xx": c.status4xx + call.status4xx,
                        "status429": c.status429 + call.status429,
                        "status5xx": c.status5xx + call.status5xx,
                    }
                ),
            )
    return sorted(merged.values(), key=lambda c: (c.call.path, c.call.method))


@dataclass(frozen=True, slots=True)
class _Call:
    key: str
    match: MatchKind
    operation: Operation | None
    call: CalledOperation


# --- records: client-credentials clients ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleSource:
    """One role grant of the client: the role, in one division (``*`` every division; None = the
    home division, for a grant through the deprecated ``roleIds``)."""

    role_id: str
    role_name: str | None
    division_id: str | None


@dataclass(frozen=True, slots=True)
class OperationEvidence:
    """What one operation the client called proves about its permissions.

    ``requirement`` is the catalog's (None for an unknown operation);
    ``exercised`` the permissions the call proves; ``candidates`` the
    permissions the client holds among an ANY list when it holds several
    (``ambiguous``), and ``satisfied_by`` those of them that other calls prove
    anyway (then dropping the others cannot break this call); ``not_held`` what
    the catalog says was needed but no role grants today.
    """

    key: str
    match: MatchKind
    call: CalledOperation
    outcome: Outcome
    status: PermissionStatus
    requirement: Requirement | None = None
    exercised: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    satisfied_by: tuple[str, ...] = ()
    not_held: tuple[str, ...] = ()
    deprecated: bool = False


@dataclass(frozen=True, slots=True)
class GrantUse:
    """One permission a role grants (maybe a wildcard) and what the window proved of it.

    ``covers`` counts the catalog permission ids it grants; ``exercised`` and
    ``possibly`` are the exercised and ambiguous-candidate ids among them.
    """

    permission: str
    covers: int
    exercised: tuple[str, ...] = ()
    possibly: tuple[str, ...] = ()

    @property
    def wildcard(self) -> bool:
        return "*" in self.permission

    @property
    def state(self) -> GrantState:
        if self.exercised:
            return "partly-used" if len(self.exercised) < self.covers else "used"
        if self.possibly:
            return "possibly-used"
        return "unused" if self.covers else "unobservable"


@dataclass(frozen=True, slots=True)
class RoleUse:
    """One role grant of the client and how much of it the window exercised.

    ``permissions`` counts the distinct permissions the role grants (wildcards
    expanded over the catalog, plus concrete ids no operation requires);
    ``observable`` those some operation requires, the only ones usage can prove.
    """

    source: RoleSource
    resolved: bool
    grants: tuple[GrantUse, ...]
    permissions: int
    observable: int
    exercised: int
    possibly: int

    @property
    def unused(self) -> int:
        return self.observable - self.exercised - self.possibly

    @property
    def wholly_unused(self) -> bool:
        """No permission of the role was exercised, or possibly exercised (``unused-roles``)."""
        return self.resolved and self.exercised == 0 and self.possibly == 0


@dataclass(frozen=True, slots=True)
class GrantedPermission:
    """One permission the client is granted (maybe a wildcard), with every role grant giving it."""

    permission: str
    sources: tuple[RoleSource, ...]
    covers: int
    exercised: tuple[str, ...]
    possibly: tuple[str, ...]
    state: GrantState


@dataclass(frozen=True, slots=True)
class PermissionCounts:
    """Distinct concrete permissions: granted = exercised + ambiguous + unused + unobservable."""

    granted: int
    exercised: int
    ambiguous: int
    unused: int
    unobservable: int
    not_held: int

    @property
    def unused_share(self) -> float:
        """Unused among what usage could show (0.0 when nothing observable is granted)."""
        observable = self.granted - self.unobservable
        return self.unused / observable if observable else 0.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What the observation could not see, stated with the result."""

    window: UsageWindow
    requests: int
    operations: int
    unknown_operations: tuple[str, ...]
    no_data_operations: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class PermissionAnalysis:
    """Granted versus exercised permissions of one client-credentials client."""

    client_id: str
    client_name: str
    grant_type: str
    window: UsageWindow
    roles: tuple[RoleUse, ...]
    operations: tuple[OperationEvidence, ...]
    exercised: tuple[str, ...]
    possibly: tuple[str, ...]
    not_held: tuple[str, ...]
    counts: PermissionCounts
    limits: Limits

    @property
    def ambiguous(self) -> tuple[OperationEvidence, ...]:
        return tuple(e for e in self.operations if e.status == "ambiguous")

    @property
    def denied(self) -> tuple[OperationEvidence, ...]:
        """Attempted, denied: only 4xx (not 429) answers."""
        return tuple(e for e in self.operations if e.status == "denied")

    @property
    def unknown_operations(self) -> tuple[OperationEvidence, ...]:
        return tuple(e for e in self.operations if e.status == "unknown-operation")

    @property
    def no_permission_data(self) -> tuple[OperationEvidence, ...]:
        return tuple(e for e in self.operations if e.status == "no-permission-data")

    @cached_property
    def granted(self) -> tuple[GrantedPermission, ...]:
        """Every granted permission (wildcards as granted), with the role grants giving it."""
        by_permission: dict[str, tuple[GrantUse, list[RoleSource]]] = {}
        for role in self.roles:
            for grant in role.grants:
                entry = by_permission.get(grant.permission)
                if entry is None:
                    by_permission[grant.permission] = (grant, [role.source])
                else:
                    entry[1].append(role.source)
        return tuple(
            GrantedPermission(p, tuple(sources), g.covers, g.exercised, g.possibly, g.state)
            for p, (g, sources) in sorted(by_permission.items())
        )

    @property
    def unused(self) -> tuple[GrantedPermission, ...]:
        """Grants of which nothing was exercised (fully unused)."""
        return tuple(g for g in self.granted if g.state == "unused")

    @property
    def partly_used(self) -> tuple[GrantedPermission, ...]:
        """Wildcard grants used only for some of what they cover (``exercised`` says which)."""
        return tuple(g for g in self.granted if g.state == "partly-used")


# --- records: user-facing clients ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeEvidence:
    """What one operation the client called proves about its scopes.

    ``needed`` holds the least powerful scope that allows the call within what
    the client holds (``x:readonly`` is within ``x``); several when equally weak
    scopes allow it (``ambiguous``), and then ``satisfied_by`` those of them
    that other calls need anyway.
    """

    key: str
    match: MatchKind
    call: CalledOperation
    outcome: Outcome
    status: ScopeStatus
    accepted: tuple[str, ...] | None = None
    needed: tuple[str, ...] = ()
    satisfied_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScopeUse:
    """One assigned scope and the operations that needed it (``narrowable``: only its read-only
    part, ``x:readonly``, was needed)."""

    scope: str
    state: ScopeState
    operations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScopeCounts:
    assigned: int
    used: int
    narrowable: int
    possibly_used: int
    unused: int


@dataclass(frozen=True)
class ScopeAnalysis:
    """Assigned versus needed scopes of one user-facing client (code, implicit, SAML2 bearer,
    password)."""

    client_id: str
    client_name: str
    grant_type: str
    window: UsageWindow
    assigned: tuple[str, ...]
    needed: tuple[str, ...]
    scopes: tuple[ScopeUse, ...]
    operations: tuple[ScopeEvidence, ...]
    counts: ScopeCounts
    limits: Limits

    @property
    def unused(self) -> tuple[str, ...]:
        return tuple(s.scope for s in self.scopes if s.state == "unused")

    @property
    def ambiguous(self) -> tuple[ScopeEvidence, ...]:
        return tuple(e for e in self.operations if e.status == "ambiguous")

    @property
    def denied(self) -> tuple[ScopeEvidence, ...]:
        return tuple(e for e in self.operations if e.status == "denied")

    @property
    def unknown_operations(self) -> tuple[ScopeEvidence, ...]:
        return tuple(e for e in self.operations if e.status == "unknown-operation")


# --- wildcard matching ---------------------------------------------------------------------------


def _parts(permission: str) -> tuple[str, str, str] | None:
    parts = permission.split(":")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


class _Universe:
    """The catalog's permission ids, indexed so that a (wildcard) grant expands in one lookup."""

    def __init__(self, ids: frozenset[str]) -> None:
        self.ids = ids
        self._by_domain: dict[str, list[str]] = {}
        for pid in sorted(ids):
            parts = _parts(pid)
            if parts is not None:
                self._by_domain.setdefault(parts[0], []).append(pid)
        self._expanded: dict[str, frozenset[str]] = {}
        self._variants: dict[str, tuple[str, ...]] = {}

    def expand(self, grant: str) -> frozenset[str]:
        """The catalog ids a grant covers: itself if concrete, else every id its wildcards match.
        Each part of a grant is a name or ``*`` (as in ``permission_grants`` of the risk catalog)."""
        hit = self._expanded.get(grant)
        if hit is not None:
            return hit
        parts = _parts(grant)
        if parts is None:
            hit = frozenset()
        elif "*" not in parts:
            hit = frozenset((grant,)) if grant in self.ids else frozenset()
        else:
            domain, entity, action = parts
            pool: Iterable[str] = self.ids if domain == "*" else self._by_domain.get(domain, ())
            hit = frozenset(
                pid
                for pid in pool
                if (p := _parts(pid)) is not None
                and (entity == "*" or p[1] == entity)
                and (action == "*" or p[2] == action)
            )
        self._expanded[grant] = hit
        return hit

    def variants(self, pid: str) -> tuple[str, ...]:
        """Every grant string that covers the concrete id: each part as itself or ``*`` (8)."""
        hit = self._variants.get(pid)
        if hit is None:
            parts = _parts(pid)
            hit = (
                tuple(":".join(v) for v in product(*((p, "*") for p in parts)))
                if parts is not None
                else (pid,)
            )
            self._variants[pid] = hit
        return hit


@dataclass(frozen=True, slots=True)
class _RoleIndex:
    grants: tuple[str, ...]
    position: dict[str, int]
    covered: frozenset[str]
    permissions: int
    base: tuple[GrantUse, ...]


# --- the analysis --------------------------------------------------------------------------------


class LeastPrivilege:
    """The analysis for one org: build once (roles, catalog), then ask per client.

    ``roles`` are the org's roles (``Inventory.roles``); a role grant whose
    role is not among them grants nothing here and is reported unresolved.
    """

    def __init__(
        self,
        roles: Iterable[Role] | Mapping[str, Role] = (),
        catalog: OperationsCatalog | None = None,
    ) -> None:
        self.catalog = catalog if catalog is not None else operations_catalog()
        values = roles.values() if isinstance(roles, Mapping) else roles
        self.roles: dict[str, Role] = {r.id: r for r in values}
        self._universe = _Universe(self.catalog.permission_ids)
        self._indexes: dict[str, _RoleIndex] = {}

    def expand(self, grant: str) -> frozenset[str]:
        """The catalog permission ids a granted permission covers (a wildcard expanded; cached)."""
        return self._universe.expand(grant)

    # -- per role, once

    def _index(self, role: Role) -> _RoleIndex:
        hit = self._indexes.get(role.id)
        if hit is not None:
            return hit
        grants = tuple(sorted(set(role.permissions)))
        covered: set[str] = set()
        base = []
        unobservable_concrete = 0
        for g in grants:
            ids = self._universe.expand(g)
            covered.update(ids)
            base.append(GrantUse(g, len(ids)))
            if not ids and _parts(g) is not None and "*" not in g:
                unobservable_concrete += 1
        hit = _RoleIndex(
            grants=grants,
            position={g: i for i, g in enumerate(grants)},
            covered=frozenset(covered),
            permissions=len(covered) + unobservable_concrete,
            base=tuple(base),
        )
        self._indexes[role.id] = hit
        return hit

    # -- client-credentials clients

    def permissions(
        self,
        *,
        client_id: str,
        client_name: str,
        grants: Sequence[RoleGrant],
        calls: Iterable[CalledOperation],
        window: UsageWindow,
        grant_type: str = CLIENT_CREDENTIALS,
    ) -> PermissionAnalysis:
        """Granted, exercised and unused permissions of a client holding ``grants``."""
        held_roles: list[tuple[RoleGrant, _RoleIndex | None]] = []
        for g in grants:
            role = self.roles.get(g.role_id)
            held_roles.append((g, self._index(role) if role is not None else None))
        indexes = [idx for _, idx in held_roles if idx is not None]

        def held(pid: str) -> bool:
            return any(pid in idx.covered for idx in indexes)

        evidence: list[OperationEvidence] = []
        exercised: set[str] = set()
        possibly: set[str] = set()
        not_held: set[str] = set()
        requests = 0
        unknown: list[str] = []
        no_data: list[str] = []
        for c in _merged(calls, self.catalog):
            requests += c.call.requests
            e = self._permission_evidence(c, held)
            evidence.append(e)
            exercised.update(e.exercised)
            not_held.update(e.not_held)
            if e.status == "unknown-operation":
                unknown.append(e.key)
            elif e.status == "no-permission-data":
                no_data.append(e.key)
        # An ambiguous call that a proven permission already allows needs nothing more; the
        # candidates of the others stay "possibly used", never guessed either way.
        for i, e in enumerate(evidence):
            if e.status == "ambiguous":
                satisfied = tuple(p for p in e.candidates if p in exercised)
                if satisfied:
                    evidence[i] = replace(e, satisfied_by=satisfied)
                else:
                    possibly.update(e.candidates)

        role_uses = [self._role_use(g, idx, exercised, possibly) for g, idx in held_roles]
        covered: set[str] = set()
        unobservable: set[str] = set()
        for idx in indexes:
            covered |= idx.covered
            unobservable.update(u.permission for u in idx.base if u.covers == 0 and not u.wildcard)
        granted = len(covered) + len(unobservable)
        counts = PermissionCounts(
            granted=granted,
            exercised=len(exercised),
            ambiguous=len(possibly),
            unused=len(covered) - len(exercised) - len(possibly),
            unobservable=len(unobservable),
            not_held=len(not_held),
        )
        return PermissionAnalysis(
            client_id=client_id,
            client_name=client_name,
            grant_type=grant_type,
            window=window,
            roles=tuple(role_uses),
            operations=tuple(evidence),
            exercised=tuple(sorted(exercised)),
            possibly=tuple(sorted(possibly)),
            not_held=tuple(sorted(not_held)),
            counts=counts,
            limits=Limits(
                window=window,
                requests=requests,
                operations=len(evidence),
                unknown_operations=tuple(unknown),
                no_data_operations=tuple(no_data),
                notes=LIMIT_NOTES,
            ),
        )

    @staticmethod
    def _permission_evidence(c: _Call, held: Callable[[str], bool]) -> OperationEvidence:
        call = c.call
        outcome = _outcome(call)
        op = c.operation
        if op is None:
            return OperationEvidence(c.key, c.match, call, outcome, "unknown-operation")
        requirement = op.permissions
        base = OperationEvidence(
            c.key, c.match, call, outcome, "proven", requirement, deprecated=op.deprecated
        )
        if outcome != "succeeded":
            return replace(base, status=outcome)
        if requirement.kind == "NONE":
            return replace(base, status="no-permission-required")
        if not requirement.usable:
            return replace(base, status="no-permission-data")
        have = tuple(p for p in requirement.ids if held(p))
        lacking = tuple(p for p in requirement.ids if p not in have)
        if requirement.kind == "ALL":
            return replace(
                base, status="not-held" if lacking else "proven", exercised=have, not_held=lacking
            )
        if not have:
            return replace(base, status="not-held", not_held=requirement.ids)
        if len(have) == 1:
            return replace(base, exercised=have)
        return replace(base, status="ambiguous", candidates=have)

    def _role_use(
        self,
        grant: RoleGrant,
        idx: _RoleIndex | None,
        exercised: set[str],
        possibly: set[str],
    ) -> RoleUse:
        source = RoleSource(grant.role_id, grant.name, grant.division_id)
        if idx is None:
            return RoleUse(source, False, (), 0, 0, 0, 0)
        used: dict[int, tuple[list[str], list[str]]] = {}
        n_exercised = n_possibly = 0
        for bucket, ids in ((0, exercised), (1, possibly)):
            for pid in sorted(ids):
                if pid not in idx.covered:
                    continue
                if bucket == 0:
                    n_exercised += 1
                else:
                    n_possibly += 1
                for variant in self._universe.variants(pid):
                    pos = idx.position.get(variant)
                    if pos is not None:
                        used.setdefault(pos, ([], []))[bucket].append(pid)
        grants = idx.base
        if used:
            as_list = list(grants)
            for pos, (ex, maybe) in used.items():
                as_list[pos] = replace(grants[pos], exercised=tuple(ex), possibly=tuple(maybe))
            grants = tuple(as_list)
        return RoleUse(
            source=source,
            resolved=True,
            grants=grants,
            permissions=idx.permissions,
            observable=len(idx.covered),
            exercised=n_exercised,
            possibly=n_possibly,
        )

    # -- user-facing clients

    def scopes(
        self,
        *,
        client_id: str,
        client_name: str,
        grant_type: str,
        assigned: Sequence[str],
        calls: Iterable[CalledOperation],
        window: UsageWindow,
    ) -> ScopeAnalysis:
        """Assigned, needed and unused scopes of a client that holds ``assigned``."""
        held = frozenset(assigned)
        evidence: list[ScopeEvidence] = []
        requests = 0
        unknown: list[str] = []
        no_data: list[str] = []
        for c in _merged(calls, self.catalog):
            requests += c.call.requests
            e = _scope_evidence(c, held)
            evidence.append(e)
            if e.status == "unknown-operation":
                unknown.append(e.key)
            elif e.status == "no-scope-data":
                no_data.append(e.key)

        needed = {e.needed[0] for e in evidence if e.status == "proven"}
        # An ambiguous operation is satisfied when a definite need already covers it.
        open_choices = []
        for i, e in enumerate(evidence):
            if e.status == "ambiguous":
                satisfied = tuple(s for s in e.needed if s in needed)
                if satisfied:
                    evidence[i] = replace(e, satisfied_by=satisfied)
                else:
                    open_choices.append(e)
        by_scope: dict[str, list[str]] = {}
        for e in evidence:
            if e.status in ("proven", "ambiguous"):
                for s in e.needed:
                    by_scope.setdefault(s, []).append(e.key)
        maybe = {s for e in open_choices for s in e.needed}
        uses = []
        for scope in sorted(held):
            readonly = f"{scope}:readonly"
            if scope in needed:
                state: ScopeState = "used"
                ops = by_scope.get(scope, [])
            elif readonly not in held and readonly in needed:
                state, ops = "narrowable", by_scope.get(readonly, [])
            elif scope in maybe or (readonly not in held and readonly in maybe):
                state = "possibly-used"
                ops = by_scope.get(scope, []) + by_scope.get(readonly, [])
            else:
                state, ops = "unused", []
            uses.append(ScopeUse(scope, state, tuple(sorted(set(ops)))))
        return ScopeAnalysis(
            client_id=client_id,
            client_name=client_name,
            grant_type=grant_type,
            window=window,
            assigned=tuple(sorted(held)),
            needed=tuple(sorted(needed)),
            scopes=tuple(uses),
            operations=tuple(evidence),
            counts=ScopeCounts(
                assigned=len(uses),
                used=sum(u.state == "used" for u in uses),
                narrowable=sum(u.state == "narrowable" for u in uses),
                possibly_used=sum(u.state == "possibly-used" for u in uses),
                unused=sum(u.state == "unused" for u in uses),
            ),
            limits=Limits(
                window=window,
                requests=requests,
                operations=len(evidence),
                unknown_operations=tuple(unknown),
                no_data_operations=tuple(no_data),
                notes=SCOPE_LIMIT_NOTES,
            ),
        )

    # -- one client, either kind

    def client(
        self, client: Client, calls: Iterable[CalledOperation], window: UsageWindow
    ) -> PermissionAnalysis | ScopeAnalysis | None:
        """The analysis that fits the client's grant type; None for a grant type that is neither
        client credentials nor user-facing (nothing the usage could be compared with)."""
        if client.grant_type == CLIENT_CREDENTIALS:
            return self.permissions(
                client_id=client.id,
                client_name=client.name,
                grants=client.roles,
                calls=calls,
                window=window,
                grant_type=client.grant_type,
            )
        if client.grant_type in USER_FACING_GRANT_TYPES:
            return self.scopes(
                client_id=client.id,
                client_name=client.name,
                grant_type=client.grant_type,
                assigned=client.scopes,
                calls=calls,
                window=window,
            )
        return None


def scope_power(scope: str) -> int:
    """0 for a read-only scope (``x:readonly``), 1 for any other: the lower, the less it allows."""
    return 0 if scope.endswith(":readonly") else 1


def _within(scope: str, held: frozenset[str]) -> bool:
    """Whether a client holding ``held`` can do what ``scope`` allows (``x`` includes ``x:readonly``)."""
    if scope in held:
        return True
    return scope.endswith(":readonly") and scope[: -len(":readonly")] in held


def _scope_evidence(c: _Call, held: frozenset[str]) -> ScopeEvidence:
    call = c.call
    outcome = _outcome(call)
    op = c.operation
    if op is None:
        return ScopeEvidence(c.key, c.match, call, outcome, "unknown-operation")
    accepted = op.scopes
    base = ScopeEvidence(c.key, c.match, call, outcome, "proven", accepted)
    if outcome != "succeeded":
        return replace(base, status=outcome)
    if accepted is None:
        return replace(base, status="no-scope-data")
    if not accepted:
        return replace(base, status="no-scope-required")
    allowed = [s for s in accepted if _within(s, held)]
    if not allowed:
        return replace(base, status="not-held")
    weakest = min(scope_power(s) for s in allowed)
    needed = tuple(sorted(s for s in allowed if scope_power(s) == weakest))
    return replace(base, status="proven" if len(needed) == 1 else "ambiguous", needed=needed)
