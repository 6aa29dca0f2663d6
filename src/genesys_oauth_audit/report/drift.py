"""Drift reports (``diff``): text, JSON and Markdown renderings of ``engine.drift.Drift``. Each
says which classes of change are present, leads with privilege gains, and names the role behind
every effective permission gained or lost."""

from __future__ import annotations

from typing import Any

from genesys_oauth_audit.engine.drift import Change, Drift, PermissionDelta, RoleDrift
from genesys_oauth_audit.files.output import json_text
from genesys_oauth_audit.inventory import Client, Inventory, Role
from genesys_oauth_audit.report.escape import markdown as md
from genesys_oauth_audit.report.escape import markdown_code, terminal


def _when(inv: Inventory) -> str:
    return inv.fetched_at.strftime("%Y-%m-%d %H:%M UTC") if inv.fetched_at else "unknown time"


def _describe_change(c: Change) -> list[str]:
    if c.before is not None or c.after is not None:
        return [f"{c.field}: {c.before} -> {c.after}"]
    lines = [f"{c.field} gained: {item}" for item in c.gained]
    return lines + [f"{c.field} lost: {item}" for item in c.lost]


def _describe_role(r: RoleDrift) -> list[str]:
    held = f"held by {r.holders} client{'' if r.holders == 1 else 's'}"
    lines = [f"renamed from {r.old_name}"] if r.old_name is not None else []
    lines += [f"gained {p} ({held})" for p in r.gained]
    return lines + [f"lost {p} ({held})" for p in r.lost]


def _summary(d: Drift) -> str:
    text = f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed"
    roles = len(d.roles_added) + len(d.roles_removed) + len(d.roles_changed)
    if roles:
        text += f"; roles: {len(d.roles_added)} added, {len(d.roles_removed)} removed, {len(d.roles_changed)} changed"
    return text + (" (no drift)" if d.empty else "")


def _verdict(d: Drift) -> str:
    classes = ", ".join(sorted(d.classes)) or "none"
    return f"Classes of change: {classes}; --fail-on {', '.join(d.fail_on)}: {'FAIL' if d.failed else 'PASS'}"


def _gain_lines(d: Drift) -> list[str]:
    """Privilege gains first: what a reviewer must look at, named as such."""
    lines: list[str] = []
    for c in d.gains():
        for ch in c.changes:
            if "privilege-gain" in ch.classes:
                lines += [f"{c.name} ({c.id}) gained {ch.field}: {item}" for item in ch.gained]
    for r in d.roles_changed:
        lines += [
            f"role {r.name!r} gained {p} (held by {r.holders} client{'' if r.holders == 1 else 's'})"
            for p in r.gained
        ]
    return lines


def render_text(d: Drift) -> str:
    org = terminal(d.new.org.name or d.new.org.id or "unknown org")
    lines = [f"Drift of {org}: {_when(d.old)} -> {_when(d.new)}", _summary(d), _verdict(d)]
    lines += [f"Note: {n}" for n in d.notes]
    gains = _gain_lines(d)
    if gains:
        lines += ["", f"PRIVILEGE GAINS ({len(gains)}):"]
        lines += [f"  ! {terminal(line)}" for line in gains]
    for title, clients in (("Added", d.added), ("Removed", d.removed)):
        if clients:
            lines += ["", f"{title} ({len(clients)}):"]
            sign = "+" if title == "Added" else "-"
            lines += [
                f"  {sign} {terminal(c.name)} ({terminal(c.id)}) {terminal(c.grant_type)}"
                for c in clients
            ]
    if d.changed:
        lines += ["", f"Changed ({len(d.changed)}):"]
        for c in d.changed:
            renamed = f" (renamed from {terminal(c.old_name)})" if c.old_name is not None else ""
            lines.append(f"  ~ {terminal(c.name)} ({terminal(c.id)}){renamed}")
            for change in c.changes:
                lines += [f"      {terminal(line)}" for line in _describe_change(change)]
    if d.roles_added or d.roles_removed or d.roles_changed:
        lines += ["", "Roles:"]
        lines += [f"  + {terminal(r.name)} ({r.id})" for r in d.roles_added]
        lines += [f"  - {terminal(r.name)} ({r.id})" for r in d.roles_removed]
        for r in d.roles_changed:
            lines.append(f"  ~ {terminal(r.name)} ({r.id})")
            lines += [f"      {terminal(line)}" for line in _describe_role(r)]
    return "\n".join(lines) + "\n"


