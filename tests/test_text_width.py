"""The text report at the terminal's width: COLUMNS respected, never under 80, 80 when not writing to
a terminal and in files; hanging indents; headers within the width; --group-by client with the
worst clients first; the riskiest-clients block bounded, following --min-severity, and switchable
off; and a fast path that leaves textwrap to the few lines that need it (counted, never timed)."""

from __future__ import annotations

import io
import textwrap
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from genesys_oauth_audit import app
from genesys_oauth_audit.cli import text_width
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Evaluation, Severity
from genesys_oauth_audit.inventory import Client, Inventory, Org
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import text
from genesys_oauth_audit.report.base import RunInfo, SourceInfo
from tests.helpers import SAMPLE_SNAPSHOT, TUTORIAL, Run

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
LONG_TITLE = "Clients that hold scopes granting administration of the whole organisation " * 2
POLICY = f"""apiVersion: genesys-oauth-audit/v1
kind: Policy
rules:
  - {{id: LOW-1, title: Few scopes, severity: low, check: {{type: max-scopes, max: 2}}}}
  - {{id: CRIT-1, title: "{LONG_TITLE.strip()}", severity: critical, check: {{type: forbidden-scope-prefixes, prefixes: ["admin:"]}}}}
  - {{id: MED-1, title: Read-only scopes, severity: medium, check: {{type: allowed-scopes, scopes: ["*:readonly"]}}}}
"""


def _evaluation(tmp_path: Path) -> tuple[Evaluation, RunInfo]:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    policies = load_policies((str(policy),))
    clients = [
        # "Aardvark" sorts first by name but has only a low finding
        Client(id="a", name="Aardvark Low", grant_type="CODE", scopes=("x:readonly",) * 3),
        Client(id="m", name="Mongoose Medium", grant_type="CODE", scopes=("users",)),
        Client(id="z", name="Zebra Critical", grant_type="CODE", scopes=("admin:all",)),
        Client(
            id="l",
            name="Long" + " name" * 30,
            grant_type="CODE",
            scopes=("users", "admin:x", "oauth"),
        ),
    ]
    inventory = Inventory(
        org=Org(id="o", name="O"), region="eu-west-1", fetched_at=NOW, clients=tuple(clients)
    )
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20))
    source = SourceInfo(kind="snapshot", org_id="o", org_name="O", path="org.json")
    info = app.run_info(policies, source, app.CheckOptions(policies=()), NOW, color=False)
    return evaluation, info


# -- the width --------------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_width_follows_columns_never_under_80() -> None:
    pipe = io.StringIO()
    assert text_width(pipe, {}) == 80  # not a terminal: 80
    assert text_width(pipe, {"COLUMNS": "132"}) == 132  # asked for
    assert text_width(pipe, {"COLUMNS": "40"}) == 80  # never under 80
    assert text_width(pipe, {"COLUMNS": "wide"}) == 80
    assert text_width(_Tty(), {"COLUMNS": "100"}) == 100
    assert text_width(_Tty(), {}) >= 80


@pytest.mark.parametrize("width", [80, 100, 132])
def test_no_line_passes_the_width_headers_included(tmp_path: Path, width: int) -> None:
    evaluation, info = _evaluation(tmp_path)
    for group_by in ("rule", "client"):
        out = text.render(evaluation, replace(info, width=width, group_by=group_by))
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= width, group_by
        if width == 132:  # the room is used
            assert max(len(line) for line in lines) > 100


def test_wrapped_lines_hang_deeper_than_their_first_line(tmp_path: Path) -> None:
    evaluation, info = _evaluation(tmp_path)
    lines = text.render(evaluation, info).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CRITICAL  CRIT-1  "))
    assert lines[header + 1].startswith("    ") and not lines[header + 1].startswith("     ")
    client = next(i for i, line in enumerate(lines) if line.startswith("  - Long name"))
    message = next(
        i for i in range(client + 1, len(lines)) if len(lines[i]) - len(lines[i].lstrip()) == 4
    )
    assert message > client + 1  # the name needed more than one line
    # the bullet's continuation lines hang deeper than the message nested under it
    assert all(line.startswith(" " * 6) for line in lines[client + 1 : message])


