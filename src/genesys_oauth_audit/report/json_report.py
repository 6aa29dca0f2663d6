"""The JSON report (SPEC §7), described by schemas/report.schema.json."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from genesys_oauth_audit.files.output import compact_json_text, json_text
from genesys_oauth_audit.findings import (
    ClientRef,
    DisabledRule,
    Evaluation,
    ExceptionStatus,
    Finding,
    NotEvaluated,
)
from genesys_oauth_audit.inventory import UsageWindow
from genesys_oauth_audit.report.base import RunInfo, counts_dict
from genesys_oauth_audit.report.frameworks import Status, framework_views
from genesys_oauth_audit.report.leastpriv import report_dict as least_privilege_dict

REPORT_VERSION = 1


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "severity": f.severity.value,
        "title": f.title,
        "clientId": f.client_id,
        "clientName": f.client_name,
        "subject": f.subject,
        "message": f.message,
        "fingerprint": f.fingerprint,
        "waived": (
            {
                "reason": f.waived.reason,
                "expires": _iso(f.waived.expires),
                "ticket": f.waived.ticket,
                "owner": f.waived.owner,
            }
            if f.waived
            else None
        ),
        "baselineState": f.baseline_state,
        "location": {"path": f.location.path, "line": f.location.line} if f.location else None,
        "evidence": f.evidence.as_dict() if f.evidence is not None else None,
    }


def not_evaluated_dict(n: NotEvaluated, evaluation: Evaluation) -> dict[str, Any]:
    """A rule not evaluated at all (no client), or not for one client (with where it is)."""
    client = evaluation.clients[n.client_index] if n.client_index >= 0 else None
    return {
        "ruleId": n.rule_id,
        "reason": n.reason,
        # The rule cannot apply to the client (a client that does not exist yet has no usage),
        # as opposed to data that should have been there and was not.
        "notApplicable": n.not_applicable,
        "clientId": client.id if client else None,
        "clientName": client.name if client else None,
        "location": (
            {"path": client.location.path, "line": client.location.line}
            if client and client.location
            else None
        ),
    }


def _finding_counts(evaluation: Evaluation) -> list[int]:
    counts = [0] * len(evaluation.clients)
    for f in evaluation.counting():
        if 0 <= f.client_index < len(counts):
            counts[f.client_index] += 1
    return counts


def client_dict(c: ClientRef, findings: int) -> dict[str, Any]:
    """What a client can do, for the client view: grant type, roles, permissions, highest risk."""
    return {
        "id": c.id,
        "name": c.name,
        "grantType": c.grant_type,
        "state": c.state,
        "roles": list(c.roles),
        "permissionCount": c.permission_count,
        "scopeCount": c.scope_count,
        "highestRisk": c.highest_risk.value if c.highest_risk else None,
        "riskReason": c.risk_reason,
        "findings": findings,
    }


def _exception(e: ExceptionStatus) -> dict[str, Any]:
    return {
        "ruleId": e.rule_id,
        "clients": list(e.clients),
        "reason": e.reason,
        "expires": _iso(e.expires),
        "ticket": e.ticket,
        "owner": e.owner,
        "source": e.source,
    }


def _disabled(d: DisabledRule) -> dict[str, Any]:
    return {
        "ruleId": d.rule_id,
        "title": d.title,
        "severity": d.severity.value,
        "reason": d.reason,
        "owner": d.owner,
        "ticket": d.ticket,
        "expires": _iso(d.expires),
        "source": d.source,
    }


def _counts(counts: dict[Status, int]) -> dict[str, int]:
    return {
        "fail": counts["fail"],
        "pass": counts["pass"],
        "notEvaluated": counts["not-evaluated"],
        "disabled": counts["disabled"],
    }


def frameworks_list(evaluation: Evaluation, run: RunInfo) -> list[dict[str, Any]]:
    """The per-framework view: controls -> rules -> pass / fail / not evaluated / disabled."""
    return [
        {
            "id": view.id,
            "name": view.name,
            "rules": view.rule_count,
            "counts": _counts(view.counts()),
            "controls": [
                {
                    "id": control.id,
                    "title": control.title,
                    "status": control.status,
                    "counts": _counts(control.counts()),
                    "rules": [
                        {
                            "ruleId": r.rule_id,
                            "title": r.title,
                            "status": r.status,
                            "findings": r.findings,
                            "waived": r.waived,
                        }
                        for r in control.rules
                    ],
                }
                for control in view.controls
            ],
        }
        for view in framework_views(evaluation, run)
    ]


# What this writes is read back by report/load.py for ``merge``: a key added here (or a field added
# to the records it comes from) must be read back there; tests/test_merge.py compares every format
# rendered from the records read back with the original, and fails until it is.


def _window(window: UsageWindow | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "days": window.days,
        "start": _iso(window.start),
        "end": _iso(window.end),
        "source": window.source,
    }


def report_dict(evaluation: Evaluation, run: RunInfo) -> dict[str, Any]:
    reported = run.reported(evaluation)
    counts = run.counts(evaluation)
    src = run.source
    return {
        "reportVersion": REPORT_VERSION,
        "tool": {"name": run.tool_name, "version": run.tool_version},
        "generatedAt": _iso(run.generated_at),
        "asOf": {"date": _iso(run.as_of_day), "basis": run.as_of_basis},
        "source": {
            "kind": src.kind,
            "org": {"id": src.org_id, "name": src.org_name},
            "region": src.region,
            "fetchedAt": _iso(src.fetched_at),
            "path": src.path,
            "proposals": list(src.proposals),
            **({"notes": list(src.notes)} if src.notes else {}),
            "usage": {
                "lastUse": _window(src.usage),
                "operations": _window(src.operation_usage),
                "notes": list(src.usage_notes),
            },
        },
        "policies": [{"path": p.path, "sha256": p.sha256, "name": p.name} for p in run.policies],
        "summary": {
            "clients": evaluation.clients_evaluated,
            "rulesEvaluated": evaluation.rules_evaluated,
            "counts": dict(counts.by_severity),
            "findings": counts.shown,
            **{k: v for k, v in counts_dict(counts).items() if k != "bySeverity"},
            "minSeverity": run.min_severity.value,
            "failOn": run.fail_on.value if run.fail_on else "never",
            "failed": counts.failing > 0,
        },
        "findings": [finding_dict(f) for f in reported],
        "clients": [
            client_dict(c, counts)
            for c, counts in zip(evaluation.clients, _finding_counts(evaluation), strict=True)
        ],
        "notEvaluated": [
            not_evaluated_dict(n, evaluation)
            for n in (*evaluation.not_evaluated, *evaluation.pairs_not_evaluated)
        ],
        "expiredExceptions": [_exception(e) for e in evaluation.expired_exceptions],
        "expiringExceptions": [_exception(e) for e in evaluation.expiring_exceptions],
        "unusedExceptions": [_exception(e) for e in evaluation.unused_exceptions],
        "disabledRules": [_disabled(d) for d in evaluation.disabled],
        "expiredOverrides": [_disabled(d) for d in evaluation.expired_overrides],
        "frameworks": frameworks_list(evaluation, run),
        "leastPrivilege": least_privilege_dict(run.least_privilege),
        "warnings": list(run.warnings),
        "absentBaselineEntries": [
            {
                "fingerprint": e.fingerprint,
                "ruleId": e.rule_id,
                "clientId": e.client_id,
                "clientName": e.client_name,
                "subject": e.subject,
                "severity": e.severity,
            }
            for e in evaluation.absent
        ],
    }


# Above this many findings and clients the report is written compact, on one line without
# spaces: a third smaller than indented, so quicker to write and to read back. Small reports stay
# indented for people (and golden files).
INDENT_LIMIT = 5000


def render(evaluation: Evaluation, run: RunInfo) -> str:
    data = report_dict(evaluation, run)
    if len(data["findings"]) + len(data["clients"]) > INDENT_LIMIT:
        return compact_json_text(data) + "\n"
    return json_text(data) + "\n"
