"""Proposed OAuth clients (SPEC §3 ``--proposed``): request bodies and Terraform plans of Genesys's
CX-as-Code provider, read into clients the engine can judge before they exist.

Accepted files:

- JSON or YAML holding one ``OAuthClientRequest`` body (what you would POST or
  PUT: ``name``, ``authorizedGrantType``, ``scope``, ``roleDivisions``, …; an
  ``id`` when it updates an existing client) or a list of them;
- Terraform plan JSON (``terraform show -json PLAN``): every
  ``genesyscloud_oauth_client`` being created, updated or replaced, as the
  client will be after apply; roles created or changed in the same plan
  (``genesyscloud_auth_role``) resolve to their planned names and permissions.

A value the plan knows only after apply is *unknown*: the checks that read it
are reported as not evaluated for that client, never passed. The client's
``client_secret`` is never read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from genesys_oauth_audit.errors import Diagnostic, InputFileError
from genesys_oauth_audit.findings import Location, Subject
from genesys_oauth_audit.inventory import (
    Client,
    Inventory,
    Role,
    RoleGrant,
    effective_permissions,
    policy_permissions,
    role_grants,
)

MAX_PROPOSAL_BYTES = 64 * 1024 * 1024
CLIENT_TYPE = "genesyscloud_oauth_client"
ROLE_TYPE = "genesyscloud_auth_role"
EVALUATED_ACTIONS = ({"create"}, {"update"}, {"delete", "create"})
AFTER_APPLY = "is known only after apply"
DEFAULT_VALIDITY = 86400  # the API's and the provider's default


class ProposalError(InputFileError):
    """A proposal file is unreadable or invalid (exit 2)."""


@dataclass(frozen=True)
class Proposal:
    """One proposed client, where it is written, and what is not known about it yet."""

    client: Client
    location: Location
    action: str  # "create", "update" or "replace"
    address: str | None = None  # the Terraform resource address
    unknown: Mapping[str, str] = field(default_factory=dict)

    def subject(self) -> Subject:
        return Subject(self.client, self.location, self.unknown)


@dataclass
class ProposalSet:
    proposals: list[Proposal] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)  # roles planned in the same plans
    files: list[str] = field(default_factory=list)


# -- request bodies -------------------------------------------------------------------------------


class _RoleDivision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roleId: str
    divisionId: str


class _ClientRequest(BaseModel):
    """``OAuthClientRequest`` (plus ``id`` for an update). Unknown keys are errors: a body that
    says ``scopes`` instead of ``scope`` must not pass as a client with no scopes."""

    model_config = ConfigDict(extra="forbid")
    name: str
    authorizedGrantType: str
    id: str | None = None
    description: str | None = None
    accessTokenValiditySeconds: int | None = None
    registeredRedirectUri: list[str] | None = None
    roleIds: list[str] | None = None
    scope: list[str] | None = None
    roleDivisions: list[_RoleDivision] | None = None
    state: str | None = None
    dateToDelete: str | None = None


_BODY_KEYS = list(_ClientRequest.model_fields)


def _positions(text: str, shown: str) -> tuple[Any, Any]:
    """Data and a positioned document, through the YAML composer (JSON is YAML here)."""
    from genesys_oauth_audit.files.yamldoc import Document, compose

    doc = Document(shown)
    problems: list[Diagnostic] = []
    compose(text, doc, problems)
    if problems:
        raise ProposalError(problems)
    return doc.data, doc


def _body_proposals(
    data: Any,
    doc: Any,
    shown: str,
    roles_by_id: Mapping[str, Role],
    org_roles_known: bool,
    existing: Mapping[str, Client],
) -> list[Proposal]:
    from genesys_oauth_audit.files.yamldoc import did_you_mean

    items = data if isinstance(data, list) else [data]
    problems: list[Diagnostic] = []
    out: list[Proposal] = []
    for i, item in enumerate(items):
        path: tuple[Any, ...] = (i,) if isinstance(data, list) else ()
        if not isinstance(item, dict):
            problems.append(
                doc.at(path, "expected an OAuthClientRequest object (name, authorizedGrantType, …)")
            )
            continue
        try:
            body = _ClientRequest.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = (*path, *err["loc"])
                key = str(err["loc"][0]) if err["loc"] else ""
                if err["type"] == "extra_forbidden":
                    message = f"unknown key {key!r}{did_you_mean(key, _BODY_KEYS)} (an OAuthClientRequest has: {', '.join(_BODY_KEYS)})"
                    problems.append(doc.at(loc, message, key=True))
                elif err["type"] == "missing":
                    problems.append(
                        doc.at(path, f"missing required key {key!r} of an OAuthClientRequest")
                    )
                else:
                    problems.append(
                        doc.at(loc, f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
                    )
            continue
        line, column = doc.pos.get(path, (1, 1))
        grants = role_grants(
            [(rd.roleId, rd.divisionId) for rd in body.roleDivisions or ()]
            + [(r, None) for r in body.roleIds or ()],
            roles_by_id,
        )
        permissions, unknown = _permissions(grants, roles_by_id, org_roles_known)
        current = existing.get(body.id) if body.id else None  # an update: keep its history
        if current is None:
            unknown.setdefault("lastUsed", "is not known for a client that does not exist yet")
            unknown.setdefault("dateCreated", "is not known for a client that does not exist yet")
        client = Client(
            id=body.id or "",
            name=body.name,
            description=body.description,
            grant_type=body.authorizedGrantType,
            state=body.state or "active",
            scopes=tuple(sorted(set(body.scope or ()))),
            roles=grants,
            permissions=permissions,
            token_validity_seconds=body.accessTokenValiditySeconds or DEFAULT_VALIDITY,
            redirect_uris=tuple(body.registeredRedirectUri or ()),
            date_created=current.date_created if current else None,
            last_used=current.last_used if current else None,
        )
        out.append(
            Proposal(
                client,
                Location(shown, line, column),
                "update" if body.id else "create",
                None,
                unknown,
            )
        )
    if problems:
        raise ProposalError(problems)
    return out


def _permissions(
    grants: tuple[RoleGrant, ...], roles_by_id: Mapping[str, Role], org_roles_known: bool
) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """Effective permissions, and what cannot be known. A role id that resolves nowhere is an
    orphan when the org's roles are known (it grants nothing; orphan-roles says so), and unknown
    when they are not: then the role checks are not evaluated for this client, never passed."""
    missing = [g.role_id for g in grants if g.role_id not in roles_by_id]
    if missing and not org_roles_known:
        why = (
            f"role {missing[0]} is neither planned here nor known (give --inventory with roles, "
            "or audit against a live org)"
        )
        return None, {
            "roles": f"cannot be resolved: {why}",
            "permissions": f"cannot be known: {why}",
        }
    return effective_permissions(grants, roles_by_id), {}


# -- Terraform plans ------------------------------------------------------------------------------


def _is_plan(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and "format_version" in data
        and ("resource_changes" in data or "planned_values" in data or "terraform_version" in data)
    )


def _unknown(after_unknown: Any, key: str) -> bool:
    """Whether any part of an attribute is unknown until apply (``after_unknown`` mirrors ``after``)."""
    value = after_unknown.get(key) if isinstance(after_unknown, dict) else None

    def walk(v: Any) -> bool:
        if v is True:
            return True
        if isinstance(v, list):
            return any(walk(x) for x in v)
        if isinstance(v, dict):
            return any(walk(x) for x in v.values())
        return False

    return walk(value)


def _line_col(text: str, needle: str, start: int) -> tuple[int, int]:
    found = text.find(needle, start)
    if found < 0:
        return 1, 1
    line = text.count("\n", 0, found) + 1
    column = found - (text.rfind("\n", 0, found) + 1) + 1
    return line, column


def _config_resources(module: Any, prefix: str, out: dict[str, Any]) -> None:
    """Configuration resources by address (without instance keys), modules included."""
    if not isinstance(module, dict):
        return
    for res in module.get("resources") or ():
        if isinstance(res, dict) and "address" in res:
            out[prefix + res["address"]] = res
    for name, call in (module.get("module_calls") or {}).items():
        if isinstance(call, dict):
            _config_resources(call.get("module"), f"{prefix}module.{name}.", out)


def _config_address(change: dict[str, Any]) -> str:
    module = change.get("module_address")
    base = f"{change.get('type')}.{change.get('name')}"
    if module:
        return re.sub(r"\[[^\]]*\]", "", module) + "." + base
    return base


def _role_references(config: Any) -> list[str | None]:
    """For each ``roles`` block in the configuration, the auth_role resource its role_id refers to."""
    refs: list[str | None] = []
    if not isinstance(config, dict):
        return refs
    for block in (config.get("expressions") or {}).get("roles") or ():
        ref = None
        role_id = block.get("role_id") if isinstance(block, dict) else None
        for candidate in (role_id or {}).get("references") or ():
            if str(candidate).startswith(ROLE_TYPE + ".") and candidate.count(".") == 1:
                ref = candidate
            elif str(candidate).startswith(ROLE_TYPE + ".") and candidate.endswith(".id"):
                ref = candidate[: -len(".id")]
        refs.append(ref)
    return refs


class _Planned:
    """A resource's planned values; reading one that is known only after apply records it as unknown."""

    def __init__(self, after: dict[str, Any], after_unknown: Any) -> None:
        self.after = after
        self.after_unknown = after_unknown
        self.unknown: dict[str, str] = {}

    def get(self, key: str, field_name: str) -> Any:
        if _unknown(self.after_unknown, key):
            self.unknown[field_name] = AFTER_APPLY
            return None
        return self.after.get(key)


