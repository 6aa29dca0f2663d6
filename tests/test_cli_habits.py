"""The habits people bring from ruff, yamllint and pip-audit: -v/-q after the command, diagnostics
that start with their location and end with a count, hints when a file is given to the wrong
command or flag, `validate DIR`, each command's own exit codes in its --help, connection flags
refused where no org is read, and `explain` written for a terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genesys_oauth_audit.errors import COMMAND_EXIT_CODES, ExitCode, exit_codes_markdown
from tests.fake.orgdata import sample_fake
from tests.helpers import DATA, ROOT, SAMPLE_SNAPSHOT, TUTORIAL, Run, env_for

PLAN = ROOT / "examples" / "terraform" / "plan.json"
TEST_FILE = ROOT / "policies" / "tests" / "tutorial.test.yaml"
WARNS = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - id: W-1
    title: Few scopes
    controls: {nist-800-53-r9: [AC-6]}
    check: {type: max-scopes, max: 1}
"""
TYPO = """apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - id: ACME-1
    title: No admin scopes
    check: {type: forbiden-scopes, scopes: [admin]}
"""
DIAGNOSTIC = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): \S")


# -- -v, -vv, -q after the command ---------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-v", "-vv", "-q", "--verbose", "--quiet"])
def test_verbosity_flags_are_accepted_after_the_command(run_cli: Run, flag: str) -> None:
    for args in (
        ("check", flag, "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT)),
        (flag, "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT)),
    ):
        ran = run_cli(*args)
        assert ran.code == 1, ran.stderr
        assert "Result: FAIL" in ran.stdout
    for command in (("validate", TUTORIAL), ("rules",), ("explain", "GOA-BL-001")):
        assert run_cli(*command, flag).code == 0


@pytest.mark.socket
def test_vv_after_the_command_logs_every_request(run_cli: Run) -> None:
    fake = sample_fake(usage_running_polls=0)
    with fake.serve() as base:
        quiet = run_cli("check", "-p", "builtin:tutorial", env=env_for(fake, base))
        loud = run_cli("check", "-p", "builtin:tutorial", "-vv", env=env_for(fake, base))
    assert quiet.code == loud.code == 1
    assert " -> 200 in " not in quiet.stderr
    requests = [line for line in loud.stderr.splitlines() if " -> 200 in " in line]
    assert len(requests) >= 3  # token, clients, scopes, org: each logged
    assert fake.credentials["auditor-id"] not in loud.stderr


def test_q_leaves_only_errors_and_the_result_on_stderr(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "warns.yaml"
    policy.write_text(WARNS)
    args = ("-p", str(policy), "--inventory", str(SAMPLE_SNAPSHOT))
    loud = run_cli("check", *args)
    assert ": warning: " in loud.stderr
    quiet = run_cli("check", "-q", *args)
    assert quiet.code == loud.code and quiet.stderr == ""
    assert quiet.stdout == loud.stdout  # -q changes stderr only
    assert run_cli("validate", "-q", str(policy)).stderr == ""
    # errors stay, with their count
    bad = tmp_path / "typo.yaml"
    bad.write_text(TYPO)
    ran = run_cli("validate", "-q", str(bad))
    assert ran.code == 2 and ran.stderr.splitlines()[-1] == "1 error in 1 file"


def test_q_and_v_together_are_bad_input(run_cli: Run) -> None:
    ran = run_cli("-q", "check", "-v", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2 and "-q" in ran.stderr and "-v" in ran.stderr


# -- diagnostics ----------------------------------------------------------------------------------


def test_diagnostics_start_with_the_location_then_a_count(run_cli: Run, tmp_path: Path) -> None:
    typo = tmp_path / "acme.yaml"
    typo.write_text(TYPO)
    other = DATA / "policies" / "invalid" / "type-error.yaml"
    ran = run_cli("validate", str(typo), str(other))
    assert ran.code == 2 and ran.stdout == ""
    *lines, count = ran.stderr.splitlines()
    assert lines and all(DIAGNOSTIC.match(line) for line in lines), ran.stderr
    assert not any(line.startswith("genesys-oauth-audit") for line in lines)
    assert lines[0] == (
        f"{typo}:6:19: error: rules[0].check.type: unknown check type 'forbiden-scopes'; did you "
        "mean 'forbidden-scopes'? (expected one of: " + lines[0].split("(expected one of: ")[1]
    )
    assert count == f"{len(lines)} errors in 2 files"


def test_one_error_says_so_in_the_singular(run_cli: Run, tmp_path: Path) -> None:
    typo = tmp_path / "acme.yaml"
    typo.write_text(TYPO)
    ran = run_cli("check", "-p", str(typo), "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2 and ran.stderr.splitlines()[-1] == "1 error in 1 file"


def test_errors_without_a_location_keep_their_one_line(run_cli: Run) -> None:
    ran = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--framework", "nist"
    )
    assert ran.code == 2
    [line] = ran.stderr.splitlines()
    assert line.startswith("genesys-oauth-audit: error: --framework nist: ")


def test_warnings_share_the_format(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "warns.yaml"
    policy.write_text(WARNS)
    ran = run_cli("validate", str(policy))
    assert ran.code == 0
    [warning] = ran.stderr.splitlines()
    match = DIAGNOSTIC.match(warning)
    assert match and match["sev"] == "warning" and match["path"] == str(policy)


# -- the wrong file for the command or flag -------------------------------------------------------


def test_validate_on_a_policy_test_suggests_test(run_cli: Run) -> None:
    ran = run_cli("validate", str(TEST_FILE))
    assert ran.code == 2
    [line, count] = ran.stderr.splitlines()  # one clear line, not every schema error
    assert line.startswith(f"{TEST_FILE}:") and f"genesys-oauth-audit test {TEST_FILE}" in line
    assert count == "1 error in 1 file"


def test_test_on_a_policy_suggests_validate(run_cli: Run) -> None:
    ran = run_cli("test", TUTORIAL)
    assert ran.code == 2 and ran.stdout == ""
    [line, _] = ran.stderr.splitlines()
    assert f"genesys-oauth-audit validate {TUTORIAL}" in line


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        (
            PLAN,
            f"Terraform plan (terraform show -json), not a snapshot: check proposed clients "
            f"with --proposed {PLAN}",
        ),
        (DATA / "proposals" / "new-portal.json", "an OAuth client request body, not a snapshot"),
        (DATA / "proposals" / "batch.yaml", "an OAuth client request body, not a snapshot"),
        (Path(TUTORIAL), f"this is a policy file, not a snapshot: give it with -p {TUTORIAL}"),
        (TEST_FILE, f"run `genesys-oauth-audit test {TEST_FILE}`"),
    ],
    ids=["plan", "body", "yaml-bodies", "policy", "policy-test"],
)
def test_the_wrong_file_for_inventory_says_what_it_is(run_cli: Run, given: Path, hint: str) -> None:
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(given))
    assert ran.code == 2
    [line, _] = ran.stderr.splitlines()
    assert line.startswith(f"{given}:1:1: error: ") and hint in line, line


def test_a_policy_given_to_test_and_check_proposed_is_still_refused_plainly(
    run_cli: Run, tmp_path: Path
) -> None:
    garbage = tmp_path / "notes.json"
    garbage.write_text("[1, 2, 3]")
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(garbage))
    assert ran.code == 2 and "not a snapshot: expected an object" in ran.stderr


# -- validate DIR ---------------------------------------------------------------------------------


def test_validate_a_directory_validates_the_policies_under_it(run_cli: Run, tmp_path: Path) -> None:
    ran = run_cli("validate", str(ROOT / "policies"))
    assert ran.code == 0, ran.stderr
    checked = [line.split(": ok")[0] for line in ran.stdout.splitlines()]
    assert checked == sorted(str(p) for p in (ROOT / "policies").glob("*.yaml"))
    assert not any(".test." in line for line in checked)  # the policy tests are skipped
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.yml").write_text(TYPO)
    (tmp_path / "good.yaml").write_text(WARNS)
    (tmp_path / "x.test.yaml").write_text("not: a policy\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "ci.yaml").write_text("on: push\n")
    ran = run_cli("validate", str(tmp_path))
    assert ran.code == 2
    assert ran.stdout == f"{tmp_path / 'good.yaml'}: ok (1 rules, 0 exceptions)\n"
    assert ran.stderr.splitlines()[-1] == "1 error in 1 file"
    assert str(tmp_path / "sub" / "bad.yml") in ran.stderr


# -- exit codes per command -----------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMAND_EXIT_CODES))
def test_each_command_lists_its_own_exit_codes(run_cli: Run, command: str) -> None:
    ran = run_cli(*command.split(), "--help")  # "orgs list" is a subcommand of a group
    assert ran.code == 0
    help_codes = re.findall(r"^\s+(\d)  (.+)$", ran.stdout.split("Exit codes:")[1], re.M)
    assert [(int(c), m) for c, m in help_codes] == [
        (code.value, meaning) for code, meaning in COMMAND_EXIT_CODES[command].items()
    ]


def test_exit_codes_differ_where_the_commands_do() -> None:
    assert ExitCode.FINDINGS not in COMMAND_EXIT_CODES["fetch"]  # fetch has no findings
    assert "drift" in COMMAND_EXIT_CODES["diff"][ExitCode.FINDINGS]
    assert "test failed" in COMMAND_EXIT_CODES["test"][ExitCode.FINDINGS]
    assert ExitCode.FINDINGS not in COMMAND_EXIT_CODES["validate"]


def test_docs_exit_codes_say_the_same() -> None:
    docs = (ROOT / "docs" / "exit-codes.md").read_text()
    assert exit_codes_markdown() in docs


# -- connection flags where no org is read --------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [("--region", "nowhere-1"), ("--client-id", "x"), ("--deadline", "5"), ("--timeout", "30")],
)
def test_connection_flags_with_inventory_are_bad_input(
    run_cli: Run, flags: tuple[str, str]
) -> None:
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), *flags)
    assert ran.code == 2 and ran.stdout == ""
    assert flags[0] in ran.stderr and "--inventory" in ran.stderr


