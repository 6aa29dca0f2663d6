"""``recommend``: the role each client-credentials client should have (its exercised permissions as
permission policies, in the divisions it uses today) and the scopes each user-facing client
needs, rendered as CX-as-Code Terraform, as the API's request body, or as plain text.

A recommendation never grants more than the client has: it is built from
``PermissionAnalysis.exercised``, which holds only permissions some role of the
client grants today, and each permission keeps the divisions its grants have
today (permissions granted in different division sets go to different roles,
so no permission reaches a division it did not reach before). Ambiguous ANY
evidence is never resolved by guessing: every candidate is listed and, in
Terraform, written as a commented block for the reviewer to choose. Nothing
here writes to the org.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from genesys_oauth_audit import hcl
from genesys_oauth_audit.inventory import Client, UsageWindow
from genesys_oauth_audit.leastpriv import (
    PermissionAnalysis,
    ScopeAnalysis,
)
from genesys_oauth_audit.report.escape import terminal

ROLE_CREATE_PATH = "/api/v2/authorization/roles"
RECOMMENDATION_KIND = "genesys-oauth-audit/recommendation"
# Terraform accepts these client states; another value (a disabled client) is left out, not forced.
_TERRAFORM_STATES = ("active", "inactive")


@dataclass(frozen=True, slots=True)
class PermissionPolicy:
    """One permission policy of a role, as ``DomainPermissionPolicy`` and the provider's
    ``permission_policies`` block have it."""

    domain: str
    entity_name: str
    action_set: tuple[str, ...]

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(f"{self.domain}:{self.entity_name}:{a}" for a in self.action_set)


def collapse(permissions: Iterable[str]) -> tuple[PermissionPolicy, ...]:
    """Permissions as policies: one per domain and entity, its actions sorted (concrete ids only;
    a malformed id is left out rather than written as a policy that grants something else)."""
    actions: dict[tuple[str, str], set[str]] = {}
    for permission in permissions:
        parts = permission.split(":")
        if len(parts) == 3 and all(parts):
            actions.setdefault((parts[0], parts[1]), set()).add(parts[2])
    return tuple(
        PermissionPolicy(domain, entity, tuple(sorted(acts)))
        for (domain, entity), acts in sorted(actions.items())
    )


@dataclass(frozen=True, slots=True)
class AmbiguousChoice:
    """An operation the client called that ANY of several permissions (or scopes) it holds allows;
    the recommendation carries none of them: the reviewer keeps at least one."""

    operation: str
    candidates: tuple[str, ...]
    divisions: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class ProposedRole:
    """A role to create and the divisions to grant it in (None: the home division)."""

    name: str
    description: str
    policies: tuple[PermissionPolicy, ...]
    divisions: tuple[str | None, ...]
    ambiguous: tuple[AmbiguousChoice, ...] = ()

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(p for policy in self.policies for p in policy.permissions)


@dataclass(frozen=True, slots=True)
class Confidence:
    """How far to trust a recommendation: what was observed and what could not be."""

    window: UsageWindow
    requests: int
    succeeded_requests: int
    operations: int
    ambiguous: tuple[AmbiguousChoice, ...]
    unknown_operations: tuple[str, ...]
    no_data_operations: tuple[str, ...]
    denied_operations: tuple[str, ...]
    not_held: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class RoleRecommendation:
    """The least-privilege role(s) for one client-credentials client."""

    client_id: str
    client_name: str
    roles: tuple[ProposedRole, ...]
    confidence: Confidence
    client: Client | None = None

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(sorted({p for role in self.roles for p in role.permissions}))


@dataclass(frozen=True)
class ScopeRecommendation:
    """The minimal scope list for one user-facing client."""

    client_id: str
    client_name: str
    grant_type: str
    scopes: tuple[str, ...]
    remove: tuple[str, ...]
    confidence: Confidence
    client: Client | None = None


Recommendation = RoleRecommendation | ScopeRecommendation


# --- building ------------------------------------------------------------------------------------


def _division_key(division: str | None) -> tuple[bool, str]:
    return (division is None, division or "")


def _divisions(found: set[str | None]) -> tuple[str | None, ...]:
    # '*' is every division: the others add nothing to it.
    if "*" in found:
        return ("*",)
    return tuple(sorted(found, key=_division_key))


def one_line(text: str) -> str:
    """Org text as a role name or description: one line, no invisible characters."""
    flat = " ".join(text.split())
    return "".join(ch for ch in flat if not hcl.invisible(ch))


def _confidence(
    analysis: PermissionAnalysis | ScopeAnalysis, ambiguous: Sequence[AmbiguousChoice]
) -> Confidence:
    ops = analysis.operations
    return Confidence(
        window=analysis.window,
        requests=analysis.limits.requests,
        succeeded_requests=sum(e.call.status2xx for e in ops),
        operations=len(ops),
        ambiguous=tuple(ambiguous),
        unknown_operations=analysis.limits.unknown_operations,
        no_data_operations=analysis.limits.no_data_operations,
        denied_operations=tuple(e.key for e in ops if e.status == "denied"),
        not_held=analysis.not_held if isinstance(analysis, PermissionAnalysis) else (),
        notes=analysis.limits.notes,
    )


def recommend_role(
    analysis: PermissionAnalysis, client: Client | None = None
) -> RoleRecommendation:
    """The roles that grant what ``analysis`` proved the client exercised, and nothing else."""
    # The divisions each exercised (or ambiguous candidate) permission is granted in today.
    where: dict[str, set[str | None]] = {}
    for role in analysis.roles:
        for pid in (*role.exercised, *role.possibly):
            where.setdefault(pid, set()).add(role.source.division_id)
    groups: dict[tuple[str | None, ...], list[str]] = {}
    for pid in analysis.exercised:
        groups.setdefault(_divisions(where.get(pid, set())), []).append(pid)

    open_choices = tuple(
        AmbiguousChoice(
            e.key,
            e.candidates,
            _divisions({d for c in e.candidates for d in where.get(c, set())}),
        )
        for e in analysis.ambiguous
        if not e.satisfied_by
    )
    if open_choices and not groups:
        # Nothing proven, only choices: one role for the reviewer to complete.
        groups[_divisions({d for c in open_choices for d in c.divisions})] = []

    name = one_line(analysis.client_name) or analysis.client_id
    w = analysis.window
    roles = []
    ordered = sorted(groups.items(), key=lambda kv: [_division_key(d) for d in kv[0]])
    for i, (divisions, permissions) in enumerate(ordered):
        suffix = f" {i + 1} of {len(ordered)}" if len(ordered) > 1 else ""
        # Each choice goes with the role whose divisions it shares, else with the first role.
        mine = tuple(
            c
            for c in open_choices
            if c.divisions == divisions or (i == 0 and all(c.divisions != d for d, _ in ordered))
        )
        roles.append(
            ProposedRole(
                name=f"{name} (least privilege{suffix})",
                description=(
                    f"Least privilege for OAuth client {one_line(analysis.client_id)}: the "
                    f"permissions it exercised in {w.days} days ({w.start} to {w.end}). "
                    "Generated by genesys-oauth-audit recommend."
                ),
                policies=collapse(permissions),
                divisions=divisions,
                ambiguous=mine,
            )
        )
    return RoleRecommendation(
        client_id=analysis.client_id,
        client_name=analysis.client_name,
        roles=tuple(roles),
        confidence=_confidence(analysis, open_choices),
        client=client,
    )


def recommend_scopes(analysis: ScopeAnalysis, client: Client | None = None) -> ScopeRecommendation:
    """The least powerful scopes that allowed every call the client made (``x:readonly`` where a
    held ``x`` was used only for reading)."""
    needed = set(analysis.needed)
    choices = tuple(
        AmbiguousChoice(e.key, e.needed) for e in analysis.ambiguous if not e.satisfied_by
    )
    return ScopeRecommendation(
        client_id=analysis.client_id,
        client_name=analysis.client_name,
        grant_type=analysis.grant_type,
        scopes=tuple(sorted(needed)),
        # Unused scopes go, and a scope used only read-only makes way for its ':readonly' form;
        # one that an open choice may need stays until the reviewer has chosen.
        remove=tuple(u.scope for u in analysis.scopes if u.state in ("unused", "narrowable")),
        confidence=_confidence(analysis, choices),
        client=client,
    )


def recommend(
    analysis: PermissionAnalysis | ScopeAnalysis, client: Client | None = None
) -> Recommendation:
    if isinstance(analysis, PermissionAnalysis):
        return recommend_role(analysis, client)
    return recommend_scopes(analysis, client)


# --- Terraform -----------------------------------------------------------------------------------


def terraform_name(client_name: str, client_id: str, taken: set[str] | None = None) -> str:
    """A resource name from an untrusted client name: ASCII letters, digits and underscores, a
    letter first, the client id's first characters for uniqueness (and a counter if still taken)."""
    ascii_name = unicodedata.normalize("NFKD", client_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:40].rstrip("_")
    tail = re.sub(r"[^a-z0-9]", "", client_id.lower())[:8]
    base = "_".join(part for part in (slug, tail) if part) or "client"
    if not base[0].isalpha():
        base = f"client_{base}"
    name = base
    n = 2
    while taken is not None and name in taken:
        name = f"{base}_{n}"
        n += 1
    if taken is not None:
        taken.add(name)
    return hcl.identifier(name)


