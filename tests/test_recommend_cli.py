"""``recommend`` and the least-privilege view end to end, over the real HTTP fake org (issue 15's
"Done when"): the client that holds a wide role and calls three operations is reported with exactly
the permissions those operations need as exercised and the rest as unused, and the recommended
Terraform grants those permissions and nothing else (read back structurally, and through the tool's
own Terraform-plan reader). The legacy usage fallback (404, 403) is said in every output; recommend
never writes to the org, and fails as every command does (2 bad input, 3 incomplete)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.data.operations import operations_catalog
from genesys_oauth_audit.inventory import load_snapshot
from genesys_oauth_audit.proposals import parse_proposals, resolve_proposals
from genesys_oauth_audit.report import RECOMMENDERS
from tests import hcl_reader
from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import SAMPLE_SNAPSHOT, Run, env_for
from tests.test_recommend import policies_of, validate_role_create

NOW = "2026-11-20T06:00:00Z"
WIDE = "Master Admin Integration"  # holds Master Admin (*:*:*), calls three operations
THREE = (
    "analytics:conversationAggregate:view",
    "routing:queue:view",
    "routing:wrapupCode:view",
)
JOBS = "/api/v2/usage/aggregates/query/jobs"


def live(run_cli: Run, fake: FakeGenesys, *args: str) -> Any:
    with fake.serve() as base:
        return run_cli(*args, "--now", NOW, env=env_for(fake, base))


def only_reads(fake: FakeGenesys) -> None:
    """Nothing but GETs, the token, and the usage jobs' submissions: recommend writes nothing."""
    for r in fake.log:
        assert r.method == "GET" or (r.method, r.path) in (
            ("POST", "/oauth/token"),
            ("POST", JOBS),
            ("POST", "/api/v2/usage/query"),
        ), (r.method, r.path)


# -- the "Done when" of issue 15 --------------------------------------------------------------------


@pytest.mark.socket
def test_the_wide_role_client_is_exercised_exactly_what_its_three_operations_need(
    run_cli: Run,
) -> None:
    fake = sample_fake(usage_running_polls=0)
    ran = live(run_cli, fake, "check", "-p", "builtin:least-privilege", "--format", "json")
    assert ran.code == 1, ran.stderr
    report = json.loads(ran.stdout)
    view = report["leastPrivilege"]
    assert view["window"] == {
        "days": 90,
        "start": "2026-08-23",
        "end": "2026-11-20",
        "source": "aggregates-query-jobs",
    }
    [wide] = [c for c in view["clients"] if c["clientName"] == WIDE]
    catalog = len(operations_catalog().permission_ids)
    assert wide["exercised"] == list(THREE)
    assert wide["counts"] == {
        "granted": catalog,
        "exercised": 3,
        "ambiguous": 0,
        "unused": catalog - 3,
        "unobservable": 0,
        "notHeld": 0,
    }
    assert wide["partlyUsedGrants"] == [
        {"permission": "*:*:*", "covers": catalog, "exercised": list(THREE)}
    ]
    [role] = wide["roles"]
    assert (role["roleName"], role["exercised"], role["unused"]) == ("Master Admin", 3, catalog - 3)
    [finding] = [f for f in report["findings"] if f["clientName"] == WIDE]
    assert finding["ruleId"] == "GOA-LP-002" and finding["subject"] == "Master Admin"
    assert finding["message"].startswith(
        f"role 'Master Admin' grants {catalog} permissions; 3 were exercised in 90 days"
    )
    assert finding["evidence"]["exercised"] == list(THREE)
    only_reads(fake)


