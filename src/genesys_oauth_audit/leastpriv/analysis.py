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
operations and role grants (``benchmarks/bench_leastpriv.py``). Every record is
immutable: the ones made per operation or per role grant of every client are
NamedTuples (an org makes hundreds of thousands; a frozen dataclass costs
about four times as much to build), the per-client analyses frozen dataclasses.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import product
from typing import Literal, NamedTuple

from genesys_oauth_audit.data.operations import (
    CalledOperation,
    MatchKind,
    OperationsCatalog,
    Requirement,
    Resolution,
    operations_catalog,
)
from genesys_oauth_audit.inventory import Client, Role, RoleGrant, UsageWindow

CLIENT_CREDENTIALS = "CLIENT-CREDENTIALS"
USER_FACING_GRANT_TYPES = ("CODE", "TOKEN", "SAML2-BEARER", "PASSWORD")
# Role-set unions kept per org: clients share role sets; each union is a few hundred ids.
_UNION_CACHE_LIMIT = 4096

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


def _merged(
    calls: Iterable[CalledOperation], catalog: OperationsCatalog
) -> list[tuple[Resolution, CalledOperation]]:
    """The calls by catalog operation (two template spellings of one operation are one, counts
    summed), each stating the catalog's method and path, in catalog order (path, then method)."""
    calls = calls if isinstance(calls, Sequence) else tuple(calls)
    resolve = catalog.resolve
    # As the inventory stores them (swagger keys, one per operation, in catalog order), the calls
    # need no merging and no sorting: check that in one pass, else merge.
    out: list[tuple[Resolution, CalledOperation]] = []
    previous = ("", "")
    for call in calls:
        res = resolve(call.method, call.path)
        order = (res.path, res.method)
        if order <= previous or call.path != res.path or call.method != res.method:
            return _merged_slowly(calls, catalog)
        out.append((res, call))
        previous = order
    return out


def _merged_slowly(
    calls: Sequence[CalledOperation], catalog: OperationsCatalog
) -> list[tuple[Resolution, CalledOperation]]:
    merged: dict[str, tuple[str, str, Resolution, CalledOperation]] = {}
    resolve = catalog.resolve
    for call in calls:
        res = resolve(call.method, call.path)
        seen = merged.get(res.key)
        if seen is not None:
            call = _summed(seen[3], call)
            if seen[2].match == "exact":
                res = seen[2]  # an exact spelling among them is what the evidence reports
        merged[res.key] = (res.path, res.method, res, call)
    out = []
    # (path, method) is unique per key, so sorting the tuples never compares what follows.
    for path, method, res, call in sorted(merged.values()):
        if call.path != path or call.method != method:
            # Values from a validated record and the catalog: no need to validate again.
            call = CalledOperation.model_construct(
                **{**call.__dict__, "method": method, "path": path}
            )
        out.append((res, call))
    return out


def _summed(a: CalledOperation, b: CalledOperation) -> CalledOperation:
    return a.model_copy(
        update={
            "requests": a.requests + b.requests,
            "status2xx": a.status2xx + b.status2xx,
            "status3xx": a.status3xx + b.status3xx,
            "status4xx": a.status4xx + b.status4xx,
            "status429": a.status429 + b.status429,
            "status5xx": a.status5xx + b.status5xx,
        }
    )


# --- records: client-credentials clients ---------------------------------------------------------


class RoleSource(NamedTuple):
    """One role grant of the client: the role, in one division (``*`` every division; None = the
    home division, for a grant through the deprecated ``roleIds``)."""

    role_id: str
    role_name: str | None
    division_id: str | None


class OperationEvidence(NamedTuple):
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


class GrantUse(NamedTuple):
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


class RoleUse(NamedTuple):
    """One role grant of the client and how much of it the window exercised.

    ``permissions`` counts the distinct permissions the role grants (wildcards
    expanded over the catalog, plus concrete ids no operation requires);
    ``observable`` those some operation requires, the only ones usage can prove;
    ``exercised`` and ``possibly`` the exercised and ambiguous-candidate ids it
    grants ("role 'Reporting Admin' grants 212 permissions; 3 were exercised").
    """

    source: RoleSource
    resolved: bool
    grants: tuple[GrantUse, ...]
    permissions: int
    observable: int
    exercised: tuple[str, ...]
    possibly: tuple[str, ...]

    @property
    def unused(self) -> int:
        return self.observable - len(self.exercised) - len(self.possibly)

    @property
    def wholly_unused(self) -> bool:
        """No permission of the role was exercised, or possibly exercised (``unused-roles``)."""
        return self.resolved and not self.exercised and not self.possibly


class GrantedPermission(NamedTuple):
    """One permission the client is granted (maybe a wildcard), with every role grant giving it."""

    permission: str
    sources: tuple[RoleSource, ...]
    covers: int
    exercised: tuple[str, ...]
    possibly: tuple[str, ...]
    state: GrantState