def _delta(p: PermissionDelta) -> dict[str, Any]:
    return {
        "permission": p.permission,
        "division": p.division,
        "roles": [{"id": rid, "name": name} for rid, name in p.roles],
        "cause": p.cause,
    }


def _role(r: Role) -> dict[str, Any]:
    return {"id": r.id, "name": r.name}


def drift_dict(d: Drift) -> dict[str, Any]:
    def client(c: Client) -> dict[str, Any]:
        return {"id": c.id, "name": c.name, "grantType": c.grant_type, "state": c.state}

    return {
        "org": {"id": d.new.org.id, "name": d.new.org.name},
        "old": {"fetchedAt": d.old.fetched_at.isoformat() if d.old.fetched_at else None},
        "new": {"fetchedAt": d.new.fetched_at.isoformat() if d.new.fetched_at else None},
        "drift": not d.empty,
        "classes": sorted(d.classes),
        "failOn": list(d.fail_on),
        "failed": d.failed,
        "notes": list(d.notes),
        "added": [client(c) for c in d.added],
        "removed": [client(c) for c in d.removed],
        "changed": [
            {
                "id": c.id,
                "name": c.name,
                "renamedFrom": c.old_name,
                "classes": sorted(c.classes),
                "changes": [
                    {
                        "field": ch.field,
                        "classes": list(ch.classes),
                        "gained": list(ch.gained),
                        "lost": list(ch.lost),
                        "before": ch.before,
                        "after": ch.after,
                        **(
                            {
                                "gainedGrants": [_delta(p) for p in ch.gained_grants],
                                "lostGrants": [_delta(p) for p in ch.lost_grants],
                            }
                            if ch.field == "permissions"
                            else {}
                        ),
                    }
                    for ch in c.changes
                ],
            }
            for c in d.changed
        ],
        "roles": {
            "added": [_role(r) for r in d.roles_added],
            "removed": [_role(r) for r in d.roles_removed],
            "changed": [
                {
                    "id": r.id,
                    "name": r.name,
                    "renamedFrom": r.old_name,
                    "classes": sorted(r.classes),
                    "gained": list(r.gained),
                    "lost": list(r.lost),
                    "holders": r.holders,
                }
                for r in d.roles_changed
            ],
        },
    }


def render_json(d: Drift) -> str:
    return json_text(drift_dict(d)) + "\n"


def render_markdown(d: Drift) -> str:
    org = md(d.new.org.name or d.new.org.id or "unknown org")
    verdict = "✅ no drift" if d.empty else "⚠️ **drift**"
    if d.gains() or any(r.gained for r in d.roles_changed):
        verdict += " · 🔺 **privilege gain**"
    lines = [
        f"## OAuth clients of {org}: {verdict}",
        "",
        f"{_when(d.old)} → {_when(d.new)}: {md(_summary(d))}.",
        "",
        md(_verdict(d)) + ".",
        "",
    ]
    lines += [f"> {md(n)}" for n in d.notes]
    if d.notes:
        lines.append("")
    gains = _gain_lines(d)
    if gains:
        lines += ["### Privilege gains", "", *(f"- 🔺 {md(g)}" for g in gains), ""]
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
    if d.roles_added or d.roles_removed or d.roles_changed:
        lines += ["| role | change |", "|---|---|"]
        lines += [
            f"| {md(r.name)} <sub>{markdown_code(r.id)}</sub> | created |" for r in d.roles_added
        ]
        lines += [
            f"| {md(r.name)} <sub>{markdown_code(r.id)}</sub> | deleted |" for r in d.roles_removed
        ]
        for r in d.roles_changed:
            lines.append(
                f"| {md(r.name)} <sub>{markdown_code(r.id)}</sub> | "
                f"{'<br>'.join(md(line) for line in _describe_role(r))} |"
            )
        lines.append("")
    return "\n".join(lines)
