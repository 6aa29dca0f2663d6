"""Least-privilege recommendations rendered: CX-as-Code Terraform (a ``genesyscloud_auth_role`` and
the client's ``roles`` blocks), the request body of ``POST /api/v2/authorization/roles``, or plain
text. Every piece of text from the org is escaped for the format it lands in."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence

from genesys_oauth_audit.files.text import invisible
from genesys_oauth_audit.inventory import Client
from genesys_oauth_audit.leastpriv.recommend import (
    RECOMMENDATION_KIND,
    ROLE_CREATE_PATH,
    Confidence,
    PermissionPolicy,
    ProposedRole,
    Recommendation,
    RoleRecommendation,
    ScopeRecommendation,
    collapse,
)
from genesys_oauth_audit.report import hcl
from genesys_oauth_audit.report.escape import terminal

# Terraform accepts these client states; another value (a disabled client) is left out, not forced.
_TERRAFORM_STATES = ("active", "inactive")

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
    if w.source is not None:
        lines.append(f"Usage source: {w.source_text}.")
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
        "window": {
            "days": c.window.days,
            "start": str(c.window.start),
            "end": str(c.window.end),
            "source": c.window.source,
        },
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
    return "".join(_json_escape(ch) if ch != "\n" and invisible(ch) else ch for ch in text) + "\n"


# --- plain text ----------------------------------------------------------------------------------


def _confidence_text(c: Confidence) -> list[str]:
    w = c.window
    lines = [
        f"  evidence: {w.days} days of API usage ({w.start} to {w.end}), {c.requests} requests "
        f"to {c.operations} operations, {c.succeeded_requests} succeeded"
    ]
    if w.source is not None:
        lines.append(f"  usage source: {w.source_text}")
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
                "home division"
                if d is None
                else "all divisions"
                if d == "*"
                else f"division {terminal(d)}"
                for d in role.divisions
            )
            out.append(f"  role {terminal(role.name)} in {divisions}:")
            out.extend(
                "    " + terminal(f"{p.domain}:{p.entity_name}:{','.join(p.action_set)}")
                for p in role.policies
            )
        out.extend(_confidence_text(rec.confidence))
        out.append("")
    return "\n".join(out)
