"""Which roles of a client grant a permission, in which divisions, and by which of their policies:
the evidence of permission findings. Built only for a finding, and shared through ``Context.memo``:
clients share roles, so the same (roles, permission) question comes back thousands of times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genesys_oauth_audit.checks.registry import Context
from genesys_oauth_audit.evidence import NO_DIVISION, Via

if TYPE_CHECKING:
    from genesys_oauth_audit.inventory import Client, PermissionPolicy, Role


def role_divisions(client: Client) -> dict[str, tuple[str, ...]]:
    """Each role id the client holds, with the divisions it is granted in (sorted)."""
    found: dict[str, set[str]] = {}
    for g in client.roles:
        found.setdefault(g.role_id, set()).add(
            g.division_id if g.division_id is not None else NO_DIVISION
        )
    return {role_id: tuple(sorted(divisions)) for role_id, divisions in found.items()}


def _stated(ctx: Context, role: Role, permission: str) -> tuple[PermissionPolicy | None] | None:
    """``None`` when the role does not grant ``permission``; else the policy stating it (itself
    ``None`` when the inventory has no policies for the role: a snapshot written before 0.2)."""
    key = ("stated", role.id, permission)
    if key in ctx.memo:
        hit: tuple[PermissionPolicy | None] | None = ctx.memo[key]
        return hit
    perms_key = ("permissions", role.id)
    perms = ctx.memo.get(perms_key)
    if perms is None:
        perms = ctx.memo[perms_key] = frozenset(role.permissions)
    if permission not in perms:
        hit = None
    else:
        hit = (next((p for p in role.policies or () if p.grants(permission)), None),)
    ctx.memo[key] = hit
    return hit


def client_divisions(client: Client, ctx: Context) -> dict[str, tuple[str, ...]]:
    """``role_divisions`` of a client, computed once per evaluation. Keyed by the identity of the
    client's grants, which the entry itself holds, so the key cannot be reused by another object."""
    grants = client.roles
    key = ("divisions", id(grants))
    hit = ctx.memo.get(key)
    if hit is None or hit[0] is not grants:
        hit = ctx.memo[key] = (grants, role_divisions(client))
    divisions: dict[str, tuple[str, ...]] = hit[1]
    return divisions


def granted_by(client: Client, ctx: Context, permission: str) -> tuple[Via, ...]:
    """Every resolved role of the client that grants ``permission`` (as the role grants it, so
    ``*:*:*`` is asked as ``*:*:*``), by name; () when none does or roles were not fetched.

    Called only for a finding. Each (role, divisions, permission) answer is built once per
    evaluation and shared: clients share roles, so the same answers come back thousands of times.
    """
    roles = ctx.roles
    if not roles or not client.roles:
        return ()
    memo = ctx.memo
    vias: list[Via] = []
    for role_id, divisions in client_divisions(client, ctx).items():
        key = ("via", role_id, divisions, permission)
        via: Via | bool | None = memo.get(key)
        if via is None:
            role = roles.get(role_id)
            stated = _stated(ctx, role, permission) if role is not None else None
            via = memo[key] = (
                Via(role_id, role.name, divisions, permission, stated[0])
                if role is not None and stated is not None
                else False
            )
        if isinstance(via, Via):
            vias.append(via)
    if len(vias) > 1:
        vias.sort(key=lambda v: ((v.role_name or "").casefold(), v.role_id))
    return tuple(vias)


def granters(vias: tuple[Via, ...]) -> str:
    """The subject of a sentence about who grants something: ``role 'A'``, ``roles 'A' and 'B'``,
    or (no role resolves) ``the client``."""
    names = list(dict.fromkeys(repr(v.role_name) if v.role_name else v.role_id for v in vias))
    if not names:
        return "the client"
    if len(names) == 1:
        return f"role {names[0]}"
    return f"roles {', '.join(names[:-1])} and {names[-1]}"


def who_grants(vias: tuple[Via, ...], granted: str) -> str:
    """The start of a sentence about a grant: "role 'A' grants oauth:*:*", "roles 'A' and 'B'
    grant ...", or (no role resolves) "the client holds ..."."""
    verb = "holds" if not vias else "grants" if len(vias) == 1 else "grant"
    return f"{granters(vias)} {verb} {granted}"
