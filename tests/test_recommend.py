"""``recommend``: the least-privilege role as Terraform (read back structurally), as the body of
``POST /api/v2/authorization/roles`` (validated against the API's definition), and as text; the
minimal scopes of user-facing clients; hostile client names in every format."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from genesys_oauth_audit.data.operations import CalledOperation, operations_catalog
from genesys_oauth_audit.files.text import invisible
from genesys_oauth_audit.inventory import Client, Role, RoleGrant, UsageWindow
from genesys_oauth_audit.leastpriv.analysis import LeastPrivilege, PermissionAnalysis, ScopeAnalysis
from genesys_oauth_audit.leastpriv.recommend import (
    PermissionPolicy,
    RoleRecommendation,
    ScopeRecommendation,
    collapse,
    recommend,
)
from genesys_oauth_audit.report import hcl
from genesys_oauth_audit.report.recommend import (
    render_json,
    render_terraform,
    render_text,
    role_request_body,
    terraform_name,
)
from tests import hcl_reader

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "tests" / "data" / "genesys" / "openapi-oauth-subset.json"
WINDOW = UsageWindow(days=90, start=date(2026, 8, 23), end=date(2026, 11, 20))
TERRAFORM = shutil.which("terraform")

# The worked example of issue 15 and docs/least-privilege.md: a client holding a wide role.
WIDE = Role(
    id="5f1c1f7e-0000-4000-8000-00000000000a",
    name="Routing and Analytics Admin",
    permissions=("routing:*:*", "analytics:*:*", "directory:user:*", "ui:homeScreen:view"),
)
THREE_CALLS = [
    CalledOperation(method="GET", path="api/v2/routing/queues", requests=8640, status2xx=8640),
    CalledOperation(
        method="GET", path="api/v2/routing/wrapupcodes", requests=90, status2xx=88, status5xx=2
    ),
    CalledOperation(
        method="POST",
        path="api/v2/analytics/conversations/aggregates/query",
        requests=2160,
        status2xx=2150,
        status4xx=10,
        status429=10,
    ),
]
EXPECTED = ("analytics:conversationAggregate:view", "routing:queue:view", "routing:wrapupCode:view")


def client(name: str = "Queue Sync", **kw: Any) -> Client:
    defaults: dict[str, Any] = {
        "id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "name": name,
        "description": "Syncs queues to the WFM tool",
        "grant_type": "CLIENT-CREDENTIALS",
        "state": "active",
        "token_validity_seconds": 3600,
        "roles": (RoleGrant(role_id=WIDE.id, division_id="d-emea", name=WIDE.name),),
    }
    defaults.update(kw)
    return Client(**defaults)


def worked_example(c: Client | None = None) -> tuple[PermissionAnalysis, RoleRecommendation]:
    c = c or client()
    analysis = LeastPrivilege([WIDE]).client(c, THREE_CALLS, WINDOW)
    assert isinstance(analysis, PermissionAnalysis)
    rec = recommend(analysis, c)
    assert isinstance(rec, RoleRecommendation)
    return analysis, rec


def ambiguous_example() -> tuple[Client, PermissionAnalysis]:
    """The worked example plus a call that ANY of two permissions the wide role covers allows."""
    c = client(roles=(RoleGrant(role_id=WIDE.id, division_id="*", name=WIDE.name),))
    calls = [
        *THREE_CALLS,
        CalledOperation(
            method="POST",
            path="api/v2/analytics/conversations/details/query",
            requests=5,
            status2xx=5,
        ),
    ]
    analysis = LeastPrivilege([WIDE]).client(c, calls, WINDOW)
    assert isinstance(analysis, PermissionAnalysis)
    return c, analysis


@lru_cache(maxsize=1)
def strict_definitions() -> dict[str, Any]:
    """The extract's definitions, objects closed: a field the API does not define fails."""
    definitions = copy.deepcopy(json.loads(OPENAPI.read_text())["definitions"])
    for definition in definitions.values():
        if definition.get("type") == "object" and "properties" in definition:
            definition.setdefault("additionalProperties", False)
    return dict(definitions)


