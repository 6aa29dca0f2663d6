"""Policy regular expressions run in linear time (RE2): a client's description cannot stall the gate,
and ``validate`` refuses what RE2 cannot run, at the pattern's file:line:column."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from genesys_oauth_audit.checks import regex
from genesys_oauth_audit.checks.field import compare
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.inventory import Client, Inventory
from genesys_oauth_audit.policy.loader import load_policies
from tests.helpers import SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
CATASTROPHIC = r"^owner: (\w+\s?)*$"


def policy_with(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - id: OWNER\n    title: Every client names its owner\n"
        f"    check: {{type: field, path: description, op: matches, value: {json.dumps(pattern)}}}\n"
    )
    return path


def test_the_backtracking_example_finishes(tmp_path: Path) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    for client in data["clients"]:
        client["description"] = "owner: " + "a" * 40 + "!"
    snapshot = tmp_path / "s.json"
    snapshot.write_text(json.dumps(data))
    # Python's re takes minutes per client here; the generous timeout only catches a hang.
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "genesys_oauth_audit",
            "check",
            "-p",
            str(policy_with(tmp_path, CATASTROPHIC)),
            "--inventory",
            str(snapshot),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 1, ran.stderr
    report = json.loads(ran.stdout)
    assert len(report["findings"]) == len(data["clients"])  # none matches: all are findings


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", r"invalid escape sequence: \1"),
        ("owner(?=:)", "invalid perl operator: (?="),
        ("(?<!x)owner", "invalid perl operator: (?<!"),
        (r"end\Z", r"invalid escape sequence: \Z"),
        ("(unclosed", "missing ): (unclosed"),
    ],
)
def test_validate_refuses_what_re2_cannot_run_at_its_location(
    run_cli: Run, tmp_path: Path, pattern: str, reason: str
) -> None:
    path = policy_with(tmp_path, pattern)
    ran = run_cli("validate", str(path))
    assert ran.code == 2 and ran.stdout == ""
    assert f"{path}:6:65: error: invalid regular expression '{pattern}': {reason}; " in ran.stderr
    assert "patterns use RE2 syntax: no backreferences or lookaround" in ran.stderr
    assert "internal error" not in ran.stderr and "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"(?i)\bowner:\s*\S", "Nightly export; Owner: data-team", True),  # the strict pack's
        (r"(?i)\bowner:\s*\S", "no owner here", False),
        (r"^svc-(?P<team>[a-z]+)-\d{2}$", "svc-data-07", True),
        ("café|thé", "un thé", True),
        (r"\d", "٣", False),  # RE2's \d is ASCII, as the docs say
        ("^$", "", True),
    ],
)
def test_patterns_match_as_documented(pattern: str, text: str, expected: bool) -> None:
    assert regex.problem(pattern) is None
    assert compare(text, "matches", pattern) is expected
    assert compare((text, "other"), "matches", pattern) is expected


def test_a_lone_surrogate_in_a_description_does_not_crash_matching() -> None:
    assert compare("owner: \ud800", "matches", "owner") is True


def test_a_pattern_is_compiled_once_for_every_client(tmp_path: Path) -> None:
    policies = load_policies((str(policy_with(tmp_path, "^owner: [a-z]+$")),))
    clients = tuple(
        Client(id=f"c{i}", name=f"c{i}", grant_type="CODE", description=f"owner: t{i % 3}")
        for i in range(500)
    )
    regex._compiled.cache_clear()
    evaluation = evaluate(policies, Inventory(clients=clients), today=date(2026, 11, 20))
    assert len(evaluation.findings) == 500
    info = regex._compiled.cache_info()
    assert info.misses == 1 and info.hits == 499
