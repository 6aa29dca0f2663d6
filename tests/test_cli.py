"""The command line end to end: every exit code, formats, stdout/stderr, and live runs over real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from genesys_oauth_audit.errors import ExitCode, exit_code_table
from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import (
    CLIENT_ID,
    DATA,
    SAMPLE_SNAPSHOT,
    TUTORIAL,
    Ran,
    Run,
    env_for,
    request_clock,
)

NOW = "2026-11-20T06:00:00Z"
FAST = ("--max-retries", "8", "--retry-budget", "60", "--timeout", "5")


def same_findings(a: Ran, b: Ran) -> bool:
    """The same findings, whatever their provenance (a snapshot's findings carry its file and line)."""

    def strip(ran: Ran) -> list[dict[str, object]]:
        return [
            {k: v for k, v in f.items() if k != "location"}
            for f in json.loads(ran.stdout)["findings"]
        ]

    return strip(a) == strip(b)


def one_error_line(ran: Ran) -> str:
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    assert lines[0].startswith("genesys-oauth-audit: error: ")
    assert lines[0].endswith("[audit incomplete; no report written]")
    return lines[0]


# -- help and exit codes -------------------------------------------------------------------------


def test_help_shows_the_exit_code_table(run_cli: Run) -> None:
    ran = run_cli("--help")
    assert ran.code == 0
    for code in ExitCode:  # click indents the epilog, and must not rewrap it
        assert re.search(rf"^\s+{code.value}  {re.escape(code.meaning)}$", ran.stdout, re.M), code
    assert len(exit_code_table().splitlines()) == 4
    assert [c.value for c in ExitCode] == [0, 1, 2, 3]
    for command in ("fetch", "check", "validate", "rules"):
        assert command in ran.stdout


def test_exit_0_when_nothing_reaches_fail_on(run_cli: Run) -> None:
    ran = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--fail-on",
        "critical",
        "--now",
        NOW,
    )
    assert ran.code == 0, ran.stderr
    assert "Result: PASS (--fail-on critical)" in ran.stdout
    assert ran.stderr == ""


def test_exit_1_on_findings(run_cli: Run) -> None:
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--now", NOW)
    assert ran.code == 1
    assert "GOA-TUT-001" in ran.stdout and "Result: FAIL (--fail-on low)" in ran.stdout
    assert ran.stderr == ""


def test_fail_on_never(run_cli: Run) -> None:
    ran = run_cli(
        "check", "-p", "builtin:tutorial", "--inventory", str(SAMPLE_SNAPSHOT), "--fail-on", "never"
    )
    assert ran.code == 0 and "FAIL" not in ran.stdout.splitlines()[0]


def test_exit_2_for_a_policy_type_error_names_file_line(run_cli: Run, tmp_path: Path) -> None:
    bad = DATA / "policies" / "invalid" / "type-error.yaml"
    ran = run_cli("check", "-p", str(bad), "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2
    assert (
        f"{bad}:9:17: error: rules[0].check.prefixes: expected a list, got a string" in ran.stderr
    )
    assert ran.stdout == "" and "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    "path", sorted((DATA / "policies" / "invalid").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_broken_policy_exits_2_from_check_too(run_cli: Run, path: Path) -> None:
    ran = run_cli("check", "-p", str(path), "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2, ran.stderr
    assert ran.stdout == "" and "Traceback" not in ran.stderr
    assert re.search(r":\d+:\d+: ", ran.stderr)


def test_exit_2_for_bad_flags(run_cli: Run) -> None:
    assert run_cli("check", "-p", TUTORIAL, "--format", "yaml").code == 2
    assert run_cli("check", "--inventory", str(SAMPLE_SNAPSHOT)).code == 2  # no policy
    assert run_cli("frobnicate").code == 2


def test_exit_2_for_a_missing_or_bad_snapshot(run_cli: Run, tmp_path: Path) -> None:
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(tmp_path / "none.json"))
    assert ran.code == 2 and "cannot read snapshot" in ran.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "kind": "genesys-oauth-audit/inventory",\n  "clients": [\n')
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(broken))
    assert ran.code == 2 and re.search(
        rf"{re.escape(str(broken))}:4:1: error: not valid JSON", ran.stderr
    )
    wrong = tmp_path / "wrong.json"
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["clients"][3]["scopes"] = "users"
    wrong.write_text(json.dumps(data, indent=2))
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(wrong))
    assert ran.code == 2 and re.search(
        r"wrong\.json:\d+:\d+: error: clients/3/scopes: ", ran.stderr
    ), ran.stderr