@pytest.mark.socket
def test_recommend_terraform_grants_exactly_those_permissions(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0)
    out = tmp_path / "least.tf"
    ran = live(run_cli, fake, "recommend", "--client", WIDE, "-o", str(out))
    assert ran.code == 0, ran.stderr
    assert ran.stdout == ""
    assert f"recommended least privilege for 1 client from 90 days of operations to {out}" in (
        ran.stderr
    )
    text = out.read_text()
    root = hcl_reader.parse(text)
    [role] = [b for b in root.blocks if b.labels[:1] == ["genesyscloud_auth_role"]]
    [client] = [b for b in root.blocks if b.labels[:1] == ["genesyscloud_oauth_client"]]
    assert policies_of(role) == {
        ("analytics", "conversationAggregate", ("view",)),
        ("routing", "queue", ("view",)),
        ("routing", "wrapupCode", ("view",)),
    }
    assert client.attributes["name"] == WIDE
    [grant] = client.all("roles")
    assert grant.attributes["division_id"] == "*"  # where the wide role is granted today
    assert "Usage source: the usage service's aggregates query jobs" in text
    # The request count does not depend on the org: one job (operations), one poll.
    assert [(r.method, r.path) for r in fake.log if "/usage/" in r.path] == [
        ("POST", JOBS),
        ("GET", f"{JOBS}/{next(iter(fake.jobs))}"),
    ]
    only_reads(fake)

    # Planned through the tool's own Terraform-plan reader: the client, as the plan would leave
    # it, holds exactly the three permissions.
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_of(root, fake)))
    inventory = load_snapshot(SAMPLE_SNAPSHOT)
    proposals = resolve_proposals(parse_proposals([plan]), inventory)
    [proposal] = proposals.proposals
    assert proposal.subject().client.name == WIDE
    assert proposal.subject().client.permissions == THREE


def plan_of(root: hcl_reader.Block, fake: FakeGenesys) -> dict[str, Any]:
    """A ``terraform show -json`` plan of the recommended configuration: the role created, the
    existing client updated to hold it (its role id known only after apply)."""
    changes: list[dict[str, Any]] = []
    config: list[dict[str, Any]] = []
    for block in root.blocks:
        kind, name = block.labels
        address = f"{kind}.{name}"
        if kind == "genesyscloud_auth_role":
            after: dict[str, Any] = {
                "name": block.attributes["name"],
                "description": block.attributes["description"],
                "permission_policies": [
                    {**p.attributes, "conditions": []} for p in block.all("permission_policies")
                ],
            }
            changes.append(change(address, kind, name, ["create"], None, after, {"id": True}))
            continue
        before = next(c for c in fake.clients if c["name"] == block.attributes["name"])
        roles = block.all("roles")
        after = {
            **{k: v for k, v in block.attributes.items() if not isinstance(v, hcl_reader.Ref)},
            "id": before["id"],
            "roles": [{"division_id": r.attributes["division_id"]} for r in roles],
        }
        unknown = {"roles": [{"role_id": True} for _ in roles]}
        changes.append(
            change(address, kind, name, ["update"], {"id": before["id"]}, after, unknown)
        )
        config.append(
            {
                "address": address,
                "mode": "managed",
                "type": kind,
                "name": name,
                "expressions": {
                    "roles": [
                        {
                            "role_id": {
                                "references": [
                                    str(r.attributes["role_id"].expression),  # type: ignore[union-attr]
                                    str(r.attributes["role_id"].expression).removesuffix(".id"),  # type: ignore[union-attr]
                                ]
                            },
                            "division_id": {"constant_value": r.attributes["division_id"]},
                        }
                        for r in roles
                    ]
                },
            }
        )
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config}},
        "complete": True,
        "errored": False,
    }


def change(
    address: str,
    kind: str,
    name: str,
    actions: list[str],
    before: Any,
    after: dict[str, Any],
    unknown: dict[str, Any],
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name,
        "provider_name": "registry.terraform.io/mypurecloud/genesyscloud",
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown},
    }


# -- every format, from a snapshot ------------------------------------------------------------------


def test_the_formats_come_from_one_registry(run_cli: Run) -> None:
    help_text = run_cli("recommend", "--help").stdout
    for name, (_, description) in RECOMMENDERS.items():
        assert name in help_text
        assert description.split()[0] in help_text


def test_recommend_json_is_the_role_create_body(run_cli: Run) -> None:
    ran = run_cli(
        "recommend", "--inventory", str(SAMPLE_SNAPSHOT), "--client", WIDE, "--format", "json"
    )
    assert ran.code == 0, ran.stderr
    document = json.loads(ran.stdout)
    [entry] = document["clients"]
    [role] = entry["roles"]
    assert validate_role_create(role["request"]["body"]) == []
    assert role["divisions"] == ["*"]
    granted = {
        f"{p['domain']}:{p['entityName']}:{a}"
        for p in role["request"]["body"]["permissionPolicies"]
        for a in p["actionSet"]
    }
    assert granted == set(THREE)
    assert entry["confidence"]["window"]["source"] == "aggregates-query-jobs"


