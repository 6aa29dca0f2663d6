"""Proposed OAuth clients (``check --proposed``): request bodies and Terraform plans of Genesys's
CX-as-Code provider, read into clients the engine can judge before they exist.

Two phases: ``parse_proposals`` reads and checks every file before the network
is touched (a bad file exits 2 in milliseconds); ``resolve_proposals`` then
resolves the drafts' roles against the org's. Accepted files:

- JSON or YAML holding one ``OAuthClientRequest`` body (what you would POST or
  PUT: ``name``, ``authorizedGrantType``, ``scope``, ``roleDivisions``, …; an
  ``id`` when it updates an existing client) or a list of them (``bodies``);
- Terraform plan JSON (``terraform show -json PLAN``) (``terraform``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genesys_oauth_audit.errors import Diagnostic, ProposalError
from genesys_oauth_audit.files.reading import ReadError, decode_utf8, load_json, read_capped
from genesys_oauth_audit.inventory import Inventory, Role
from genesys_oauth_audit.proposals.bodies import body_drafts, positioned
from genesys_oauth_audit.proposals.model import (
    Draft,
    ParsedProposals,
    Proposal,
    ProposalSet,
    proposal_inventory,
    resolve_proposals,
)
from genesys_oauth_audit.proposals.terraform import is_plan, read_plan

MAX_PROPOSAL_BYTES = 64 * 1024 * 1024

__all__ = [
    "ParsedProposals",
    "Proposal",
    "ProposalSet",
    "load_proposals",
    "parse_proposals",
    "proposal_inventory",
    "resolve_proposals",
]


def parse_proposals(paths: Sequence[Path]) -> ParsedProposals:
    """Phase one: read every proposal file; all problems of all files at once (exit 2)."""
    drafts: list[Draft] = []
    roles: list[Role] = []
    files: list[str] = []
    notes: list[str] = []
    problems: list[Diagnostic] = []
    for path in paths:
        shown = str(path)
        try:
            raw = read_capped(path, MAX_PROPOSAL_BYTES, what="proposal file", shown=shown)
            text = decode_utf8(raw, prefix="not JSON or YAML: ")
        except ReadError as exc:
            problems.append(Diagnostic(shown, exc.line, exc.column, str(exc)))
            continue
        try:
            files.append(shown)
            data = _parse(text, shown)
            if is_plan(data):
                plan = read_plan(data, text, shown)
                found = plan.drafts
                roles.extend(plan.roles)
                notes.extend(plan.notes)
            else:
                found = body_drafts(positioned(text, shown))
            drafts.extend(found)
        except ProposalError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise ProposalError(problems)
    return ParsedProposals(
        drafts=tuple(drafts), roles=tuple(roles), files=tuple(files), notes=tuple(notes)
    )


def load_proposals(paths: Sequence[Path], inventory: Inventory | None) -> ProposalSet:
    """Both phases at once, for callers that already hold the inventory."""
    return resolve_proposals(parse_proposals(paths), inventory)


def _parse(text: str, shown: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return load_json(text)
        except ReadError as exc:
            raise ProposalError([Diagnostic(shown, exc.line, exc.column, str(exc))]) from None
    data = positioned(text, shown).data
    if data is None:
        raise ProposalError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    "empty file: expected an OAuthClientRequest, a list of them, or a Terraform plan",
                )
            ]
        )
    if isinstance(data, (str, int, float, bool)):
        raise ProposalError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    "expected JSON or YAML holding an OAuthClientRequest, a list of them, or a Terraform plan",
                )
            ]
        )
    return data