def _policy_block(policy: PermissionPolicy, commented: bool = False) -> hcl.Block:
    return hcl.Block(
        "permission_policies",
        body=(
            hcl.Attribute("domain", policy.domain),
            hcl.Attribute("entity_name", policy.entity_name),
            hcl.Attribute("action_set", policy.action_set),
        ),
        commented=commented,
    )


def _confidence_comments(c: Confidence) -> list[hcl.Comment]:
    w = c.window
    lines = [
        f"Evidence: API usage over {w.days} days ({w.start} to {w.end}): {c.requests} requests "
        f"to {c.operations} operations, {c.succeeded_requests} succeeded.",
    ]
    for choice in c.ambiguous:
        lines.append(
            f"Ambiguous: {choice.operation} needs ANY of {', '.join(choice.candidates)}; "
            "the client holds each, so the evidence does not say which: keep at least one."
        )
    if c.unknown_operations:
        lines.append("Unknown operations (not in the catalog): " + ", ".join(c.unknown_operations))
    if c.no_data_operations:
        lines.append(
            "Operations with no permission data in the catalog: " + ", ".join(c.no_data_operations)
        )
    if c.denied_operations:
        lines.append("Attempted, denied (4xx only): " + ", ".join(c.denied_operations))
    if c.not_held:
        lines.append(
            "Needed by a successful call but granted by no role today (left out): "
            + ", ".join(c.not_held)
        )
    lines.extend(c.notes)
    return [hcl.Comment(line) for line in lines]