def test_exit_2_for_missing_credentials(run_cli: Run) -> None:
    ran = run_cli("check", "-p", TUTORIAL)
    assert ran.code == 2 and "GENESYSCLOUD_OAUTHCLIENT_ID" in ran.stderr


def test_policies_are_validated_before_the_network(run_cli: Run, tmp_path: Path) -> None:
    bad = DATA / "policies" / "invalid" / "unknown-key.yaml"
    env = {
        "GENESYSCLOUD_REGION": "http://127.0.0.1:9",
        "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y",
    }
    ran = run_cli("check", "-p", str(bad), env=env)
    assert ran.code == 2 and "did you mean 'title'" in ran.stderr


# -- formats -------------------------------------------------------------------------------------------


def test_json_to_stdout_is_pure_json(run_cli: Run) -> None:
    ran = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--format",
        "json",
        "--now",
        NOW,
    )
    data = json.loads(ran.stdout)
    assert data["summary"]["failed"] is True and ran.code == 1
    assert data["source"] == {
        "kind": "snapshot",
        "org": {"id": data["source"]["org"]["id"], "name": "Northwind Contact Centre"},
        "region": "eu-west-1",
        "fetchedAt": "2026-11-20T06:00:00Z",
        "path": str(SAMPLE_SNAPSHOT),
        "proposals": [],
        "usage": {
            "lastUse": {
                "days": 90,
                "start": "2026-08-23",
                "end": "2026-11-20",
                "source": "aggregates-query-jobs",
            },
            "operations": {
                "days": 90,
                "start": "2026-08-23",
                "end": "2026-11-20",
                "source": "aggregates-query-jobs",
            },
            "notes": [],
        },
    }


def test_json_output_file_alongside_text(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    ran = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--json-output",
        str(out),
        "--now",
        NOW,
    )
    assert ran.code == 1 and ran.stdout.startswith("genesys-oauth-audit ")
    assert json.loads(out.read_text())["summary"]["counts"]["high"] == 2


def test_validate_and_rules_commands(run_cli: Run) -> None:
    ran = run_cli("validate", TUTORIAL, str(DATA / "policies" / "valid" / "every-check.yaml"))
    assert ran.code == 0 and "ok (2 rules, 0 exceptions)" in ran.stdout
    ran = run_cli("validate", TUTORIAL, str(DATA / "policies" / "invalid" / "duplicate-key.yaml"))
    assert ran.code == 2 and "duplicate key 'title'" in ran.stderr
    ran = run_cli("rules", "-p", "builtin:tutorial")
    assert ran.code == 0 and re.search(r"GOA-TUT-001\s+high\s+No administrative", ran.stdout)


def test_version(run_cli: Run) -> None:
    from genesys_oauth_audit import __version__

    ran = run_cli("--version")
    assert ran.code == 0 and __version__ in ran.stdout


# -- live, over a real loopback socket -----------------------------------------------------------------


@pytest.mark.socket
def test_fetch_then_check_equals_check_live(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0)
    snapshot = tmp_path / "snap.json"
    with fake.serve() as base:
        env = env_for(fake, base)
        ran = run_cli("fetch", "-o", str(snapshot), "--now", NOW, *FAST, env=env)
        assert ran.code == 0, ran.stderr
        assert f"wrote {snapshot}: 36 clients, 12 roles, usage over 90 days" in ran.stderr
        live = run_cli("check", "-p", TUTORIAL, "--format", "json", "--now", NOW, *FAST, env=env)
    offline = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(snapshot), "--format", "json", "--now", NOW
    )
    assert live.code == offline.code == 1
    assert same_findings(live, offline)
    assert json.loads(live.stdout)["source"]["kind"] == "live"
    # the tutorial needs no roles or usage: the live check did not ask for them (the fetch did:
    # one role page, two usage jobs and one poll of each)
    assert len([r for r in fake.log if "authorization/roles" in r.path or "usage" in r.path]) == 5


