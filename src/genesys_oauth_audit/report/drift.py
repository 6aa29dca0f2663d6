"""Drift reports (``diff``): text, JSON and Markdown renderings of ``engine.drift.Drift``."""

from __future__ import annotations

from typing import Any

from genesys_oauth_audit.engine.drift import Change, Drift
from genesys_oauth_audit.files.output import json_text
from genesys_oauth_audit.inventory import Client, Inventory
from genesys_oauth_audit.report.escape import markdown as md
from genesys_oauth_audit.report.escape import markdown_code, terminal


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
    return json_text(drift_dict(d)) + "\n"


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
