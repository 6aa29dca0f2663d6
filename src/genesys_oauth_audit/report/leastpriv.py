"""The least-privilege view every report shares (SPEC §10): per client, what it holds (granted
permissions, or assigned scopes) against what the operations it called in the window exercised,
and what is left unused, ordered by unused share.

The view is plain data (``LeastPrivilegeView``): built once per run from the analysis
(``build_view``, called where the run's ``RunInfo`` is made), it holds everything any
format prints, and nothing the formats would have to look up in the analysis. The JSON
report writes it whole (``report_dict``) and ``merge`` reads it back (report/load.py)
into an equal view, so every format drawn from a merged report is the one drawn from
the run: the analysis objects themselves (``PermissionAnalysis``, ``ScopeAnalysis``)
cannot be rebuilt from a report, and no renderer reads them.

One row per analysed client, the same numbers in every format: ``granted = exercised + ambiguous
+ unused (+ unobservable)``. For a client-credentials client they count distinct permissions
(wildcards expanded over the operations catalog; ``unobservable`` ones no operation requires);
for a user-facing client, assigned scopes (``exercised`` counts the used ones, a scope needed only
in its read-only form among them as ``narrowable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from genesys_oauth_audit.inventory import UsageWindow
from genesys_oauth_audit.leastpriv.analysis import GrantUse, PermissionAnalysis, ScopeAnalysis
from genesys_oauth_audit.leastpriv.org import OrgLeastPrivilege

Kind = Literal["permissions", "scopes"]
# The compact blocks of text, Markdown and JUnit show this many clients; JSON shows all, HTML its
# first HTML_CLIENT_ROWS (the largest unused share first) and says how many it left out.
TOP = 10
HTML_CLIENT_ROWS = 2000


# --- the view: records ---------------------------------------------------------------------------


class RoleRow(NamedTuple):
    """One role grant of a client-credentials client (a role in one division; ``division_id``
    None: the home division, through the deprecated ``roleIds``) and how much of it was used."""

    role_id: str
    role_name: str | None
    division_id: str | None
    resolved: bool
    permissions: int  # distinct permissions the role grants
    observable: int  # those some operation requires
    exercised: int
    ambiguous: int
    unused: int


class PartlyUsedGrant(NamedTuple):
    """A wildcard grant used only for some of the ``covers`` permission ids it grants."""

    permission: str
    covers: int
    exercised: tuple[str, ...]


class OpenChoice(NamedTuple):
    """An operation several held permissions (or equally weak scopes) allow, none of them proven
    by another call: every candidate is listed, none is picked."""

    operation: str
    candidates: tuple[str, ...]


class PermissionLists(NamedTuple):
    """What is behind a client-credentials client's counts."""

    exercised: tuple[str, ...]
    ambiguous: tuple[str, ...]  # candidates of ANY requirements the client holds several of
    not_held: tuple[str, ...]  # needed by a successful call, granted by no role today
    unused_grants: tuple[str, ...]  # grants (as the roles state them) nothing of which was used
    partly_used_grants: tuple[PartlyUsedGrant, ...]
    unobservable_grants: tuple[str, ...]  # grants no operation requires (UI-only)
    roles: tuple[RoleRow, ...]


class ScopeLists(NamedTuple):
    """What is behind a user-facing client's counts; each assigned scope is in at most one of
    ``unused``, ``narrowable`` and ``possibly_used`` (else it was used)."""

    assigned: tuple[str, ...]
    needed: tuple[str, ...]
    unused: tuple[str, ...]
    narrowable: tuple[str, ...]  # needed only in its read-only form
    possibly_used: tuple[str, ...]

    def states(self) -> list[tuple[str, str]]:
        """Each assigned scope with its state: used, narrowable, possibly used or unused."""
        state = dict.fromkeys(self.unused, "unused")
        state.update(dict.fromkeys(self.possibly_used, "possibly-used"))
        state.update(dict.fromkeys(self.narrowable, "narrowable"))
        return [(scope, state.get(scope, "used")) for scope in self.assigned]


class ClientPrivilege(NamedTuple):
    """One client's row of the view: the counts every format shows, and the lists behind them
    that JSON and HTML show."""

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
    not_held: int  # permissions needed but granted by no role today (scopes: 0)
    requests: int
    operations: int
    lists: PermissionLists | ScopeLists
    ambiguous_operations: tuple[OpenChoice, ...]
    no_data_operations: tuple[str, ...]  # no permission (or scope) data in the catalog
    unknown_operations: tuple[str, ...]
    denied_operations: tuple[str, ...]  # attempted, denied: only 4xx (not 429) answers

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