@pytest.mark.socket
def test_faults_and_expiring_tokens_give_the_same_inventory(run_cli: Run, tmp_path: Path) -> None:
    clean = sample_fake(usage_running_polls=0)
    with clean.serve() as base:
        assert (
            run_cli(
                "fetch",
                "-o",
                str(tmp_path / "clean.json"),
                "--now",
                NOW,
                *FAST,
                env=env_for(clean, base),
            ).code
            == 0
        )

    faulty = sample_fake(
        usage_running_polls=0,
        fault_rate=0.15,
        fault_kinds=("429", "5xx"),
        retry_after="0",
        token_lifetime=8,
        clock=request_clock(),
        seed=11,
    )
    with faulty.serve() as base:
        ran = run_cli(
            "fetch",
            "-o",
            str(tmp_path / "faulty.json"),
            "--now",
            NOW,
            *FAST,
            env=env_for(faulty, base),
        )
        assert ran.code == 0, ran.stderr
    assert (tmp_path / "faulty.json").read_text() == (tmp_path / "clean.json").read_text()
    faults = [r for r in faulty.log if r.fault]
    assert faults, "the seed must inject faults"
    assert len(faulty.token_requests()) >= 2  # the token expired during the run and was renewed


@pytest.mark.socket
def test_exhausted_retry_budget_exits_3_and_writes_nothing(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake()
    fake.fail("/api/v2/oauth/clients", "5xx", times=100)
    out, snap = tmp_path / "report.json", tmp_path / "snap.json"
    with fake.serve() as base:
        env = env_for(fake, base)
        ran = run_cli(
            "check",
            "-p",
            TUTORIAL,
            "--json-output",
            str(out),
            "--max-retries",
            "2",
            "--retry-budget",
            "5",
            env=env,
        )
        fetched = run_cli("fetch", "-o", str(snap), "--max-retries", "2", env=env)
    assert ran.code == 3 and fetched.code == 3
    assert "giving up after 3 attempts" in one_error_line(ran)
    assert ran.stdout == "" and not out.exists() and not snap.exists()
    assert list(tmp_path.iterdir()) == []  # not even a temporary file


@pytest.mark.socket
@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            lambda f: f.credentials.update({CLIENT_ID: "rotated-elsewhere"}),
            "client id or secret was rejected (invalid_client",
        ),
        (
            lambda f: f.permissions.discard("oauth:client:view"),
            "lacks permission oauth:client:view",
        ),
        (lambda f: f.fail("/api/v2/oauth/clients", "html", times=100), "HTML error page"),
        (lambda f: f.fail("/api/v2/oauth/scopes", "truncated", times=100), "RemoteProtocolError"),
        (
            lambda f: f.page_clients(10, "repeat"),
            "page 2 repeats",
        ),
        (lambda f: f.fail("/api/v2/organizations/me", "wrongtype"), "unexpected response shape"),
    ],
    ids=["wrong-secret", "no-permission", "html-502", "truncated", "repeating-page", "wrong-types"],
)
def test_live_failures_exit_3_with_one_clear_line(
    run_cli: Run, tmp_path: Path, setup: Callable[[FakeGenesys], object], expected: str
) -> None:
    fake = sample_fake()
    env_secret = fake.credentials[CLIENT_ID]
    setup(fake)
    out = tmp_path / "r.json"
    with fake.serve() as base:
        env = {**env_for(fake, base), "GENESYSCLOUD_OAUTHCLIENT_SECRET": env_secret}
        ran = run_cli(
            "check",
            "-p",
            TUTORIAL,
            "--json-output",
            str(out),
            "--max-retries",
            "1",
            "--retry-budget",
            "3",
            env=env,
        )
    assert ran.code == 3, ran.stderr
    assert expected in one_error_line(ran)
    assert ran.stdout == "" and not out.exists()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_host_exits_3(run_cli: Run) -> None:
    env = {
        "GENESYSCLOUD_REGION": f"http://127.0.0.1:{_closed_port()}",
        "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y",
    }
    ran = run_cli("check", "-p", TUTORIAL, "--max-retries", "1", "--retry-budget", "2", env=env)
    assert ran.code == 3
    assert "connection failed (ConnectError" in one_error_line(ran)


def test_internal_errors_are_one_line_without_traceback(
    run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genesys_oauth_audit import app

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(app, "check", boom)
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT))
    assert (
        ran.code == 3
        and "internal error: RuntimeError: kaboom" in ran.stderr
        and "Traceback" not in ran.stderr
    )
    # The hint names a flag that works where it is written: before the command.
    assert "re-run as `genesys-oauth-audit --debug COMMAND ...`" in ran.stderr


def test_an_unwritable_report_path_is_bad_input_not_a_crash(run_cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "folder" / "r.sarif"
    ran = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--sarif-output", str(target)
    )
    assert ran.code == 2
    assert (
        f"cannot write --sarif-output {target}: directory {target.parent} does not exist"
        in ran.stderr
    )
    assert "internal error" not in ran.stderr


