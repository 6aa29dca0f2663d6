"""Terraform plans of Genesys's CX-as-Code provider as proposals (``terraform show -json PLAN``):
every ``genesyscloud_oauth_client`` being created, updated or replaced, as the client will be after
apply; roles created or changed in the same plan (``genesyscloud_auth_role``) resolve to their
planned names and permissions. A value the plan knows only after apply is *unknown*: the checks that
read it are reported as not evaluated for that client, never passed. The client's ``client_secret``
is never read; whether the plan exposes it (``expose_client_secret``) or writes it to a directory
(``directory_client_secret``) is.

A plan is trusted for nothing: its shape is checked first (``planshape``), an incomplete plan
(``errored``, ``complete: false``) is refused, and a change Terraform deferred to a later run is
reported as not evaluated for that client.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from genesys_oauth_audit.errors import Diagnostic, ProposalError
from genesys_oauth_audit.findings import Location
from genesys_oauth_audit.inventory import Client, Role, policy_permissions
from genesys_oauth_audit.proposals.model import AFTER_APPLY, DEFAULT_VALIDITY, Action, Draft
from genesys_oauth_audit.proposals.planshape import CLIENT_TYPE, ROLE_TYPE, shape_problems

EVALUATED_ACTIONS = ({"create"}, {"update"}, {"delete", "create"})
# What else Terraform plans for a resource (terraform show -json: "no-op", "read", "delete",
# "forget"): the client is not changed into anything to judge.
SKIPPED_ACTIONS = ({"no-op"}, {"read"}, {"delete"}, {"forget"})
NO_CHANGES = (
    "the plan changes no resources (it has no resource_changes): no proposed client to check"
)


def is_plan(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and "format_version" in data
        and ("resource_changes" in data or "planned_values" in data or "terraform_version" in data)
    )


def _unknown(after_unknown: Any, key: str) -> bool:
    """Whether any part of an attribute is unknown until apply (``after_unknown`` mirrors ``after``)."""
    value = after_unknown.get(key) if isinstance(after_unknown, dict) else None
    stack = [value]
    while stack:  # iterative: the plan's nesting is bounded, but no recursion is needed
        v = stack.pop()
        if v is True:
            return True
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return False


def _line_col(text: str, needle: str, start: int) -> tuple[int, int]:
    found = text.find(needle, start)
    if found < 0:
        return 1, 1
    line = text.count("\n", 0, found) + 1
    column = found - (text.rfind("\n", 0, found) + 1) + 1
    return line, column


def _config_resources(root: Any) -> dict[str, Any]:
    """Configuration resources by address (without instance keys), modules included."""
    out: dict[str, Any] = {}
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        module, prefix = stack.pop()
        if not isinstance(module, dict):
            continue
        for res in module.get("resources") or ():
            if isinstance(res, dict) and isinstance(res.get("address"), str):
                out[prefix + res["address"]] = res
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, dict):
                stack.append((call.get("module"), f"{prefix}module.{name}."))
    return out


def _config_address(change: Mapping[str, Any]) -> str:
    module = change.get("module_address")
    base = f"{change.get('type')}.{change.get('name')}"
    if module:
        return re.sub(r"\[[^\]]*\]", "", module) + "." + base
    return base


@dataclass(frozen=True)
class _ConfigRole:
    """One ``roles`` block of the configuration: the auth_role its role_id refers to (if it does)
    and its division when the configuration states it as a constant (else None)."""

    role_ref: str | None
    division: str | None


def _config_roles(config: Any) -> list[_ConfigRole]:
    blocks: list[_ConfigRole] = []
    if not isinstance(config, dict):
        return blocks
    for block in (config.get("expressions") or {}).get("roles") or ():
        if not isinstance(block, dict):
            continue
        ref = None
        for candidate in (block.get("role_id") or {}).get("references") or ():
            if candidate.startswith(ROLE_TYPE + ".") and candidate.count(".") == 1:
                ref = candidate
            elif candidate.startswith(ROLE_TYPE + ".") and candidate.endswith(".id"):
                ref = candidate[: -len(".id")]
        constant = (block.get("division_id") or {}).get("constant_value")
        blocks.append(_ConfigRole(ref, constant if isinstance(constant, str) else None))
    return blocks


def pair_roles(
    pending: list[str | None], candidates: list[tuple[Role, str | None]]
) -> list[tuple[str, str | None]] | None:
    """Pair the plan's ``roles`` blocks whose role id is known only after apply (their divisions,
    in the plan's order) with the configuration's blocks that refer to roles planned here (each
    role and its constant division, or None), or None when the pairing cannot be known.

    ``roles`` is a set: the plan's order is not the configuration's, so a block is paired by its
    division. Configuration blocks with a constant division take the plan's blocks of that
    division; the rest pair up only where every way of pairing them gives the same grants (one
    block, one division, or one role). Anything else is unknown, never a guess.
    """
    if len(pending) != len(candidates):
        return None
    left = Counter(pending)
    pairs: list[tuple[str, str | None]] = []
    loose: list[Role] = []
    by_division: dict[str, list[Role]] = defaultdict(list)
    for role, division in candidates:
        if division is None:
            loose.append(role)
        else:
            by_division[division].append(role)
    for division, roles in by_division.items():
        if left[division] < len(roles):
            return None  # the configuration states a division the plan does not have
        left[division] -= len(roles)
        pairs += [(role.id, division) for role in roles]
    rest = list(left.elements())
    if len(set(rest)) > 1 and len({role.id for role in loose}) > 1:
        return None  # several divisions and several roles: which goes with which is unknown
    pairs += [(role.id, division) for role, division in zip(loose, rest, strict=True)]
    return pairs


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


@dataclass(frozen=True)
class PlanContents:
    """What a plan proposes: drafts of clients, roles planned alongside, and notes for reports."""

    drafts: list[Draft]
    roles: list[Role]
    notes: list[str]


def _refuse(shown: str, line: int, column: int, message: str) -> ProposalError:
    return ProposalError([Diagnostic(shown, line, column, message)])


def read_plan(data: dict[str, Any], text: str, shown: str) -> PlanContents:
    """Every OAuth client a plan creates, updates or replaces, as it will be after apply, the
    roles planned alongside, and what the report should say; all problems at once (exit 2)."""
    version = str(data.get("format_version"))
    if not re.fullmatch(r"[01]\.\d+", version):
        raise _refuse(
            shown,
            1,
            1,
            f"unsupported Terraform plan format_version {version!r}; this tool reads 0.x and 1.x "
            "(the output of `terraform show -json PLAN`)",
        )
    problems = shape_problems(data, text, shown)
    if problems:
        raise ProposalError(problems)
    for key, bad in (("errored", True), ("complete", False)):
        if data.get(key) is bad:
            line, column = _line_col(text, f'"{key}"', 0)
            raise _refuse(
                shown,
                line,
                column,
                f"this plan is incomplete ({key}: {json.dumps(bad)}); "
                "run the check on a complete plan",
            )
    if "resource_changes" not in data:
        # Terraform leaves the key out when nothing changes: an empty proposal, not an error.
        return PlanContents([], [], [f"{shown}: {NO_CHANGES}"])
    changes: list[dict[str, Any]] = data["resource_changes"]
    config = _config_resources((data.get("configuration") or {}).get("root_module"))
    anchor = max(text.find('"resource_changes"'), 0)
    planned_roles = _planned_roles(changes)
    drafts: list[Draft] = []
    for change in changes:
        if change["type"] != CLIENT_TYPE or change.get("mode", "managed") != "managed":
            continue
        actions = set(change["change"]["actions"])
        if actions in SKIPPED_ACTIONS:
            continue
        if actions not in EVALUATED_ACTIONS:
            # An action this tool does not know ("Create", [], a newer Terraform's): skipping it
            # would pass a client nobody judged.
            address = change.get("address")
            line, column = _line_col(text, json.dumps(address), anchor)
            problems.append(
                Diagnostic(
                    shown,
                    line,
                    column,
                    f"{address}: planned actions {json.dumps(change['change']['actions'])} are not "
                    "ones this tool knows (Terraform's create, update, delete+create, "
                    "create+delete, delete, read, no-op, forget); refusing to pass a client it "
                    "could not judge",
                )
            )
            continue
        try:
            drafts.append(
                _client_draft(change, actions, config, planned_roles, text, shown, anchor)
            )
        except ProposalError as exc:
            problems.extend(exc.diagnostics)
    drafts += _deferred(data, text, shown)
    if problems:
        raise ProposalError(problems)
    return PlanContents(drafts, list(planned_roles.values()), [])


def plan_drafts(data: dict[str, Any], text: str, shown: str) -> tuple[list[Draft], list[Role]]:
    """``read_plan`` without the notes (the drafts and the roles planned alongside)."""
    contents = read_plan(data, text, shown)
    return contents.drafts, contents.roles


def _planned_roles(changes: list[dict[str, Any]]) -> dict[str, Role]:
    """Roles planned in the same plan (created, updated, or unchanged), by address."""
    planned: dict[str, Role] = {}
    for change in changes:
        if change["type"] != ROLE_TYPE or change.get("mode", "managed") != "managed":
            continue
        after = change["change"].get("after")
        if not isinstance(after, dict):
            continue  # being deleted
        address = change["address"]
        perms = policy_permissions(
            (p.get("domain"), p.get("entity_name"), p.get("action_set") or ())
            for p in after.get("permission_policies") or ()
        )
        role_id = after.get("id") if isinstance(after.get("id"), str) else f"planned:{address}"
        planned[address] = Role(id=role_id, name=after.get("name") or address, permissions=perms)
    return planned


def _client_draft(
    change: dict[str, Any],
    actions: set[str],
    config: Mapping[str, Any],
    planned_roles: Mapping[str, Role],
    text: str,
    shown: str,
    anchor: int,
) -> Draft:
    body = change["change"]
    address = change["address"]
    line, column = _line_col(text, json.dumps(address), anchor)
    after = body.get("after")
    if not isinstance(after, dict):
        raise _refuse(shown, line, column, f"{address}: a planned change without `after` values")
    after_unknown = body.get("after_unknown") or {}
    planned = _Planned(after, after_unknown)
    unknown = planned.unknown
    attr = planned.get
    grant_type = attr("authorized_grant_type", "grantType")
    if grant_type == "SAML2BEARER":
        grant_type = "SAML2-BEARER"  # the provider accepts both spellings; the API has one
    pairs, roles_unknown = _role_pairs(change, after, after_unknown, config, planned_roles)
    roles_why = (
        "include a role id that " + AFTER_APPLY + " and is not a role planned here, or whose "
        "pairing with its division cannot be told"
        if roles_unknown
        else None
    )
    name = attr("name", "name")
    validity = attr("access_token_validity_seconds", "tokenValiditySeconds")
    expose = attr("expose_client_secret", "exposeClientSecret")
    directory = attr("directory_client_secret", "directoryClientSecret")
    raw_before = body.get("before")
    before: dict[str, Any] = raw_before if isinstance(raw_before, dict) else {}
    client_id = before.get("id") if "create" not in actions else None
    try:
        client = Client(
            id=client_id or "",
            name=name if name is not None else address,
            description=attr("description", "description"),
            grant_type=grant_type or "",
            state=attr("state", "state") or "active",
            scopes=tuple(sorted(set(attr("scopes", "scopes") or ()))),
            token_validity_seconds=validity
            if validity is not None
            else (None if "tokenValiditySeconds" in unknown else DEFAULT_VALIDITY),
            redirect_uris=tuple(attr("registered_redirect_uris", "redirectUris") or ()),
            # Whether the secret goes into the state, or to a directory; never the secret itself.
            # Left out, expose_client_secret is the provider's default, false.
            expose_client_secret=None if "exposeClientSecret" in unknown else bool(expose),
            directory_client_secret=None if "directoryClientSecret" in unknown else bool(directory),
        )
    except ValidationError as exc:  # the shape was checked; this is a value pydantic refuses
        raise _refuse(
            shown, line, column, f"{address}: values of an unexpected type ({exc.error_count()})"
        ) from None
    action: Action = (
        "replace"
        if actions == {"delete", "create"}
        else "create"
        if "create" in actions
        else "update"
    )
    return Draft(
        client=client,
        location=Location(shown, line, column),
        action=action,
        client_id=client_id,
        role_pairs=tuple(pairs),
        roles_unknown=roles_why,
        address=address,
        unknown=unknown,
    )


def _role_pairs(
    change: Mapping[str, Any],
    after: Mapping[str, Any],
    after_unknown: Any,
    config: Mapping[str, Any],
    planned_roles: Mapping[str, Role],
) -> tuple[list[tuple[str, str | None]], bool]:
    """The client's (role id, division) grants, and whether they cannot be known. Ids known now
    are kept; a block whose id is known only after apply is a role planned here when the
    configuration's role_id refers to a genesyscloud_auth_role, paired by ``pair_roles``."""
    pairs: list[tuple[str, str | None]] = []
    pending: list[str | None] = []  # divisions of the blocks whose role id is unknown
    flags_all = after_unknown.get("roles") if isinstance(after_unknown, dict) else None
    if flags_all is True:
        return [], True
    blocks = after.get("roles") or []
    for i, block in enumerate(blocks):
        flags = flags_all[i] if isinstance(flags_all, list) and i < len(flags_all) else {}
        flags = flags if isinstance(flags, dict) else {}
        division = block.get("division_id")
        if flags.get("division_id"):
            division = None  # left unset: the home division, known after apply
        role_id = block.get("role_id")
        if flags.get("role_id") or not isinstance(role_id, str):
            pending.append(division)
        else:
            pairs.append((role_id, division))
    if not pending:
        return pairs, False
    module = change.get("module_address")
    candidates: list[tuple[Role, str | None]] = []
    for block in _config_roles(config.get(_config_address(change))):
        key = f"{module}.{block.role_ref}" if module and block.role_ref else block.role_ref
        role = planned_roles.get(key) if key else None
        if role is not None and role.id.startswith("planned:"):
            candidates.append((role, block.division))
    paired = pair_roles(pending, candidates)
    if paired is None:
        return pairs, True
    return pairs + paired, False


