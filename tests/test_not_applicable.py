"""A rule that cannot apply to a proposed client (the usage of a client that does not exist yet) is
*not applicable*: JUnit ``skipped``, never the ``error`` that GitLab, Jenkins and junit2html count as
failed. ``error`` stays for data that should have been there and was not (a value known only after
apply). The engine records which is which; no reporter reads it from the reason's words."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Location, Subject
from genesys_oauth_audit.inventory import Client, Inventory, UsageWindow
from genesys_oauth_audit.policy.loader import load_policies
from tests.helpers import DATA, ROOT, SAMPLE_SNAPSHOT, Run

POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: STALE, title: Used lately, severity: medium, check: {type: max-days-unused, days: 30}}
  - {id: SHORT, title: Short tokens, severity: low, check: {type: field, path: tokenValiditySeconds, op: le, value: 3600}}
"""
PORTAL = DATA / "proposals" / "new-portal.json"
PLAN = ROOT / "examples" / "terraform" / "plan.json"
EXTERNAL = DATA / "schemas-external"


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    return path


def test_usage_of_a_proposed_client_is_skipped_as_not_applicable(
    run_cli: Run, tmp_path: Path
) -> None:
    from junitparser import Error, JUnitXml, Skipped
    from lxml import etree

    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    ran = run_cli(
        "check",
        "-p",
        str(_policy(tmp_path)),
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--proposed",
        str(PORTAL),
        "--junit-output",
        str(junit),
        "--json-output",
        str(report),
    )
    assert ran.code == 1, ran.stderr
    suites = {s.name.split(":")[0]: s for s in JUnitXml.fromfile(str(junit))}
    stale = suites["STALE"]
    assert (stale.tests, stale.errors, stale.skipped, stale.failures) == (1, 0, 1, 0)
    [case] = list(stale)
    [result] = case.result
    assert isinstance(result, Skipped) and not isinstance(result, Error)
    assert (result.text or "").startswith("not applicable: ")
    assert "does not exist yet" in (result.text or "")
    # still valid against the strict Ant schema
    schema = etree.XMLSchema(etree.parse(str(EXTERNAL / "junit-windyroad-ant.xsd")))
    assert schema.validate(etree.parse(str(junit))), schema.error_log
    # the JSON report says so as a field, not only in words
    [entry] = json.loads(report.read_text())["notEvaluated"]
    assert entry["ruleId"] == "STALE" and entry["notApplicable"] is True


def test_the_engine_tells_not_applicable_from_missing_data(tmp_path: Path) -> None:
    """Same rule, same reason words: a field the client cannot have yet is not applicable; one
    that is merely unknown (after apply) is missing data; both at once is missing data."""
    policies = load_policies((str(_policy(tmp_path)),))
    client = Client(id="", name="new", grant_type="CLIENT-CREDENTIALS")
    why = {"lastUsed": "is unknown", "dateCreated": "is unknown"}
    subjects = [
        Subject(client, Location("a.json", 1), why, frozenset(why)),  # cannot have them yet
        Subject(client, None, why),  # merely unknown: should have been there
        Subject(client, None, why, frozenset({"lastUsed"})),  # dateCreated should be there
    ]
    window = UsageWindow(days=90, start=date(2026, 8, 22), end=date(2026, 11, 20))
    inventory = Inventory(clients=(client,), usage=window)
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20), subjects=subjects)
    pairs = [n for n in evaluation.pairs_not_evaluated if n.rule_id == "STALE"]
    assert [(n.client_index, n.not_applicable) for n in pairs] == [
        (0, True),
        (1, False),
        (2, False),
    ]
    assert pairs[0].reason == pairs[1].reason  # the words are the same; the record is not
    assert pairs[0].shown_reason.startswith("not applicable: ")
    assert pairs[1].shown_reason == pairs[1].reason


def test_a_value_known_only_after_apply_is_still_an_error(run_cli: Run, tmp_path: Path) -> None:
    from junitparser import Error, JUnitXml

    junit = tmp_path / "j.xml"
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--proposed",
        str(PLAN),
        "--junit-output",
        str(junit),
    )
    assert ran.code in (0, 1), ran.stderr
    kinds = {
        (suite.name.split(":")[0], type(r).__name__)
        for suite in JUnitXml.fromfile(str(junit))
        for case in suite
        for r in case.result
        if "Dynamic Scopes" in case.name
    }
    assert ("GOA-BL-014", Error.__name__) in kinds
