"""The least-privilege view every report shares (SPEC §10): per client, what it holds (granted
permissions, or assigned scopes) against what the operations it called in the window exercised,
and what is left unused, ordered by unused share. Computed from the run's analysis
(``RunInfo.least_privilege``), never recomputed here.

One row per analysed client, the same numbers in every format: ``granted = exercised + ambiguous
+ unused (+ unobservable)``. For a client-credentials client they count distinct permissions
(wildcards expanded over the operations catalog; ``unobservable`` ones no operation requires);
for a user-facing client, assigned scopes (``exercised`` counts the used ones, a scope needed only
in its read-only form among them as ``narrowable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from genesys_oauth_audit.leastpriv.analysis import GrantUse, PermissionAnalysis, ScopeAnalysis
from genesys_oauth_audit.leastpriv.org import OrgLeastPrivilege
from genesys_oauth_audit.report.base import RunInfo

Kind = Literal["permissions", "scopes"]
# The compact blocks of text, Markdown and JUnit show this many clients; HTML and JSON show all.
TOP = 10


@dataclass(frozen=True)
class ClientPrivilege:
    """One client's row of the view."""

    client_id: str
    client_name: str
    grant_type: str
    kind: Kind
    granted: int
    exercised: int
    ambiguous: int
    unused: int
    unobservable: int  # permissions API usage cannot show (scopes: 0)
    narrowable: int  # scopes needed only in their read-only form (permissions: 0)
    requests: int
    operations: int
    analysis: PermissionAnalysis | ScopeAnalysis

    @property
    def observable(self) -> int:
        return self.granted - self.unobservable

    @property
    def unused_share(self) -> float:
        """Unused among what usage could show (0.0 when it could show nothing)."""
        return self.unused / self.observable if self.observable else 0.0

    @property
    def what(self) -> str:
        return "permissions" if self.kind == "permissions" else "scopes"

    def counts_text(self) -> str:
        """``1465 permissions granted, 3 exercised, 1462 unused (100%)``"""
        what = self.what if self.granted != 1 else self.what[:-1]
        text = f"{self.granted} {what} granted, {self.exercised} exercised"
        if self.ambiguous:
            text += f", {self.ambiguous} possibly"
        text += f", {self.unused} unused ({self.unused_share:.0%})"
        if self.narrowable:
            text += f", {self.narrowable} used only for reading"
        if self.unobservable:
            text += f", {self.unobservable} not visible in usage"
        return text


def _row(analysis: PermissionAnalysis | ScopeAnalysis) -> ClientPrivilege:
    limits = analysis.limits
    if isinstance(analysis, PermissionAnalysis):
        c = analysis.counts
        return ClientPrivilege(
            analysis.client_id,
            analysis.client_name,
            analysis.grant_type,
            "permissions",
            c.granted,
            c.exercised,
            c.ambiguous,
            c.unused,
            c.unobservable,
            0,
            limits.requests,
            limits.operations,
            analysis,
        )
    s = analysis.counts
    return ClientPrivilege(
        analysis.client_id,
        analysis.client_name,
        analysis.grant_type,
        "scopes",
        s.assigned,
        s.used + s.narrowable,
        s.possibly_used,
        s.unused,
        0,
        s.narrowable,
        limits.requests,
        limits.operations,
        analysis,
    )


def rows(org: OrgLeastPrivilege) -> list[ClientPrivilege]:
    """Every analysed client, most unused first (by share, then count), then by name."""
    out = [_row(a) for a in org]
    out.sort(key=lambda r: (-r.unused_share, -r.unused, r.client_name.casefold(), r.client_id))
    return out


def window_text(org: OrgLeastPrivilege) -> str:
    w = org.window
    return (
        f"operations over {w.days} days, {w.start.isoformat()} to {w.end.isoformat()}, from "
        f"{w.source_text}"
    )


def summary_text(org: OrgLeastPrivilege, view: list[ClientPrivilege]) -> str:
    """``27 clients analysed, 19 of them hold something they did not use``"""
    holding = sum(1 for r in view if r.unused)
    return (
        f"{len(view)} client{'' if len(view) == 1 else 's'} analysed; {holding} hold permissions "
        "or scopes they did not exercise"
    )


# --- JSON (and SARIF's counts) -------------------------------------------------------------------


def counts_dict(row: ClientPrivilege) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "granted": row.granted,
        "exercised": row.exercised,
        "ambiguous": row.ambiguous,
        "unused": row.unused,
    }
    if row.kind == "permissions":
        assert isinstance(row.analysis, PermissionAnalysis)
        counts["unobservable"] = row.unobservable
        counts["notHeld"] = row.analysis.counts.not_held
    else:
        counts["narrowable"] = row.narrowable
    return counts


