"""``recommend``: the role each client-credentials client should have (its exercised permissions as
permission policies, in the divisions it uses today) and the scopes each user-facing client
needs. ``report/recommend.py`` renders them as CX-as-Code Terraform, as the API's request body,
or as plain text.

A recommendation never grants more than the client has: it is built from
``PermissionAnalysis.exercised``, which holds only permissions some role of the
client grants today, and each permission keeps the divisions its grants have
today (permissions granted in different division sets go to different roles,
so no permission reaches a division it did not reach before). Ambiguous ANY
evidence is never resolved by guessing: every candidate is listed and, in
Terraform, written as a commented block for the reviewer to choose. Nothing
here writes to the org.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from genesys_oauth_audit.files.text import invisible
from genesys_oauth_audit.inventory import Client, UsageWindow
from genesys_oauth_audit.leastpriv.analysis import (
    PermissionAnalysis,
    ScopeAnalysis,
)

ROLE_CREATE_PATH = "/api/v2/authorization/roles"
RECOMMENDATION_KIND = "genesys-oauth-audit/recommendation"


@dataclass(frozen=True, slots=True)
class PermissionPolicy:
    """One permission policy of a role, as ``DomainPermissionPolicy`` and the provider's
    ``permission_policies`` block have it."""

    domain: str
    entity_name: str
    action_set: tuple[str, ...]

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(f"{self.domain}:{self.entity_name}:{a}" for a in self.action_set)


def collapse(permissions: Iterable[str]) -> tuple[PermissionPolicy, ...]:
    """Permissions as policies: one per domain and entity, its actions sorted (concrete ids only;
    a malformed id is left out rather than written as a policy that grants something else)."""
    actions: dict[tuple[str, str], set[str]] = {}
    for permission in permissions:
        parts = permission.split(":")
        if len(parts) == 3 and all(parts):
            actions.setdefault((parts[0], parts[1]), set()).add(parts[2])
    return tuple(
        PermissionPolicy(domain, entity, tuple(sorted(acts)))
        for (domain, entity), acts in sorted(actions.items())
    )


@dataclass(frozen=True, slots=True)
class AmbiguousChoice:
    """An operation the client called that ANY of several permissions (or scopes) it holds allows;
    the recommendation carries none of them: the reviewer keeps at least one."""

    operation: str
    candidates: tuple[str, ...]
    divisions: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class ProposedRole:
    """A role to create and the divisions to grant it in (None: the home division)."""

    name: str
    description: str
    policies: tuple[PermissionPolicy, ...]
    divisions: tuple[str | None, ...]
    ambiguous: tuple[AmbiguousChoice, ...] = ()

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(p for policy in self.policies for p in policy.permissions)


@dataclass(frozen=True, slots=True)
class Confidence:
    """How far to trust a recommendation: what was observed and what could not be."""

    window: UsageWindow
    requests: int
    succeeded_requests: int
    operations: int
    ambiguous: tuple[AmbiguousChoice, ...]
    unknown_operations: tuple[str, ...]
    no_data_operations: tuple[str, ...]
    denied_operations: tuple[str, ...]
    not_held: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class RoleRecommendation:
    """The least-privilege role(s) for one client-credentials client."""

    client_id: str
    client_name: str
    roles: tuple[ProposedRole, ...]
    confidence: Confidence
    client: Client | None = None

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(sorted({p for role in self.roles for p in role.permissions}))


@dataclass(frozen=True)
class ScopeRecommendation:
    """The minimal scope list for one user-facing client."""

    client_id: str
    client_name: str
    grant_type: str
    scopes: tuple[str, ...]
    remove: tuple[str, ...]
    confidence: Confidence
    client: Client | None = None


Recommendation = RoleRecommendation | ScopeRecommendation


# --- building ------------------------------------------------------------------------------------


def _division_key(division: str | None) -> tuple[bool, str]:
    return (division is None, division or "")


def _divisions(found: set[str | None]) -> tuple[str | None, ...]:
    # '*' is every division: the others add nothing to it.
    if "*" in found:
        return ("*",)
    return tuple(sorted(found, key=_division_key))


def one_line(text: str) -> str:
    """Org text as a role name or description: one line, no invisible characters."""
    flat = " ".join(text.split())
    return "".join(ch for ch in flat if not invisible(ch))


def _confidence(
    analysis: PermissionAnalysis | ScopeAnalysis, ambiguous: Sequence[AmbiguousChoice]
) -> Confidence:
    ops = analysis.operations
    return Confidence(
        window=analysis.window,
        requests=analysis.limits.requests,
        succeeded_requests=sum(e.call.status2xx for e in ops),
        operations=len(ops),
        ambiguous=tuple(ambiguous),
        unknown_operations=analysis.limits.unknown_operations,
        no_data_operations=analysis.limits.no_data_operations,
        denied_operations=tuple(e.key for e in ops if e.status == "denied"),
        not_held=analysis.not_held if isinstance(analysis, PermissionAnalysis) else (),
        notes=analysis.limits.notes,
    )


def recommend_role(
    analysis: PermissionAnalysis, client: Client | None = None
) -> RoleRecommendation:
    """The roles that grant what ``analysis`` proved the client exercised, and nothing else."""
    # The divisions each exercised (or ambiguous candidate) permission is granted in today.
    where: dict[str, set[str | None]] = {}
    for role in analysis.roles:
        for pid in (*role.exercised, *role.possibly):
            where.setdefault(pid, set()).add(role.source.division_id)
    groups: dict[tuple[str | None, ...], list[str]] = {}
    for pid in analysis.exercised:
        groups.setdefault(_divisions(where.get(pid, set())), []).append(pid)

    open_choices = tuple(
        AmbiguousChoice(
            e.key,
            e.candidates,
            _divisions({d for c in e.candidates for d in where.get(c, set())}),
        )
        for e in analysis.ambiguous
        if not e.satisfied_by
    )
    if open_choices and not groups:
        # Nothing proven, only choices: one role for the reviewer to complete.
        groups[_divisions({d for c in open_choices for d in c.divisions})] = []

    name = one_line(analysis.client_name) or analysis.client_id
    w = analysis.window
    roles = []
    ordered = sorted(groups.items(), key=lambda kv: [_division_key(d) for d in kv[0]])
    for i, (divisions, permissions) in enumerate(ordered):
        suffix = f" {i + 1} of {len(ordered)}" if len(ordered) > 1 else ""
        # Each choice goes with the role whose divisions it shares, else with the first role.
        mine = tuple(
            c
            for c in open_choices
            if c.divisions == divisions or (i == 0 and all(c.divisions != d for d, _ in ordered))
        )
        roles.append(
            ProposedRole(
                name=f"{name} (least privilege{suffix})",
                description=(
                    f"Least privilege for OAuth client {one_line(analysis.client_id)}: the "
                    f"permissions it exercised in {w.days} days ({w.start} to {w.end}). "
                    "Generated by genesys-oauth-audit recommend."
                ),
                policies=collapse(permissions),
                divisions=divisions,
                ambiguous=mine,
            )
        )
    return RoleRecommendation(
        client_id=analysis.client_id,
        client_name=analysis.client_name,
        roles=tuple(roles),
        confidence=_confidence(analysis, open_choices),
        client=client,
    )


def recommend_scopes(analysis: ScopeAnalysis, client: Client | None = None) -> ScopeRecommendation:
    """The least powerful scopes that allowed every call the client made (``x:readonly`` where a
    held ``x`` was used only for reading)."""
    needed = set(analysis.needed)
    choices = tuple(
        AmbiguousChoice(e.key, e.needed) for e in analysis.ambiguous if not e.satisfied_by
    )
    return ScopeRecommendation(
        client_id=analysis.client_id,
        client_name=analysis.client_name,
        grant_type=analysis.grant_type,
        scopes=tuple(sorted(needed)),
        # Unused scopes go, and a scope used only read-only makes way for its ':readonly' form;
        # one that an open choice may need stays until the reviewer has chosen.
        remove=tuple(u.scope for u in analysis.scopes if u.state in ("unused", "narrowable")),
        confidence=_confidence(analysis, choices),
        client=client,
    )


def recommend(
    analysis: PermissionAnalysis | ScopeAnalysis, client: Client | None = None
) -> Recommendation:
    if isinstance(analysis, PermissionAnalysis):
        return recommend_role(analysis, client)
    return recommend_scopes(analysis, client)
