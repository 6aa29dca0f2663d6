"""Reporters: the JSON report against its schema, the text report's layout and escaping."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from genesys_oauth_audit import __version__
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Evaluation, Severity
from genesys_oauth_audit.inventory import Client, Inventory, Org, Scope
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import REPORTERS, renderer
from genesys_oauth_audit.report.base import PolicyRef, RunInfo, SourceInfo
from genesys_oauth_audit.report.escape import terminal
from tests.helpers import ROOT

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
HOSTILE = [
    "<script>alert(1)</script>",
    "Ops \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 Console",
    "line one\nFAKE  GOA-X  forged line",
    ']]> & "quotes" | pipe | `code`',
    "bidi \u202eevil\u202c name",
]


def canonical(tmp_path: Path) -> tuple[Evaluation, RunInfo]:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: C-1, title: No admin, severity: critical, check: {type: forbidden-scope-prefixes, prefixes: ["admin:"]}}
  - {id: H-1, title: Orphans, severity: high, check: {type: orphan-scopes}}
  - {id: M-1, title: Few scopes, severity: medium, check: {type: max-scopes, max: 1}}
  - {id: L-1, title: Described, severity: low, check: {type: field, path: description, op: not-empty}}
  - {id: I-1, title: Read-only, severity: info, check: {type: allowed-scopes, scopes: ["*:readonly"]}}
  - {id: N-1, title: Roles, check: {type: orphan-roles}}
exceptions:
  - {rule: C-1, clients: ["Waived*"], reason: Approved, expires: 2027-01-31, ticket: SEC-9}
  - {rule: M-1, clients: [nobody], reason: Expired one, expires: 2026-01-01}
"""
    )
    policies = load_policies((str(policy),))
    clients = [
        Client(id=f"id-{i}", name=name, grant_type="CODE", scopes=("admin:x", "ghost", "users"))
        for i, name in enumerate([*HOSTILE, "Waived Client"])
    ]
    inventory = Inventory(
        org=Org(id="org-1", name="Org <b>1</b>"),
        region="eu-west-1",
        fetched_at=NOW,
        scopes=(Scope(id="users"), Scope(id="admin:x")),
        clients=tuple(clients),
    )
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20))
    info = RunInfo(
        tool_version=__version__,
        generated_at=NOW,
        policies=tuple(
            PolicyRef(path=f.path, sha256=f.sha256, name=f.name) for f in policies.files
        ),
        rules=(),
        source=SourceInfo(
            kind="snapshot",
            org_id="org-1",
            org_name="Org <b>1</b>",
            region="eu-west-1",
            fetched_at=NOW,
            path="snap.json",
        ),
        fail_on=Severity.HIGH,
        min_severity=Severity.INFO,
    )
    return evaluation, info


def test_registry_names_every_format() -> None:
    for name in REPORTERS:
        assert callable(renderer(name))


def test_json_report_validates_and_carries_every_fact(tmp_path: Path) -> None:
    evaluation, info = canonical(tmp_path)
    data = json.loads(renderer("json")(evaluation, info))
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    Draft202012Validator(schema).validate(data)
    assert data["tool"] == {"name": "genesys-oauth-audit", "version": __version__}
    assert data["source"]["kind"] == "snapshot" and data["source"]["path"] == "snap.json"
    assert data["summary"]["failOn"] == "high" and data["summary"]["failed"] is True
    assert data["summary"]["counts"]["critical"] == 5  # six clients, one waived
    assert data["summary"]["waived"] == 1
    assert [n["ruleId"] for n in data["notEvaluated"]] == ["N-1"]
    assert [e["ruleId"] for e in data["expiredExceptions"]] == ["M-1"]
    waived = [f for f in data["findings"] if f["waived"]]
    assert waived[0]["waived"] == {
        "reason": "Approved",
        "expires": "2027-01-31",
        "ticket": "SEC-9",
        "owner": None,
    }
    names = {f["clientName"] for f in data["findings"]}
    assert set(HOSTILE) <= names  # JSON carries the text exactly; json.dumps escapes it


def test_json_is_deterministic(tmp_path: Path) -> None:
    evaluation, info = canonical(tmp_path)
    assert renderer("json")(evaluation, info) == renderer("json")(evaluation, info)


def test_min_severity_filters_what_is_reported_not_the_verdict(tmp_path: Path) -> None:
    evaluation, info = canonical(tmp_path)
    from dataclasses import replace

    high_only = replace(info, min_severity=Severity.CRITICAL, fail_on=Severity.INFO)
    data = json.loads(renderer("json")(evaluation, high_only))
    assert {f["severity"] for f in data["findings"]} == {"critical"}
    assert data["summary"]["failed"] is True
    text = renderer("text")(evaluation, high_only)
    assert "below --min-severity critical are not shown" in text


def test_text_report_fits_80_columns_and_neutralises_client_text(tmp_path: Path) -> None:
    evaluation, info = canonical(tmp_path)
    text = renderer("text")(evaluation, info)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[31mRED" in text  # visible, not interpreted
    assert "\nFAKE  GOA-X" not in text  # a newline in a name cannot forge a report line
    for line in text.splitlines():
        assert len(line) <= 80 or " " not in line.strip(), line
    assert text.startswith(f"genesys-oauth-audit {__version__}: FAIL")
    assert (
        "Not evaluated (1):" in text
        and "Expired exceptions" in text
        and "Waived by exceptions (1):" in text
    )
    assert text.rstrip().endswith("Result: FAIL (--fail-on high): 11 findings at or above high")


def test_text_colour_only_when_asked(tmp_path: Path) -> None:
    evaluation, info = canonical(tmp_path)
    from dataclasses import replace

    assert "\x1b[" not in renderer("text")(evaluation, info)
    coloured = renderer("text")(evaluation, replace(info, color=True))
    assert "\x1b[1;35mCRITICAL\x1b[0m" in coloured


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("plain", "plain"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("tab\there", "tab\\x09here"),
        ("nl\nx", "nl\\x0ax"),
        ("c1\x9bx", "c1\\x9bx"),
        ("del\x7f", "del\\x7f"),
        ("rtl\u202egnp", "rtl\\u202egnp"),
        ("émoji ✓", "émoji ✓"),
    ],
)
def test_terminal_escape(raw: str, safe: str) -> None:
    assert terminal(raw) == safe