def test_the_environment_may_name_a_region_with_inventory(run_cli: Run) -> None:
    """CI sets the connection environment for every job: only flags are refused."""
    ran = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        env={"GENESYSCLOUD_REGION": "nowhere-1", "GENESYSCLOUD_OAUTHCLIENT_ID": "x"},
    )
    assert ran.code == 1, ran.stderr


# -- explain and rules ----------------------------------------------------------------------------


def test_explain_shows_no_null_parameters(run_cli: Run) -> None:
    ran = run_cli("explain", "GOA-BL-006")
    assert ran.code == 0
    [params] = [line for line in ran.stdout.splitlines() if line.startswith("  parameters ")]
    assert "null" not in params and '"permissions"' in params


def test_explain_reads_markdown_for_a_terminal(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "md.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - id: MD-1\n    title: Markdown\n"
        "    description: 'A **bold** claim, *emphasis*, `oauth:*:*` stays code, and "
        "[the docs](https://example.com/x) or <https://example.com/y>.'\n"
        "    remediation: '__Remove__ the `admin:*` scope.'\n"
        "    check: {type: max-scopes, max: 1}\n"
    )
    ran = run_cli("explain", "MD-1", "-p", str(policy))
    assert ran.code == 0
    text = " ".join(ran.stdout.split())
    assert "A bold claim, emphasis, `oauth:*:*` stays code" in text
    assert "the docs (https://example.com/x) or https://example.com/y." in text
    assert "Remove the `admin:*` scope." in text


def test_no_shipped_rule_explains_with_raw_markup(run_cli: Run) -> None:
    listed = run_cli("rules")
    ids = [line.split()[0] for line in listed.stdout.splitlines() if not line.startswith(" ")]
    assert ids
    for rule_id in ids:
        ran = run_cli("explain", rule_id)
        assert ran.code == 0, (rule_id, ran.stderr)
        prose = ran.stdout.split("What it checks:")[1].split("Example of the check type")[0]
        assert "**" not in prose and "``" not in prose and "](" not in prose, rule_id


def test_rules_and_explain_default_to_the_same_policies(run_cli: Run) -> None:
    from genesys_oauth_audit.data import pack_names

    listed = run_cli("rules")
    every = run_cli("rules", *(a for n in pack_names() for a in ("-p", f"builtin:{n}")))
    assert listed.code == 0 and listed.stdout == every.stdout
    ids = {line.split()[0] for line in listed.stdout.splitlines() if not line.startswith(" ")}
    assert {"GOA-TUT-001", "GOA-BL-006"} <= ids
    for rule_id in ("GOA-TUT-001", "GOA-BL-006"):
        assert run_cli("explain", rule_id).code == 0
