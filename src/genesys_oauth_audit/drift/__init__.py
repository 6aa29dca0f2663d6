"""Drift between two snapshots of one org (SPEC §9): clients added, removed, renamed, and what each
kept client gained or lost. A scheduled job alerts on it: exit 1 when anything changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.inventory import Client, Inventory, RoleGrant
from genesys_oauth_audit.report.escape import markdown as md
from genesys_oauth_audit.report.escape import markdown_code, terminal


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


# -- rendering ------------------------------------------------------------------------------------


def _when(inv: Inventory) -> str:
    return inv.fetched_at.strftime("%Y-%m-%d %H:%M UTC") if inv.fetched_at else "unknown time"


def _describe_change(c: Change) -> list[str]:
    if c.before is not None or c.after is not None:
        return [f"{c.field}: {c.before} -> {c.after}"]
    lines = [f"{c.field} gained: {item}" for item in c.gained]
    return lines + [f"{c.field} lost: {item}" for item in c.lost]


def render_text(d: Drift) -> str:
    org = terminal(d.new.org.name or d.new.org.id or "unknown org")
    lines = [
        f"Drift of {org}: {_when(d.old)} -> {_when(d.new)}",
        f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed"
        + ("" if not d.empty else " (no drift)"),
    ]
    for title, clients in (("Added", d.added), ("Removed", d.removed)):
        if clients:
            lines += ["", f"{title} ({len(clients)}):"]
            lines += [
                f"  + {terminal(c.name)} ({c.id}) {c.grant_type}"
                if title == "Added"
                else f"  - {terminal(c.name)} ({c.id}) {c.grant_type}"
                for c in clients
            ]
    if d.changed:
        lines += ["", f"Changed ({len(d.changed)}):"]
        for c in d.changed:
            renamed = f" (renamed from {terminal(c.old_name)})" if c.old_name is not None else ""
            lines.append(f"  ~ {terminal(c.name)} ({c.id}){renamed}")
            for change in c.changes:
                lines += [f"      {terminal(line)}" for line in _describe_change(change)]
    return "\n".join(lines) + "\n"


def drift_dict(d: Drift) -> dict[str, Any]:
    def client(c: Client) -> dict[str, Any]:
        return {"id": c.id, "name": c.name, "grantType": c.grant_type, "state": c.state}

    return {
        "org": {"id": d.new.org.id, "name": d.new.org.name},
        "old": {"fetchedAt": d.old.fetched_at.isoformat() if d.old.fetched_at else None},
        "new": {"fetchedAt": d.new.fetched_at.isoformat() if d.new.fetched_at else None},
        "drift": not d.empty,
        "added": [client(c) for c in d.added],
        "removed": [client(c) for c in d.removed],
        "changed": [
            {
                "id": c.id,
                "name": c.name,
                "renamedFrom": c.old_name,
                "changes": [
                    {
                        "field": ch.field,
                        "gained": list(ch.gained),
                        "lost": list(ch.lost),
                        "before": ch.before,
                        "after": ch.after,
                    }
                    for ch in c.changes
                ],
            }
            for c in d.changed
        ],
    }


def render_json(d: Drift) -> str:
    return json.dumps(drift_dict(d), indent=2, ensure_ascii=False) + "\n"


def render_markdown(d: Drift) -> str:
    org = md(d.new.org.name or d.new.org.id or "unknown org")
    verdict = "✅ no drift" if d.empty else "⚠️ **drift**"
    lines = [
        f"## OAuth clients of {org}: {verdict}",
        "",
        f"{_when(d.old)} → {_when(d.new)}: {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed.",
        "",
    ]
    if d.added or d.removed:
        lines += ["| | client | id | grant type |", "|---|---|---|---|"]
        lines += [
            f"| added | {md(c.name)} | {markdown_code(c.id)} | {markdown_code(c.grant_type)} |"
            for c in d.added
        ]
        lines += [
            f"| removed | {md(c.name)} | {markdown_code(c.id)} | {markdown_code(c.grant_type)} |"
            for c in d.removed
        ]
        lines.append("")
    if d.changed:
        lines += ["| client | change |", "|---|---|"]
        for c in d.changed:
            who = md(c.name) + (f" (was {md(c.old_name)})" if c.old_name is not None else "")
            descriptions = [md(line) for ch in c.changes for line in _describe_change(ch)] or [
                "renamed"
            ]
            lines.append(
                f"| {who} <sub>{markdown_code(c.id)}</sub> | {'<br>'.join(descriptions)} |"
            )
        lines.append("")
    return "\n".join(lines)


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
