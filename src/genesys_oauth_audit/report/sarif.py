"""SARIF 2.1.0 (docs/report-formats.md), shaped for GitHub code scanning.

GitHub rejects a whole upload when one result lacks a physical location or
uses a URI scheme other than ``file``, ignores ``suppressions`` (so waived
findings are left out unless asked for), reads ``security-severity`` only as
a string, cannot compute ``primaryLocationLineHash`` for a file that is not in
the checkout (so we compute it from the finding's identity), and accepts at
most 25,000 results per run. Its limits on a rule (20 tags, a 255-character
``name``, 1024-character descriptions, ``problem.severity`` one of error,
warning, recommendation) are enforced here from ``policy/github.py``, where
``validate`` reads them too.

GitHub's references: "SARIF support for code scanning"
(https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning)
for the properties, the limits, ``runAutomationDetails.id`` ("category/run-id") and
relative URIs ("relative to the root of the repository analyzed"); "Uploading a SARIF file
to GitHub" (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/uploading-a-sarif-file-to-github)
for ``upload-sarif``, whose ``category`` input is ignored when the file names its own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from genesys_oauth_audit.evidence import for_people
from genesys_oauth_audit.files.output import json_text
from genesys_oauth_audit.findings import Evaluation, Finding, Severity
from genesys_oauth_audit.policy import github
from genesys_oauth_audit.policy.github import MAX_DESCRIPTION, MAX_NAME, MAX_TAGS, truncate

__all__ = ["MAX_TAGS", "automation_id", "render", "repository_root", "rule_tags", "sarif_log"]
from genesys_oauth_audit.report import leastpriv
from genesys_oauth_audit.report.base import (
    RuleInfo,
    RunInfo,
    counts_dict,
    live_path,
    unnamed_client,
    usage_text,
)
from genesys_oauth_audit.report.escape import terminal, terminal_lines

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 25_000
INFORMATION_URI = "https://github.com/genesys-oauth-audit/genesys-oauth-audit"

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.1",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# properties.problem.severity: GitHub accepts only error, warning or recommendation (a result's
# level has "note" where this has "recommendation").
PROBLEM_SEVERITY = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "recommendation",
    Severity.INFO: "recommendation",
}


def rule_tags(rule: RuleInfo) -> list[str]:
    """``security`` and the rule's own tags first, then one ``framework/control`` tag per control
    it supports, at most ``MAX_TAGS`` in all: GitHub rejects a whole upload past 20 per rule."""
    return github.rule_tags(rule.tags, rule.controls)[0]


def _rule(rule: RuleInfo) -> dict[str, Any]:
    summary = rule.title
    full = github.full_description(rule.title, rule.description)
    markdown = [f"**{rule.title}** ({rule.severity.value}, check `{rule.check_type}`)"]
    text = [f"{rule.title} ({rule.severity.value}, check {rule.check_type})"]
    if rule.description:
        markdown += ["", rule.description.strip()]
        text += ["", rule.description.strip()]
    if rule.remediation:
        markdown += ["", "**Remediation:** " + rule.remediation.strip()]
        text += ["", "Remediation: " + rule.remediation.strip()]
    markdown += ["", f"Defined at `{rule.source}`."]
    entry: dict[str, Any] = {
        "id": rule.id,
        # GitHub's limits apply to the text as written, escapes included: truncated after them.
        "name": truncate(github.pascal_name(rule.title), MAX_NAME),
        # Policy text (titles, descriptions) may come from a shared pack: shown neutralised.
        "shortDescription": {"text": truncate(terminal(summary), MAX_DESCRIPTION)},
        "fullDescription": {"text": truncate(terminal(full), MAX_DESCRIPTION)},
        "help": {
            "text": terminal_lines("\n".join(text)),
            "markdown": terminal_lines("\n".join(markdown)),
        },
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "tags": rule_tags(rule),
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": "very-high",
            "problem.severity": PROBLEM_SEVERITY[rule.severity],
        },
    }
    if rule.controls:
        entry["properties"]["controls"] = {fw: list(ids) for fw, ids in rule.controls}
    if rule.help_uri:
        entry["helpUri"] = rule.help_uri
    return entry


def repository_root(cwd: str) -> str:
    """The root of the git checkout holding ``cwd`` (the nearest directory with a ``.git``, a
    directory or, in a worktree or submodule, a file), else ``cwd`` itself.

    GitHub reads a relative URI as relative to the root of the repository analyzed, wherever
    the tool ran: a path relative to a subdirectory (``../examples/...``) would point nowhere.
    Found without running git, which a slim CI image may not have.
    """
    start = Path(os.path.abspath(cwd))
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return str(directory)
    return str(start)


def _uri(path: str, cwd: str, root: str) -> str:
    """Relative to the repository root when the file is inside it (symlinks resolved, as GitHub
    cannot show a result in a symlinked path, else as written); otherwise a ``file://`` URI, the
    only scheme GitHub accepts."""
    absolute = os.path.join(cwd, path)
    for candidate, base in (
        (os.path.realpath(absolute), os.path.realpath(root)),
        (os.path.normpath(absolute), os.path.normpath(root)),
    ):
        rel = os.path.relpath(candidate, base)
        if rel != ".." and not rel.startswith(".." + os.sep):
            return Path(rel).as_posix()
    return Path(os.path.normpath(absolute)).as_uri()


def _line_hash(f: Finding) -> str:
    return hashlib.sha256(f"{f.fingerprint}".encode()).hexdigest()[:16] + ":1"


def _result(f: Finding, rule_index: int, run: RunInfo, cwd: str, root: str) -> dict[str, Any]:
    # The message, the logical location and the client's name are what GitHub shows a person:
    # no control, bidi or other invisible format characters in them (the JSON report carries
    # the name exactly).
    name = terminal(f.client_name)
    who = f"{name} ({f.client_id})" if f.client_id else f"{name} (proposed client)"
    region: dict[str, int] = {"startLine": 1}
    if f.location is not None:
        uri = _uri(f.location.path, cwd, root)
        region = {"startLine": f.location.line}
        if f.location.column is not None:
            region["startColumn"] = f.location.column  # a minified plan is one long line
    else:
        uri = live_path(run.source, f.client_id)
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "kind": "fail",
        "message": {"text": _message(who, f)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": region,
                },
                "logicalLocations": [
                    {
                        "name": name,
                        "fullyQualifiedName": terminal(live_path(run.source, f.client_id)),
                        "kind": "resource",
                    }
                ],
            }
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": _line_hash(f),
            "genesysOauthAudit/v1": f.fingerprint,
        },
        "properties": {
            "severity": f.severity.value,
            "security-severity": SECURITY_SEVERITY[f.severity],
            "clientId": f.client_id,
            "clientName": name,
            "subject": terminal(f.subject) if f.subject is not None else None,
            "evidence": _neutral(f.evidence.as_dict()) if f.evidence is not None else None,
        },
    }
    if f.baseline_state is not None:
        result["baselineState"] = f.baseline_state
    if run.sarif_include_waived:
        # SARIF §3.27.23: suppressions is on every result of a run or on none; an empty list says
        # "not suppressed". Without --sarif-include-waived no waived result is written at all.
        result["suppressions"] = []
    if f.waived is not None:
        justification = f.waived.reason + (
            f" (until {f.waived.expires.isoformat()})" if f.waived.expires else ""
        )
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": terminal(justification)}
        ]
    return result


def _neutral(value: Any) -> Any:
    """Org text inside a SARIF property (an evidence value, a role name) as the messages carry
    it: control, bidi and format characters as visible escapes; viewers show properties raw."""
    if isinstance(value, str):
        return terminal(value)
    if isinstance(value, dict):
        return {k: _neutral(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_neutral(v) for v in value]
    return value


def _message(who: str, f: Finding) -> str:
    """What GitHub shows: the client, the finding and its evidence, on one clean line."""
    text = f"{who}: {terminal(f.message)}"
    line = for_people(f.evidence)
    if line is not None:
        text += f" ({terminal(line)})"
    return text


def automation_id(run: RunInfo) -> str:
    """``runAutomationDetails.id``: GitHub reads it as ``category/run-id`` and compares a result
    only with earlier results of its category, so each kind of run has its own: a full audit of
    a live org (``genesys-oauth-audit/org-<id>/``), of a snapshot
    (``genesys-oauth-audit/snapshot/org-<id>/``), and a check of proposed clients
    (``genesys-oauth-audit/proposals/[org-<id>/]``), whose few results must never close the
    alerts of the full audit. ``--sarif-category`` replaces it; a trailing ``/`` is added, as
    upload-sarif adds one to its own ``category`` input (the run-id part stays empty)."""
    if run.sarif_category:
        category = run.sarif_category.strip()
        return category if category.endswith("/") else category + "/"
    org = f"org-{run.source.org_id}/" if run.source.org_id else ""
    if run.source.kind == "proposal" or run.source.proposals:
        return f"genesys-oauth-audit/proposals/{org}"
    if run.source.kind == "snapshot":
        return f"genesys-oauth-audit/snapshot/{org or 'unknown-org/'}"
    return f"genesys-oauth-audit/{org or 'unknown-org/'}"


def sarif_log(evaluation: Evaluation, run: RunInfo) -> dict[str, Any]:
    cwd = run.cwd or os.getcwd()
    root = repository_root(cwd)
    counts = run.counts(evaluation)
    rules = list(run.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    wanted = [
        f
        for f in run.reported(evaluation)
        if (f.waived is None or run.sarif_include_waived) and f.rule_id in index
    ]
    notifications: list[dict[str, Any]] = [
        {"level": "note", "message": {"text": terminal(note)}}
        for note in (*run.source.notes, *run.source.usage_notes)
    ] + [{"level": "warning", "message": {"text": terminal(w)}} for w in run.warnings]
    for n in evaluation.not_evaluated:
        notifications.append(
            {
                "level": "warning",
                "message": {"text": f"Rule {n.rule_id} was not evaluated: {terminal(n.reason)}"},
                "associatedRule": {"id": n.rule_id, "index": index[n.rule_id]},
            }
        )
    for n in evaluation.pairs_not_evaluated:
        c = evaluation.clients[n.client_index]
        note: dict[str, Any] = {
            # A rule that cannot apply (a client that does not exist yet) is a note, not a gap.
            "level": "note" if n.not_applicable else "warning",
            "message": {
                "text": f"Rule {n.rule_id} was not evaluated for "
                f"{terminal(c.name or unnamed_client(c.id))}: "
                f"{terminal(n.shown_reason)}"
            },
            "associatedRule": {"id": n.rule_id, "index": index[n.rule_id]},
        }
        if c.location is not None:
            note["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(c.location.path, cwd, root)},
                        "region": {"startLine": c.location.line},
                    }
                }
            ]
        notifications.append(note)
    for e in evaluation.expired_exceptions:
        expires = e.expires.isoformat() if e.expires else "?"
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"The exception for rule {e.rule_id} ({terminal(', '.join(e.clients))}) expired on {expires}; "
                    f"its findings count again ({e.source})"
                },
            }
        )
    for d in evaluation.disabled:
        until = f" until {d.expires.isoformat()}" if d.expires else ""
        owner = f", owner {d.owner}" if d.owner else ""
        notifications.append(
            {
                "level": "note",
                "message": {
                    "text": f"Rule {d.rule_id} is disabled by an override ({d.source}){until}"
                    f"{owner}: {terminal(d.reason)}"
                },
                "associatedRule": {"id": d.rule_id, "index": index[d.rule_id]},
            }
        )
    for d in evaluation.expired_overrides:
        expires = d.expires.isoformat() if d.expires else "?"
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"The override disabling rule {d.rule_id} ({d.source}) expired on "
                    f"{expires}; the rule is evaluated again"
                },
                "associatedRule": {"id": d.rule_id, "index": index[d.rule_id]},
            }
        )
    if len(wanted) > MAX_RESULTS:
        omitted = len(wanted) - MAX_RESULTS
        wanted = wanted[:MAX_RESULTS]  # findings come most severe first
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{omitted} less severe results were left out: GitHub accepts at most "
                    f"{MAX_RESULTS} results per run (the JSON report has them all)"
                },
            }
        )
    invocation: dict[str, Any] = {
        "executionSuccessful": True,
        "endTimeUtc": run.generated_at.isoformat().replace("+00:00", "Z"),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run_obj: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": run.tool_name,
                "version": run.tool_version,
                "semanticVersion": run.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(r) for r in rules],
            }
        },
        "automationDetails": {"id": automation_id(run)},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule_id], run, cwd, root) for f in wanted],
        "properties": {
            "source": run.source.kind,
            "region": terminal(run.source.region) if run.source.region is not None else None,
            "orgId": terminal(run.source.org_id) if run.source.org_id is not None else None,
            "policies": [{"path": p.path, "sha256": p.sha256} for p in run.policies],
            "asOf": {"date": run.as_of_day.isoformat(), "basis": run.as_of_basis},
            "counts": dict(counts.by_severity),
            "summary": counts_dict(counts),
        },
    }
    if evaluation.disabled_rules:
        run_obj["properties"]["disabledRules"] = [
            {
                "ruleId": d.rule_id,
                "reason": d.reason,
                "owner": d.owner,
                "ticket": d.ticket,
                "expires": d.expires.isoformat() if d.expires else None,
                "source": d.source,
                "expired": d.expired,
            }
            for d in evaluation.disabled_rules
        ]
    if run.frameworks:
        run_obj["properties"]["frameworks"] = list(run.frameworks)
    usage = usage_text(run.source)
    if usage is not None:
        run_obj["properties"]["usage"] = terminal(usage)
    view = run.least_privilege
    if view is not None:
        # Counts per client (the JSON report carries the lists): granted, exercised, unused; the
        # clients with the largest unused share first, bounded so the upload stays small.
        run_obj["properties"]["leastPrivilege"] = {
            "window": leastpriv.window_dict(view.window),
            "clients": [
                {
                    "clientId": r.client_id,
                    "clientName": terminal(r.client_name),
                    "kind": r.kind,
                    **leastpriv.counts_dict(r),
                    "unusedShare": round(r.unused_share, 4),
                }
                for r in view.clients[:MAX_LEAST_PRIVILEGE_CLIENTS]
            ],
            "omitted": max(0, len(view.clients) - MAX_LEAST_PRIVILEGE_CLIENTS),
        }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run_obj]}


def render(evaluation: Evaluation, run: RunInfo) -> str:
    return json_text(sarif_log(evaluation, run)) + "\n"


# The least-privilege counts SARIF carries (run properties, which code scanning ignores): the
# clients with the largest unused share; the JSON report has every client.
MAX_LEAST_PRIVILEGE_CLIENTS = 1000