def _deferred(data: Mapping[str, Any], text: str, shown: str) -> list[Draft]:
    """Clients whose change Terraform deferred to a later run (``deferred_changes``): nothing
    about them is known yet, so every rule is reported as not evaluated for them."""
    drafts: list[Draft] = []
    for item in data.get("deferred_changes") or ():
        change = item["resource_change"]
        if change["type"] != CLIENT_TYPE or change.get("mode", "managed") != "managed":
            continue
        address = change["address"]
        line, column = _line_col(text, json.dumps(address), max(text.find('"deferred_changes"'), 0))
        reason = item.get("reason") or "unknown reason"
        why = f"is not planned yet: Terraform deferred the change ({reason})"
        roles_why = f"are not planned yet: Terraform deferred the change ({reason})"
        after = change["change"].get("after")
        name = after.get("name") if isinstance(after, dict) else None
        client = Client(id="", name=name if isinstance(name, str) else address, grant_type="")
        unknown = {alias: why for alias in _CLIENT_FIELDS}
        drafts.append(
            Draft(
                client=client,
                location=Location(shown, line, column),
                action="create",
                roles_unknown=roles_why,
                address=address,
                unknown=unknown,
            )
        )
    return drafts


_CLIENT_FIELDS = tuple(info.alias or name for name, info in Client.model_fields.items())
