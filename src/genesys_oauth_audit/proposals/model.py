"""Proposed clients in two phases: a ``Draft`` as a file writes it (phase one, before the network),
and a ``Proposal`` once its roles are resolved against the org's (phase two).

Splitting them lets ``check --proposed`` reject a bad file in milliseconds, read
the org only if the files are good, and parse every file exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from genesys_oauth_audit.findings import Location, Subject
from genesys_oauth_audit.inventory import (
    Client,
    Inventory,
    Role,
    RoleGrant,
    effective_permissions,
    role_grants,
)

Action = Literal["create", "update", "replace"]
AFTER_APPLY = "is known only after apply"
NOT_YET = "is not known for a client that does not exist yet"
# The fields a client that does not exist yet cannot have: a rule reading only these does not
# apply to it (reported as not applicable, never as missing data).
NOT_YET_FIELDS = ("lastUsed", "dateCreated")
DEFAULT_VALIDITY = 86400  # the API's and the provider's default


@dataclass(frozen=True)
class Draft:
    """A proposed client as written, its roles not yet resolved.

    ``client`` holds every value the file states, with no roles or permissions
    yet (building it validates the file's types in phase one). ``role_pairs``
    are the (role id, division) grants; ``roles_unknown`` says why the roles
    cannot be known at all (a role id known only after apply that is not a role
    planned alongside). ``unknown`` maps client fields to why they are unknown.
    """

    client: Client
    location: Location
    action: Action
    client_id: str | None = None
    role_pairs: tuple[tuple[str, str | None], ...] = ()
    roles_unknown: str | None = None
    address: str | None = None  # the Terraform resource address
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    """One proposed client, where it is written, and what is not known about it yet."""

    client: Client
    location: Location
    action: Action
    address: str | None = None
    unknown: Mapping[str, str] = field(default_factory=dict)
    # The unknown fields the client cannot have yet (it does not exist yet): Subject.inapplicable.
    inapplicable: frozenset[str] = frozenset()

    def subject(self) -> Subject:
        return Subject(self.client, self.location, self.unknown, self.inapplicable)


@dataclass(frozen=True)
class ParsedProposals:
    """Phase one: every proposal file read and checked, nothing resolved against an org."""

    drafts: tuple[Draft, ...] = ()
    roles: tuple[Role, ...] = ()  # roles planned in the same plans
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what reports should say (a plan that changes nothing)


@dataclass(frozen=True)
class ProposalSet:
    """Phase two: the proposals as they will be after the change, judged against the org."""

    proposals: tuple[Proposal, ...] = ()
    roles: tuple[Role, ...] = ()
    files: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()


def resolve_proposals(parsed: ParsedProposals, inventory: Inventory | None) -> ProposalSet:
    """Resolve every draft's roles against the org's roles (when known) and those planned
    alongside, and carry over the history (creation date, last use) of clients being updated."""
    org_roles = {r.id: r for r in inventory.roles or ()} if inventory is not None else {}
    org_known = inventory is not None and inventory.roles is not None
    roles_by_id = {**org_roles, **{r.id: r for r in parsed.roles}}
    existing = {c.id: c for c in inventory.clients} if inventory is not None else {}
    return ProposalSet(
        proposals=tuple(
            _resolve(draft, roles_by_id, org_known, existing) for draft in parsed.drafts
        ),
        roles=parsed.roles,
        files=parsed.files,
        notes=parsed.notes,
    )


def _resolve(
    draft: Draft,
    roles_by_id: Mapping[str, Role],
    org_known: bool,
    existing: Mapping[str, Client],
) -> Proposal:
    unknown = dict(draft.unknown)
    grants = role_grants(list(draft.role_pairs), roles_by_id)
    permissions: tuple[str, ...] | None
    if draft.roles_unknown is not None:
        unknown["roles"] = draft.roles_unknown
        unknown["permissions"] = "cannot be known: its roles " + draft.roles_unknown
        permissions = None
    else:
        permissions, why = _permissions(grants, roles_by_id, org_known)
        unknown.update(why)
    current = existing.get(draft.client_id) if draft.client_id else None
    inapplicable: set[str] = set()
    if current is None:
        for name in NOT_YET_FIELDS:
            if name not in unknown:
                unknown[name] = NOT_YET
                inapplicable.add(name)
    client = draft.client.model_copy(
        update={
            "roles": grants,
            "permissions": permissions,
            "date_created": current.date_created if current else None,
            "last_used": current.last_used if current else None,
        }
    )
    return Proposal(
        client=client,
        location=draft.location,
        action=draft.action,
        address=draft.address,
        unknown=unknown,
        inapplicable=frozenset(inapplicable),
    )


def _permissions(
    grants: tuple[RoleGrant, ...], roles_by_id: Mapping[str, Role], org_roles_known: bool
) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """Effective permissions, and what cannot be known. A role id that resolves nowhere is an
    orphan when the org's roles are known (it grants nothing; orphan-roles says so), and unknown
    when they are not: then the role checks are not evaluated for this client, never passed."""
    missing = [g.role_id for g in grants if g.role_id not in roles_by_id]
    if missing and not org_roles_known:
        why = (
            f"role {missing[0]} is neither planned here nor known (give --inventory with roles, "
            "or audit against a live org)"
        )
        return None, {
            "roles": f"cannot be resolved: {why}",
            "permissions": f"cannot be known: {why}",
        }
    return effective_permissions(grants, roles_by_id), {}


def proposal_inventory(proposals: ProposalSet, inventory: Inventory | None) -> Inventory:
    """The catalogs proposals are judged against: the org's scopes, roles and usage when an
    inventory is given, plus the roles planned alongside the proposals."""
    planned = tuple(proposals.roles)
    if inventory is None:
        return Inventory(roles=planned)
    roles = (*inventory.roles, *planned) if inventory.roles is not None else planned
    return Inventory(
        org=inventory.org,
        region=inventory.region,
        fetched_at=inventory.fetched_at,
        scopes=inventory.scopes,
        roles=roles,
        usage=inventory.usage,
    )