def terraform_items(
    rec: RoleRecommendation, taken: set[str] | None = None
) -> list[hcl.Block | hcl.Comment]:
    """The HCL of one recommendation: its role resources and the client's ``roles`` blocks."""
    taken = taken if taken is not None else set()
    items: list[hcl.Block | hcl.Comment] = [
        hcl.Comment(
            f'genesys-oauth-audit recommend: OAuth client "{rec.client_name}" ({rec.client_id})'
        ),
        *_confidence_comments(rec.confidence),
    ]
    if not rec.roles:
        items.append(
            hcl.Comment(
                "No permission was exercised in the window: the client needs no role for what it "
                "did; consider removing its roles or deleting it."
            )
        )
        return items
    base = terraform_name(rec.client_name, rec.client_id, taken)
    role_names = []
    for i, role in enumerate(rec.roles):
        resource = base if len(rec.roles) == 1 else f"{base}_{i + 1}"
        if resource != base:
            # Reserved, so that a later client's name cannot become the same resource name.
            resource = terraform_name(resource, "", taken)
        role_names.append(hcl.identifier(resource))
        body: list[hcl.Attribute | hcl.Comment | hcl.Block] = [
            hcl.Attribute("name", role.name),
            hcl.Attribute("description", role.description),
        ]
        body.extend(_policy_block(p) for p in role.policies)
        for choice in role.ambiguous:
            body.append(
                hcl.Comment(
                    f"Ambiguous: {choice.operation} needs ANY of these; uncomment at least one."
                )
            )
            # One block per candidate: uncommenting one grants that candidate and no other.
            body.extend(
                _policy_block(p, commented=True)
                for candidate in choice.candidates
                for p in collapse((candidate,))
            )
        items.append(hcl.Block("resource", ("genesyscloud_auth_role", resource), tuple(body)))

    roles_blocks = [
        hcl.Block(
            "roles",
            body=(
                hcl.Attribute("role_id", hcl.Reference(f"genesyscloud_auth_role.{resource}.id")),
                *(() if division is None else (hcl.Attribute("division_id", division),)),
            ),
        )
        for resource, role in zip(role_names, rec.roles, strict=True)
        for division in role.divisions
    ]
    items.extend(
        _client_items(
            rec.client, rec.client_id, rec.client_name, "CLIENT-CREDENTIALS", base, roles_blocks
        )
    )
    return items


