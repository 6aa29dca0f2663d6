"""Performance is a feature: what keeps start-up and evaluation fast, asserted as counts.

Seconds are not asserted here: a test that fails when the machine is busy is a broken gate.
``benchmarks/bench_audit.py`` times the same work against a yardstick run side by side and holds
the ratio to a budget (``--check``); ``tests/test_benchmarks.py`` runs it at a tiny size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.genesys.fetch import _normalise_client
from genesys_oauth_audit.genesys.wire import WireClient
from genesys_oauth_audit.inventory import Inventory, Role, Scope, UsageWindow, parse_snapshot
from genesys_oauth_audit.policy.loader import load_policies
from tests.fake.orgdata import SCOPES, synthetic_fake

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
