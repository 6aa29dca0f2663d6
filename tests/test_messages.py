"""Messages a user reads once and acts on: each says the thing once, as the user wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from genesys_oauth_audit.data import pack_names
from genesys_oauth_audit.errors import ExitCode
from tests.helpers import Run

POLICY_HEAD = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nmetadata: {name: t}\n"
RULE = (
    "  - id: X-1\n    title: t\n    severity: low\n"
    "    check: {type: field, path: name, op: matches, value: '%s'}\n"
)


def test_an_include_of_a_url_says_urls_are_not_fetched(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY_HEAD + "include: [https://example.com/p.yaml]\nrules:\n" + RULE % "^a")
    ran = run_cli("validate", str(policy))
    assert ran.code == ExitCode.BAD_INPUT
    (line,) = [x for x in ran.stderr.splitlines() if ": error: " in x]
    assert line.startswith(f"{policy}:4:11: error: cannot include 'https://example.com/p.yaml'")
    assert "URLs are not fetched" in line
    assert "https:/example.com" not in ran.stderr  # not read as a path


def test_a_regular_expression_is_quoted_as_written(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY_HEAD + "rules:\n" + RULE % r"(a)\1")
    ran = run_cli("validate", str(policy))
    assert ran.code == ExitCode.BAD_INPUT
    assert r"invalid regular expression '(a)\1': " in ran.stderr
    assert r"\\1" not in ran.stderr


def test_a_plan_value_of_the_wrong_shape_is_one_error(run_cli: Run, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "format_version": "1.2",
                "terraform_version": "1.9.0",
                "complete": True,
                "errored": False,
                "resource_changes": [
                    {
                        "address": "genesyscloud_oauth_client.x",
                        "type": "genesyscloud_oauth_client",
                        "name": "x",
                        "change": {"actions": ["create"], "before": None, "after": [1]},
                    }
                ],
            }
        )
    )
    ran = run_cli("check", "-p", "builtin:tutorial", "--proposed", str(plan))
    assert ran.code == ExitCode.BAD_INPUT
    errors = [x for x in ran.stderr.splitlines() if ": error: " in x]
    assert len(errors) == 1, ran.stderr
    assert "resource_changes[0].change.after: expected a mapping or null, got a list" in errors[0]
    assert ran.stderr.rstrip().endswith("1 error in 1 file")


def test_check_help_names_every_shipped_pack(run_cli: Run) -> None:
    ran = run_cli("check", "--help")
    assert ran.code == 0
    helped = " ".join(ran.stdout.split())
    names = helped.split("builtin:NAME (", 1)[1].split(")", 1)[0]
    assert sorted(names.split(", ")) == sorted(pack_names())
