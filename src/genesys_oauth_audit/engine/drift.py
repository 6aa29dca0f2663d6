"""Drift between two snapshots of one org (SPEC §9): clients added, removed, renamed, and what each
kept client gained or lost. A scheduled job alerts on it: exit 1 when anything changed."""

from __future__ import annotations

from dataclasses import dataclass

from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.inventory import Client, Inventory, RoleGrant


@dataclass(frozen=True)
class Change:
    """One field of one client: what was gained and lost (sets), or before and after (values)."""

    field: str
    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class ClientDrift:
    id: str
    name: str
    old_name: str | None  # set when the client was renamed
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Drift:
    old: Inventory
    new: Inventory
    added: tuple[Client, ...]
    removed: tuple[Client, ...]
    changed: tuple[ClientDrift, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _grant(g: RoleGrant, names: dict[str, str]) -> str:
    name = names.get(g.role_id) or g.name or g.role_id
    return f"{name} in {g.division_id or '(home division)'}"


def _set_change(field: str, before: tuple[str, ...], after: tuple[str, ...]) -> Change | None:
    gained = tuple(sorted(set(after) - set(before)))
    lost = tuple(sorted(set(before) - set(after)))
    return Change(field, gained=gained, lost=lost) if gained or lost else None


def _value_change(field: str, before: object, after: object) -> Change | None:
    if before == after:
        return None
    return Change(field, before=_text(before), after=_text(after))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def compare(old: Inventory, new: Inventory) -> Drift:
    if old.org.id and new.org.id and old.org.id != new.org.id:
        raise BadInputError(
            f"the snapshots are of different orgs ({old.org.name or old.org.id} and {new.org.name or new.org.id}); "
            "drift compares one org over time"
        )
    before = {c.id: c for c in old.clients}
    after = {c.id: c for c in new.clients}
    old_names = {r.id: r.name for r in old.roles or ()}
    new_names = {r.id: r.name for r in new.roles or ()}
    changed = []
    for cid in sorted(before.keys() & after.keys(), key=lambda i: (after[i].name.casefold(), i)):
        a, b = before[cid], after[cid]
        changes = [
            _set_change("scopes", a.scopes, b.scopes),
            _set_change(
                "roles",
                tuple(_grant(g, old_names) for g in a.roles),
                tuple(_grant(g, new_names) for g in b.roles),
            ),
            _value_change("grantType", a.grant_type, b.grant_type),
            _value_change("state", a.state, b.state),
            _value_change(
                "tokenValiditySeconds", a.token_validity_seconds, b.token_validity_seconds
            ),
            _set_change("redirectUris", a.redirect_uris, b.redirect_uris),
        ]
        found = tuple(c for c in changes if c is not None)
        renamed = a.name if a.name != b.name else None
        if found or renamed is not None:
            changed.append(ClientDrift(cid, b.name, renamed, found))
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
    )
