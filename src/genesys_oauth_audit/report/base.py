"""What every reporter gets besides the evaluation: the run's facts (clock and version come in here,
so golden files stay deterministic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from genesys_oauth_audit.findings import Counts, Evaluation, Finding, Location, Severity
from genesys_oauth_audit.inventory import UsageWindow
from genesys_oauth_audit.report.leastpriv import LeastPrivilegeView


@dataclass(frozen=True, kw_only=True)
class PolicyRef:
    path: str
    sha256: str
    name: str | None


@dataclass(frozen=True, kw_only=True)
class RuleInfo:
    id: str
    title: str
    severity: Severity
    check_type: str
    description: str | None
    remediation: str | None
    help_uri: str | None
    tags: tuple[str, ...]
    source: str
    # Framework id -> control ids the rule supports (policy ``controls``).
    controls: tuple[tuple[str, tuple[str, ...]], ...] = ()


SourceKind = Literal["live", "snapshot", "proposal"]
GroupBy = Literal["rule", "client"]
# Why the run judged time as of its day: the --as-of flag, the snapshot's fetchedAt, or the clock.
AsOfBasis = Literal["as-of", "snapshot", "now"]
AS_OF_BASIS_TEXT: dict[str, str] = {
    "as-of": "set by --as-of",
    "snapshot": "the snapshot's fetchedAt",
    "now": "the time of the run",
}


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    """Where the inventory came from: a live org, a snapshot file, and/or proposal files."""

    kind: SourceKind
    org_id: str | None = None
    org_name: str | None = None
    region: str | None = None
    fetched_at: datetime | None = None
    path: str | None = None
    proposals: tuple[str, ...] = ()
    # What a reader should know about the source ("the plan changes no resources"): every
    # format states each note.
    notes: tuple[str, ...] = ()
    # The usage the inventory holds: the window of last use, the window of the operations
    # clients called, each with the usage service that answered, and why (a fallback).
    usage: UsageWindow | None = None
    operation_usage: UsageWindow | None = None
    usage_notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    tool_version: str
    generated_at: datetime
    policies: tuple[PolicyRef, ...]
    rules: tuple[RuleInfo, ...]
    source: SourceInfo
    fail_on: Severity | None
    min_severity: Severity
    color: bool = False
    tool_name: str = "genesys-oauth-audit"
    group_by: GroupBy = "rule"  # how the text report groups findings
    sarif_include_waived: bool = False
    sarif_category: str | None = None  # --sarif-category: the code scanning category, if given
    baseline: str | None = None  # the baseline file compared against, if any
    cwd: str | None = None  # for relative SARIF paths; None = the process's working directory
    frameworks: tuple[str, ...] = ()  # --framework: the run is limited to rules mapped to these
    # What the fetch found doubtful but not wrong enough to stop (Inventory.warnings); every
    # format shows them, so a gate that passes on a suspicious inventory says so.
    warnings: tuple[str, ...] = ()
    as_of: date | None = None  # the day time-based checks judged as of (None: generated_at's)
    as_of_basis: AsOfBasis = "now"
    width: int = 80  # columns the text report wraps at (at least 80)
    riskiest: int = 10  # riskiest clients the text report lists (0: none)
    # The report files this run writes, (format, path): a shortened report says where all is.
    outputs: tuple[tuple[str, str], ...] = ()
    # Least privilege over the operations clients called (None: no operation data): the view
    # built once per run from the analysis (report/leastpriv.py), plain data that the JSON
    # report carries whole; every format shows granted / exercised / unused per client.
    least_privilege: LeastPrivilegeView | None = None

    @property
    def as_of_day(self) -> date:
        return self.as_of if self.as_of is not None else self.generated_at.date()

    @property
    def as_of_text(self) -> str:
        """``2026-11-20 (the snapshot's fetchedAt)``: every report states it."""
        return f"{self.as_of_day.isoformat()} ({AS_OF_BASIS_TEXT[self.as_of_basis]})"

    def counts(self, evaluation: Evaluation) -> Counts:
        """The run's numbers: every reporter prints this record, never counts of its own."""
        return evaluation.tally(self.min_severity, self.fail_on)

    def reported(self, evaluation: Evaluation) -> tuple[Finding, ...]:
        """The findings at or above ``--min-severity``."""
        return tuple(f for f in evaluation.findings if f.severity.at_least(self.min_severity))

    def rule(self, rule_id: str) -> RuleInfo | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def verdict(self, evaluation: Evaluation) -> bool:
        """True when the run fails (exit 1)."""
        return evaluation.fails(self.fail_on)


def counts_dict(counts: Counts) -> dict[str, Any]:
    """The counts as JSON and SARIF carry them (camelCase, null where there is no baseline)."""
    return {
        "total": counts.total,
        "shown": counts.shown,
        "hidden": counts.hidden,
        "waived": counts.waived,
        "unchanged": counts.unchanged,
        "open": counts.open,
        "new": counts.new,
        "absent": counts.absent,
        "failing": counts.failing,
        "bySeverity": dict(counts.by_severity),
    }


def counts_text(counts: Counts) -> str:
    """The counts as one sentence for people (text, Markdown, HTML say exactly this)."""
    parts = [f"{counts.total} total", f"{counts.shown} shown"]
    if counts.hidden:
        parts.append(f"{counts.hidden} hidden below --min-severity {counts.min_severity.value}")
    severities = ", ".join(f"{n} {sev}" for sev, n in counts.by_severity.items() if n)
    opened = f"{counts.open} open" + (f" ({severities})" if severities else "")
    shown = [opened, f"{counts.waived} waived"]
    if counts.new is not None:
        shown = [f"{counts.new} new" + (f" ({severities})" if severities else "")]
        shown += [f"{counts.unchanged} unchanged", f"{counts.waived} waived"]
    text = f"Findings: {', '.join(parts)}; of those shown, {', '.join(shown)}"
    if counts.absent is not None:
        text += f"; {counts.absent} baseline entries absent"
    return text


def verdict_reason(counts: Counts, run: RunInfo) -> str:
    """``--fail-on high: 3 findings at or above high`` - why the run passed or failed."""
    if run.fail_on is None:
        return "--fail-on never"
    n, sev = counts.failing, run.fail_on.value
    return f"--fail-on {sev}: {n} finding{'' if n == 1 else 's'} at or above {sev}"


def _window_text(window: UsageWindow) -> str:
    return (
        f"{window.days} days, {window.start.isoformat()} to {window.end.isoformat()}, from "
        f"{window.source_text}"
    )


def usage_text(source: SourceInfo) -> str | None:
    """Which usage the inventory holds and which service answered, in one sentence (every format
    names the usage source); None when it holds no usage at all."""
    parts = []
    if source.usage is not None:
        parts.append(f"last use over {_window_text(source.usage)}")
    if source.operation_usage is not None:
        window = source.operation_usage
        same = source.usage is not None and (
            (window.days, window.start, window.end, window.source)
            == (source.usage.days, source.usage.start, source.usage.end, source.usage.source)
        )
        parts.append(
            "operations over the same window" if same else f"operations over {_window_text(window)}"
        )
    elif source.usage is not None:
        parts.append("no operation data")
    if not parts and not source.usage_notes:
        return None
    text = "Usage: " + ("; ".join(parts) if parts else "none read")
    if source.usage_notes:
        text += " (" + "; ".join(source.usage_notes) + ")"
    return text


def live_path(source: SourceInfo, client_id: str | None) -> str:
    """The scheme-less path that names a client of a live org (SARIF and JUnit use it)."""
    return f"genesys-cloud/{source.region or 'unknown-region'}/{source.org_id or 'unknown-org'}/oauth-clients/{client_id or 'proposed'}"


def shown_location(f: Finding, source: SourceInfo) -> Location | None:
    """Where a report for people points a finding: a proposal's file and line. A snapshot's own
    lines (one per client) are left to SARIF, where they annotate; in text and HTML they are noise."""
    if f.location is None or (source.kind == "snapshot" and f.location.path == source.path):
        return None
    return f.location
