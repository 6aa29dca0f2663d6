"""Invisible and line-breaking Unicode (format characters Cf, separators Zl/Zp, lone surrogates Cs)
from outside never reaches a reader raw: client names, the org's name and region, policy titles,
in every format and in ``rules``, ``explain`` and ``diff``."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genesys_oauth_audit.report.escape import FORMAT_RANGES, terminal, xml_safe
from tests.helpers import SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
# Line separator, paragraph separator, Arabic letter mark, zero-width space, word joiner, a tag
# character (astral) and a right-to-left override.
HIDDEN = "\u2028\u2029\u061c\u200b\u2060\U000e0041\u202e"
RAW = re.compile(f"[{FORMAT_RANGES}]")


def test_the_ranges_are_every_format_and_separator_character_of_this_python() -> None:
    wanted = {"Cf", "Zl", "Zp", "Cs"}
    missing = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in wanted and not RAW.match(chr(cp))
    ]
    assert missing == [], f"add to escape.FORMAT_RANGES: {missing}"
    # and nothing a name may legitimately hold is caught: letters, marks, spaces, emoji
    assert not RAW.search("Zoë Ñandú 東京 ﷺ 👍 \u00a0 é")


@pytest.mark.parametrize("char", [*HIDDEN, "\ud800"])
def test_each_hidden_character_becomes_a_visible_escape(char: str) -> None:
    for shown in (terminal(f"a{char}b"), xml_safe(f"a{char}b")):
        assert char not in shown and shown.startswith("a\\") and shown.endswith("b")
    assert terminal("\U000e0041") == "\\U000e0041"


def hostile_snapshot(tmp_path: Path) -> Path:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    for client in data["clients"]:
        client["name"] = f"Name{HIDDEN}End {client['name']}"
    data["org"]["name"] = f"Org{HIDDEN}Name"
    data["region"] = f"eu{HIDDEN}west"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit"])
def test_reports_for_people_show_no_hidden_character(
    run_cli: Run, tmp_path: Path, fmt: str
) -> None:
    path = hostile_snapshot(tmp_path)
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(path), "--format", fmt)
    assert ran.code == 1, ran.stderr
    assert not RAW.search(ran.stdout), RAW.findall(ran.stdout)
    # a visible escape instead (Markdown escapes the backslash itself)
    assert re.search(
        r"Name\\+u2028\\+u2029\\+u061c\\+u200b\\+u2060\\+U000e0041\\+u202eEnd", ran.stdout
    )
    if fmt == "text":
        header = " ".join(ran.stdout.split("Policies:")[0].split())
        assert "Source: snapshot" in header and "(org Org\\u2028" in header
        assert "region eu\\u2028\\u2029" in header


def test_sarif_shows_no_hidden_character_where_github_displays_text(
    run_cli: Run, tmp_path: Path
) -> None:
    path = hostile_snapshot(tmp_path)
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(path), "--format", "sarif")
    results = json.loads(ran.stdout)["runs"][0]["results"]
    assert results
    for result in results:
        location = result["locations"][0]["logicalLocations"][0]
        for text in (
            result["message"]["text"],
            location["name"],
            result["properties"]["clientName"],
        ):
            assert not RAW.search(text) and "\\u202e" in text


def test_sarif_has_no_hidden_character_anywhere(run_cli: Run, tmp_path: Path) -> None:
    """Not only where GitHub shows text: a SARIF viewer shows properties raw too (the region and
    org of the run, a finding's subject, evidence values such as a scope)."""
    data = json.loads(hostile_snapshot(tmp_path).read_text())
    for client in data["clients"]:
        client["scopes"] = [f"admin:x{HIDDEN}y", *client.get("scopes", [])]
    path = tmp_path / "scopes.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ran = run_cli("check", "-p", "builtin:strict", "--inventory", str(path), "--format", "sarif")
    assert ran.code == 1, ran.stderr
    raw = [text for text in _strings(json.loads(ran.stdout)) if RAW.search(text)]
    assert raw == []


def test_json_carries_the_names_exactly(run_cli: Run, tmp_path: Path) -> None:
    path = hostile_snapshot(tmp_path)
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(path), "--format", "json")
    report = json.loads(ran.stdout)
    assert all(f["clientName"].startswith(f"Name{HIDDEN}End") for f in report["findings"])


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_diff_shows_no_hidden_character(run_cli: Run, tmp_path: Path, fmt: str) -> None:
    ran = run_cli("diff", str(SAMPLE_SNAPSHOT), str(hostile_snapshot(tmp_path)), "--format", fmt)
    assert ran.code == 1
    assert not RAW.search(ran.stdout) and "\\u2028" in ran.stdout


def test_rules_and_explain_show_no_hidden_character(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        f'  - id: R-1\n    title: "Looks {HIDDEN} safe"\n'
        f'    description: "Why {HIDDEN}"\n'
        "    check: {type: max-scopes, max: 1}\n",
        encoding="utf-8",
    )
    listed = run_cli("rules", "-p", str(policy))
    explained = run_cli("explain", "R-1", "-p", str(policy))
    for ran in (listed, explained):
        assert ran.code == 0, ran.stderr
        assert not RAW.search(ran.stdout) and "Looks\\u2028" in ran.stdout
    assert explained.stdout.count("\n") > 5  # our own line breaks are kept
