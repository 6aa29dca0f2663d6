"""Drift between two snapshots of one org (docs/drift.md): clients added, removed, renamed; what each kept
client gained or lost, including the *effective permissions* its roles give it in each division;
roles whose permission policies changed; state, deletion dates and newly used or idle clients.

Every change belongs to a class (``DRIFT_CLASSES``), so a scheduled job can alert on what matters
to it: ``diff --fail-on privilege-gain`` fails on a privilege escalation alone, whether it came
from a new role assignment, a role granted in another division, or an edit of a role the client
already held (which changes no client record at all).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from genesys_oauth_audit.engine.drift_classes import (
    DRIFT_CLASSES,
    FAIL_ON_ANY,
    FAIL_ON_CHOICES,
    FAIL_ON_NEVER,
)
from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.inventory import Client, Inventory, Role, RoleGrant

__all__ = ["DRIFT_CLASSES", "FAIL_ON_CHOICES", "Change", "Drift", "compare"]

ALL_DIVISIONS = "*"
NO_DIVISION = ""  # a grant through the deprecated roleIds, which names no division


@dataclass(frozen=True)
class PermissionDelta:
    """One effective permission gained or lost in one division, and the roles behind it."""

    permission: str
    division: str  # '*' every division, '' no division (roleIds), else a division id
    roles: tuple[tuple[str, str], ...]  # (id, name) of the roles granting it (after a gain)
    cause: str  # "role newly assigned", "role edited", "role granted in another division", ...

    def describe(self) -> str:
        where = (
            "all divisions"
            if self.division == ALL_DIVISIONS
            else (f"division {self.division}" if self.division else "no division")
        )
        via = ", ".join(f"{name!r}" for _, name in self.roles) or "(no role resolves)"
        word = "role" if len(self.roles) <= 1 else "roles"
        return f"{self.permission} ({where}) via {word} {via} ({self.cause})"


@dataclass(frozen=True)
class Change:
    """One field of one client: what was gained and lost (sets), or before and after (values),
    and the classes of change it belongs to."""

    field: str
    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None
    classes: tuple[str, ...] = ()
    gained_grants: tuple[PermissionDelta, ...] = ()  # for effective permissions
    lost_grants: tuple[PermissionDelta, ...] = ()


@dataclass(frozen=True)
class ClientDrift:
    id: str
    name: str
    old_name: str | None  # set when the client was renamed
    changes: tuple[Change, ...]

    @property
    def classes(self) -> frozenset[str]:
        found = {c for change in self.changes for c in change.classes}
        return frozenset(found | ({"config"} if self.old_name is not None else set()))


@dataclass(frozen=True)
class RoleDrift:
    """A role of the org whose name or permission policies changed, and how many clients hold it."""

    id: str
    name: str
    old_name: str | None
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    holders: int  # clients of the newer snapshot that hold the role

    @property
    def classes(self) -> frozenset[str]:
        found = set()
        if self.gained:
            found.add("privilege-gain")
        if self.lost:
            found.add("privilege-loss")
        if self.old_name is not None:
            found.add("role")
        return frozenset(found)


@dataclass(frozen=True)
class Drift:
    old: Inventory
    new: Inventory
    added: tuple[Client, ...]
    removed: tuple[Client, ...]
    changed: tuple[ClientDrift, ...]
    roles_added: tuple[Role, ...] = ()
    roles_removed: tuple[Role, ...] = ()
    roles_changed: tuple[RoleDrift, ...] = ()
    notes: tuple[str, ...] = ()  # what could not be compared, and why
    fail_on: tuple[str, ...] = (FAIL_ON_ANY,)

    @property
    def empty(self) -> bool:
        return not self.classes

    @property
    def classes(self) -> frozenset[str]:
        """Every class of change present."""
        found: set[str] = set()
        if self.added:
            found.add("client-added")
        if self.removed:
            found.add("client-removed")
        if self.roles_added or self.roles_removed:
            found.add("role")
        for c in self.changed:
            found |= c.classes
        for r in self.roles_changed:
            found |= r.classes
        return frozenset(found)

    @property
    def failed(self) -> bool:
        """Whether the drift reaches ``fail_on`` (exit 1)."""
        if FAIL_ON_NEVER in self.fail_on:
            return False
        if FAIL_ON_ANY in self.fail_on:
            return not self.empty
        return bool(self.classes & set(self.fail_on))

    def gains(self) -> tuple[ClientDrift, ...]:
        """The clients that gained privilege."""
        return tuple(c for c in self.changed if "privilege-gain" in c.classes)


def _grant(g: RoleGrant, names: Mapping[str, str]) -> str:
    name = names.get(g.role_id) or g.name or g.role_id
    return f"{name} in {g.division_id or '(home division)'}"


def _set_change(
    field: str, before: Iterable[str], after: Iterable[str], gain: str, loss: str
) -> Change | None:
    old, new = set(before), set(after)
    gained = tuple(sorted(new - old))
    lost = tuple(sorted(old - new))
    if not gained and not lost:
        return None
    classes = tuple(c for c, items in ((gain, gained), (loss, lost)) if items)
    return Change(field, gained=gained, lost=lost, classes=classes)


def _roles_change(
    a: Client, b: Client, old_names: Mapping[str, str], new_names: Mapping[str, str]
) -> Change | None:
    """Role assignments gained and lost, compared by (role id, division): a role renamed in the
    org is not an assignment changed (it is a ``role`` change of the org)."""
    before = {(g.role_id, g.division_id): g for g in a.roles}
    after = {(g.role_id, g.division_id): g for g in b.roles}
    gained = tuple(sorted(_grant(after[k], new_names) for k in after.keys() - before.keys()))
    lost = tuple(sorted(_grant(before[k], old_names) for k in before.keys() - after.keys()))
    if not gained and not lost:
        return None
    classes = tuple(
        c for c, items in (("privilege-gain", gained), ("privilege-loss", lost)) if items
    )
    return Change("roles", gained=gained, lost=lost, classes=classes)


def _value_change(field: str, before: object, after: object, cls: str) -> Change | None:
    if before == after:
        return None
    return Change(field, before=_text(before), after=_text(after), classes=(cls,))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# -- effective permissions ------------------------------------------------------------------------

Pair = tuple[str, str]  # (permission as granted, division)


@dataclass
class _Side:
    """One snapshot's roles, and each client's effective (permission, division) pairs, cached by
    role assignment: clients share roles, so the same assignment comes back thousands of times."""

    roles: Mapping[str, Role]
    cache: dict[tuple[tuple[str, str], ...], dict[Pair, tuple[str, ...]]] = field(
        default_factory=dict
    )

    def pairs(self, client: Client) -> dict[Pair, tuple[str, ...]]:
        """(permission, division) -> ids of the roles granting it there."""
        key = tuple(
            sorted(
                (g.role_id, g.division_id if g.division_id is not None else NO_DIVISION)
                for g in client.roles
            )
        )
        hit = self.cache.get(key)
        if hit is None:
            found: dict[Pair, list[str]] = {}
            for role_id, division in key:
                role = self.roles.get(role_id)
                for permission in role.permissions if role is not None else ():
                    found.setdefault((permission, division), []).append(role_id)
            hit = self.cache[key] = {pair: tuple(ids) for pair, ids in found.items()}
        return hit


def _includes(granted: str, permission: str) -> bool:
    """Whether a grant includes a permission: each part equal, or ``*`` in the grant."""
    g, p = granted.split(":"), permission.split(":")
    return len(g) == len(p) and all(a == "*" or a == b for a, b in zip(g, p, strict=True))


def _covered(pair: Pair, pairs: Mapping[Pair, object]) -> bool:
    """Whether a (permission, division) was already held: the same, or through a wildcard grant,
    or in every division."""
    permission, division = pair
    if pair in pairs or (permission, ALL_DIVISIONS) in pairs:
        return True
    return any(_includes(p, permission) and d in (division, ALL_DIVISIONS) for p, d in pairs)


def _deltas(
    before: Mapping[Pair, tuple[str, ...]],
    after: Mapping[Pair, tuple[str, ...]],
    roles_before: Mapping[str, Role],
    roles_after: Mapping[str, Role],
    client_before: Client,
    client_after: Client,
) -> tuple[PermissionDelta, ...]:
    """The pairs ``after`` holds that ``before`` did not, with the roles and why."""
    held = {
        (g.role_id, g.division_id if g.division_id is not None else NO_DIVISION)
        for g in client_before.roles
    }
    held_roles = {role_id for role_id, _ in held}
    out = []
    for pair in sorted(after.keys() - before.keys()):
        if _covered(pair, before):
            continue
        permission, division = pair
        roles = []
        causes = []
        for role_id in after[pair]:
            role = roles_after.get(role_id)
            roles.append((role_id, role.name if role is not None else role_id))
            if role_id not in held_roles:
                causes.append("role newly assigned")
            elif (role_id, division) not in held and (role_id, ALL_DIVISIONS) not in held:
                causes.append("role granted in another division")
            elif role_id not in roles_before:
                causes.append("role new in the org")
            else:
                causes.append("role edited")
        out.append(
            PermissionDelta(permission, division, tuple(roles), ", ".join(dict.fromkeys(causes)))
        )
    return tuple(out)


def _loss_causes(deltas: tuple[PermissionDelta, ...]) -> tuple[PermissionDelta, ...]:
    """A loss computed as a reversed gain: say what happened from the older side's view."""
    words = {
        "role newly assigned": "role removed from the client",
        "role granted in another division": "role no longer granted in that division",
        "role new in the org": "role deleted from the org",
        "role edited": "role edited",
    }
    return tuple(
        PermissionDelta(
            d.permission,
            d.division,
            d.roles,
            ", ".join(words.get(c, c) for c in d.cause.split(", ")),
        )
        for d in deltas
    )