def validate_role_create(body: Any) -> list[str]:
    spec = json.loads(OPENAPI.read_text())
    [param] = [
        p
        for p in spec["paths"]["/api/v2/authorization/roles"]["post"]["parameters"]
        if p["in"] == "body"
    ]
    schema = {"definitions": strict_definitions(), **param["schema"]}
    return [e.message for e in Draft4Validator(schema).iter_errors(body)]


def policies_of(block: hcl_reader.Block) -> set[tuple[str, str, tuple[str, ...]]]:
    out = set()
    for p in block.all("permission_policies"):
        actions = p.attributes["action_set"]
        assert isinstance(actions, list)
        out.add((str(p.attributes["domain"]), str(p.attributes["entity_name"]), tuple(actions)))
    return out


# --- the worked example (issue 15, "Done when") --------------------------------------------------


def test_worked_example_exercised_exactly_what_the_three_operations_need() -> None:
    analysis, _ = worked_example()
    assert analysis.exercised == EXPECTED
    assert [e.status for e in analysis.operations] == ["proven", "proven", "proven"]
    ids = operations_catalog().permission_ids
    wide = {p for p in ids if p.split(":")[0] in ("routing", "analytics")} | {
        p for p in ids if p.startswith("directory:user:")
    }
    c = analysis.counts
    assert c.granted == len(wide) + 1  # + ui:homeScreen:view, which no operation requires
    assert c.exercised == 3 and c.ambiguous == 0 and c.unobservable == 1
    assert c.unused == len(wide) - 3
    states = {g.permission: g.state for g in analysis.granted}
    assert states == {
        "analytics:*:*": "partly-used",
        "directory:user:*": "unused",
        "routing:*:*": "partly-used",
        "ui:homeScreen:view": "unobservable",
    }
    [role_use] = analysis.roles
    assert (role_use.source.role_name, role_use.source.division_id) == (WIDE.name, "d-emea")
    assert role_use.exercised == EXPECTED and role_use.unused == len(wide) - 3


def test_worked_example_recommended_role_grants_those_permissions_and_nothing_else() -> None:
    _, rec = worked_example()
    [role] = rec.roles
    assert rec.permissions == EXPECTED
    assert role.policies == (
        PermissionPolicy("analytics", "conversationAggregate", ("view",)),
        PermissionPolicy("routing", "queue", ("view",)),
        PermissionPolicy("routing", "wrapupCode", ("view",)),
    )
    assert role.divisions == ("d-emea",)
    assert role.ambiguous == ()