def grant_states(
    a: PermissionAnalysis,
) -> tuple[list[GrantUse], list[GrantUse], list[GrantUse]]:
    """The client's grants (each permission once, as granted) that are unused, partly used and
    unobservable, sorted: what ``PermissionAnalysis.granted`` says of them, without building a
    record per grant of every client (a grant is exercised alike in every role that grants it)."""
    unused: dict[str, GrantUse] = {}
    partly: dict[str, GrantUse] = {}
    unobservable: dict[str, GrantUse] = {}
    seen: set[str] = set()
    for role in a.roles:
        for g in role.grants:
            if g.permission in seen:
                continue
            seen.add(g.permission)
            if g.exercised:
                if len(g.exercised) < g.covers:
                    partly[g.permission] = g
            elif not g.possibly:
                (unused if g.covers else unobservable)[g.permission] = g
    return (
        [unused[p] for p in sorted(unused)],
        [partly[p] for p in sorted(partly)],
        [unobservable[p] for p in sorted(unobservable)],
    )


def client_dict(row: ClientPrivilege) -> dict[str, Any]:
    """One client in full: the counts and the lists behind them."""
    a = row.analysis
    out: dict[str, Any] = {
        "clientId": row.client_id,
        "clientName": row.client_name,
        "grantType": row.grant_type,
        "kind": row.kind,
        "counts": counts_dict(row),
        "unusedShare": round(row.unused_share, 4),
        "requests": row.requests,
        "operations": row.operations,
    }
    if isinstance(a, PermissionAnalysis):
        unused, partly, unobservable = grant_states(a)
        out.update(
            {
                "exercised": list(a.exercised),
                "ambiguous": list(a.possibly),
                "notHeld": list(a.not_held),
                "unusedGrants": [g.permission for g in unused],
                "partlyUsedGrants": [
                    {"permission": g.permission, "covers": g.covers, "exercised": list(g.exercised)}
                    for g in partly
                ],
                "unobservableGrants": [g.permission for g in unobservable],
                "roles": [
                    {
                        "roleId": r.source.role_id,
                        "roleName": r.source.role_name,
                        "divisionId": r.source.division_id,
                        "resolved": r.resolved,
                        "permissions": r.permissions,
                        "observable": r.observable,
                        "exercised": len(r.exercised),
                        "ambiguous": len(r.possibly),
                        "unused": r.unused,
                    }
                    for r in a.roles
                ],
                "ambiguousOperations": [
                    {"operation": e.key, "candidates": list(e.candidates)}
                    for e in a.ambiguous
                    if not e.satisfied_by
                ],
                "noPermissionDataOperations": list(a.limits.no_data_operations),
            }
        )
    else:
        out.update(
            {
                "assigned": list(a.assigned),
                "needed": list(a.needed),
                "unused": list(a.unused),
                "narrowable": [u.scope for u in a.scopes if u.state == "narrowable"],
                "possiblyUsed": [u.scope for u in a.scopes if u.state == "possibly-used"],
                "ambiguousOperations": [
                    {"operation": e.key, "candidates": list(e.needed)}
                    for e in a.ambiguous
                    if not e.satisfied_by
                ],
                "noScopeDataOperations": list(a.limits.no_data_operations),
            }
        )
    out["unknownOperations"] = list(a.limits.unknown_operations)
    out["deniedOperations"] = [e.key for e in a.denied]
    return out


def window_dict(org: OrgLeastPrivilege) -> dict[str, Any]:
    w = org.window
    return {
        "days": w.days,
        "start": w.start.isoformat(),
        "end": w.end.isoformat(),
        "source": w.source,
    }


def report_dict(run: RunInfo) -> dict[str, Any] | None:
    """The JSON report's ``leastPrivilege`` (schemas/report.schema.json); None without data."""
    org = run.least_privilege
    if org is None:
        return None
    view = rows(org)
    return {
        "window": window_dict(org),
        "notes": [*org.notes, *limit_notes(view)],
        "clients": [client_dict(r) for r in view],
    }


def limit_notes(view: list[ClientPrivilege]) -> list[str]:
    """The observation limits once for the whole view (each analysis states the same ones)."""
    return list(view[0].analysis.limits.notes) if view else []


# --- the compact block of text, Markdown, JUnit --------------------------------------------------


def text_lines(run: RunInfo) -> list[str]:
    """The least-privilege block for people, bounded: a heading, then the clients with the
    largest unused share (those that hold nothing unused are counted, not listed)."""
    org = run.least_privilege
    if org is None:
        return []
    view = rows(org)
    lines = [f"Least privilege: {summary_text(org, view)}; {window_text(org)}"]
    shown = [r for r in view if r.unused][:TOP]
    for r in shown:
        lines.append(f"- {r.client_name} ({r.client_id}): {r.counts_text()}")
    rest = sum(1 for r in view if r.unused) - len(shown)
    if rest > 0:
        lines.append(f"  … and {rest} more (the JSON and HTML reports list every client)")
    lines.extend(f"Note: {n}" for n in org.notes)
    return lines