class PermissionCounts(NamedTuple):
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


class Limits(NamedTuple):
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


class ScopeEvidence(NamedTuple):
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


class ScopeUse(NamedTuple):
    """One assigned scope and the operations that needed it (``narrowable``: only its read-only
    part, ``x:readonly``, was needed)."""

    scope: str
    state: ScopeState
    operations: tuple[str, ...]


class ScopeCounts(NamedTuple):
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
    covered: frozenset[str]  # the catalog ids the role's grants cover
    unobservable: frozenset[str]  # concrete grants no operation requires
    base: tuple[GrantUse, ...]  # every grant as if nothing had been exercised

    @property
    def permissions(self) -> int:
        return len(self.covered) + len(self.unobservable)


# --- the analysis --------------------------------------------------------------------------------


def _permission_evidence(
    res: Resolution, call: CalledOperation, held: frozenset[str]
) -> OperationEvidence:
    """The verdict on one called operation for a client whose roles cover ``held``.

    Run for every operation of every client: the record is built positionally
    and the common requirement, one permission, takes no generator.
    """
    outcome = _outcome(call)
    op = res.operation
    if op is None:
        return OperationEvidence(res.key, res.match, call, outcome, "unknown-operation")
    req = op.permissions
    ids = req.ids
    status: PermissionStatus
    exercised: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    not_held: tuple[str, ...] = ()
    if outcome != "succeeded":
        status = outcome
    elif req.kind == "NONE":
        status = "no-permission-required"
    elif not req.usable:
        status = "no-permission-data"
    else:
        have: tuple[str, ...]
        if len(ids) == 1:
            have = ids if ids[0] in held else ()
        else:
            have = tuple(p for p in ids if p in held)
        if req.kind == "ALL":
            exercised = have
            if len(have) == len(ids):
                status = "proven"
            else:
                status, not_held = "not-held", tuple(p for p in ids if p not in held)
        elif len(have) == 1:
            status, exercised = "proven", have
        elif have:
            status, candidates = "ambiguous", have
        else:
            status, not_held = "not-held", ids
    return OperationEvidence(
        res.key,
        res.match,
        call,
        outcome,
        status,
        req,
        exercised,
        candidates,
        (),
        not_held,
        op.deprecated,
    )


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
        self._unions: dict[tuple[str, ...], tuple[frozenset[str], frozenset[str]]] = {}

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
        unobservable = set()
        base = []
        for g in grants:
            ids = self._universe.expand(g)
            covered.update(ids)
            base.append(GrantUse(g, len(ids)))
            if not ids and "*" not in g:
                unobservable.add(g)  # a permission no operation requires (a UI-only one)
        hit = _RoleIndex(
            grants=grants,
            position={g: i for i, g in enumerate(grants)},
            covered=frozenset(covered),
            unobservable=frozenset(unobservable),
            base=tuple(base),
        )
        self._indexes[role.id] = hit
        return hit

    def _union(self, role_ids: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
        """What a set of roles covers together (and their unobservable grants); clients share role
        sets, so the unions are kept (up to a bound: each is a few hundred ids)."""
        hit = self._unions.get(role_ids)
        if hit is not None:
            return hit
        indexes = [self._indexes[r] for r in role_ids]
        if len(indexes) == 1:
            hit = (indexes[0].covered, indexes[0].unobservable)
        else:
            hit = (
                frozenset().union(*(i.covered for i in indexes)),
                frozenset().union(*(i.unobservable for i in indexes)),
            )
        if len(self._unions) < _UNION_CACHE_LIMIT:
            self._unions[role_ids] = hit
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
        role_ids = tuple(sorted({g.role_id for g, idx in held_roles if idx is not None}))
        covered, unobservable = self._union(role_ids)

        evidence: list[OperationEvidence] = []
        exercised: set[str] = set()
        possibly: set[str] = set()
        not_held: set[str] = set()
        requests = 0
        unknown: list[str] = []
        no_data: list[str] = []
        for res, call in _merged(calls, self.catalog):
            requests += call.requests
            e = _permission_evidence(res, call, covered)
            evidence.append(e)
            if e.exercised:
                exercised.update(e.exercised)
            if e.not_held:
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
                    evidence[i] = e._replace(satisfied_by=satisfied)
                else:
                    possibly.update(e.candidates)

        # A role held in several divisions is used alike in each: work it out once.
        per_role: dict[str, tuple[tuple[GrantUse, ...], tuple[str, ...], tuple[str, ...]]] = {}
        role_uses = []
        for g, idx in held_roles:
            source = RoleSource(g.role_id, g.name, g.division_id)
            if idx is None:
                role_uses.append(RoleUse(source, False, (), 0, 0, (), ()))
                continue
            use = per_role.get(g.role_id)
            if use is None:
                use = per_role[g.role_id] = self._role_use(idx, exercised, possibly)
            role_uses.append(
                RoleUse(source, True, use[0], idx.permissions, len(idx.covered), use[1], use[2])
            )
        counts = PermissionCounts(
            granted=len(covered) + len(unobservable),
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

    def _role_use(
        self, idx: _RoleIndex, exercised: set[str], possibly: set[str]
    ) -> tuple[tuple[GrantUse, ...], tuple[str, ...], tuple[str, ...]]:
        """The role's grants with what each covers of ``exercised`` and ``possibly``, and the
        exercised and possibly exercised ids the role grants."""
        used: dict[int, tuple[list[str], list[str]]] = {}
        mine: list[tuple[str, ...]] = []
        for bucket, ids in ((0, exercised), (1, possibly)):
            covered = tuple(sorted(ids.intersection(idx.covered)))
            mine.append(covered)
            for pid in covered:
                for variant in self._universe.variants(pid):
                    pos = idx.position.get(variant)
                    if pos is not None:
                        used.setdefault(pos, ([], []))[bucket].append(pid)
        grants = idx.base
        if used:
            as_list = list(grants)
            for pos, (ex, maybe) in used.items():
                g = grants[pos]
                as_list[pos] = GrantUse(g.permission, g.covers, tuple(ex), tuple(maybe))
            grants = tuple(as_list)
        return grants, mine[0], mine[1]

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
        for res, call in _merged(calls, self.catalog):
            requests += call.requests
            e = _scope_evidence(res, call, held)
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
                    evidence[i] = e._replace(satisfied_by=satisfied)
                else:
                    open_choices.append(e)
        by_scope: dict[str, list[str]] = {}
        for e in evidence:
            if e.status in ("proven", "ambiguous"):
                for s in e.needed:
                    by_scope.setdefault(s, []).append(e.key)
        maybe = {s for e in open_choices for s in e.needed}
        ordered = tuple(sorted(held))
        uses: list[ScopeUse] = []
        # Counted as they are judged (run for every user-facing client of an org).
        tally = {"used": 0, "narrowable": 0, "possibly-used": 0, "unused": 0}
        for scope in ordered:
            state: ScopeState
            if not by_scope:  # nothing needed any scope (no calls, or none that proves one)
                state, ops = "unused", []
            else:
                readonly = f"{scope}:readonly"
                if scope in needed:
                    state = "used"
                    ops = by_scope.get(scope, [])
                elif readonly not in held and readonly in needed:
                    state, ops = "narrowable", by_scope.get(readonly, [])
                elif scope in maybe or (readonly not in held and readonly in maybe):
                    state = "possibly-used"
                    ops = by_scope.get(scope, []) + by_scope.get(readonly, [])
                else:
                    state, ops = "unused", []
            tally[state] += 1
            uses.append(ScopeUse(scope, state, tuple(sorted(set(ops))) if ops else ()))
        return ScopeAnalysis(
            client_id=client_id,
            client_name=client_name,
            grant_type=grant_type,
            window=window,
            assigned=ordered,
            needed=tuple(sorted(needed)),
            scopes=tuple(uses),
            operations=tuple(evidence),
            counts=ScopeCounts(
                assigned=len(uses),
                used=tally["used"],
                narrowable=tally["narrowable"],
                possibly_used=tally["possibly-used"],
                unused=tally["unused"],
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

    # -- every client of an org

    def analyse_all(
        self,
        clients: Iterable[tuple[Client, Iterable[CalledOperation]]],
        window: UsageWindow,
    ) -> list[PermissionAnalysis | ScopeAnalysis | None]:
        """``client`` for each (client, calls), in order. The cyclic garbage collector is paused
        meanwhile: the records hold no cycles, and its rescans of a large live heap were ~40% of
        the time on 5,000 clients (as when a snapshot is parsed)."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return [self.client(c, calls, window) for c, calls in clients]
        finally:
            if was_enabled:
                gc.enable()

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


def _scope_evidence(res: Resolution, call: CalledOperation, held: frozenset[str]) -> ScopeEvidence:
    outcome = _outcome(call)
    op = res.operation
    if op is None:
        return ScopeEvidence(res.key, res.match, call, outcome, "unknown-operation")
    accepted = op.scopes
    base = ScopeEvidence(res.key, res.match, call, outcome, "proven", accepted)
    if outcome != "succeeded":
        return base._replace(status=outcome)
    if accepted is None:
        return base._replace(status="no-scope-data")
    if not accepted:
        return base._replace(status="no-scope-required")
    allowed = [s for s in accepted if _within(s, held)]
    if not allowed:
        return base._replace(status="not-held")
    weakest = min(scope_power(s) for s in allowed)
    needed = tuple(sorted(s for s in allowed if scope_power(s) == weakest))
    return base._replace(status="proven" if len(needed) == 1 else "ambiguous", needed=needed)