def test_recommend_text_for_a_user_facing_client_gives_its_minimal_scopes(run_cli: Run) -> None:
    ran = run_cli(
        "recommend",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--client",
        "Legacy Admin Console",
        "--format",
        "text",
    )
    assert ran.code == 0, ran.stderr
    assert "  scopes: authorization:readonly users:readonly\n" in ran.stdout
    assert "  remove: admin:organization authorization users\n" in ran.stdout
    assert "usage source: the usage service's aggregates query jobs" in ran.stdout


def test_recommend_for_every_client_of_a_snapshot(run_cli: Run) -> None:
    ran = run_cli("recommend", "--inventory", str(SAMPLE_SNAPSHOT), "--format", "json")
    assert ran.code == 0, ran.stderr
    names = {c["clientName"] for c in json.loads(ran.stdout)["clients"]}
    assert len(names) == 36 and WIDE in names
    assert "recommended least privilege for 36 clients" in ran.stderr


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("Master Admin Integratio", "no client has that id or name; did you mean 'Master Admin"),
        ("nobody at all", "no client has that id or name"),
    ],
)
def test_an_unknown_client_is_bad_input_with_a_suggestion(
    run_cli: Run, ref: str, message: str
) -> None:
    ran = run_cli("recommend", "--inventory", str(SAMPLE_SNAPSHOT), "--client", ref)
    assert ran.code == 2 and ran.stdout == ""
    assert message in ran.stderr


def test_a_client_named_by_id_or_name_in_any_case(run_cli: Run) -> None:
    inv = load_snapshot(SAMPLE_SNAPSHOT)
    wide = next(c for c in inv.clients if c.name == WIDE)
    by_id = run_cli("recommend", "--inventory", str(SAMPLE_SNAPSHOT), "--client", wide.id)
    by_name = run_cli("recommend", "--inventory", str(SAMPLE_SNAPSHOT), "--client", WIDE.upper())
    assert by_id.code == by_name.code == 0 and by_id.stdout == by_name.stdout


def test_a_name_two_clients_share_is_bad_input(run_cli: Run, tmp_path: Path) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    twin = dict(next(c for c in data["clients"] if c["name"] == WIDE), id="twin-id")
    data["clients"].append(twin)
    path = tmp_path / "twins.json"
    path.write_text(json.dumps(data))
    ran = run_cli("recommend", "--inventory", str(path), "--client", WIDE)
    assert ran.code == 2 and "2 clients have that name" in ran.stderr and "twin-id" in ran.stderr


def test_a_snapshot_without_operations_is_bad_input(run_cli: Run, tmp_path: Path) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["operationUsage"] = None
    data["usageNotes"] = ["POST /api/v2/usage/aggregates/query/jobs answered 404: ..."]
    for c in data["clients"]:
        c.pop("operations")
    path = tmp_path / "no-ops.json"
    path.write_text(json.dumps(data))
    ran = run_cli("recommend", "--inventory", str(path))
    assert ran.code == 2 and ran.stdout == ""
    assert "holds no operation data" in ran.stderr and "answered 404" in ran.stderr


def test_a_snapshot_without_roles_cannot_recommend_roles(run_cli: Run, tmp_path: Path) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["roles"] = None
    path = tmp_path / "no-roles.json"
    path.write_text(json.dumps(data))
    ran = run_cli("recommend", "--inventory", str(path), "--client", WIDE)
    assert ran.code == 2 and "holds no roles" in ran.stderr
    # A user-facing client needs no roles.
    assert run_cli("recommend", "--inventory", str(path), "--client", "Wallboard Web App").code == 0


@pytest.mark.socket
def test_a_bad_output_path_fails_before_the_org_is_read(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0)
    ran = live(run_cli, fake, "recommend", "-o", str(tmp_path / "missing" / "x.tf"))
    assert ran.code == 2 and fake.log == []


