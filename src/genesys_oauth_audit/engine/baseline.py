"""Baseline files: the findings of an earlier run, so that only new findings fail the next one.

Findings are keyed by their fingerprint, a hash of (rule id, client id,
subject): renaming a client does not reopen its findings. Waived findings are
not stored, so a finding whose exception lapses later counts again.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from genesys_oauth_audit.errors import Diagnostic, InputFileError
from genesys_oauth_audit.files.output import json_text, write_atomically
from genesys_oauth_audit.files.reading import ReadError, decode_utf8, load_json, read_capped
from genesys_oauth_audit.findings import BaselineEntry, Evaluation

BASELINE_KIND = "genesys-oauth-audit/baseline"
BASELINE_VERSION = 1
# A baseline entry is ~250 bytes: a million findings fit well under this.
MAX_BASELINE_BYTES = 512 * 1024 * 1024


def baseline_text(evaluation: Evaluation, generated_at: datetime, tool_version: str) -> str:
    entries = [
        {
            "fingerprint": f.fingerprint,
            "ruleId": f.rule_id,
            "clientId": f.client_id,
            "clientName": f.client_name,
            "subject": f.subject,
            "severity": f.severity.value,
        }
        for f in sorted(evaluation.findings, key=lambda f: f.fingerprint)
        if f.waived is None
    ]
    data: dict[str, Any] = {
        "kind": BASELINE_KIND,
        "version": BASELINE_VERSION,
        "generatedAt": generated_at.isoformat().replace("+00:00", "Z"),
        "tool": {"name": "genesys-oauth-audit", "version": tool_version},
        "findings": entries,
    }
    return json_text(data) + "\n"


def write_baseline(
    path: Path, evaluation: Evaluation, generated_at: datetime, tool_version: str
) -> None:
    write_atomically(path, baseline_text(evaluation, generated_at, tool_version))


def load_baseline(path: Path) -> tuple[BaselineEntry, ...]:
    """The entries of a baseline file (a fingerprint, and the rule, client and subject it stood
    for, so entries no longer found can be listed); a bad file is bad input (exit 2)."""
    shown = str(path)
    try:
        text = decode_utf8(
            read_capped(path, MAX_BASELINE_BYTES, what="baseline", shown=shown),
            prefix="cannot read baseline: ",
        )
        data = load_json(text)
    except ReadError as exc:
        raise InputFileError([Diagnostic(shown, exc.line, exc.column, str(exc))]) from None
    if (
        not isinstance(data, dict)
        or data.get("kind") != BASELINE_KIND
        or type(data.get("version")) is not int  # not true, not 1.0: the integer
        or data.get("version") != BASELINE_VERSION
    ):
        raise InputFileError(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    f'not a baseline: expected "kind": "{BASELINE_KIND}", "version": {BASELINE_VERSION}',
                )
            ]
        )
    findings = data.get("findings")
    if not isinstance(findings, list) or not all(
        isinstance(f, dict) and isinstance(f.get("fingerprint"), str) for f in findings
    ):
        raise InputFileError(
            [Diagnostic(shown, 1, 1, 'expected "findings": a list of objects with a "fingerprint"')]
        )

    def text_of(entry: dict[str, Any], key: str) -> str | None:
        value = entry.get(key)
        return value if isinstance(value, str) else None

    return tuple(
        BaselineEntry(
            fingerprint=f["fingerprint"],
            rule_id=text_of(f, "ruleId"),
            client_id=text_of(f, "clientId"),
            client_name=text_of(f, "clientName"),
            subject=text_of(f, "subject"),
            severity=text_of(f, "severity"),
        )
        for f in findings
    )