def _client_items(
    client: Client | None,
    client_id: str,
    client_name: str,
    grant_type: str,
    resource: str,
    settings: Sequence[hcl.Attribute | hcl.Block],
) -> list[hcl.Block | hcl.Comment]:
    """The client's ``genesyscloud_oauth_client`` with what it has today and the recommended
    ``settings`` (its roles or scopes), behind a commented import block."""
    c = client
    body: list[hcl.Attribute | hcl.Comment | hcl.Block] = [
        hcl.Attribute("name", c.name if c is not None else client_name)
    ]
    if c is not None and c.description:
        body.append(hcl.Attribute("description", c.description))
    body.append(hcl.Attribute("authorized_grant_type", grant_type))
    if c is not None and c.token_validity_seconds is not None:
        body.append(hcl.Attribute("access_token_validity_seconds", c.token_validity_seconds))
    else:
        body.append(
            hcl.Comment(
                "access_token_validity_seconds: set the client's current value (default 86400)."
            )
        )
    if c is not None and c.redirect_uris:
        body.append(hcl.Attribute("registered_redirect_uris", tuple(c.redirect_uris)))
    if c is not None and c.state in _TERRAFORM_STATES:
        body.append(hcl.Attribute("state", c.state))
    body.extend(settings)
    what = "roles blocks" if grant_type == "CLIENT-CREDENTIALS" else "scopes"
    return [
        hcl.Comment(
            f"The client's {what}: replace those of its genesyscloud_oauth_client with these"
            + (" (home division where no division_id is given)." if what == "roles blocks" else ".")
        ),
        hcl.Comment(
            "If Terraform does not manage this client yet, uncomment the import block "
            "(Terraform 1.5+) so the plan updates it instead of creating a new client."
        ),
        hcl.Block(
            "import",
            body=(
                hcl.Attribute("to", hcl.Reference(f"genesyscloud_oauth_client.{resource}")),
                hcl.Attribute("id", client_id),
            ),
            commented=True,
        ),
        hcl.Block("resource", ("genesyscloud_oauth_client", resource), tuple(body)),
    ]


def render_terraform(recs: Sequence[Recommendation]) -> str:
    """One Terraform file for every recommendation: a role per client-credentials client and the
    client's ``roles`` blocks; for a user-facing client, its client resource with the minimal
    ``scopes`` (its permissions are the signed-in user's, so no role is proposed)."""
    items: list[hcl.Block | hcl.Comment] = []
    taken: set[str] = set()
    for rec in recs:
        if isinstance(rec, RoleRecommendation):
            items.extend(terraform_items(rec, taken))
            continue
        items.append(
            hcl.Comment(
                f'genesys-oauth-audit recommend: OAuth client "{rec.client_name}" ({rec.client_id})'
            )
        )
        items.extend(_confidence_comments(rec.confidence))
        base = terraform_name(rec.client_name, rec.client_id, taken)
        items.extend(
            _client_items(
                rec.client,
                rec.client_id,
                rec.client_name,
                rec.grant_type,
                base,
                [hcl.Attribute("scopes", rec.scopes)],
            )
        )
    return hcl.render(items)


# --- the API's request body ----------------------------------------------------------------------


def role_request_body(role: ProposedRole) -> dict[str, object]:
    """The body of ``POST /api/v2/authorization/roles`` (``DomainOrganizationRoleCreate``)."""
    return {
        "name": role.name,
        "description": role.description,
        "permissionPolicies": [
            {"domain": p.domain, "entityName": p.entity_name, "actionSet": list(p.action_set)}
            for p in role.policies
        ],
    }