# -- the legacy fallback ---------------------------------------------------------------------------


def refuse_jobs(fake: FakeGenesys) -> None:
    fake.permissions.discard("usage:organization:view")


def drop_jobs(fake: FakeGenesys) -> None:
    fake.usage_jobs_status = 404


@pytest.mark.socket
@pytest.mark.parametrize(
    ("configure", "said"),
    [(drop_jobs, "answered 404"), (refuse_jobs, "lacks usage:organization:view")],
    ids=["404", "403"],
)
def test_with_the_legacy_query_every_report_names_it_and_the_rules_say_why(
    run_cli: Run, tmp_path: Path, configure: Any, said: str
) -> None:
    fake = sample_fake(usage_running_polls=0)
    configure(fake)
    outputs = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit", "markdown", "html")}
    flags = [part for fmt, path in outputs.items() for part in (f"--{fmt}-output", str(path))]
    ran = live(
        run_cli,
        fake,
        "check",
        "-p",
        "builtin:baseline",
        "-p",
        "builtin:least-privilege",
        *flags,
    )
    assert ran.code == 1, ran.stderr
    report = json.loads(outputs["json"].read_text())
    usage = report["source"]["usage"]
    assert usage["lastUse"]["source"] == "usage-query" and usage["operations"] is None
    assert said in usage["notes"][0]
    assert report["leastPrivilege"] is None
    reasons = {n["ruleId"]: n["reason"] for n in report["notEvaluated"]}
    assert {"GOA-LP-001", "GOA-LP-002", "GOA-LP-003"} <= set(reasons)
    assert all(said in reasons[r] for r in ("GOA-LP-001", "GOA-LP-002", "GOA-LP-003"))
    # The baseline's usage rule was judged on the legacy query's last use.
    assert "GOA-BL-011" not in reasons
    # Every format names the source.
    assert "from the legacy usage query (POST /api/v2/usage/query)" in " ".join(ran.stdout.split())
    for fmt in ("sarif", "junit", "markdown", "html"):
        assert "legacy usage query" in outputs[fmt].read_text(), fmt
    # The fallback cost one refused submission and the legacy query: never a query per client.
    usage_calls = [(r.method, r.path) for r in fake.log if "/usage/" in r.path]
    assert usage_calls[0] == ("POST", JOBS) and usage_calls[1] == ("POST", "/api/v2/usage/query")
    assert len([r for r in fake.log if r.method == "POST" and "/usage/" in r.path]) == 2


@pytest.mark.socket
@pytest.mark.parametrize(
    ("configure", "said"),
    [(drop_jobs, "answered 404"), (refuse_jobs, "lacks usage:organization:view")],
    ids=["404", "403"],
)
def test_recommend_without_operation_data_is_incomplete(
    run_cli: Run, tmp_path: Path, configure: Any, said: str
) -> None:
    fake = sample_fake(usage_running_polls=0)
    configure(fake)
    out = tmp_path / "least.tf"
    ran = live(run_cli, fake, "recommend", "-o", str(out))
    assert ran.code == 3 and ran.stdout == "" and not out.exists()
    [line] = ran.stderr.strip().splitlines()
    assert said in line and "recommend needs the operations each client called" in line
    assert line.endswith("[audit incomplete; no report written]")
    only_reads(fake)


@pytest.mark.socket
def test_recommend_exits_3_when_the_usage_job_fails_and_leaks_nothing(
    run_cli: Run, tmp_path: Path
) -> None:
    fake = sample_fake(usage_running_polls=0, job_final_status="Failed")
    ran = live(run_cli, fake, "recommend", "-o", str(tmp_path / "x.tf"))
    assert ran.code == 3 and "the usage job ended Failed" in ran.stderr
    assert list(tmp_path.iterdir()) == []
    ok = sample_fake(usage_running_polls=0)
    with ok.serve() as base:
        done = run_cli("-vv", "recommend", "--format", "json", "--now", NOW, env=env_for(ok, base))
    assert done.code == 0 and "POST /api/v2/usage/aggregates/query/jobs" in done.stderr  # -vv
    for secret in ok.secrets():
        assert secret not in done.stdout + done.stderr
