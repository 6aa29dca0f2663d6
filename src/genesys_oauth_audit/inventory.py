"""The normalised inventory (SPEC §4): what the policies see, and the snapshot file that stores it.

Everything here is a frozen pydantic model. The API's wire shapes stay in
``genesys/wire.py``; this module knows nothing about HTTP. JSON names are
camelCase, as in SPEC §4 and in ``field`` paths of policies.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

# The API's enumerations (SPEC §2), defined apart so a policy loads without these models.
from genesys_oauth_audit.data.enums import CLIENT_STATES as CLIENT_STATES
from genesys_oauth_audit.data.enums import EARLIEST_YEAR, LATEST_YEAR
from genesys_oauth_audit.data.enums import GRANT_TYPE_NAMES as GRANT_TYPE_NAMES
from genesys_oauth_audit.data.enums import GRANT_TYPES as GRANT_TYPES
from genesys_oauth_audit.data.operations import CalledOperation
from genesys_oauth_audit.errors import Diagnostic, SnapshotError
from genesys_oauth_audit.files.output import json_text, write_atomically
from genesys_oauth_audit.files.reading import (
    ReadError,
    decode_utf8,
    depth_exceeds,
    has_duplicate_keys,
    line_column,
    load_json,
    nesting_error,
    read_capped,
)
from genesys_oauth_audit.files.yamldoc import compose_text

# Times and days a snapshot or an answer may hold: the checks convert them to UTC and count days
# back from them, which a year-1 or year-9999 value would overflow (an internal error). Compared
# by pydantic-core itself, not by a Python call per value.
EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(LATEST_YEAR, 1, 1, tzinfo=timezone.utc)
Moment = Annotated[datetime, Field(ge=EARLIEST, le=LATEST)]
CalendarDay = Annotated[date, Field(ge=EARLIEST.date(), le=LATEST.date())]


@dataclass(frozen=True)
class OneOf:
    """Marks a client field whose values the API enumerates (``Annotated[str, OneOf(...)]``).

    Validation ignores it: a snapshot keeps a value the API adds later. What reads it is
    whatever names a value of the field by hand (a ``field`` check's comparison value), which
    must name one of these or would silently never match.
    """

    values: tuple[str, ...]


SNAPSHOT_KIND = "genesys-oauth-audit/inventory"
# 2 (0.2): per-client operations, the operations window, the usage source. Version 1 still loads
# (``migrate_snapshot``).
SNAPSHOT_VERSION = 2
READABLE_VERSIONS = (1, 2)

# Where usage came from (SPEC §10): the newer usage service's aggregates query jobs, or the legacy
# org-level query, which gives last use only. Reports name the source with these words.
USAGE_JOBS = "aggregates-query-jobs"
USAGE_QUERY = "usage-query"
USAGE_SOURCES: dict[str, str] = {
    USAGE_JOBS: "the usage service's aggregates query jobs (POST /api/v2/usage/aggregates/query/jobs)",
    USAGE_QUERY: "the legacy usage query (POST /api/v2/usage/query)",
}
# A snapshot of 50,000 clients with roles is ~60 MB; anything far beyond that is not ours.
MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Parsing a snapshot, normalising a client listing and evaluating an org build
    hundreds of thousands of small records next to a large live heap. Each
    generation-2 collection rescans that heap and can reclaim nothing (the
    records hold no cycles); on 100,000 clients this was up to 60% of the
    time. Reference counting still frees garbage; the collector resumes after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Model(BaseModel):
    """Frozen, camelCase on the outside, strict about unknown keys (a typo in a snapshot is an error)."""

    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        extra="forbid",
    )


class EntityRef(Model):
    """A reference to a user (``createdBy``/``modifiedBy``)."""

    id: str | None = None
    name: str | None = None


class RoleGrant(Model):
    """One role a client holds, in one division (``*`` = every division)."""

    role_id: str
    division_id: str | None = Field(
        default=None,
        description="Division id; '*' means every division; null for a grant through the "
        "deprecated roleIds, which names no division.",
    )
    name: str | None = Field(
        default=None,
        description="The role's name; null when roles were not fetched or it does not resolve.",
    )


class Scope(Model):
    """One entry of the org's OAuth scope catalog. The id is the name (``users:readonly``)."""

    id: str
    description: str | None = None


class PermissionPolicy(Model):
    """One permission policy of a role as the API states it (``DomainPermissionPolicy``): a domain,
    an entity and the set of actions it grants; any of them may be ``*``. Kept beside the flattened
    permissions so a finding can name the policy that grants a permission."""

    domain: str
    entity_name: str
    action_set: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """``domain:entity:actionSet``, the actions comma-separated (``oauth:client:add,edit``)."""
        return f"{self.domain}:{self.entity_name}:{','.join(self.action_set)}"

    def grants(self, permission: str) -> bool:
        """Whether this policy states ``permission`` (one ``domain:entity:action``, as flattened)."""
        domain, _, rest = permission.partition(":")
        entity, _, action = rest.partition(":")
        return domain == self.domain and entity == self.entity_name and action in self.action_set


class Role(Model):
    """A role of the org and the permissions its policies grant."""

    id: str
    name: str
    description: str | None = None
    permissions: tuple[str, ...] = Field(
        default=(),
        description="Granted permissions as domain:entity:action; any part may be '*'.",
    )
    policies: tuple[PermissionPolicy, ...] | None = Field(
        default=None,
        description="The role's permission policies as the API states them (domain, entityName, "
        "actionSet); absent in snapshots written before 0.2, where findings name the flattened "
        "permission instead.",
    )


class Org(Model):
    id: str | None = None
    name: str | None = None


class UsageWindow(Model):
    """The period an org-level usage query covered (``lastUsed`` and ``operations`` are only
    meaningful inside it), and which usage service answered it."""

    days: int
    start: CalendarDay
    end: CalendarDay
    source: str | None = Field(
        default=None,
        description="The usage service that answered: 'aggregates-query-jobs' (POST "
        "/api/v2/usage/aggregates/query/jobs) or 'usage-query' (the legacy POST "
        "/api/v2/usage/query); null where not stated (inline test inventories).",
    )

    @property
    def source_text(self) -> str:
        """The source in words, for reports."""
        if self.source is None:
            return "an unstated usage source"
        return USAGE_SOURCES.get(self.source, self.source)


class Client(Model):
    """One OAuth client, normalised. ``secret`` has no field here on purpose: it never enters."""

    id: str
    name: str
    description: str | None = None
    grant_type: Annotated[str, OneOf(GRANT_TYPES)] = Field(
        description="authorizedGrantType as the API spells it (CODE, TOKEN, SAML2-BEARER, "
        "PASSWORD, CLIENT-CREDENTIALS); unknown values are kept, not rejected."
    )
    state: Annotated[str | None, OneOf(CLIENT_STATES)] = Field(
        default=None, description="active, disabled, inactive, or as the API says."
    )
    scopes: tuple[str, ...] = ()
    roles: tuple[RoleGrant, ...] = Field(
        default=(), description="The union of roleDivisions and the deprecated roleIds."
    )
    permissions: tuple[str, ...] | None = Field(
        default=None,
        description="Effective permissions through the roles; absent when roles were not fetched.",
    )
    token_validity_seconds: int | None = None
    redirect_uris: tuple[str, ...] = ()
    date_created: Moment | None = None
    date_modified: Moment | None = None
    date_to_delete: Moment | None = None
    created_by: EntityRef | None = None
    modified_by: EntityRef | None = None
    last_used: CalendarDay | None = Field(
        default=None,
        description="Latest day with API requests inside the usage window; absent when usage "
        "was not fetched, null when the client was not used in the window.",
    )
    operations: tuple[CalledOperation, ...] | None = Field(
        default=None,
        description="The operations the client called in the operations window (operationUsage): "
        "method, path as the swagger path key, request and status counts; a template that "
        "matches no known operation is kept as seen. Absent when operation data was not fetched.",
    )
    expose_client_secret: bool | None = Field(
        default=None,
        description="Proposals from a Terraform plan: whether the provider's expose_client_secret "
        "writes the client secret into the Terraform state. Absent for clients read from the org.",
    )
    directory_client_secret: bool | None = Field(
        default=None,
        description="Proposals from a Terraform plan: whether directory_client_secret names a "
        "directory the provider writes the client secret to (never the secret, nor the path). "
        "Absent for clients read from the org.",
    )


class Inventory(Model):
    """Every client of one org plus the catalogs the checks compare them against.

    ``scopes``, ``roles`` and ``usage`` are ``None`` when they were not fetched:
    the checks that need them then report *not evaluated* instead of passing.
    """

    kind: Literal["genesys-oauth-audit/inventory"] = "genesys-oauth-audit/inventory"
    schema_version: Literal[2] = 2
    org: Org = Org()
    region: str | None = None
    fetched_at: Moment | None = None
    scopes: tuple[Scope, ...] | None = None
    roles: tuple[Role, ...] | None = None
    usage: UsageWindow | None = Field(
        default=None, description="The window of last use (clients' lastUsed) and its source."
    )
    operation_usage: UsageWindow | None = Field(
        default=None,
        description="The window of the operations each client called (clients' operations) and "
        "its source; null when operation data was not fetched (the legacy usage query has none).",
    )
    usage_notes: tuple[str, ...] = Field(
        default=(),
        description="Why usage came from where it did (a usage service that answered 404 or 403, a "
        "window longer than one query may cover); every report repeats them.",
    )
    clients: tuple[Client, ...] = ()
    warnings: tuple[str, ...] = Field(
        default=(),
        description="What the fetch found doubtful but not wrong enough to stop (e.g. an org "
        "that lists no clients to a token issued elsewhere); every report repeats them.",
    )

    def to_json(self) -> str:
        """The snapshot text: stable key order, one field per line (so lines are addressable)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=False)
        if not data["warnings"]:
            del data["warnings"]  # snapshots without warnings stay as they were
        if not data["usageNotes"]:
            del data["usageNotes"]
        for client in data["clients"]:
            if self.usage is None:
                client.pop("lastUsed", None)
            if client.get("operations") is None:
                client.pop("operations", None)
            if client.get("permissions") is None:
                client.pop("permissions", None)
            for key in ("exposeClientSecret", "directoryClientSecret"):  # proposals only
                if client.get(key) is None:
                    client.pop(key, None)
        return json_text(data) + "\n"


def role_grants(
    pairs: Iterable[tuple[str, str | None]], roles_by_id: Mapping[str, Role] | None
) -> tuple[RoleGrant, ...]:
    """A client's role grants from (role id, division id) pairs: ``roleDivisions`` and, with no
    division, the deprecated ``roleIds`` (dropped where the same role is granted in a division).
    Names are filled where the role resolves; an id that resolves to nothing is kept, for
    ``orphan-roles``. Used for fetched clients and for proposals alike."""
    pairs = list(pairs)
    with_division = {role_id for role_id, division in pairs if division is not None}
    grants: dict[tuple[str, str | None], RoleGrant] = {}
    for role_id, division in pairs:
        if division is None and role_id in with_division:
            continue
        role = roles_by_id.get(role_id) if roles_by_id is not None else None
        grants[(role_id, division)] = RoleGrant(
            role_id=role_id, division_id=division, name=role.name if role is not None else None
        )
    return tuple(sorted(grants.values(), key=lambda g: (g.role_id, g.division_id or "")))


def effective_permissions(
    grants: Iterable[RoleGrant], roles_by_id: Mapping[str, Role]
) -> tuple[str, ...]:
    """The union of the permissions of the roles that resolve (one that does not grants nothing)."""
    return tuple(
        sorted(
            {
                p
                for g in grants
                if g.role_id in roles_by_id
                for p in roles_by_id[g.role_id].permissions
            }
        )
    )


def policy_permissions(
    policies: Iterable[tuple[object, object, Iterable[object]]],
) -> tuple[str, ...]:
    """``domain:entity:action`` for each (domain, entity, actions) of a role's permission policies,
    whether from the API or a Terraform plan; a policy without domain or entity grants nothing."""
    return tuple(
        sorted(
            {
                f"{domain}:{entity}:{action}"
                for domain, entity, actions in policies
                if domain and entity
                for action in actions
            }
        )
    )


def role_policies(
    policies: Iterable[tuple[object, object, Iterable[object]]],
) -> tuple[PermissionPolicy, ...]:
    """The permission policies of a role as stated (same input as ``policy_permissions``), in a
    stable order; a policy without domain or entity grants nothing and is left out."""
    return tuple(
        sorted(
            (
                PermissionPolicy(
                    domain=str(domain),
                    entity_name=str(entity),
                    action_set=tuple(sorted({str(a) for a in actions})),
                )
                for domain, entity, actions in policies
                if domain and entity
            ),
            key=lambda p: (p.domain, p.entity_name, p.action_set),
        )
    )


def save_snapshot(inventory: Inventory, path: Path) -> None:
    write_atomically(path, inventory.to_json())


def load_snapshot(path: Path) -> Inventory:
    """Read and validate a snapshot; every problem is reported as file:line:column (exit 2)."""
    return read_snapshot(path)[0]


def read_snapshot(path: Path) -> tuple[Inventory, dict[str, int]]:
    """A snapshot and the line of each client in it (SARIF points at the client's line)."""
    shown = str(path)
    try:
        raw = read_capped(path, MAX_SNAPSHOT_BYTES, what="snapshot", shown=shown)
        text = decode_utf8(raw, prefix="cannot read snapshot: ")
    except ReadError as exc:
        raise SnapshotError([Diagnostic(shown, exc.line, exc.column, str(exc))]) from None
    with cyclic_gc_paused():
        inventory = parse_snapshot(text, shown)
    return inventory, client_lines(text, inventory.clients)


def client_lines(text: str, clients: tuple[Client, ...]) -> dict[str, int]:
    """The line of each client's ``"id"`` member, in one forward pass (clients are in file order)."""
    start = text.find('"clients"')
    pos = max(start, 0)
    line = text.count("\n", 0, pos) + 1
    lines: dict[str, int] = {}
    for client in clients:
        cid = client.id
        # An id of printable characters other than a quote or backslash is written as it is (a
        # uuid, always, from the API); json.dumps spells only the others.
        if cid.isprintable() and '"' not in cid and "\\" not in cid:
            value = f'"{cid}"'
        else:
            value = json.dumps(cid, ensure_ascii=False)
        found = text.find(f'"id": {value}', pos)
        if found < 0:  # written by hand with other spacing
            match = re.compile(r'"id"\s*:\s*' + re.escape(value)).search(text, pos)
            found = match.start() if match else -1
        if found < 0:
            continue
        line += text.count("\n", pos, found)
        pos = found
        lines[client.id] = line
    return lines


def _other_file(data: Any, text: str, shown: str) -> str | None:
    """What a file given as a snapshot is instead, when it is another file this tool reads: a
    Terraform plan or a request body (``check --proposed``), a policy (``-p``), a policy test.
    ``data`` is None when the text is not JSON: then it is read as YAML (on this error path
    only, and only if small)."""
    if data is None:
        if len(text) > 256 * 1024:
            return None
        import yaml

        try:
            data = yaml.safe_load(text)
        except Exception:  # any failure: no better hint than the JSON error itself
            return None
    bodies = data if isinstance(data, list) and data else [data]
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "Policy":
        return (
            f"this is a policy file, not a snapshot: give it with -p {shown}; --inventory "
            "takes a snapshot written by `genesys-oauth-audit fetch -o`"
        )
    if kind == "PolicyTest":
        return f"this is a policy test file, not a snapshot: run `genesys-oauth-audit test {shown}`"
    if isinstance(data, dict) and (
        "resource_changes" in data or "planned_values" in data or "terraform_version" in data
    ):
        what = "a Terraform plan (terraform show -json)"
    elif all(isinstance(b, dict) and "authorizedGrantType" in b for b in bodies):
        what = "an OAuth client request body"
    else:
        return None
    return (
        f"this is {what}, not a snapshot: check proposed clients with --proposed {shown}; "
        "--inventory takes a snapshot written by `genesys-oauth-audit fetch -o`"
    )


def parse_snapshot(text: str, shown: str) -> Inventory:
    inventory = _parse_current(text)
    if inventory is None:
        inventory = _parse_checked(text, shown)
    return _consistent(inventory, text, shown)


def _consistent(inventory: Inventory, text: str, shown: str) -> Inventory:
    """The snapshot, once what the models cannot see alone holds: client ids are unique, and
    each role's policies and permissions state the same grants (whichever path read it)."""
    duplicates = _duplicate_ids(inventory.clients)
    if duplicates:
        raise SnapshotError(_duplicate_diagnostics(text, shown, duplicates))
    disagreements = role_disagreements(inventory.roles or ())
    if disagreements:
        locate = JsonLocator(text)
        raise SnapshotError(
            [
                Diagnostic(shown, *locate(("roles", i, "policies")), f"roles/{i}/policies: {why}")
                for i, why in disagreements[:50]
            ]
        )
    return inventory


def _parse_current(text: str) -> Inventory | None:
    """A valid snapshot of the current version, read by pydantic's own JSON parser straight into
    the models: without the intermediate dicts of ``json.loads`` it is about twice as quick and
    holds a third less memory at 100,000 clients. None for anything else (another version, a
    problem, a lone surrogate the parser refuses): ``_parse_checked`` then reads it again,
    migrates it or says what is wrong, where."""
    try:
        inventory = Inventory.model_validate_json(text)
    except ValidationError:
        return None
    # The model takes 2.0 for 2; the checked path refuses any version but the integer. (The key
    # is the snapshot's own: no other object of it may hold one, and inside a string its quotes
    # would be escaped.)
    if _VERSION_2.search(text) is None:
        return None
    # The model has defaults for these; a file without them is not a snapshot (or, without its
    # clients, one every rule would pass): the checked path says so.
    if not inventory.model_fields_set >= _REQUIRED_KEYS:
        return None
    # pydantic's parser keeps a key's last value: a second "clients": [] would empty the org. The
    # checked path refuses a key named twice, and says where.
    return None if has_duplicate_keys(text) else inventory


_REQUIRED_KEYS = frozenset({"kind", "schema_version", "clients"})
_VERSION_2 = re.compile(r'"schemaVersion"\s*:\s*2\s*[,}]')


def _parse_checked(text: str, shown: str) -> Inventory:
    try:
        # The model validates level by level, so deep nesting is only looked for on the error
        # path below; nesting that would overflow the parser itself is refused here.
        data = load_json(text, check_depth=False)
    except ReadError as exc:
        hint = _other_file(None, text, shown)
        if hint is not None:
            raise SnapshotError([Diagnostic(shown, 1, 1, hint)]) from None
        raise SnapshotError([Diagnostic(shown, exc.line, exc.column, str(exc))]) from None
    if not isinstance(data, dict) or data.get("kind") != SNAPSHOT_KIND:
        hint = _other_file(data, text, shown)
        raise SnapshotError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    hint or f'not a snapshot: expected an object with "kind": "{SNAPSHOT_KIND}"',
                )
            ]
        )
    version = data.get("schemaVersion")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise SnapshotError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    f"unsupported snapshot schemaVersion {version!r}; this version of the tool "
                    f"reads {' and '.join(str(v) for v in READABLE_VERSIONS)}",
                )
            ]
        )
    data = migrate_snapshot(data)
    if "clients" not in data:
        # Without the key, every rule would pass over no clients: an empty audit, not a result.
        raise SnapshotError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    'not a complete snapshot: the "clients" list is missing '
                    "(write snapshots with `genesys-oauth-audit fetch -o`)",
                )
            ]
        )
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        if depth_exceeds(data):
            raise SnapshotError([_nesting(text, shown)]) from None
        locate = JsonLocator(text)
        diagnostics = []
        for err in exc.errors(include_url=False)[:50]:
            loc = tuple(err["loc"])
            line, col = locate(loc)
            where = "/".join(str(p) for p in loc) or "(top level)"
            diagnostics.append(Diagnostic(shown, line, col, f"{where}: {_describe(err)}"))
        raise SnapshotError(diagnostics) from None
    return inventory


