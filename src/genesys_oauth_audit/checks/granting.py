"""Which roles of a client grant a permission, in which divisions, and by which of their policies:
the evidence of permission findings. Built only for a finding, and shared through ``Context.memo``:
clients share roles, so the same (roles, permission) question comes back thousands of times.
"""

from __future__ import annotations

from genesys_oauth_audit.checks.registry import Context
from genesys_oauth_audit.evidence import NO_DIVISION, Via
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


def granted_by(client: Client, ctx: Context, permission: str) -> tuple[Via, ...]:
    """Every resolved role of the client that grants ``permission`` (as the role grants it, so
    ``*:*:*`` is asked as ``*:*:*``), by name; () when none does or roles were not fetched."""
    roles = ctx.roles
    if not roles or not client.roles:
        return ()
    key = ("via", tuple((g.role_id, g.division_id) for g in client.roles), permission)
    hit: tuple[Via, ...] | None = ctx.memo.get(key)
    if hit is None:
        vias = []
        for role_id, divisions in role_divisions(client).items():
            role = roles.get(role_id)
            if role is None:
                continue
            stated = _stated(ctx, role, permission)
            if stated is not None:
                vias.append(Via(role.id, role.name, divisions, permission, stated[0]))
        hit = ctx.memo[key] = tuple(
            sorted(vias, key=lambda v: ((v.role_name or "").casefold(), v.role_id))
        )
    return hit


def granters(vias: tuple[Via, ...]) -> str:
    """The subject of a sentence about who grants something: ``role 'A'``, ``roles 'A' and 'B'``,
    or (no role resolves) ``the client``."""
    names = list(dict.fromkeys(repr(v.role_name) if v.role_name else v.role_id for v in vias))
    if not names:
        return "the client"
    if len(names) == 1:
        return f"role {names[0]}"
    return f"roles {', '.join(names[:-1])} and {names[-1]}"
