"""Org data for the fake: a curated, realistic fictional org, and synthetic orgs of any size.

Everything is in the API's wire shape (``OAuthClient``, ``DomainOrganizationRole``)
and deterministic, so snapshots and golden files are stable.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.fake.server import FakeGenesys

NAMESPACE = uuid.UUID("5b0c3e0e-7d0a-4a8e-9a4c-2f6d6c0b1e11")
SAMPLE_TODAY = date(2026, 11, 20)
SCOPES = [
    line
    for line in (Path(__file__).parent / "data" / "scopes.txt").read_text().splitlines()
    if line and not line.startswith("#")
]


def uid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def _policy(domain: str, entity: str, actions: list[str]) -> dict[str, Any]:
    return {
        "domain": domain,
        "entityName": entity,
        "policyName": f"{domain}-{entity}",
        "actionSet": actions,
        "allowConditions": False,
    }


def _role(
    name: str, description: str, policies: list[dict[str, Any]], *, default: bool = False
) -> dict[str, Any]:
    return {
        "id": uid("role:" + name),
        "name": name,
        "description": description,
        "permissionPolicies": policies,
        "default": default,
        "base": False,
        "userCount": 3,
        "selfUri": f"/api/v2/authorization/roles/{uid('role:' + name)}",
    }


SAMPLE_ROLES = [
    _role("Master Admin", "Full administrative access", [_policy("*", "*", ["*"])], default=True),
    _role(
        "Employee",
        "Default role for every user",
        [_policy("directory", "user", ["view"]), _policy("routing", "queue", ["view"])],
        default=True,
    ),
    _role(
        "Reporting Reader",
        "Read analytics and reporting data",
        [
            _policy("analytics", "conversationDetail", ["view"]),
            _policy("analytics", "userDetail", ["view"]),
            _policy("routing", "queue", ["view"]),
        ],
    ),
    _role(
        "OAuth Client Manager",
        "Create and edit OAuth clients",
        [_policy("oauth", "client", ["add", "edit", "view", "delete"])],
    ),
    _role(
        "Role Administrator",
        "Edit roles and grant them",
        [
            _policy("authorization", "role", ["add", "edit", "view"]),
            _policy("authorization", "grant", ["add", "delete"]),
        ],
    ),
    _role(
        "Integration Deployer",
        "Deploys integrations and flows (CX as Code)",
        [
            _policy("integrations", "integration", ["*"]),
            _policy("architect", "flow", ["add", "edit", "publish", "view"]),
            _policy("oauth", "client", ["view", "edit", "add"]),
        ],
    ),
    _role(
        "Recording Exporter",
        "Export recordings to the archive",
        [
            _policy("recording", "recording", ["view", "viewSensitiveData"]),
            _policy("recording", "recordingSegment", ["view"]),
        ],
    ),
    _role(
        "Telephony Admin",
        "Manage trunks, edges and sites",
        [_policy("telephony", "plugin", ["all"])],
    ),
    _role(
        "Directory Sync",
        "Provision users from the HR system",
        [
            _policy("directory", "user", ["add", "edit", "delete", "view"]),
            _policy("routing", "skill", ["assign"]),
        ],
    ),
    _role("Quality Evaluator", "Read evaluations", [_policy("quality", "evaluation", ["view"])]),
    _role(
        "Outbound Campaign Loader",
        "Upload contact lists",
        [_policy("outbound", "contactList", ["add", "edit", "upload", "view"])],
    ),
    _role(
        "SSO Administrator",
        "Configure identity providers",
        [_policy("sso", "provider", ["add", "edit", "view"])],
    ),
]
R = {r["name"]: r["id"] for r in SAMPLE_ROLES}
ALL_DIVISIONS = "*"
HOME = uid("division:Home")
EMEA = uid("division:EMEA")


def _user(name: str) -> dict[str, Any]:
    return {
        "id": uid("user:" + name),
        "name": name,
        "selfUri": f"/api/v2/users/{uid('user:' + name)}",
    }


def _client(
    name: str,
    grant: str,
    *,
    description: str | None = None,
    scope: list[str] | None = None,
    roles: list[tuple[str, str]] | None = None,
    role_ids: list[str] | None = None,
    state: str = "active",
    validity: int = 86400,
    redirects: list[str] | None = None,
    created_days_ago: int = 400,
    modified_days_ago: int = 30,
    creator: str = "Dana Whitfield",
    delete_in_days: int | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    created = SAMPLE_TODAY - timedelta(days=created_days_ago)
    modified = SAMPLE_TODAY - timedelta(days=min(modified_days_ago, created_days_ago))
    client: dict[str, Any] = {
        "id": uid("client:" + name),
        "name": name,
        "accessTokenValiditySeconds": validity,
        "authorizedGrantType": grant,
        "state": state,
        "dateCreated": f"{created.isoformat()}T09:15:00.000Z",
        "dateModified": f"{modified.isoformat()}T16:40:00.000Z",
        "createdBy": _user(creator),
        "modifiedBy": _user(creator),
        "selfUri": f"/api/v2/oauth/clients/{uid('client:' + name)}",
    }
    if description is not None:
        client["description"] = description
    if scope is not None:
        client["scope"] = scope
    if roles is not None:
        client["roleDivisions"] = [{"roleId": R.get(r, r), "divisionId": d} for r, d in roles]
    if role_ids is not None:
        client["roleIds"] = [R.get(r, r) for r in role_ids]
    if redirects is not None:
        client["registeredRedirectUri"] = redirects
    if delete_in_days is not None:
        client["dateToDelete"] = (
            f"{(SAMPLE_TODAY + timedelta(days=delete_in_days)).isoformat()}T00:00:00.000Z"
        )
    if secret is not None:
        client["secret"] = secret  # older regions still answer it; it must never leave the fake
    return client


RETIRED_ROLE = uid("role:Deleted Legacy Integration Role")

SAMPLE_CLIENTS = [
    _client(
        "Agent Desktop SSO Bridge",
        "CODE",
        description="Embedded agent desktop in the CRM; owner: cx-platform",
        scope=["conversations", "users:readonly", "presence", "notifications", "routing:readonly"],
        redirects=["https://crm.example.com/genesys/callback"],
        validity=43200,
    ),
    _client(
        "Wallboard Web App",
        "CODE",
        description="Contact-centre wallboards on the office TVs",
        scope=["analytics:readonly", "routing:readonly", "presence:readonly", "notifications"],
        redirects=[
            "https://wallboard.example.com/auth/callback",
            "http://localhost:3000/auth/callback",
        ],
    ),
    _client(
        "Supervisor Quality Portal",
        "CODE",
        description="Quality team's evaluation portal",
        scope=["quality", "recordings:readonly", "users:readonly", "analytics:readonly"],
        redirects=["https://quality.example.com/login/genesys"],
        validity=28800,
    ),
    _client(
        "Legacy Admin Console",
        "CODE",
        description="Pre-2020 admin console; kept for the HR team",
        scope=["admin:organization", "users", "authorization"],
        redirects=["http://intranet.example.com/gc/callback"],
        created_days_ago=2200,
        modified_days_ago=900,
        creator="Former Admin",
    ),
    _client(
        "Chat Widget Implicit",
        "TOKEN",
        description="Old web chat widget on the marketing site",
        scope=["web-chat", "conversations"],
        redirects=["https://www.example.com/*"],
        validity=86400,
        created_days_ago=1500,
    ),
    _client(
        "Mobile Agent App (implicit)",
        "TOKEN",
        description="Agent mobile app, implicit grant",
        scope=["conversations", "presence", "users:readonly"],
        redirects=["https://m.example.com/cb", "com.example.agent://callback"],
        created_days_ago=700,
    ),
    _client(
        "Support Impersonation Tool",
        "CODE",
        description="Lets tier-3 support act as a user",
        scope=["impersonation:users", "users:readonly"],
        redirects=["https://support-tools.example.com/cb"],
        creator="Priya Natarajan",
    ),
    _client(
        "Workforce Scheduling (SAML)",
        "SAML2-BEARER",
        description="WFM vendor via SAML2 bearer",
        scope=["workforce-management", "users:readonly", "routing:readonly"],
    ),
    _client(
        "Partner Portal SAML",
        "SAML2-BEARER",
        description="Partner agents through the partner IdP",
        scope=["conversations", "users:readonly", "external-contacts"],
        validity=172800,
    ),
    _client(
        "Kiosk Password Client",
        "PASSWORD",
        description="Lobby kiosk signs in with a service user",
        scope=["conversations", "presence", "users:readonly"],
        created_days_ago=1800,
    ),
    _client(
        "QA Load Test (password grant)",
        "PASSWORD",
        description="Load tests from the QA lab",
        scope=["conversations", "analytics"],
        state="disabled",
        created_days_ago=600,
    ),
    _client(
        "CRM Data Sync",
        "CLIENT-CREDENTIALS",
        description="Nightly sync of contacts to the CRM; owner: crm-team",
        roles=[("Reporting Reader", ALL_DIVISIONS)],
        validity=3600,
    ),
    _client(
        "Data Warehouse Export",
        "CLIENT-CREDENTIALS",
        description="Exports conversation details to the warehouse",
        roles=[("Reporting Reader", ALL_DIVISIONS), ("Quality Evaluator", HOME)],
        validity=7200,
    ),
    _client(
        "CX as Code Deployer",
        "CLIENT-CREDENTIALS",
        description="Terraform CX-as-Code pipeline; owner: platform-team",
        roles=[("Integration Deployer", ALL_DIVISIONS), ("Role Administrator", ALL_DIVISIONS)],
        validity=3600,
        creator="Priya Natarajan",
    ),
    _client(
        "OAuth Rotation Bot",
        "CLIENT-CREDENTIALS",
        description="Rotates client secrets monthly",
        roles=[("OAuth Client Manager", ALL_DIVISIONS)],
        validity=1800,
    ),
    _client(
        "Master Admin Integration",
        "CLIENT-CREDENTIALS",
        description="Created during go-live; 'temporary'",
        roles=[("Master Admin", ALL_DIVISIONS)],
        created_days_ago=1900,
        modified_days_ago=1200,
        creator="Go-Live Consultant",
    ),
    _client(
        "Recording Archive Export",
        "CLIENT-CREDENTIALS",
        description="Ships recordings to the compliance archive",
        roles=[("Recording Exporter", ALL_DIVISIONS)],
        validity=3600,
    ),
    _client(
        "HR Directory Sync",
        "CLIENT-CREDENTIALS",
        description="Workday -> Genesys user provisioning",
        roles=[("Directory Sync", ALL_DIVISIONS), ("Employee", HOME)],
    ),
    _client(
        "Telephony Monitoring",
        "CLIENT-CREDENTIALS",
        description="Edge and trunk health checks",
        roles=[("Telephony Admin", EMEA)],
        validity=3600,
    ),
    _client(
        "Outbound List Loader",
        "CLIENT-CREDENTIALS",
        description="Uploads campaign contact lists",
        roles=[("Outbound Campaign Loader", EMEA)],
        validity=3600,
    ),
    _client(
        "Queue Stats Poller",
        "CLIENT-CREDENTIALS",
        description="Polls queue statistics for the wallboard",
        roles=[("Reporting Reader", HOME)],
        validity=900,
    ),
    _client(
        "Legacy Integration (roleIds)",
        "CLIENT-CREDENTIALS",
        description="Old client created with roleIds only",
        role_ids=["Reporting Reader", RETIRED_ROLE],
        created_days_ago=2000,
        modified_days_ago=1500,
    ),
    _client(
        "SSO Setup Helper",
        "CLIENT-CREDENTIALS",
        description="One-off SSO migration script",
        roles=[("SSO Administrator", ALL_DIVISIONS)],
        created_days_ago=300,
        modified_days_ago=299,
    ),
    _client(
        "Audit Runner",
        "CLIENT-CREDENTIALS",
        description="This audit tool's own read-only client",
        roles=[("Reporting Reader", ALL_DIVISIONS)],
        validity=3600,
        created_days_ago=20,
        modified_days_ago=20,
    ),
    _client(
        "Abandoned POC Bot",
        "CLIENT-CREDENTIALS",
        description="Chatbot proof of concept, 2023",
        roles=[("Employee", HOME), (RETIRED_ROLE, HOME)],
        created_days_ago=1000,
        modified_days_ago=950,
    ),
    _client(
        "Decommissioned IVR Reporting",
        "CLIENT-CREDENTIALS",
        description="Replaced by the warehouse export",
        roles=[("Reporting Reader", ALL_DIVISIONS)],
        state="inactive",
        delete_in_days=10,
        created_days_ago=1300,
    ),
    _client(
        "Old Survey Integration",
        "CODE",
        description="Post-call survey vendor (contract ended)",
        scope=["conversations:readonly", "quality:readonly"],
        redirects=["https://survey.example.net/oauth"],
        state="inactive",
        delete_in_days=3,
        created_days_ago=1100,
    ),
    _client(
        "Disabled Speech Analytics Trial",
        "CLIENT-CREDENTIALS",
        description="Trial ended; disabled",
        roles=[("Reporting Reader", ALL_DIVISIONS)],
        state="disabled",
        created_days_ago=500,
    ),
    _client(
        "Knowledge Base Connector",
        "CODE",
        description="Syncs articles from the wiki",
        scope=["knowledge", "knowledge:readonly", "upload"],
        redirects=["https://wiki.example.com/plugins/gc/callback"],
    ),
    _client(
        "Dev Sandbox Client",
        "CODE",
        description="Developer sandbox; localhost redirects",
        scope=[
            "users",
            "conversations",
            "analytics",
            "routing",
            "recordings",
            "outbound",
            "telephony",
            "architect",
            "integrations",
            "scripts",
            "quality",
            "workforce-management",
        ],
        redirects=["http://localhost:8080/callback", "http://127.0.0.1:5000/cb"],
        validity=172800,
        creator="Sam Oduya",
    ),
    _client(
        "<script>alert('xss')</script> Widget",
        "CODE",
        description="Name contains markup on purpose\n| table | break |",
        scope=["web-chat"],
        redirects=["https://widgets.example.com/cb"],
        created_days_ago=90,
    ),
    _client(
        "Ops \x1b[31mRED\x1b[0m Console",
        "CODE",
        description="Name contains a terminal escape sequence",
        scope=["routing:readonly"],
        redirects=["https://ops.example.com/cb"],
        created_days_ago=60,
    ),
    _client(
        "Retired Scope Client",
        "CODE",
        description="Still lists scopes that Genesys retired",
        scope=["streaming-events:readonly", "users:readonly", "messaging"],
        redirects=["https://legacy.example.com/cb"],
        created_days_ago=1700,
    ),
    _client(
        "Bot Connector (Dialogflow)",
        "CLIENT-CREDENTIALS",
        description="Bot connector for the digital channel",
        roles=[("Employee", HOME)],
        validity=3600,
        created_days_ago=200,
    ),
    _client(
        "Partner Reporting API",
        "CLIENT-CREDENTIALS",
        description="Reporting API for the BPO partner",
        roles=[("Reporting Reader", EMEA)],
        validity=86400,
        created_days_ago=380,
    ),
    _client(
        "Secret-Bearing Old Client",
        "CLIENT-CREDENTIALS",
        description="Older region still returns its secret",
        roles=[("Reporting Reader", HOME)],
        secret="sample-client-secret-DO-NOT-LEAK-9f8e7d",
        created_days_ago=800,
    ),
]

# Last day with API requests, counted back from SAMPLE_TODAY; absent = never used in the window.
SAMPLE_LAST_USE_DAYS_AGO: dict[str, int] = {
    "Agent Desktop SSO Bridge": 0,
    "Wallboard Web App": 1,
    "Supervisor Quality Portal": 3,
    "Legacy Admin Console": 60,
    "Chat Widget Implicit": 2,
    "Mobile Agent App (implicit)": 5,
    "Support Impersonation Tool": 12,
    "Workforce Scheduling (SAML)": 1,
    "Partner Portal SAML": 0,
    "Kiosk Password Client": 4,
    "CRM Data Sync": 0,
    "Data Warehouse Export": 0,
    "CX as Code Deployer": 6,
    "OAuth Rotation Bot": 25,
    "Master Admin Integration": 40,
    "Recording Archive Export": 0,
    "HR Directory Sync": 1,
    "Telephony Monitoring": 0,
    "Outbound List Loader": 8,
    "Queue Stats Poller": 0,
    "Audit Runner": 0,
    "Knowledge Base Connector": 9,
    "Dev Sandbox Client": 70,
    "Ops \x1b[31mRED\x1b[0m Console": 2,
    "Retired Scope Client": 45,
    "Bot Connector (Dialogflow)": 0,
    "Partner Reporting API": 33,
    "Secret-Bearing Old Client": 88,
}


# What each used client calls, as the newer usage service's rows spell it (template without the
# leading slash; one with a parameter renamed; one template no API has), with a weight (its share
# of the client's daily requests) and how the calls turn out (tests/fake/server.py OUTCOMES).
# "Master Admin Integration" is issue 15's example: a wide role (*:*:*) and three operations.
SAMPLE_OPERATIONS: dict[str, list[tuple[str, str, int, str]]] = {
    "Agent Desktop SSO Bridge": [
        ("GET", "api/v2/conversations", 5, "ok"),
        ("GET", "api/v2/users/{userId}", 3, "ok"),
        ("PATCH", "api/v2/users/{userId}/presences/{sourceId}", 2, "ok"),
        ("POST", "api/v2/notifications/channels", 1, "ok"),
        ("GET", "api/v2/routing/queues", 1, "ok"),
    ],
    "Wallboard Web App": [
        ("POST", "api/v2/analytics/queues/observations/query", 6, "throttled"),
        ("GET", "api/v2/routing/queues", 2, "ok"),
        ("POST", "api/v2/notifications/channels", 1, "ok"),
    ],
    "Supervisor Quality Portal": [
        ("GET", "api/v2/quality/evaluations/query", 4, "ok"),
        ("GET", "api/v2/conversations/{conversationId}/recordings", 2, "ok"),
        ("GET", "api/v2/users/{userId}", 1, "ok"),
    ],
    "Legacy Admin Console": [
        ("GET", "api/v2/users", 3, "ok"),
        ("GET", "api/v2/authorization/roles", 1, "ok"),
    ],
    "Chat Widget Implicit": [
        ("POST", "api/v2/webchat/guest/conversations", 4, "ok"),
        ("GET", "api/v2/conversations", 1, "ok"),
    ],
    "Mobile Agent App (implicit)": [
        ("PATCH", "api/v2/users/{userId}/presences/{sourceId}", 3, "ok"),
        ("GET", "api/v2/conversations", 2, "ok"),
    ],
    "Support Impersonation Tool": [("GET", "api/v2/users/{userId}", 1, "ok")],
    "Workforce Scheduling (SAML)": [
        ("GET", "api/v2/workforcemanagement/managementunits", 2, "ok"),
        ("GET", "api/v2/users", 1, "ok"),
    ],
    "Partner Portal SAML": [
        ("GET", "api/v2/externalcontacts/contacts", 2, "ok"),
        (
            "POST",
            "api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages",
            3,
            "ok",
        ),
    ],
    "Kiosk Password Client": [("PATCH", "api/v2/users/{userId}/presences/{sourceId}", 1, "ok")],
    "CRM Data Sync": [
        ("POST", "api/v2/analytics/conversations/details/query", 5, "throttled"),
        ("GET", "api/v2/routing/queues", 1, "ok"),
    ],
    "Data Warehouse Export": [
        ("POST", "api/v2/analytics/conversations/details/query", 6, "ok"),
        ("POST", "api/v2/analytics/users/details/query", 2, "ok"),
        ("GET", "api/v2/quality/evaluations/query", 1, "ok"),
    ],
    "CX as Code Deployer": [
        ("GET", "api/v2/flows", 4, "ok"),
        ("POST", "api/v2/flows/actions/publish", 1, "ok"),
        ("GET", "api/v2/integrations", 2, "ok"),
        ("GET", "api/v2/oauth/clients", 2, "ok"),
        ("GET", "api/v2/authorization/roles", 2, "ok"),
        ("POST", "api/v2/authorization/roles", 1, "flaky"),
    ],
    "OAuth Rotation Bot": [
        ("GET", "api/v2/oauth/clients", 3, "ok"),
        ("POST", "api/v2/oauth/clients/{clientId}/secret", 1, "ok"),
    ],
    "Master Admin Integration": [
        ("GET", "api/v2/routing/queues", 80, "ok"),
        ("GET", "api/v2/routing/wrapupcodes", 1, "flaky"),
        ("POST", "api/v2/analytics/conversations/aggregates/query", 20, "throttled"),
    ],
    "Recording Archive Export": [
        ("GET", "api/v2/conversations/{conversationId}/recordings", 5, "ok"),
        ("POST", "api/v2/recording/jobs", 1, "denied"),
    ],
    "HR Directory Sync": [
        ("GET", "api/v2/users", 6, "ok"),
        ("POST", "api/v2/users", 1, "ok"),
        ("PATCH", "api/v2/users/{id}", 2, "ok"),
        ("PUT", "api/v2/users/{userId}/routingskills/bulk", 1, "ok"),
    ],
    "Telephony Monitoring": [
        ("GET", "api/v2/telephony/providers/edges", 3, "ok"),
        ("GET", "api/v2/telephony/providers/edges/trunks", 2, "ok"),
    ],
    "Outbound List Loader": [
        ("GET", "api/v2/outbound/contactlists", 2, "ok"),
        ("POST", "api/v2/outbound/contactlists/{contactListId}/contacts", 1, "denied"),
    ],
    "Queue Stats Poller": [
        ("GET", "api/v2/routing/queues", 4, "ok"),
        ("POST", "api/v2/analytics/queues/observations/query", 1, "denied"),
    ],
    "Audit Runner": [
        ("GET", "api/v2/organizations/me", 1, "ok"),
        ("GET", "api/v2/routing/queues", 1, "ok"),
    ],
    "Knowledge Base Connector": [
        ("GET", "api/v2/knowledge/knowledgebases", 3, "ok"),
        ("POST", "api/v2/knowledge/knowledgebases/{knowledgeBaseId}/documents", 1, "ok"),
    ],
    "Dev Sandbox Client": [
        ("GET", "api/v2/users", 2, "ok"),
        ("GET", "api/v2/routing/queues", 1, "ok"),
        ("GET", "api/v2/sandbox/experiments", 1, "ok"),
    ],
    "Ops \x1b[31mRED\x1b[0m Console": [("GET", "api/v2/routing/queues", 1, "ok")],
    "Retired Scope Client": [("GET", "api/v2/users/{userId}", 1, "ok")],
    "Bot Connector (Dialogflow)": [
        ("GET", "api/v2/routing/queues", 2, "ok"),
        (
            "POST",
            "api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages",
            1,
            "denied",
        ),
    ],
    "Partner Reporting API": [
        ("POST", "api/v2/analytics/conversations/details/query", 1, "ok"),
    ],
    "Secret-Bearing Old Client": [
        ("GET", "api/v2/routing/queues", 1, "ok"),
        ("GET", "api/v2/analytics/conversations/{conversationId}/details", 1, "ok"),
    ],
}


def sample_profiles() -> dict[str, list[tuple[str, str, int, str]]]:
    """SAMPLE_OPERATIONS by client id, as the fake takes them."""
    ids = {c["name"]: c["id"] for c in SAMPLE_CLIENTS}
    return {ids[name]: list(profile) for name, profile in SAMPLE_OPERATIONS.items()}


def sample_usage(today: date = SAMPLE_TODAY, days: int = 120) -> dict[str, dict[str, int]]:
    usage: dict[str, dict[str, int]] = {}
    rng = random.Random(7)
    for client in SAMPLE_CLIENTS:
        ago = SAMPLE_LAST_USE_DAYS_AGO.get(client["name"])
        if ago is None:
            continue
        rows = {}
        for back in range(ago, min(days, ago + 30)):
            if rng.random() < 0.7 or back == ago:
                rows[(today - timedelta(days=back)).isoformat()] = rng.randint(5, 5000)
        usage[client["id"]] = rows
    return usage


def sample_fake(**kwargs: Any) -> FakeGenesys:
    """The curated sample org (36 clients of every grant type and state, 12 roles)."""
    return FakeGenesys(
        clients=[dict(c) for c in SAMPLE_CLIENTS],
        scopes=list(SCOPES),
        roles=[dict(r) for r in SAMPLE_ROLES],
        org={"id": uid("org:Northwind Contact Centre"), "name": "Northwind Contact Centre"},
        usage=sample_usage(),
        operation_profiles=sample_profiles(),
        **kwargs,
    )


def synthetic_fake(
    n_clients: int, n_roles: int = 400, *, seed: int = 1, today: date = SAMPLE_TODAY, **kwargs: Any
) -> FakeGenesys:
    """A large org for benchmarks and property tests: every grant type, state and shape, at scale."""
    rng = random.Random(seed)
    domains = [
        "analytics",
        "routing",
        "directory",
        "recording",
        "oauth",
        "authorization",
        "telephony",
        "integrations",
        "architect",
        "outbound",
        "quality",
        "conversation",
    ]
    actions = ["view", "add", "edit", "delete", "*"]
    roles = []
    for i in range(n_roles):
        policies = [
            _policy(
                rng.choice(domains),
                rng.choice(["user", "queue", "client", "role", "flow", "*"]),
                rng.sample(actions, rng.randint(1, 3)),
            )
            for _ in range(rng.randint(1, 6))
        ]
        roles.append(_role(f"Role {i:04d}", f"Synthetic role {i}", policies))
    grants = [
        "CODE",
        "TOKEN",
        "SAML2-BEARER",
        "PASSWORD",
        "CLIENT-CREDENTIALS",
        "CLIENT-CREDENTIALS",
    ]
    states = ["active"] * 8 + ["disabled", "inactive"]
    clients = []
    usage: dict[str, dict[str, int]] = {}
    for i in range(n_clients):
        grant = rng.choice(grants)
        name = f"Client {i:06d}"
        kw: dict[str, Any] = {
            "state": rng.choice(states),
            "validity": rng.choice([900, 3600, 43200, 86400, 172800]),
            "created_days_ago": rng.randint(1, 2000),
            "description": f"Synthetic client {i}",
        }
        if grant == "CLIENT-CREDENTIALS":
            kw["roles"] = [
                (roles[rng.randrange(n_roles)]["id"], rng.choice([ALL_DIVISIONS, HOME, EMEA]))
                for _ in range(rng.randint(1, 4))
            ]
            if rng.random() < 0.02:
                kw["roles"].append((uid(f"missing-role-{i}"), HOME))
        else:
            kw["scope"] = rng.sample(SCOPES, rng.randint(1, 8))
            if rng.random() < 0.02:
                kw["scope"].append("admin:organization")
            kw["redirects"] = [f"https://app{i}.example.com/cb"] + (
                ["http://localhost:3000/cb"] if rng.random() < 0.05 else []
            )
        client = _client(name, grant, **kw)
        client["id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        clients.append(client)
        if rng.random() < 0.8:
            usage[client["id"]] = {
                (today - timedelta(days=rng.randint(0, 120))).isoformat(): rng.randint(1, 1000)
            }
    return FakeGenesys(
        clients=clients,
        scopes=list(SCOPES),
        roles=roles,
        org={"id": uid(f"org:synthetic-{n_clients}"), "name": f"Synthetic Org {n_clients}"},
        usage=usage,
        **kwargs,
    )
