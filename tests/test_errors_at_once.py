"""Errors all at once: ``validate`` and ``test`` report every error of every file in one run, each
as file:line:col, instead of stopping after the schema pass (issue 13)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from genesys_oauth_audit.engine.policytests import load_test_file
from genesys_oauth_audit.errors import InputFileError, PolicyError
from genesys_oauth_audit.policy.loader import load_policies
from tests.helpers import Ran

Run = Callable[..., Ran]

# Each rule and exception breaks the schema *and* hides a semantic error behind it.
POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - id: A-1
    title: Schema error beside a grant type typo in where
    severity: hgh
    where: {grantTypes: [TOKN]}
    check: {type: max-scopes, max: 3}
  - id: A-2
    title: Schema error beside an unknown field path
    tags: 5
    check: {type: field, path: descripton, op: not-empty}
  - id: A-3
    title: A valid rule
    check: {type: orphan-scopes}
  - id: A-3
    title: Duplicate id beside a state typo
    where: {states: [actve]}
    check: {type: orphan-scopes}
exceptions:
  - {rule: A-9, clients: [x]}
  - {rule: A-1, clients: ["[bad"], reason: ok, expires: 2027-13-01}
"""


def test_validate_reports_every_error_of_a_policy_at_once(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    with pytest.raises(PolicyError) as err:
        load_policies((str(path),))
    messages = [str(d) for d in err.value.diagnostics]
    text = "\n".join(messages)
    # the schema errors ...
    assert "rules[0].severity: unknown value 'hgh'" in text
    assert "rules[1].tags: expected a list" in text
    assert "exceptions[0]: missing required key 'reason'" in text
    # ... and every error they used to hide
    assert "rules[0].where.grantTypes[0]: unknown value 'TOKN'; did you mean 'TOKEN'?" in text
    assert "unknown field path 'descripton'; did you mean 'description'?" in text
    assert "rule id 'A-3' is already defined at" in text
    assert "rules[3].where.states[0]: unknown value 'actve'" in text
    assert "exception names rule 'A-9', which is not defined" in text
    assert "glob '[bad' has an unclosed '['" in text
    for d in err.value.diagnostics:  # each one located
        assert d.line is not None and d.column is not None, d


def test_validate_reports_every_file_in_one_run(run_cli: Run, tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text(POLICY)
    two = tmp_path / "two.yaml"
    two.write_text(POLICY.replace("A-", "B-"))
    ran = run_cli("validate", str(one), str(two))
    assert ran.code == 2
    lines = ran.stderr.splitlines()
    assert sum("one.yaml:" in line for line in lines) == sum("two.yaml:" in line for line in lines)
    assert sum("one.yaml:" in line for line in lines) >= 10
    assert any("two.yaml:" in line and "'TOKN'" in line for line in lines)
    *problems, count = lines
    # path:line:col: error: message, one a line, then the count (as ruff and yamllint)
    assert all(re.match(r"\S+/(one|two)\.yaml:\d+:\d+: error: ", line) for line in problems)
    assert count == f"{len(problems)} errors in 2 files"


TEST_FILE = """apiVersion: genesys-oauth-audit/v1
kind: PolicyTest
policies: [p.yaml]
today: 2026-11-20
colour: blue
inventory:
  clients:
    - {name: App One, grantType: CODE, scopes: [users]}
cases:
  - name: an unknown client
    client: App Uno
    expect: [{rule: T-1}]
  - name: an unknown rule
    client: App One
    rules: [T-9]
    expect: []
  - name: a bad expectation beside a good client
    client: App One
    expect: [{rule: T-1, subjekt: x}]
notEvaluated: [T-8]
"""
GOOD_POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {id: T-1, title: t, check: {type: max-scopes, max: 0}}
"""


def test_a_policy_test_file_reports_every_error_at_once(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD_POLICY)
    path = tmp_path / "t.test.yaml"
    path.write_text(TEST_FILE)
    with pytest.raises(InputFileError) as err:
        load_test_file(path)
    text = "\n".join(str(d) for d in err.value.diagnostics)
    assert "unknown key 'colour'" in text  # schema
    assert "unknown key 'subjekt'" in text  # schema, inside a case
    assert "names client 'App Uno', which is not in the inventory; did you mean 'App One'?" in text
    assert "rule 'T-9' is not in the policies under test" in text
    assert "rule 'T-8' is not in the policies under test" in text
    assert all(d.line is not None for d in err.value.diagnostics)


def test_a_broken_policy_under_test_does_not_hide_the_cases_errors(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD_POLICY.replace("max: 0", "max: -1"))
    path = tmp_path / "t.test.yaml"
    path.write_text(TEST_FILE)
    with pytest.raises(InputFileError) as err:
        load_test_file(path)
    text = "\n".join(str(d) for d in err.value.diagnostics)
    assert "the policies under test are invalid" in text
    assert "p.yaml:4:" in text  # the policy's own error, located in its file
    assert "names client 'App Uno'" in text  # checked although the policy is broken


def test_test_reports_every_file(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD_POLICY)
    for name in ("a", "b"):
        (tmp_path / f"{name}.test.yaml").write_text(TEST_FILE)
    ran = run_cli("test", str(tmp_path))
    assert ran.code == 2
    for name in ("a", "b"):
        assert (
            sum(
                f"{name}.test.yaml:" in line and "App Uno" in line
                for line in ran.stderr.splitlines()
            )
            == 1
        )