def role_disagreements(roles: Iterable[Role]) -> list[tuple[int, str]]:
    """The roles (index, why) whose stated policies and flattened permissions disagree.

    ``check`` and ``diff`` judge a role by its ``permissions``; findings name the policy that
    grants one. A role edited in one and not the other would show no drift and no finding for
    what its policies grant, so where a role states both they must flatten to the same set. A
    role that states only one of them (only permissions: snapshots before 0.2) is read as before.
    """
    out: list[tuple[int, str]] = []
    for i, role in enumerate(roles):
        if role.policies is None or "permissions" not in role.model_fields_set:
            continue
        stated = set(
            policy_permissions((p.domain, p.entity_name, p.action_set) for p in role.policies)
        )
        listed = set(role.permissions)
        if stated == listed:
            continue
        parts = []
        for what, extra in (
            ("the policies grant", stated - listed),
            ("permissions lists", listed - stated),
        ):
            if extra:
                shown = ", ".join(repr(x) for x in sorted(extra)[:3])
                more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
                other = "permissions lacks" if what.startswith("the") else "no policy grants"
                parts.append(f"{what} {shown}{more}, which {other}")
        out.append(
            (
                i,
                f"role {role.name!r} ({role.id}): its policies and permissions disagree: "
                f"{'; '.join(parts)}; both must state the same grants (check and diff read "
                "permissions): re-fetch the snapshot, or edit both",
            )
        )
    return out