def test_a_check_of_policies_with_no_rule_is_refused(run_cli: Run, tmp_path: Path) -> None:
    """A policy file that defines nothing would make every run pass: bad input, not a PASS."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules: []\n")
    ran = run_cli("check", "-p", str(empty), "--inventory", str(SAMPLE_SNAPSHOT))
    assert ran.code == 2 and ran.stdout == ""
    assert "the policies define no rule" in ran.stderr
    # validate says so up front: valid, but it checks nothing, and check refuses it.
    ran = run_cli("validate", str(empty))
    assert ran.code == 0 and ran.stdout == f"{empty}: ok (0 rules, 0 exceptions)\n"
    assert f"{empty}: warning: defines no rule, itself or through include" in ran.stderr
    # A file with rules, or one that includes them, draws no such warning.
    includes = tmp_path / "includes.yaml"
    includes.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\ninclude: [builtin:tutorial]\n"
    )
    ran = run_cli("validate", str(includes))
    assert ran.code == 0 and "warning" not in ran.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--timeout", "nan"], {}, "'nan' is not a finite number of seconds"),
        (
            ["--deadline", "nan"],
            {},
            "'nan' is not a finite number of seconds",
        ),  # no deadline at all
        (["--deadline", "inf"], {}, "'inf' is not a finite number of seconds"),
        (["--retry-budget", "nan"], {}, "is not a finite number of seconds"),
        (["--usage-days", "10" * 15], {}, "is not in the range 1<=x<=3650"),
        (["--region", "http://127.0.0.1:abc"], {}, "is not a URL a request can be sent to"),
        (["--region", "http://127.0.0.1:99999"], {}, "is not a URL a request can be sent to"),
        (["--region", "https://xn--.com"], {}, "is not a URL a request can be sent to"),
        (
            ["--login-url", "https://login.mypurecloud.com\t"],
            {},
            "holds a space or a control character",
        ),
        ([], {"SSL_CERT_FILE": "/nonexistent"}, "cannot set up HTTPS from the environment"),
        ([], {"SSL_CERT_FILE": os.devnull}, "cannot set up HTTPS from the environment"),
        ([], {"HTTPS_PROXY": "socks5://127.0.0.1:9"}, "cannot set up HTTPS from the environment"),
    ],
)
def test_a_setting_that_cannot_work_is_bad_input_not_an_internal_error(
    run_cli: Run, args: list[str], env: dict[str, str], message: str
) -> None:
    base = ["check", "-p", TUTORIAL, "--max-retries", "0", "--deadline", "5"]
    if "--region" not in args:
        base += ["--region", "https://api.mypurecloud.com"]
    ran = run_cli(
        *base,
        *args,
        env={
            "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": "a-secret-value-here",
            **env,
        },
    )
    assert ran.code == 2, (ran.code, ran.stderr)
    assert message in ran.stderr and "internal error" not in ran.stderr


@pytest.mark.parametrize(
    "command", [["check", "-p", TUTORIAL], ["fetch", "-o", "-"], ["recommend"]]
)
@pytest.mark.parametrize("flag", ["--region", "--client-id", "--login-url"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_connection_flag_is_refused_not_taken_from_the_environment(
    run_cli: Run, command: list[str], flag: str, value: str
) -> None:
    """`--region "$REGION"` with the variable unset gave `--region ''`, which fell back to
    GENESYSCLOUD_REGION: another org than the script named. Now bad input, before any request
    (the environment here names a port nobody listens on)."""
    ran = run_cli(
        *command,
        flag,
        value,
        env={
            "GENESYSCLOUD_REGION": "http://127.0.0.1:9",
            "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": "a-secret-value-here",
        },
    )
    assert ran.code == 2, (ran.code, ran.stderr)
    assert f"Invalid value for '{flag}': is empty" in ran.stderr
    assert ran.stdout == ""


@pytest.mark.parametrize("command", [["check", "-p", TUTORIAL], ["recommend"]])
@pytest.mark.parametrize("flag", [["--usage-days", "2"], ["--region", "eu-west-1"]])
def test_a_flag_for_reading_a_live_org_is_refused_with_a_snapshot(
    run_cli: Run, command: list[str], flag: list[str]
) -> None:
    """A snapshot has the usage it was fetched with: `--usage-days` with `--inventory` read
    nothing and was silently ignored (and `recommend` ignored every connection flag)."""
    ran = run_cli(*command, "--inventory", str(SAMPLE_SNAPSHOT), *flag)
    assert ran.code == 2
    assert f"{flag[0]} is for reading a live org" in ran.stderr
