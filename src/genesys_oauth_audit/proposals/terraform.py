"""Terraform plans of Genesys's CX-as-Code provider as proposals (``terraform show -json PLAN``):
every ``genesyscloud_oauth_client`` being created, updated or replaced, as the client will be after
apply; roles created or changed in the same plan (``genesyscloud_auth_role``) resolve to their
planned names and permissions. A value the plan knows only after apply is *unknown*: the checks that
read it are reported as not evaluated for that client, never passed. The client's ``client_secret``
is never read.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from genesys_oauth_audit.errors import Diagnostic, ProposalError
from genesys_oauth_audit.findings import Location
from genesys_oauth_audit.inventory import Client, Role, policy_permissions
from genesys_oauth_audit.proposals.model import AFTER_APPLY, DEFAULT_VALIDITY, Action, Draft

CLIENT_TYPE = "genesyscloud_oauth_client"
ROLE_TYPE = "genesyscloud_auth_role"
EVALUATED_ACTIONS = ({"create"}, {"update"}, {"delete", "create"})


def is_plan(data: Any) -> bool:
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


def plan_drafts(data: dict[str, Any], text: str, shown: str) -> tuple[list[Draft], list[Role]]:
    """Every OAuth client a plan creates, updates or replaces, as it will be after apply, and the
    roles planned alongside; all of the plan's problems at once (exit 2)."""
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
    drafts: list[Draft] = []
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
        roles_why = (
            "include a role id that " + AFTER_APPLY + " and is not a role planned here"
            if roles_unknown
            else None
        )

        name = attr("name", "name")
        validity = attr("access_token_validity_seconds", "tokenValiditySeconds")
        raw_before = body.get("before")
        before: dict[str, Any] = raw_before if isinstance(raw_before, dict) else {}
        client_id = before.get("id") if "create" not in actions else None
        try:
            client = Client(
                id=client_id or "",
                name=str(name) if name is not None else address,
                description=attr("description", "description"),
                grant_type=str(grant_type or ""),
                state=str(attr("state", "state") or "active"),
                scopes=tuple(sorted(set(attr("scopes", "scopes") or ()))),
                token_validity_seconds=int(validity)
                if validity is not None
                else (None if "tokenValiditySeconds" in unknown else DEFAULT_VALIDITY),
                redirect_uris=tuple(attr("registered_redirect_uris", "redirectUris") or ()),
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
        action: Action = (
            "replace"
            if actions == {"delete", "create"}
            else "create"
            if "create" in actions
            else "update"
        )
        drafts.append(
            Draft(
                client=client,
                location=Location(shown, line, column),
                action=action,
                client_id=client_id,
                role_pairs=tuple(pairs),
                roles_unknown=roles_why,
                address=address,
                unknown=unknown,
            )
        )
    if problems:
        raise ProposalError(problems)
    return drafts, list(planned_roles.values())