def _permission_change(a: Client, b: Client, old: _Side, new: _Side) -> Change | None:
    before, after = old.pairs(a), new.pairs(b)
    if before.keys() == after.keys():
        return None
    gained = _deltas(before, after, old.roles, new.roles, a, b)
    lost = _loss_causes(_deltas(after, before, new.roles, old.roles, b, a))
    if not gained and not lost:
        return None
    return Change(
        "permissions",
        gained=tuple(d.describe() for d in gained),
        lost=tuple(d.describe() for d in lost),
        classes=tuple(
            c for c, items in (("privilege-gain", gained), ("privilege-loss", lost)) if items
        ),
        gained_grants=gained,
        lost_grants=lost,
    )


# -- usage ----------------------------------------------------------------------------------------


def _usage_change(a: Client, b: Client, old: Inventory, new: Inventory) -> Change | None:
    """Newly used (no use in the older window, some in the newer) or newly idle (the reverse);
    a client used in both windows is not drift, whatever its last day."""
    if old.usage is None or new.usage is None or (a.last_used is None) == (b.last_used is None):
        return None
    if b.last_used is not None:
        return Change(
            "usage",
            before=f"not used in the {old.usage.days}-day window to {old.usage.end.isoformat()}",
            after=f"newly used: last used {b.last_used.isoformat()}",
            classes=("usage",),
        )
    assert a.last_used is not None
    return Change(
        "usage",
        before=f"last used {a.last_used.isoformat()}",
        after=f"newly idle: not used in the {new.usage.days}-day window to {new.usage.end.isoformat()}",
        classes=("usage",),
    )