def _plan_proposals(
    data: dict[str, Any], text: str, shown: str, inventory: Inventory | None
) -> tuple[list[Proposal], list[Role]]:
    version = str(data.get("format_version"))
    if not re.fullmatch(r"[01]\.\d+", version):
        raise ProposalError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    f"unsupported Terraform plan format_version {version!r}; this tool reads 0.x and 1.x "
                    "(the output of `terraform show -json PLAN`)",
                )
            ]
        )
    changes = data.get("resource_changes")
    if not isinstance(changes, list):
        raise ProposalError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    "a Terraform plan without resource_changes: was it `terraform show -json PLAN`?",
                )
            ]
        )
    config: dict[str, Any] = {}
    _config_resources((data.get("configuration") or {}).get("root_module"), "", config)
    anchor = max(text.find('"resource_changes"'), 0)

    # Roles planned in the same plan (created, updated, or unchanged), by address and by id.
    planned_roles: dict[str, Role] = {}
    for change in changes:
        if (
            not isinstance(change, dict)
            or change.get("type") != ROLE_TYPE
            or change.get("mode", "managed") != "managed"
        ):
            continue
        after = (change.get("change") or {}).get("after")
        if not isinstance(after, dict):
            continue  # being deleted
        address = str(change.get("address"))
        perms = policy_permissions(
            (p.get("domain"), p.get("entity_name"), p.get("action_set") or ())
            for p in after.get("permission_policies") or ()
            if isinstance(p, dict)
        )
        role_id = after.get("id") if isinstance(after.get("id"), str) else f"planned:{address}"
        planned_roles[address] = Role(
            id=role_id, name=str(after.get("name") or address), permissions=perms
        )
    org_roles = (
        {r.id: r for r in inventory.roles}
        if inventory is not None and inventory.roles is not None
        else {}
    )
    roles_by_id = {**org_roles, **{r.id: r for r in planned_roles.values()}}

    proposals: list[Proposal] = []
    problems: list[Diagnostic] = []
    for change in changes:
        if (
            not isinstance(change, dict)
            or change.get("type") != CLIENT_TYPE
            or change.get("mode", "managed") != "managed"
        ):
            continue
        body = change.get("change") or {}
        actions = set(body.get("actions") or ())
        if actions not in EVALUATED_ACTIONS:
            continue  # no-op, read, delete
        address = str(change.get("address"))
        line, column = _line_col(text, json.dumps(address), anchor)
        after = body.get("after")
        if not isinstance(after, dict):
            problems.append(
                Diagnostic(
                    shown, line, column, f"{address}: a planned change without `after` values"
                )
            )
            continue
        after_unknown = body.get("after_unknown") or {}
        planned = _Planned(after, after_unknown)
        unknown = planned.unknown
        attr = planned.get
        grant_type = attr("authorized_grant_type", "grantType")
        if grant_type == "SAML2BEARER":
            grant_type = "SAML2-BEARER"  # the provider accepts both spellings; the API has one
        # Roles: ids known now are kept. An id known only after apply is a role planned here when
        # the configuration's role_id refers to a genesyscloud_auth_role; ``roles`` is a set, so
        # the plan's blocks and the configuration's are matched as sets, not by position.
        pairs: list[tuple[str, str | None]] = []
        pending: list[str | None] = []  # divisions of the blocks whose role id is unknown
        roles_flags = after_unknown.get("roles") if isinstance(after_unknown, dict) else None
        raw_roles = after.get("roles")
        roles_after: list[Any] = raw_roles if isinstance(raw_roles, list) else []
        roles_unknown = roles_flags is True
        for i, block in enumerate(roles_after):
            flags = roles_flags[i] if isinstance(roles_flags, list) and i < len(roles_flags) else {}
            if not isinstance(block, dict):
                continue
            division = block.get("division_id")
            if isinstance(flags, dict) and flags.get("division_id"):
                division = None  # left unset: the home division, known after apply
            division = division if isinstance(division, str) else None
            role_id = block.get("role_id")
            if (isinstance(flags, dict) and flags.get("role_id")) or not isinstance(role_id, str):
                pending.append(division)
            else:
                pairs.append((role_id, division))
        if pending:
            module = change.get("module_address")
            referenced = [
                planned_roles[key]
                for ref in dict.fromkeys(
                    r for r in _role_references(config.get(_config_address(change))) if r
                )
                if (key := f"{module}.{ref}" if module else ref) in planned_roles
                and planned_roles[key].id.startswith("planned:")
            ]
            if len(referenced) == len(pending):
                pairs += [
                    (role.id, division) for role, division in zip(referenced, pending, strict=True)
                ]
            else:
                roles_unknown = True
        grants = role_grants(pairs, roles_by_id)
        if roles_unknown:
            unknown["roles"] = (
                "include a role id that " + AFTER_APPLY + " and is not a role planned here"
            )
            unknown["permissions"] = "cannot be known: " + unknown["roles"]
            permissions = None
        else:
            permissions, why = _permissions(grants, roles_by_id, bool(org_roles))
            unknown.update(why)

        name = attr("name", "name")
        validity = attr("access_token_validity_seconds", "tokenValiditySeconds")
        raw_before = body.get("before")
        before: dict[str, Any] = raw_before if isinstance(raw_before, dict) else {}
        client_id = before.get("id") if "create" not in actions else None
        existing = None
        if inventory is not None and client_id:
            existing = next((c for c in inventory.clients if c.id == client_id), None)
        if existing is None:
            unknown.setdefault("lastUsed", "is not known for a client that does not exist yet")
            unknown.setdefault("dateCreated", "is not known for a client that does not exist yet")
        try:
            client = Client(
                id=client_id or "",
                name=str(name) if name is not None else address,
                description=attr("description", "description"),
                grant_type=str(grant_type or ""),
                state=str(attr("state", "state") or "active"),
                scopes=tuple(sorted(set(attr("scopes", "scopes") or ()))),
                roles=grants,
                permissions=permissions,
                token_validity_seconds=int(validity)
                if validity is not None
                else (None if "tokenValiditySeconds" in unknown else DEFAULT_VALIDITY),
                redirect_uris=tuple(attr("registered_redirect_uris", "redirectUris") or ()),
                date_created=existing.date_created if existing else None,
                last_used=existing.last_used if existing else None,
            )
        except (ValidationError, TypeError, ValueError) as exc:
            problems.append(
                Diagnostic(
                    shown,
                    line,
                    column,
                    f"{address}: values of an unexpected type ({exc.__class__.__name__})",
                )
            )
            continue
        action = "replace" if actions == {"delete", "create"} else next(iter(actions))
        proposals.append(Proposal(client, Location(shown, line, column), action, address, unknown))
    if problems:
        raise ProposalError(problems)
    return proposals, list(planned_roles.values())