@dataclass(frozen=True)
class LeastPrivilegeView:
    """Least privilege as every report shows it: the operations window, a row per analysed client
    (most unused first), ``notes`` on what the analysis left out (clients it could not analyse)
    and ``limits``, what observed use cannot show at all."""

    window: UsageWindow
    clients: tuple[ClientPrivilege, ...]
    notes: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()

    @property
    def holding(self) -> list[ClientPrivilege]:
        """The clients that hold something they did not use, in the view's order."""
        return [r for r in self.clients if r.unused]

    def window_text(self) -> str:
        w = self.window
        return (
            f"operations over {w.days} days, {w.start.isoformat()} to {w.end.isoformat()}, from "
            f"{w.source_text}"
        )

    def summary_text(self) -> str:
        """``27 clients analysed, 19 of them hold something they did not use``"""
        n = len(self.clients)
        return (
            f"{n} client{'' if n == 1 else 's'} analysed; {len(self.holding)} hold permissions "
            "or scopes they did not exercise"
        )


# --- the view: built from the analysis, once per run ---------------------------------------------


def grant_states(
    a: PermissionAnalysis,
) -> tuple[tuple[str, ...], tuple[PartlyUsedGrant, ...], tuple[str, ...]]:
    """The client's grants (each permission once, as granted) that are unused, partly used and
    unobservable, sorted: what ``PermissionAnalysis.granted`` says of them, without building a
    record per grant of every client (a grant is exercised alike in every role that grants it).

    The hot loop of the view (an org's clients hold hundreds of grants each): a role held in
    several divisions shares one tuple of grants, looked at once; a client with one role needs
    neither de-duplication nor sorting (a role's grants are sorted and distinct)."""
    distinct: list[tuple[GrantUse, ...]] = []
    for role in a.roles:
        if role.grants and not any(role.grants is seen for seen in distinct):
            distinct.append(role.grants)
    unused: list[str] = []
    partly: list[PartlyUsedGrant] = []
    unobservable: list[str] = []
    seen: set[str] = set()
    several = len(distinct) > 1
    for grants in distinct:
        for permission, covers, exercised, possibly in grants:
            if several:
                if permission in seen:
                    continue
                seen.add(permission)
            if exercised:
                if len(exercised) < covers:
                    partly.append(PartlyUsedGrant(permission, covers, exercised))
            elif not possibly:
                (unused if covers else unobservable).append(permission)
    if several:
        unused.sort()
        partly.sort()
        unobservable.sort()
    return tuple(unused), tuple(partly), tuple(unobservable)


class _Counts(NamedTuple):
    granted: int
    exercised: int
    ambiguous: int
    unused: int
    unobservable: int
    narrowable: int
    not_held: int


def _row(a: PermissionAnalysis | ScopeAnalysis) -> ClientPrivilege:
    kind: Kind
    lists: PermissionLists | ScopeLists
    if isinstance(a, PermissionAnalysis):
        c = a.counts
        kind = "permissions"
        counts = _Counts(
            c.granted, c.exercised, c.ambiguous, c.unused, c.unobservable, 0, c.not_held
        )
        unused, partly, unobservable = grant_states(a)
        lists = PermissionLists(
            exercised=a.exercised,
            ambiguous=a.possibly,
            not_held=a.not_held,
            unused_grants=unused,
            partly_used_grants=partly,
            unobservable_grants=unobservable,
            roles=tuple(
                RoleRow(
                    r.source.role_id,
                    r.source.role_name,
                    r.source.division_id,
                    r.resolved,
                    r.permissions,
                    r.observable,
                    len(r.exercised),
                    len(r.possibly),
                    r.unused,
                )
                for r in a.roles
            ),
        )
        choices = tuple(OpenChoice(e.key, e.candidates) for e in a.ambiguous if not e.satisfied_by)
    else:
        s = a.counts
        kind = "scopes"
        counts = _Counts(
            s.assigned, s.used + s.narrowable, s.possibly_used, s.unused, 0, s.narrowable, 0
        )
        if s.unused == s.assigned:  # nothing used (most clients): the lists need no pass
            lists = ScopeLists(a.assigned, a.needed, a.assigned, (), ())
        else:
            lists = ScopeLists(
                assigned=a.assigned,
                needed=a.needed,
                unused=a.unused,
                narrowable=tuple(u.scope for u in a.scopes if u.state == "narrowable"),
                possibly_used=tuple(u.scope for u in a.scopes if u.state == "possibly-used"),
            )
        choices = tuple(OpenChoice(e.key, e.needed) for e in a.ambiguous if not e.satisfied_by)
    limits = a.limits
    # Positional, in ClientPrivilege's field order: one row per analysed client of the org.
    return ClientPrivilege(
        a.client_id,
        a.client_name,
        a.grant_type,
        kind,
        *counts,
        limits.requests,
        limits.operations,
        lists,
        choices,
        limits.no_data_operations,
        limits.unknown_operations,
        tuple(e.key for e in a.denied) if a.operations else (),
    )