def _confidence_json(c: Confidence) -> dict[str, object]:
    return {
        "window": {"days": c.window.days, "start": str(c.window.start), "end": str(c.window.end)},
        "requests": c.requests,
        "succeededRequests": c.succeeded_requests,
        "operations": c.operations,
        "ambiguous": [
            {
                "operation": a.operation,
                "candidates": list(a.candidates),
                **({"divisions": list(a.divisions)} if a.divisions else {}),
            }
            for a in c.ambiguous
        ],
        "unknownOperations": list(c.unknown_operations),
        "noPermissionDataOperations": list(c.no_data_operations),
        "deniedOperations": list(c.denied_operations),
        "notHeld": list(c.not_held),
        "notes": list(c.notes),
    }


def recommendation_json(rec: Recommendation) -> dict[str, object]:
    if isinstance(rec, ScopeRecommendation):
        return {
            "clientId": rec.client_id,
            "clientName": rec.client_name,
            "grantType": rec.grant_type,
            "scopes": list(rec.scopes),
            "removeScopes": list(rec.remove),
            "confidence": _confidence_json(rec.confidence),
        }
    return {
        "clientId": rec.client_id,
        "clientName": rec.client_name,
        "grantType": "CLIENT-CREDENTIALS",
        "roles": [
            {
                "request": {
                    "method": "POST",
                    "path": ROLE_CREATE_PATH,
                    "body": role_request_body(role),
                },
                "divisions": list(role.divisions),
                "ambiguous": [
                    {"operation": a.operation, "candidates": list(a.candidates)}
                    for a in role.ambiguous
                ],
            }
            for role in rec.roles
        ],
        "confidence": _confidence_json(rec.confidence),
    }


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character beyond the BMP as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def render_json(recs: Sequence[Recommendation]) -> str:
    """The recommendations as one JSON document; each role's ``request.body`` is what
    ``POST /api/v2/authorization/roles`` takes. Characters that are legal in JSON but invisible
    or reordering for a reader (bidi controls, zero-width and line separators) are escaped too."""
    document = {
        "kind": RECOMMENDATION_KIND,
        "clients": [recommendation_json(r) for r in recs],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False)
    # json.dumps escaped every C0 control inside strings; the newlines left are the layout's.
    return (
        "".join(_json_escape(ch) if ch != "\n" and hcl.invisible(ch) else ch for ch in text) + "\n"
    )


# --- plain text ----------------------------------------------------------------------------------


def _confidence_text(c: Confidence) -> list[str]:
    w = c.window
    lines = [
        f"  evidence: {w.days} days of API usage ({w.start} to {w.end}), {c.requests} requests "
        f"to {c.operations} operations, {c.succeeded_requests} succeeded"
    ]
    for a in c.ambiguous:
        lines.append(
            f"  ambiguous: {terminal(a.operation)} needs ANY of {terminal(', '.join(a.candidates))} "
            "(the client holds each; keep at least one)"
        )
    for label, keys in (
        ("unknown operation", c.unknown_operations),
        ("no permission data", c.no_data_operations),
        ("attempted, denied", c.denied_operations),
    ):
        lines.extend(f"  {label}: {terminal(k)}" for k in keys)
    if c.not_held:
        lines.append(
            "  needed but granted by no role today (left out): " + terminal(", ".join(c.not_held))
        )
    lines.extend(f"  note: {n}" for n in c.notes)
    return lines


def render_text(recs: Sequence[Recommendation]) -> str:
    out: list[str] = []
    for rec in recs:
        out.append(f"{terminal(rec.client_name)} ({terminal(rec.client_id)})")
        if isinstance(rec, ScopeRecommendation):
            out.append("  scopes: " + (terminal(" ".join(rec.scopes)) or "(none needed)"))
            if rec.remove:
                out.append("  remove: " + " ".join(terminal(s) for s in rec.remove))
        elif not rec.roles:
            out.append("  no permission was exercised: the client needs no role for what it did")
        for role in rec.roles if isinstance(rec, RoleRecommendation) else ():
            divisions = ", ".join(
                "home division" if d is None else terminal(d) for d in role.divisions
            )
            out.append(f"  role {terminal(role.name)} in {divisions}:")
            out.extend(
                "    " + terminal(f"{p.domain}:{p.entity_name}:{','.join(p.action_set)}")
                for p in role.policies
            )
        out.extend(_confidence_text(rec.confidence))
        out.append("")
    return "\n".join(out)