# -- files ------------------------------------------------------------------------------------------


def load_proposals(paths: list[Path], inventory: Inventory | None) -> ProposalSet:
    """Read every proposal file; all problems of all files are reported at once (exit 2)."""
    result = ProposalSet()
    problems: list[Diagnostic] = []
    org_known = inventory is not None and inventory.roles is not None
    existing = {c.id: c for c in inventory.clients} if inventory is not None else {}
    org_roles = {r.id: r for r in inventory.roles or ()} if inventory is not None else {}
    for path in paths:
        shown = str(path)
        try:
            raw = Path(path).read_bytes()
            if len(raw) > MAX_PROPOSAL_BYTES:
                raise ProposalError(
                    [
                        Diagnostic(
                            shown,
                            None,
                            None,
                            f"file is {len(raw)} bytes; the limit is {MAX_PROPOSAL_BYTES}",
                        )
                    ]
                )
            text = raw.decode("utf-8")
        except OSError as exc:
            problems.append(
                Diagnostic(shown, None, None, f"cannot read proposal file: {exc.strerror or exc}")
            )
            continue
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            problems.append(
                Diagnostic(
                    shown, line, column, f"not JSON or YAML: not UTF-8 text (byte {exc.start})"
                )
            )
            continue
        except ProposalError as exc:
            problems.extend(exc.diagnostics)
            continue
        try:
            result.files.append(shown)
            data = _parse(text, shown)
            if _is_plan(data):
                found, roles = _plan_proposals(data, text, shown, inventory)
                result.roles.extend(roles)
            else:
                found = _body_proposals(
                    *_positions(text, shown), shown, org_roles, org_known, existing
                )
            result.proposals.extend(found)
        except ProposalError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise ProposalError(problems)
    return result


def _parse(text: str, shown: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProposalError(
                [Diagnostic(shown, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}")]
            ) from None
    data, _ = _positions(text, shown)
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


def proposal_inventory(proposals: ProposalSet, inventory: Inventory | None) -> Inventory:
    """The catalogs proposals are judged against: the org's scopes, roles and usage when an
    inventory is given, plus the roles planned alongside the proposals."""
    planned = tuple(proposals.roles)
    if inventory is None:
        return Inventory(roles=planned)
    roles = (*inventory.roles, *planned) if inventory.roles is not None else planned
    return Inventory(
        org=inventory.org,
        region=inventory.region,
        fetched_at=inventory.fetched_at,
        scopes=inventory.scopes,
        roles=roles,
        usage=inventory.usage,
    )
