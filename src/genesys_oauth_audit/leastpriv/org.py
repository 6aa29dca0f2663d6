"""Least privilege for a whole inventory, computed once per run: every client's granted versus
exercised permissions (or assigned versus needed scopes) over the operations window, which the
``unused-*`` checks judge and every report shows.

Only clients whose operations were read are analysed; a client-credentials client needs the
org's roles too (an inventory fetched without roles says what it cannot show in ``notes``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from genesys_oauth_audit.data.operations import CalledOperation
from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.inventory import Client, Inventory, UsageWindow
from genesys_oauth_audit.leastpriv.analysis import (
    CLIENT_CREDENTIALS,
    LeastPrivilege,
    PermissionAnalysis,
    ScopeAnalysis,
)

Analysis = PermissionAnalysis | ScopeAnalysis


@dataclass(frozen=True)
class OrgLeastPrivilege:
    """The analysis of every client that has operation data, by client id (inventory order).

    ``engine`` is the per-org ``LeastPrivilege`` it was computed with (its role expansions are
    cached), for checks that look deeper (a wildcard grant's ids, permissions to ignore).
    """

    window: UsageWindow
    analyses: Mapping[str, Analysis]
    engine: LeastPrivilege = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()

    def get(self, client_id: str) -> Analysis | None:
        return self.analyses.get(client_id)

    def __iter__(self) -> Iterator[Analysis]:
        return iter(self.analyses.values())

    def __len__(self) -> int:
        return len(self.analyses)


def analyse_inventory(inventory: Inventory) -> OrgLeastPrivilege | None:
    """Least privilege over ``inventory``; None when it holds no operation data."""
    window = inventory.operation_usage
    if window is None:
        return None
    engine = LeastPrivilege(inventory.roles or ())
    chosen: list[tuple[Client, tuple[CalledOperation, ...]]] = []
    skipped = 0
    for client in inventory.clients:
        if client.operations is None:
            continue
        if client.grant_type == CLIENT_CREDENTIALS and inventory.roles is None:
            skipped += 1
            continue
        chosen.append((client, client.operations))
    results = engine.analyse_all(chosen, window)
    analyses = {
        client.id: result
        for (client, _), result in zip(chosen, results, strict=True)
        if result is not None
    }
    notes: tuple[str, ...] = ()
    if skipped:
        notes = (
            f"{skipped} client-credentials clients were not analysed: the inventory has no roles "
            "(fetch them, or use a snapshot written with roles)",
        )
    return OrgLeastPrivilege(window=window, analyses=analyses, engine=engine, notes=notes)


def select_clients(clients: Sequence[Client], refs: Sequence[str]) -> list[Client]:
    """The clients ``refs`` name, in the order given: each by exact id, else by exact name, else
    by name ignoring case. A name two clients share, or a reference nothing matches, is bad
    input (exit 2), the latter with a did-you-mean over names and ids."""
    chosen: dict[str, Client] = {}
    for ref in refs:
        found = [c for c in clients if c.id == ref]
        if not found:
            found = [c for c in clients if c.name == ref]
        if not found:
            found = [c for c in clients if c.name.casefold() == ref.casefold()]
        if len(found) > 1:
            ids = ", ".join(c.id for c in found)
            raise BadInputError(
                f"--client {ref!r}: {len(found)} clients have that name ({ids}); name one by id"
            )
        if not found:
            close = difflib.get_close_matches(ref, [c.name for c in clients], n=3, cutoff=0.6)
            close += difflib.get_close_matches(ref, [c.id for c in clients], n=1, cutoff=0.8)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise BadInputError(f"--client {ref!r}: no client has that id or name{hint}")
        chosen.setdefault(found[0].id, found[0])
    return list(chosen.values())