def migrate_snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's data as the current schema version has it.

    Version 1 (0.1) has no operations and does not name its usage source: its usage came from
    the only query 0.1 made, the legacy ``POST /api/v2/usage/query``, so that is stated.
    Every key a version-1 snapshot may hold means the same in version 2; errors keep pointing
    at the lines of the file as written (the keys are not moved).
    """
    if data.get("schemaVersion") == SNAPSHOT_VERSION:
        return data
    migrated = {**data, "schemaVersion": SNAPSHOT_VERSION}
    usage = data.get("usage")
    if isinstance(usage, dict) and "source" not in usage:
        migrated["usage"] = {**usage, "source": USAGE_QUERY}
    return migrated


def _nesting(text: str, shown: str) -> Diagnostic:
    error = nesting_error(text)
    return Diagnostic(shown, error.line, error.column, str(error))


def _duplicate_ids(clients: tuple[Client, ...]) -> list[str]:
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    for client in clients:
        if client.id in seen:
            duplicates[client.id] = None
        seen.add(client.id)
    return list(duplicates)


def _duplicate_diagnostics(text: str, shown: str, duplicates: list[str]) -> list[Diagnostic]:
    """One diagnostic per repeated id, at its second occurrence, naming the line of the first.
    Two clients with one id would be judged as one (fingerprints, baselines, exceptions by id)."""
    start = max(text.find('"clients"'), 0)
    out: list[Diagnostic] = []
    for client_id in duplicates[:50]:
        pattern = re.compile(r'"id"\s*:\s*' + re.escape(json.dumps(client_id, ensure_ascii=False)))
        found = [m.start() for m in pattern.finditer(text, start)]
        # Role grants also hold ids ("roleId"); the pattern only matches a client's own "id" key.
        if len(found) >= 2:
            first, _ = line_column(text, found[0])
            line, column = line_column(text, found[1])
            out.append(
                Diagnostic(
                    shown,
                    line,
                    column,
                    f"duplicate client id {client_id!r} (first at line {first}); "
                    "every client of an org has its own id",
                )
            )
        else:
            out.append(
                Diagnostic(shown, None, None, f"duplicate client id {client_id!r} in clients")
            )
    return out


def _describe(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return f"{msg} (got {json.dumps(err.get('input'), default=str)[:80]})"


class JsonLocator:
    """Maps a JSON path to a (line, column), by re-reading the text with positions.

    Only used on the error path: composing with PyYAML is slow for big files,
    and a valid snapshot never needs it. JSON is YAML 1.2, and close enough to
    PyYAML's 1.1 for the documents we write.
    """

    def __init__(self, text: str) -> None:
        import yaml

        try:
            self._root: Any = compose_text(text)
        except (yaml.YAMLError, ReadError, RecursionError):
            self._root = None

    def __call__(self, path: tuple[Any, ...]) -> tuple[int | None, int | None]:
        import yaml

        node = self._root
        if node is None:
            return None, None
        best = node
        for part in path:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        nxt = value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and part < len(node.value)
            ):
                nxt = node.value[part]
            if nxt is None:
                break
            node = best = nxt
        return best.start_mark.line + 1, best.start_mark.column + 1


INVENTORY_SCHEMA_ID = "https://raw.githubusercontent.com/genesys-oauth-audit/genesys-oauth-audit/main/schemas/inventory.schema.json"


def inventory_schema() -> dict[str, Any]:
    """The published JSON Schema of a snapshot (schemas/inventory.schema.json), from the models."""
    schema = Inventory.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": INVENTORY_SCHEMA_ID,
        "title": "genesys-oauth-audit inventory snapshot",
        "description": "The normalised inventory of one Genesys Cloud org's OAuth clients, as written by "
        "`genesys-oauth-audit fetch -o` and read by `check --inventory`.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
        # The reader requires these (a snapshot without its clients would audit nothing).
        "required": ["kind", "schemaVersion", "clients"],
    }