# -- the comparison -------------------------------------------------------------------------------


def _by_name(role: Role) -> tuple[str, str]:
    return (role.name.casefold(), role.id)


def compare(old: Inventory, new: Inventory, fail_on: Collection[str] = (FAIL_ON_ANY,)) -> Drift:
    if old.org.id and new.org.id and old.org.id != new.org.id:
        raise BadInputError(
            f"the snapshots are of different orgs ({old.org.name or old.org.id} and {new.org.name or new.org.id}); "
            "drift compares one org over time"
        )
    before = {c.id: c for c in old.clients}
    after = {c.id: c for c in new.clients}
    old_names = {r.id: r.name for r in old.roles or ()}
    new_names = {r.id: r.name for r in new.roles or ()}
    notes = []
    sides: tuple[_Side, _Side] | None = None
    if old.roles is not None and new.roles is not None:
        sides = (_Side({r.id: r for r in old.roles}), _Side({r.id: r for r in new.roles}))
    else:
        which = " and ".join(
            n for n, inv in (("the older", old), ("the newer", new)) if inv.roles is None
        )
        notes.append(
            f"effective permissions and roles not compared: {which} snapshot has no roles "
            "(fetch without --no-roles)"
        )
    if old.usage is None or new.usage is None:
        notes.append("usage not compared: both snapshots need usage data")
    changed = []
    for cid in sorted(before.keys() & after.keys(), key=lambda i: (after[i].name.casefold(), i)):
        a, b = before[cid], after[cid]
        changes = [
            _set_change("scopes", a.scopes, b.scopes, "privilege-gain", "privilege-loss"),
            _roles_change(a, b, old_names, new_names),
            _permission_change(a, b, *sides) if sides is not None else None,
            _value_change("grantType", a.grant_type, b.grant_type, "config"),
            _value_change("state", a.state, b.state, "state"),
            _value_change("dateToDelete", a.date_to_delete, b.date_to_delete, "state"),
            _value_change(
                "tokenValiditySeconds", a.token_validity_seconds, b.token_validity_seconds, "config"
            ),
            _set_change("redirectUris", a.redirect_uris, b.redirect_uris, "config", "config"),
            _usage_change(a, b, old, new),
        ]
        found = tuple(c for c in changes if c is not None)
        renamed = a.name if a.name != b.name else None
        if found or renamed is not None:
            changed.append(ClientDrift(cid, b.name, renamed, found))

    roles_added: tuple[Role, ...] = ()
    roles_removed: tuple[Role, ...] = ()
    roles_changed: list[RoleDrift] = []
    if sides is not None:
        old_roles, new_roles = sides[0].roles, sides[1].roles
        roles_added = tuple(
            sorted((new_roles[i] for i in new_roles.keys() - old_roles.keys()), key=_by_name)
        )
        roles_removed = tuple(
            sorted((old_roles[i] for i in old_roles.keys() - new_roles.keys()), key=_by_name)
        )
        holders: dict[str, int] = {}
        for c in new.clients:
            for role_id in {g.role_id for g in c.roles}:
                holders[role_id] = holders.get(role_id, 0) + 1
        for rid in sorted(
            old_roles.keys() & new_roles.keys(), key=lambda i: _by_name(new_roles[i])
        ):
            r0, r1 = old_roles[rid], new_roles[rid]
            gained = tuple(sorted(set(r1.permissions) - set(r0.permissions)))
            lost = tuple(sorted(set(r0.permissions) - set(r1.permissions)))
            renamed = r0.name if r0.name != r1.name else None
            if gained or lost or renamed is not None:
                roles_changed.append(
                    RoleDrift(rid, r1.name, renamed, gained, lost, holders.get(rid, 0))
                )
    return Drift(
        old=old,
        new=new,
        added=tuple(
            sorted(
                (after[i] for i in after.keys() - before.keys()),
                key=lambda c: (c.name.casefold(), c.id),
            )
        ),
        removed=tuple(
            sorted(
                (before[i] for i in before.keys() - after.keys()),
                key=lambda c: (c.name.casefold(), c.id),
            )
        ),
        changed=tuple(changed),
        roles_added=roles_added,
        roles_removed=roles_removed,
        roles_changed=tuple(roles_changed),
        notes=tuple(notes),
        fail_on=tuple(fail_on),
    )
