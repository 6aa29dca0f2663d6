"""Immutable results of an evaluation: severities, findings, and what could not be evaluated."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple

# Re-exported: findings carry a severity, and most of the code names it from here.
from genesys_oauth_audit.severity import SEVERITIES as SEVERITIES
from genesys_oauth_audit.severity import Severity as Severity

if TYPE_CHECKING:
    from genesys_oauth_audit.evidence import Evidence
    from genesys_oauth_audit.inventory import Client


FINGERPRINT_VERSION = "goa-v1"
NO_SUBJECT = "\x00"  # what a finding without a subject hashes in its place


def fingerprint(rule_id: str, client_key: str, subject: str | None) -> str:
    """Stable identity of a finding: the same (rule, client id, subject) always gives the same value.

    The client *id* (not its name) is hashed, so renaming a client does not
    reopen its findings in a baseline. (The engine computes the same inline.)
    """
    material = "\x1f".join(
        (FINGERPRINT_VERSION, rule_id, client_key, subject if subject is not None else NO_SUBJECT)
    )
    # surrogatepass: a lone surrogate (a \ud800 escape in a snapshot's client id) is hashed as
    # it came, not a crash; every other string encodes as plain UTF-8.
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, kw_only=True)
class Waiver:
    """Why a finding does not count: the exception that waived it."""

    reason: str
    expires: date | None
    ticket: str | None = None
    owner: str | None = None


class Location(NamedTuple):
    """Where a finding points in a file (a proposal, or the snapshot line of the client).
    A NamedTuple: one is built per client of a snapshot."""

    path: str
    line: int
    column: int | None = None


NOTHING_UNKNOWN: Mapping[str, str] = MappingProxyType({})


class Subject(NamedTuple):
    """A client to evaluate, with where it came from (a proposal's file and line) and which of
    its fields are not known yet (field -> why), as in a plan's values known only after apply.
    ``inapplicable`` names the unknown fields the client cannot have at all yet (a client that
    does not exist yet was never created nor used): a rule that reads only those does not apply
    to it, which is not the same as data that should have been there and was not.
    A NamedTuple: one is built per client of the org."""

    client: Client
    location: Location | None = None
    unknown: Mapping[str, str] = NOTHING_UNKNOWN
    inapplicable: frozenset[str] = frozenset()


BaselineState = Literal["new", "unchanged"]


class Finding(NamedTuple):
    """One subject of one client breaking one rule. Immutable; a NamedTuple because a large org
    yields hundreds of thousands and frozen dataclasses are several times slower to build."""

    rule_id: str
    severity: Severity
    title: str
    client_id: str | None
    client_name: str
    subject: str | None
    message: str
    fingerprint: str
    waived: Waiver | None = None
    baseline_state: BaselineState | None = None
    location: Location | None = None
    client_index: int = -1  # index into Evaluation.clients
    evidence: Evidence | None = None  # why it holds: granting roles, values compared, dates

    @property
    def counts(self) -> bool:
        """Whether this finding counts towards the verdict."""
        return self.waived is None and self.baseline_state != "unchanged"


class ClientRef(NamedTuple):
    """A client the evaluation looked at: where it came from (for per-pair reports) and what it
    can do (grant type, roles, effective permissions, highest risk), for the client views.
    A NamedTuple, not a frozen dataclass: one is built per client, and orgs have 100,000."""

    id: str | None
    name: str
    location: Location | None = None
    grant_type: str = ""
    state: str | None = None
    roles: tuple[str, ...] = ()  # role names, or ids where a role does not resolve
    permission_count: int | None = None  # None: roles were not resolved
    scope_count: int = 0
    highest_risk: Severity | None = None
    risk_reason: str | None = None  # "<permission or scope>: <why>"


@dataclass(frozen=True, kw_only=True)
class NotEvaluated:
    """A rule that could not be evaluated, and why; never a silent pass. With ``client_index``,
    only for that client (a value it reads is known only after apply).

    ``not_applicable``: the rule cannot apply to that client at all (the usage of a client that
    does not exist yet), as opposed to data that should have been there and was not. JUnit
    reports the first as ``skipped`` and the second as an ``error``; the record says which, so
    no reporter has to guess from the reason's words."""

    rule_id: str
    reason: str
    client_index: int = -1
    not_applicable: bool = False

    @property
    def shown_reason(self) -> str:
        """The reason as the reports for people say it: ``not applicable: ...`` when it is."""
        return f"not applicable: {self.reason}" if self.not_applicable else self.reason


@dataclass(frozen=True, kw_only=True)
class ExceptionStatus:
    """An exception that a report must mention: expired, expiring soon, or unused."""

    rule_id: str
    clients: tuple[str, ...]
    reason: str
    expires: date | None
    ticket: str | None
    owner: str | None
    source: str


@dataclass(frozen=True, kw_only=True)
class DisabledRule:
    """A rule an override switches off (``expired``: the override lapsed, so the rule was
    evaluated again). Reports list both, like waivers and expired exceptions: never silent."""

    rule_id: str
    title: str
    severity: Severity
    reason: str
    owner: str | None
    ticket: str | None
    expires: date | None
    source: str  # the override's file:line
    expired: bool = False


@dataclass(frozen=True)
class Evaluation:
    """Everything one evaluation found; reporters render it, ``fails`` decides the exit code."""

    findings: tuple[Finding, ...]
    not_evaluated: tuple[NotEvaluated, ...]
    expired_exceptions: tuple[ExceptionStatus, ...]
    expiring_exceptions: tuple[ExceptionStatus, ...]
    unused_exceptions: tuple[ExceptionStatus, ...]
    rules_evaluated: int
    clients_evaluated: int
    pairs_evaluated: int
    clients: tuple[ClientRef, ...] = ()
    # rule id -> indices (into ``clients``) of the clients the rule selected; for a rule that
    # was not evaluated, the clients it would have looked at. Compact: JUnit needs every pair.
    selected: Mapping[str, array] = field(default_factory=dict)  # type: ignore[type-arg]
    # (rule, client) pairs that could not be evaluated, with why: JUnit reports them as errors.
    pairs_not_evaluated: tuple[NotEvaluated, ...] = ()
    # Set by ``apply_baseline``: whether a baseline was compared, and its entries no longer found.
    baselined: bool = False
    absent: tuple[BaselineEntry, ...] = ()
    # Rules switched off by an override, and overrides that lapsed (their rules were evaluated).
    disabled_rules: tuple[DisabledRule, ...] = ()

    @property
    def disabled(self) -> tuple[DisabledRule, ...]:
        """The rules an override switched off for this run."""
        return tuple(d for d in self.disabled_rules if not d.expired)

    @property
    def expired_overrides(self) -> tuple[DisabledRule, ...]:
        """Overrides that lapsed: their rules were evaluated again."""
        return tuple(d for d in self.disabled_rules if d.expired)

    def counting(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.counts)

    def counts_by_severity(self) -> dict[str, int]:
        counter = Counter(f.severity for f in self.counting())
        return {sev.value: counter.get(sev, 0) for sev in SEVERITIES}

    def fails(self, threshold: Severity | None) -> bool:
        """True when a counting finding reaches ``threshold`` (``None`` = never fail)."""
        if threshold is None:
            return False
        # Stops at the first: a failing org of 100,000 clients need not list its findings again.
        return any(f.counts and f.severity.at_least(threshold) for f in self.findings)

    def tally(self, min_severity: Severity, fail_on: Severity | None) -> Counts:
        """The one set of numbers every report prints, in one pass."""
        shown = waived = unchanged = failing = 0
        by_severity = dict.fromkeys((s.value for s in SEVERITIES), 0)
        for f in self.findings:
            counts = f.waived is None and f.baseline_state != "unchanged"
            if counts and fail_on is not None and f.severity.at_least(fail_on):
                failing += 1
            if not f.severity.at_least(min_severity):
                continue
            shown += 1
            if f.waived is not None:
                waived += 1
            elif f.baseline_state == "unchanged":
                unchanged += 1
            else:
                by_severity[f.severity.value] += 1
        opened = shown - waived - unchanged
        return Counts(
            total=len(self.findings),
            shown=shown,
            hidden=len(self.findings) - shown,
            waived=waived,
            unchanged=unchanged,
            open=opened,
            new=opened if self.baselined else None,
            absent=len(self.absent) if self.baselined else None,
            failing=failing,
            by_severity=MappingProxyType(by_severity),
            min_severity=min_severity,
        )


@dataclass(frozen=True, kw_only=True)
class Counts:
    """The numbers of a run, computed once (``Evaluation.tally``) and printed by every format.

    They add up: ``total = shown + hidden`` and ``shown = open + waived + unchanged``. Waived
    wins over the baseline: a waived finding is counted as waived whether or not the baseline
    knows it. The verdict is ``failing > 0``, and ``failing`` counts hidden findings too:
    ``--min-severity`` chooses what is reported, ``--fail-on`` what fails (docs/report-formats.md).
    """

    total: int  # every finding of the evaluation
    shown: int  # at or above --min-severity
    hidden: int  # below it
    waived: int  # shown, waived by an exception
    unchanged: int  # shown, not waived, already in the baseline
    open: int  # shown, neither waived nor unchanged: what to act on
    new: int | None  # with a baseline: the open findings, which the baseline does not know
    absent: int | None  # with a baseline: its entries this run no longer finds
    failing: int  # findings that count (shown or hidden) at or above --fail-on
    by_severity: Mapping[str, int]  # the open findings, by severity
    min_severity: Severity


@dataclass(frozen=True, kw_only=True)
class BaselineEntry:
    """One finding stored in a baseline file, as it was then."""

    fingerprint: str
    rule_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    subject: str | None = None
    severity: str | None = None


def apply_baseline(
    evaluation: Evaluation, known: Iterable[BaselineEntry] | frozenset[str]
) -> Evaluation:
    """Mark findings whose fingerprint the baseline knows as unchanged (they no longer count),
    others new, and keep the baseline's entries this run no longer finds (fixed or deleted
    clients) as ``absent``."""
    entries = tuple(BaselineEntry(fingerprint=k) if isinstance(k, str) else k for k in known)
    fingerprints = frozenset(e.fingerprint for e in entries)
    found = frozenset(f.fingerprint for f in evaluation.findings)
    return replace(
        evaluation,
        findings=tuple(
            f._replace(baseline_state="unchanged" if f.fingerprint in fingerprints else "new")
            for f in evaluation.findings
        ),
        baselined=True,
        absent=tuple(
            sorted(
                (e for e in entries if e.fingerprint not in found),
                key=lambda e: (e.rule_id or "", (e.client_name or "").casefold(), e.subject or ""),
            )
        ),
    )
