"""Performance is a feature: what keeps start-up and evaluation fast, asserted as counts.

Seconds are not asserted here: a test that fails when the machine is busy is a broken gate.
``benchmarks/bench_audit.py`` times the same work against a yardstick run side by side and holds
the ratio to a budget (``--check``); ``tests/test_benchmarks.py`` runs it at a tiny size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.genesys.fetch import _normalise_client
from genesys_oauth_audit.genesys.wire import WireClient
from genesys_oauth_audit.inventory import Inventory, Role, Scope, UsageWindow, parse_snapshot
from genesys_oauth_audit.policy.loader import load_policies
from tests.fake.orgdata import SCOPES, synthetic_fake
from tests.helpers import ROOT, SAMPLE_SNAPSHOT, TUTORIAL

HEAVY = ("httpx", "pydantic", "jsonschema", "yaml")
CLIENTS = 5_000


def test_help_of_every_command_imports_no_heavy_library() -> None:
    """Start-up is the interpreter's plus click's: ``--help`` of the tool and of each command
    runs without importing httpx, pydantic, jsonschema or PyYAML (together ~14x the interpreter's
    own start-up)."""
    code = (
        "import contextlib, io, json, sys\n"
        "from genesys_oauth_audit.cli import cli, main\n"
        "codes = {}\n"
        "for args in [['--help']] + [[name, '--help'] for name in sorted(cli.commands)]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        codes[' '.join(args)] = (main(args), 'Usage:' in out.getvalue())\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert len(result["codes"]) > 5  # the tool's --help and one per command
    assert all(value == [0, True] for value in result["codes"].values()), result["codes"]
    assert result["heavy"] == []


# What ``validate`` of a policy without field checks never needs: the inventory models and the
# operations catalog model, least-privilege analysis, the evaluation's records, the output
# machinery, HTTP, jsonschema (a valid document is proved valid without it: files/schemacheck.py)
# and RE2 (loaded with the first ``matches`` pattern).
VALIDATE_NEVER_NEEDS = (
    "genesys_oauth_audit.inventory",
    "genesys_oauth_audit.data.operations",
    "genesys_oauth_audit.leastpriv.analysis",
    "genesys_oauth_audit.leastpriv.org",
    "genesys_oauth_audit.findings",
    "genesys_oauth_audit.files.output",
    "genesys_oauth_audit.genesys",
    "httpx",
    "jsonschema",
    "re2",
)


def test_validate_of_the_tutorial_pack_loads_only_what_validation_needs() -> None:
    """``validate policies/tutorial.yaml`` loads the policy model, the schema and the check
    types' parameter models, none of ``VALIDATE_NEVER_NEEDS`` (together about as much again as
    the whole of what it does need; ``benchmarks/run_all.py`` times it beside ``python -c pass``)."""
    code = (
        "import contextlib, io, json, sys\n"
        "from genesys_oauth_audit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main(['validate', {TUTORIAL!r}])\n"
        f"loaded = [m for m in {VALIDATE_NEVER_NEEDS!r} if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'out': out.getvalue(), 'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["code"] == 0 and "ok (2 rules, 0 exceptions)" in result["out"], result
    assert result["loaded"] == []


def test_validate_builds_the_parameter_models_of_the_check_types_it_meets_only() -> None:
    """pydantic builds a model's validator when it is first used (``defer_build``), and the
    loader reads the published schema rather than building it from every model: ``validate``
    of the tutorial pack (two check types with parameters, one without) builds those and no
    other of the registry's parameter models."""
    code = (
        "import contextlib, io, json\n"
        "from genesys_oauth_audit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['validate', {TUTORIAL!r}])\n"
        "from genesys_oauth_audit.checks import CHECKS\n"
        "built = sorted({c.params.__name__ for c in CHECKS.values()\n"
        "                if c.params.__pydantic_complete__})\n"
        "print(json.dumps({'code': code, 'built': built, 'types': len(CHECKS)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["code"] == 0 and result["types"] > 10
    assert result["built"] == ["ForbiddenScopePrefixes", "NoParams"]


@pytest.mark.parametrize(
    ("setting", "loaded"),
    [
        (None, False),  # the tool's default: no plugin
        ("__all__", False),
        ("", True),  # pydantic's setting, given by the user, is theirs: plugins allowed
    ],
)
def test_pydantic_plugins_installed_beside_the_tool_are_not_loaded(
    tmp_path: Path, setting: str | None, loaded: bool
) -> None:
    """A package that declares a pydantic plugin (an entry point of group ``pydantic``) would
    see every value the tool validates, the credentials among them; finding such plugins also
    reads the metadata of every installed distribution at the first model. The tool keeps them
    out unless PYDANTIC_DISABLE_PLUGINS says otherwise; the probe's own load proves the probe."""
    mark = tmp_path / "plugin-ran"
    (tmp_path / "goa_probe_plugin.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['GOA_PROBE_MARK']).write_text('loaded')\n"
        "class Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Plugin()\n"
    )
    info = tmp_path / "goa_probe_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: goa-probe-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nprobe = goa_probe_plugin:plugin\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYDANTIC_DISABLE_PLUGINS", "PYTHONPATH")
    }
    env |= {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])}
    env["GOA_PROBE_MARK"] = str(mark)
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    out = subprocess.run(
        [sys.executable, "-m", "genesys_oauth_audit", "validate", str(TUTORIAL)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert mark.exists() is loaded


def test_validate_of_a_broken_policy_still_says_what_jsonschema_says(tmp_path: Path) -> None:
    """The other side of the fast path: a policy with a schema error loads jsonschema and reports
    its error at file:line:column, as before."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - id: r1\n    title: t\n    severity: critcal\n    check: {type: orphan-scopes}\n"
    )
    code = (
        "import json, sys\n"
        "from genesys_oauth_audit.cli import main\n"
        f"code = main(['validate', {str(policy)!r}])\n"
        "print(json.dumps({'code': code, 'jsonschema': 'jsonschema' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result == {"code": 2, "jsonschema": True}
    assert f"{policy}:6:15: error: rules[0].severity: unknown value 'critcal'" in out.stderr


def test_a_check_without_proposals_loads_neither_them_nor_jsonschema() -> None:
    """``check`` of a snapshot (and so of a live org: the same ``app.audit``) imports the
    proposals' readers only for ``--proposed``: checking a plan's shape loads jsonschema, some
    30 ms of every other check's start. With ``--proposed`` they are there."""
    code = (
        "import contextlib, io, json, sys\n"
        "from genesys_oauth_audit.cli import main\n"
        "args = ['check', '-p', 'builtin:tutorial', '--inventory', sys.argv[1], '--format', 'json']\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(args + sys.argv[2:])\n"
        "loaded = [m for m in ('genesys_oauth_audit.proposals', 'jsonschema') if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'loaded': loaded}))\n"
    )

    def run(*extra: str) -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(SAMPLE_SNAPSHOT), *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
        return result

    assert run() == {"code": 1, "loaded": []}
    proposal = str(ROOT / "examples" / "terraform" / "plan.json")
    assert run("--proposed", proposal)["loaded"] == ["genesys_oauth_audit.proposals", "jsonschema"]


def test_a_valid_orgs_file_is_read_without_jsonschema(tmp_path: Path) -> None:
    """Every matrix job (``check --orgs FILE --org NAME``) and ``orgs list --json`` read the orgs
    file: a valid one is proved valid without importing jsonschema (some 30 ms of each job's
    start), and its schema needs no check type (the matrix's listing loads no pydantic); one
    with an error still gets jsonschema's message at file:line:column."""
    code = (
        "import contextlib, io, json, sys\n"
        "from genesys_oauth_audit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['orgs', 'list', '--json', sys.argv[1]])\n"
        "print(json.dumps({'code': code, 'jsonschema': 'jsonschema' in sys.modules,\n"
        "                  'pydantic': 'pydantic' in sys.modules}))\n"
    )

    def run(path: Path) -> tuple[dict[str, object], str]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
        return result, out.stderr

    assert run(ROOT / "examples" / "orgs.yaml") == (
        {"code": 0, "jsonschema": False, "pydantic": False},
        "",
    )
    broken = tmp_path / "orgs.yaml"
    broken.write_text(
        (ROOT / "examples" / "orgs.yaml")
        .read_text(encoding="utf-8")
        .replace("    region: eu-west-1\n", "    regoin: eu-west-1\n", 1)
    )
    result, stderr = run(broken)
    assert result["code"] == 2 and result["jsonschema"] is True
    assert (
        f"{broken}:11:5: error: unknown key 'regoin' in orgs[0]; did you mean 'region'?" in stderr
    )


@pytest.fixture(scope="module")
def large_inventory() -> Inventory:
    """5,000 clients of every grant type and state, with 400 roles and usage, built from the
    fake's wire data by the fetcher's own normalisation (no HTTP: this is about evaluation)."""
    fake = synthetic_fake(CLIENTS, n_roles=400)
    roles = {
        r["id"]: Role(
            id=r["id"],
            name=r["name"],
            permissions=tuple(
                sorted(
                    {
                        f"{p['domain']}:{p['entityName']}:{a}"
                        for p in r["permissionPolicies"]
                        for a in p["actionSet"]
                    }
                )
            ),
        )
        for r in fake.roles
    }
    last_used = {cid: max(date.fromisoformat(d) for d in days) for cid, days in fake.usage.items()}
    clients = tuple(
        _normalise_client(WireClient.model_validate(c), roles, last_used) for c in fake.clients
    )
    return Inventory(
        scopes=tuple(Scope(id=s) for s in SCOPES),
        roles=tuple(roles.values()),
        usage=UsageWindow(days=120, start=date(2026, 7, 24), end=date(2026, 11, 20)),
        clients=clients,
    )


def test_evaluation_of_a_large_org_visits_each_pair_once(large_inventory: Inventory) -> None:
    policies = load_policies(("builtin:baseline",))
    result = evaluate(policies, large_inventory, today=date(2026, 11, 20))
    assert result.rules_evaluated == len(policies.rules) and not result.not_evaluated
    assert result.clients_evaluated == CLIENTS == len(result.clients)
    selected = sum(len(chosen) for chosen in result.selected.values())
    assert result.pairs_evaluated == selected  # each selected (rule, client) pair, once
    assert 0 < len(result.findings) < selected  # findings, but not every pair fails
    # at most one finding per (rule, client, subject), each for a client its rule selected
    keys = {(f.rule_id, f.client_index, f.subject) for f in result.findings}
    assert len(keys) == len(result.findings)
    assert all(f.client_index in result.selected[f.rule_id] for f in result.findings)
    # the same org read back from its snapshot gives the same findings
    again = evaluate(
        policies,
        parse_snapshot(large_inventory.to_json(), "large.json"),
        today=date(2026, 11, 20),
    )
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in result.findings]


def test_the_command_leaves_its_objects_out_of_the_collection_at_exit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once everything is written, the objects of the run are frozen: the interpreter's last
    collection does not walk millions of them at exit."""
    import gc

    from genesys_oauth_audit.__main__ import run

    monkeypatch.setattr(sys, "argv", ["genesys-oauth-audit", "validate", str(TUTORIAL)])
    gc.unfreeze()
    try:
        assert run() == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert ": ok (2 rules" in capsys.readouterr().out
