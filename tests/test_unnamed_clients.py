"""A client with an empty name (the API allows one) is named by its id where a report says a rule
was not evaluated for it: "for client <id> (no name)", never "for  (<id>)" with a word missing."""

from __future__ import annotations

import json
from pathlib import Path

from genesys_oauth_audit.report.escape import markdown as md
from tests.helpers import SAMPLE_SNAPSHOT, Run

NOW = "2026-11-20T06:00:00Z"
IMPLICIT = "Chat Widget Implicit"  # TOKEN: GOA-BL-001 selects it by state


def test_not_evaluated_lines_name_an_unnamed_client_by_its_id(run_cli: Run, tmp_path: Path) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    (client,) = [c for c in data["clients"] if c["name"] == IMPLICIT]
    client["name"], client["state"] = "", "Active"  # a state outside the API's: not evaluated
    snapshot = tmp_path / "s.json"
    snapshot.write_text(json.dumps(data, indent=2))
    outs = {fmt: tmp_path / f"r.{fmt}" for fmt in ("sarif", "markdown", "html")}
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(snapshot),
        "--now",
        NOW,
        *(a for fmt, path in outs.items() for a in (f"--{fmt}-output", str(path))),
    )
    assert ran.code == 1, ran.stderr
    who = f"client {client['id']} (no name)"
    text = " ".join(ran.stdout.split())  # unwrapped
    assert f"- GOA-BL-001 for {who} [{snapshot}:" in text
    assert "for  (" not in text and "for (" not in text
    notes = [
        n["message"]["text"]
        for n in json.loads(outs["sarif"].read_text())["runs"][0]["invocations"][0][
            "toolExecutionNotifications"
        ]
    ]
    assert any(t.startswith(f"Rule GOA-BL-001 was not evaluated for {who}: ") for t in notes)
    assert not any("evaluated for : " in t for t in notes)
    assert f"was **not evaluated** for {md(who)} (" in outs["markdown"].read_text()
    assert f"was not evaluated for {who}: " in outs["html"].read_text()