def test_colour_never_counts_towards_the_width(tmp_path: Path) -> None:
    evaluation, info = _evaluation(tmp_path)
    plain = text.render(evaluation, info)
    coloured = text.render(evaluation, replace(info, color=True))
    assert "\x1b[" in coloured
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_the_cli_uses_columns_for_stdout_and_80_for_files(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    out = tmp_path / "report.txt"
    ran = run_cli(
        "check",
        "-p",
        str(policy),
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--text-output",
        str(out),
        "--format",
        "text",
        env={"COLUMNS": "150"},
    )
    assert ran.code == 1, ran.stderr
    assert max(len(line) for line in ran.stdout.splitlines()) > 80
    assert max(len(line) for line in ran.stdout.splitlines()) <= 150
    assert max(len(line) for line in out.read_text().splitlines()) <= 80
    narrow = run_cli("check", "-p", str(policy), "--inventory", str(SAMPLE_SNAPSHOT))
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80


# -- grouping by client ---------------------------------------------------------------------------


def test_group_by_client_puts_the_worst_clients_first(tmp_path: Path) -> None:
    evaluation, info = _evaluation(tmp_path)
    out = text.render(evaluation, replace(info, group_by="client", width=200))
    headers = [line for line in out.splitlines() if line and not line.startswith(" ")]
    clients = [h.split(" (")[0] for h in headers if h.endswith("]") and " (" in h]
    assert clients[:2] == ["Long" + " name" * 30, "Zebra Critical"]  # both critical
    assert clients[2:] == ["Mongoose Medium", "Aardvark Low"]
    # within a client, the most severe first
    block = out.split("Zebra Critical (z)  [2]\n")[1].split("\n\n")[0]
    severities = [
        line.split()[0] for line in block.splitlines() if line.startswith("  ") and line[2] != " "
    ]
    assert severities == sorted(severities, key=lambda s: -Severity(s.lower()).rank)


# -- the riskiest clients -------------------------------------------------------------------------


def _risky(tmp_path: Path, n: int) -> tuple[Evaluation, RunInfo]:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    policies = load_policies((str(policy),))
    clients = tuple(
        Client(
            id=f"r{i:02}",
            name=f"Risky {i:02}",
            grant_type="CODE",
            scopes=("oauth",) if i % 2 else ("users",),  # critical / high in the risk catalog
        )
        for i in range(n)
    )
    inventory = Inventory(org=Org(id="o", name="O"), fetched_at=NOW, clients=clients)
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20))
    info = app.run_info(
        policies,
        SourceInfo(kind="snapshot", org_id="o", path="o.json"),
        app.CheckOptions(policies=()),
        NOW,
        color=False,
    )
    return evaluation, info


def _riskiest_block(out: str) -> list[str]:
    if "Riskiest clients" not in out:
        return []
    block = out.split("Riskiest clients", 1)[1].split("\n\n")[0]
    return [line for line in block.splitlines()[1:] if line.startswith("  ") and line[2] != " "]


def test_riskiest_shows_ten_by_default_and_says_how_many_more(tmp_path: Path) -> None:
    evaluation, info = _risky(tmp_path, 25)
    out = text.render(evaluation, info)
    shown = _riskiest_block(out)
    assert len([s for s in shown if not s.startswith("  …")]) == 10
    assert "… and 15 more" in out


def test_riskiest_follows_min_severity_and_can_be_switched_off(tmp_path: Path) -> None:
    evaluation, info = _risky(tmp_path, 8)
    critical = text.render(evaluation, replace(info, min_severity=Severity.CRITICAL))
    rated = [line.split()[0] for line in _riskiest_block(critical)]
    assert rated and set(rated) == {"CRITICAL"}
    assert "rated critical by the risk catalog" in critical
    everything = text.render(evaluation, info)
    assert {line.split()[0] for line in _riskiest_block(everything)} == {"CRITICAL", "HIGH"}
    assert "Riskiest clients" not in text.render(evaluation, replace(info, riskiest=0))
    assert len(_riskiest_block(text.render(evaluation, replace(info, riskiest=3)))) == 4  # + more


def test_riskiest_flag(run_cli: Run) -> None:
    args = ("check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT))
    assert "Riskiest clients" in run_cli(*args).stdout
    assert "Riskiest clients" not in run_cli(*args, "--riskiest", "0").stdout
    assert run_cli(*args, "--riskiest", "-1").code == 2


# -- the fast path --------------------------------------------------------------------------------


def test_textwrap_runs_only_for_lines_that_need_wrapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluation, info = _evaluation(tmp_path)
    expected = text.render(evaluation, info)
    calls: list[str] = []
    real = textwrap.wrap

    def counting(value: str, *args: object, **kwargs: object) -> list[str]:
        calls.append(value)
        return real(value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(textwrap, "wrap", counting)
    assert text.render(evaluation, info) == expected
    # every call was for a text that does not fit in its line (at most 6 columns of indent)
    assert calls and all(len(value) > 80 - 6 for value in calls)
    lines = expected.count("\n")
    assert len(calls) < lines / 3


def test_the_fast_path_returns_what_textwrap_would() -> None:
    for value, indent in [
        ("short line", "  "),
        ("", "    "),
        ("x" * 76, "    "),
        ("two  spaces inside", ""),
        ("tab\there", "  "),
        (" leading space", ""),
        ("trailing space ", ""),
    ]:
        expected = textwrap.wrap(
            value,
            width=80,
            initial_indent=indent,
            subsequent_indent=indent + text.HANG,
            break_on_hyphens=False,
        ) or [indent]
        assert text._wrap(value, indent) == expected, repr(value)