def test_worked_example_terraform_read_back() -> None:
    _, rec = worked_example()
    text = render_terraform([rec])
    root = hcl_reader.parse(text)
    roles = [b for b in root.blocks if b.labels[:1] == ["genesyscloud_auth_role"]]
    clients = [b for b in root.blocks if b.labels[:1] == ["genesyscloud_oauth_client"]]
    assert [b.type for b in root.blocks] == ["resource", "resource"]  # the import is commented
    [role] = roles
    [oauth] = clients
    assert role.attributes["name"] == "Queue Sync (least privilege)"
    assert policies_of(role) == {
        ("analytics", "conversationAggregate", ("view",)),
        ("routing", "queue", ("view",)),
        ("routing", "wrapupCode", ("view",)),
    }
    # Exactly the provider's attribute names, and nothing else.
    assert set(role.attributes) == {"name", "description"}
    assert {b.type for b in role.blocks} == {"permission_policies"}
    for p in role.blocks:
        assert set(p.attributes) == {"domain", "entity_name", "action_set"} and p.blocks == []
    # The permissions granted = those exercised, through the tool's own policy flattening.
    from genesys_oauth_audit.inventory import policy_permissions

    granted = policy_permissions((d, e, actions) for d, e, actions in policies_of(role))
    assert granted == EXPECTED
    # The client keeps what it has and gets the new role in the division it uses today.
    assert oauth.attributes == {
        "name": "Queue Sync",
        "description": "Syncs queues to the WFM tool",
        "authorized_grant_type": "CLIENT-CREDENTIALS",
        "access_token_validity_seconds": 3600,
        "state": "active",
    }
    [roles_block] = oauth.all("roles")
    assert roles_block.attributes == {
        "role_id": hcl_reader.Ref(f"genesyscloud_auth_role.{role.labels[1]}.id"),
        "division_id": "d-emea",
    }
    # The commented import block adopts the existing client by id once uncommented.
    imported = hcl_reader.parse(hcl_reader.uncommented(text, "uncomment the import block"))
    [block] = imported.blocks
    assert block.type == "import"
    assert block.attributes == {
        "to": hcl_reader.Ref(f"genesyscloud_oauth_client.{oauth.labels[1]}"),
        "id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    }
    assert "90 days (2026-08-23 to 2026-11-20): 10890 requests to 3 operations" in text


def test_worked_example_json_body_is_a_valid_role_create() -> None:
    _, rec = worked_example()
    document = json.loads(render_json([rec]))
    [entry] = document["clients"]
    [role] = entry["roles"]
    assert role["request"]["method"] == "POST"
    assert role["request"]["path"] == "/api/v2/authorization/roles"
    body = role["request"]["body"]
    assert validate_role_create(body) == []
    assert body["permissionPolicies"] == [
        {"domain": "analytics", "entityName": "conversationAggregate", "actionSet": ["view"]},
        {"domain": "routing", "entityName": "queue", "actionSet": ["view"]},
        {"domain": "routing", "entityName": "wrapupCode", "actionSet": ["view"]},
    ]
    assert role["divisions"] == ["d-emea"]
    assert entry["confidence"]["requests"] == 10890
    assert entry["confidence"]["window"] == {
        "days": 90,
        "start": "2026-08-23",
        "end": "2026-11-20",
        "source": None,
    }


def test_the_body_validator_rejects_what_the_api_does_not_define() -> None:
    assert validate_role_create({"name": "x", "permissionPolicies": [{"entity": "y"}]})
    assert validate_role_create({"description": "no name"})


def test_worked_example_text() -> None:
    _, rec = worked_example()
    text = render_text([rec])
    assert "role Queue Sync (least privilege) in division d-emea:" in text
    assert "    routing:queue:view\n" in text
    assert "    analytics:conversationAggregate:view\n" in text
    assert "10890 requests to 3 operations, 10878 succeeded" in text


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_worked_example_terraform_is_canonical_for_terraform_fmt() -> None:
    _, rec = worked_example()
    text = render_terraform([rec])
    assert terraform_fmt(text) == text


def terraform(*args: str, stdin: str) -> str:
    """Run the installed terraform offline (no checkpoint call, no CLI configuration) in a
    directory without configuration; its stdout."""
    assert TERRAFORM is not None
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    out = subprocess.run(
        [TERRAFORM, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT / "tests" / "data",
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def terraform_fmt(text: str) -> str:
    return terraform("fmt", "-no-color", "-", stdin=text)


def test_the_docs_show_what_the_tool_writes_for_the_worked_example() -> None:
    doc = (ROOT / "docs" / "least-privilege.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(hcl|json)\n(.*?)```", doc, re.S)
    _, rec = worked_example()
    assert blocks[0] == ("hcl", render_terraform([rec]))
    [role] = rec.roles
    assert json.loads(blocks[1][1]) == role_request_body(role)
    assert validate_role_create(json.loads(blocks[1][1])) == []
    # The ambiguous variant's commented blocks, as written inside the role.
    c, analysis = ambiguous_example()
    assert blocks[2][1] in render_terraform([recommend(analysis, c)])
    # The figures the page quotes.
    analysis, _ = worked_example()
    by = {g.permission: g.covers for g in analysis.granted}
    assert (by["analytics:*:*"], by["routing:*:*"], by["directory:user:*"]) == (42, 82, 5)
    assert f"The role grants {analysis.roles[0].permissions} permissions; 3 were exercised" in doc
    assert f"{analysis.counts.unused} are unused" in doc
    counts = operations_catalog().source.counts
    for figure in ("3,405", "2,949", "2,092", "857", "1,465"):
        assert figure in doc
    assert (counts["operations"], counts["withPermissions"], counts["distinctPermissionIds"]) == (
        3405,
        2949,
        1465,
    )


# --- ambiguity, divisions, nothing exercised -----------------------------------------------------


def test_ambiguous_candidates_are_commented_one_block_each() -> None:
    c, analysis = ambiguous_example()
    rec = recommend(analysis, c)
    assert isinstance(rec, RoleRecommendation)
    assert rec.permissions == EXPECTED  # the candidates are not in the role
    [choice] = rec.confidence.ambiguous
    assert choice.candidates == (
        "analytics:conversationDetail:view",
        "analytics:agentConversationDetail:view",
    )
    text = render_terraform([rec])
    root = hcl_reader.parse(text)
    role = next(b for b in root.blocks if b.labels[0] == "genesyscloud_auth_role")
    assert len(role.all("permission_policies")) == 3
    # Uncommenting the suggestion gives one valid block per candidate.
    suggested = hcl_reader.parse(hcl_reader.uncommented(text, "needs ANY of these"))
    assert policies_of(suggested) == {
        ("analytics", "conversationDetail", ("view",)),
        ("analytics", "agentConversationDetail", ("view",)),
    }
    assert "Ambiguous: POST /api/v2/analytics/conversations/details/query needs ANY of" in text
    [oauth] = [b for b in root.blocks if b.labels[0] == "genesyscloud_oauth_client"]
    assert oauth.all("roles")[0].attributes["division_id"] == "*"
    if TERRAFORM is not None:
        assert terraform_fmt(text) == text
    document = json.loads(render_json([rec]))
    assert document["clients"][0]["confidence"]["ambiguous"][0]["candidates"] == list(
        choice.candidates
    )


def test_permissions_granted_in_different_divisions_go_to_different_roles() -> None:
    routing = Role(id="r-routing", name="Routing", permissions=("routing:*:*",))
    analytics = Role(id="r-analytics", name="Analytics", permissions=("analytics:*:*",))
    c = client(
        roles=(
            RoleGrant(role_id="r-routing", division_id="d1", name="Routing"),
            RoleGrant(role_id="r-routing", division_id="d2", name="Routing"),
            RoleGrant(role_id="r-analytics", division_id=None, name="Analytics"),
        )
    )
    analysis = LeastPrivilege([routing, analytics]).client(c, THREE_CALLS, WINDOW)
    assert isinstance(analysis, PermissionAnalysis)
    rec = recommend(analysis, c)
    assert isinstance(rec, RoleRecommendation)
    by_divisions = {r.divisions: r.permissions for r in rec.roles}
    assert by_divisions == {
        ("d1", "d2"): ("routing:queue:view", "routing:wrapupCode:view"),
        (None,): ("analytics:conversationAggregate:view",),
    }
    root = hcl_reader.parse(render_terraform([rec]))
    roles = {b.labels[1]: b for b in root.blocks if b.labels[0] == "genesyscloud_auth_role"}
    assert len(roles) == 2
    [oauth] = [b for b in root.blocks if b.labels[0] == "genesyscloud_oauth_client"]
    grants = {
        (str(r.attributes["role_id"]), r.attributes.get("division_id")) for r in oauth.all("roles")
    }
    names = sorted(roles)
    assert len(grants) == 3
    # The home-division grant has no division_id, as the provider defaults it.
    assert sum(1 for _, d in grants if d is None) == 1
    assert all(any(n in ref for n in names) for ref, _ in grants)
    for body in (role_request_body(r) for r in rec.roles):
        assert validate_role_create(body) == []


def test_a_client_that_exercised_nothing_gets_no_role() -> None:
    c = client()
    analysis = LeastPrivilege([WIDE]).client(
        c,
        [CalledOperation(method="GET", path="api/v2/routing/queues", requests=3, status4xx=3)],
        WINDOW,
    )
    assert isinstance(analysis, PermissionAnalysis)
    rec = recommend(analysis, c)
    assert isinstance(rec, RoleRecommendation)
    assert rec.roles == ()
    text = render_terraform([rec])
    assert hcl_reader.parse(text).blocks == []
    assert "No permission was exercised" in text
    assert "Attempted, denied (4xx only): GET /api/v2/routing/queues" in text
    assert json.loads(render_json([rec]))["clients"][0]["roles"] == []
    assert "no permission was exercised" in render_text([rec])


def test_collapse_groups_actions_per_domain_and_entity() -> None:
    assert collapse(
        ["routing:queue:view", "routing:queue:edit", "routing:skill:view", "bad", "a::b"]
    ) == (
        PermissionPolicy("routing", "queue", ("edit", "view")),
        PermissionPolicy("routing", "skill", ("view",)),
    )


# --- user-facing clients -------------------------------------------------------------------------


def test_user_facing_client_gets_its_minimal_scopes() -> None:
    c = client(
        name="Agent Desktop",
        grant_type="CODE",
        roles=(),
        scopes=("routing", "users", "analytics:readonly"),
        redirect_uris=("https://desk.example.com/callback",),
    )
    calls = [
        CalledOperation(method="GET", path="api/v2/routing/queues", requests=10, status2xx=10),
        CalledOperation(
            method="POST",
            path="api/v2/analytics/conversations/aggregates/query",
            requests=3,
            status2xx=3,
        ),
    ]
    analysis = LeastPrivilege().client(c, calls, WINDOW)
    assert isinstance(analysis, ScopeAnalysis)
    rec = recommend(analysis, c)
    assert isinstance(rec, ScopeRecommendation)
    assert rec.scopes == ("analytics:readonly", "routing:readonly")
    assert rec.remove == ("routing", "users")
    root = hcl_reader.parse(render_terraform([rec]))
    [oauth] = root.blocks
    assert oauth.labels == ["genesyscloud_oauth_client", oauth.labels[1]]
    assert oauth.attributes["scopes"] == ["analytics:readonly", "routing:readonly"]
    assert oauth.attributes["authorized_grant_type"] == "CODE"
    assert oauth.attributes["registered_redirect_uris"] == ["https://desk.example.com/callback"]
    entry = json.loads(render_json([rec]))["clients"][0]
    assert entry["scopes"] == ["analytics:readonly", "routing:readonly"]
    assert entry["removeScopes"] == ["routing", "users"]
    assert "scopes: analytics:readonly routing:readonly" in render_text([rec])


def test_an_open_scope_choice_is_not_proposed_for_removal() -> None:
    c = client(grant_type="TOKEN", roles=(), scopes=("locations:readonly", "search:readonly"))
    analysis = LeastPrivilege().client(
        c,
        [CalledOperation(method="GET", path="api/v2/locations/search", requests=1, status2xx=1)],
        WINDOW,
    )
    assert isinstance(analysis, ScopeAnalysis)
    rec = recommend(analysis, c)
    assert isinstance(rec, ScopeRecommendation)
    assert rec.scopes == () and rec.remove == ()
    [choice] = rec.confidence.ambiguous
    assert choice.candidates == ("locations:readonly", "search:readonly")


# --- untrusted names -----------------------------------------------------------------------------

HOSTILE = [
    'Sync "quoted" \\ back\\slash',
    'Inject ${file("/etc/passwd")} and %{ if true }x%{ endif }',
    "Already escaped $${x} and %%{y}",
    "Line\nbreak\r\nand\ttab",
    "Bidi \u202eevil\u202c and zero\u200bwidth and bom\ufeff",
    "Nul \x00 bell \x07 esc \x1b[31mred\x1b[0m del \x7f c1 \x85",
    "Tag chars \U000e0041\U000e0042 and emoji 😀 and accents é ñ 日本",
    '}\nresource "null_resource" "pwn" {\n',
    "# not a comment",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_client_names_stay_data_in_terraform(name: str) -> None:
    _, rec = worked_example(client(name=name, description=name))
    text = render_terraform([rec])
    root = hcl_reader.parse(text)
    assert [b.type for b in root.blocks] == ["resource", "resource"]
    oauth = next(b for b in root.blocks if b.labels[0] == "genesyscloud_oauth_client")
    assert oauth.attributes["name"] == name  # read back exactly
    assert oauth.attributes.get("description", "") == name
    role = next(b for b in root.blocks if b.labels[0] == "genesyscloud_auth_role")
    assert hcl.identifier(role.labels[1]) == role.labels[1]
    # Nothing invisible or line-breaking reaches the file outside the layout's own newlines.
    assert not any(invisible(ch) for ch in text if ch != "\n")
    for line in text.splitlines():
        if line.startswith("#"):
            assert "\r" not in line
    if TERRAFORM is not None:
        assert terraform_fmt(text) == text


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_terraform_itself_decodes_our_strings_to_the_original() -> None:
    """Terraform's own parser, not ours: every hostile name round-trips through `terraform console`."""
    # One expression: a non-interactive console prints the value of the last one only.
    # base64 so that the console's own display of a string does not need decoding.
    exprs = "base64encode(jsonencode([" + ", ".join(hcl.string(n) for n in HOSTILE) + "]))\n"
    out = terraform("console", stdin=exprs)
    assert json.loads(base64.b64decode(out.strip().strip('"'))) == HOSTILE


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_client_names_stay_data_in_json_and_text(name: str) -> None:
    _, rec = worked_example(client(name=name, description=name))
    text = render_json([rec])
    document = json.loads(text)
    entry = document["clients"][0]
    assert entry["clientName"] == name
    body = entry["roles"][0]["request"]["body"]
    assert validate_role_create(body) == []
    # The role name is one line with no invisible characters, whatever the client is called.
    assert "\n" not in body["name"] and not any(invisible(ch) for ch in body["name"])
    assert not any(invisible(ch) for ch in text if ch != "\n")
    plain = render_text([rec])
    assert "\x1b" not in plain and "\x00" not in plain and "\u202e" not in plain
    assert "\r" not in plain


def test_terraform_names_are_identifiers_and_unique() -> None:
    taken: set[str] = set()
    names = [
        terraform_name("Queue Sync", "0a1b2c3d-xxxx", taken),
        terraform_name("Queue Sync", "0a1b2c3d-yyyy", taken),  # same name and id prefix
        terraform_name("123 starts with a digit", "ffff", taken),
        terraform_name("日本", "", taken),
        terraform_name("", "", taken),
        terraform_name("💥" * 100, "abc", taken),
    ]
    assert names == [
        "queue_sync_0a1b2c3d",
        "queue_sync_0a1b2c3d_2",
        "client_123_starts_with_a_digit_ffff",
        "client",
        "client_2",
        "abc",
    ]
    assert all(hcl.identifier(n) == n for n in names)


def test_hcl_refuses_what_is_not_an_identifier_or_reference() -> None:
    with pytest.raises(ValueError, match="identifier"):
        hcl.identifier("a b")
    with pytest.raises(ValueError, match="reference"):
        hcl.Reference('x.y"')
    with pytest.raises(ValueError, match="identifier"):
        hcl.render([hcl.Block("resource", ("a", "b"), (hcl.Attribute("bad name", "x"),))])