def _ordered(rows: list[ClientPrivilege]) -> list[ClientPrivilege]:
    """Most unused first (by share, then count), then by name: the view's order."""
    rows.sort(key=lambda r: (-r.unused_share, -r.unused, r.client_name.casefold(), r.client_id))
    return rows


def build_view(org: OrgLeastPrivilege) -> LeastPrivilegeView:
    """The view of the run's analysis: one pass over the clients, then one sort."""
    limits: dict[str, None] = {}
    stated: list[tuple[str, ...]] = []
    for a in org:
        # Every analysis of a kind states the same limits (one shared tuple; a scope analysis
        # adds one to a permission analysis'): gather each tuple once, so the view states every
        # limit that applies to one of its clients, whichever client comes first.
        notes = a.limits.notes
        if not any(notes is s for s in stated):
            stated.append(notes)
            limits.update(dict.fromkeys(notes))
    return LeastPrivilegeView(
        window=org.window,
        clients=tuple(_ordered([_row(a) for a in org])),
        notes=org.notes,
        limits=tuple(limits),
    )


# --- JSON (and SARIF's counts) -------------------------------------------------------------------


def window_dict(window: UsageWindow) -> dict[str, Any]:
    return {
        "days": window.days,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "source": window.source,
    }


def counts_dict(row: ClientPrivilege) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "granted": row.granted,
        "exercised": row.exercised,
        "ambiguous": row.ambiguous,
        "unused": row.unused,
    }
    if row.kind == "permissions":
        counts["unobservable"] = row.unobservable
        counts["notHeld"] = row.not_held
    else:
        counts["narrowable"] = row.narrowable
    return counts


def client_dict(row: ClientPrivilege) -> dict[str, Any]:
    """One client in full: the counts and the lists behind them (report/load.py reads it back)."""
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
    lists = row.lists
    choices = [
        {"operation": c.operation, "candidates": list(c.candidates)}
        for c in row.ambiguous_operations
    ]
    if isinstance(lists, PermissionLists):
        out.update(
            {
                "exercised": list(lists.exercised),
                "ambiguous": list(lists.ambiguous),
                "notHeld": list(lists.not_held),
                "unusedGrants": list(lists.unused_grants),
                "partlyUsedGrants": [
                    {"permission": g.permission, "covers": g.covers, "exercised": list(g.exercised)}
                    for g in lists.partly_used_grants
                ],
                "unobservableGrants": list(lists.unobservable_grants),
                "roles": [
                    {
                        "roleId": r.role_id,
                        "roleName": r.role_name,
                        "divisionId": r.division_id,
                        "resolved": r.resolved,
                        "permissions": r.permissions,
                        "observable": r.observable,
                        "exercised": r.exercised,
                        "ambiguous": r.ambiguous,
                        "unused": r.unused,
                    }
                    for r in lists.roles
                ],
                "ambiguousOperations": choices,
                "noPermissionDataOperations": list(row.no_data_operations),
            }
        )
    else:
        out.update(
            {
                "assigned": list(lists.assigned),
                "needed": list(lists.needed),
                "unused": list(lists.unused),
                "narrowable": list(lists.narrowable),
                "possiblyUsed": list(lists.possibly_used),
                "ambiguousOperations": choices,
                "noScopeDataOperations": list(row.no_data_operations),
            }
        )
    out["unknownOperations"] = list(row.unknown_operations)
    out["deniedOperations"] = list(row.denied_operations)
    return out


def report_dict(view: LeastPrivilegeView | None) -> dict[str, Any] | None:
    """The JSON report's ``leastPrivilege`` (schemas/report.schema.json): the whole view; None
    without operation data."""
    if view is None:
        return None
    return {
        "window": window_dict(view.window),
        "notes": list(view.notes),
        "limits": list(view.limits),
        "clients": [client_dict(r) for r in view.clients],
    }


# --- the compact block of text, Markdown, JUnit --------------------------------------------------


def where_every_client(view: LeastPrivilegeView) -> str:
    """Which reports list every client of the view (HTML stops at ``HTML_CLIENT_ROWS``)."""
    if len(view.clients) <= HTML_CLIENT_ROWS:
        return "the JSON and HTML reports list every client"
    return f"the JSON report lists every client, the HTML report the first {HTML_CLIENT_ROWS:,}"


def text_lines(view: LeastPrivilegeView | None) -> list[str]:
    """The least-privilege block for people, bounded: a heading, then the clients with the
    largest unused share (those that hold nothing unused are counted, not listed)."""
    if view is None:
        return []
    lines = [f"Least privilege: {view.summary_text()}; {view.window_text()}"]
    holding = view.holding
    shown = holding[:TOP]
    for r in shown:
        lines.append(f"- {r.client_name} ({r.client_id}): {r.counts_text()}")
    rest = len(holding) - len(shown)
    if rest > 0:
        lines.append(f"  … and {rest} more ({where_every_client(view)})")
    lines.extend(f"Note: {n}" for n in view.notes)
    return lines
