"""What every reporter gets besides the evaluation: the run's facts (clock and version come in here,
so golden files stay deterministic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from genesys_oauth_audit.findings import Evaluation, Finding, Location, Severity


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
    baseline: str | None = None  # the baseline file compared against, if any
    cwd: str | None = None  # for relative SARIF paths; None = the process's working directory
    frameworks: tuple[str, ...] = ()  # --framework: the run is limited to rules mapped to these
    # What the fetch found doubtful but not wrong enough to stop (Inventory.warnings); every
    # format shows them, so a gate that passes on a suspicious inventory says so.
    warnings: tuple[str, ...] = ()

    def reported(self, evaluation: Evaluation) -> tuple[Finding, ...]:
        """The findings at or above ``--min-severity``."""
        return tuple(f for f in evaluation.findings if f.severity.at_least(self.min_severity))

    def rule(self, rule_id: str) -> RuleInfo | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def verdict(self, evaluation: Evaluation) -> bool:
        """True when the run fails (exit 1)."""
        return evaluation.fails(self.fail_on)


def live_path(source: SourceInfo, client_id: str | None) -> str:
    """The scheme-less path that names a client of a live org (SARIF and JUnit use it)."""
    return f"genesys-cloud/{source.region or 'unknown-region'}/{source.org_id or 'unknown-org'}/oauth-clients/{client_id or 'proposed'}"


def shown_location(f: Finding, source: SourceInfo) -> Location | None:
    """Where a report for people points a finding: a proposal's file and line. A snapshot's own
    lines (one per client) are left to SARIF, where they annotate; in text and HTML they are noise."""
    if f.location is None or (source.kind == "snapshot" and f.location.path == source.path):
        return None
    return f.location
