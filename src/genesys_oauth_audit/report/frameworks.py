"""The per-framework view every report shares: for each control of each compliance framework the
rules map to, the rules that support it and whether each passed, failed, was not evaluated or was
switched off by an override, with counts.

A rule *fails* when it has a finding that is not waived (a finding known in the baseline still
fails the control: the baseline decides what gates a pipeline, not what complies); it *passes*
when it was evaluated with none. A control fails when one of its rules fails, passes when one
passes and none fails, and is otherwise not evaluated (or disabled, when every rule is).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from genesys_oauth_audit.findings import Evaluation
from genesys_oauth_audit.policy.frameworks import control_sort_key, control_title, framework_name
from genesys_oauth_audit.report.base import RunInfo

Status = Literal["fail", "pass", "not-evaluated", "disabled"]
STATUSES: tuple[Status, ...] = ("fail", "pass", "not-evaluated", "disabled")


@dataclass(frozen=True)
class RuleStatus:
    rule_id: str
    title: str
    status: Status
    findings: int  # findings that are not waived
    waived: int


@dataclass(frozen=True)
class ControlView:
    id: str
    title: str | None
    status: Status
    rules: tuple[RuleStatus, ...]

    def counts(self) -> dict[Status, int]:
        """The control's rules by status."""
        counter = Counter(r.status for r in self.rules)
        return {s: counter.get(s, 0) for s in STATUSES}


@dataclass(frozen=True)
class FrameworkView:
    id: str
    name: str
    controls: tuple[ControlView, ...]

    def counts(self) -> dict[Status, int]:
        """The framework's controls by status."""
        counter = Counter(c.status for c in self.controls)
        return {s: counter.get(s, 0) for s in STATUSES}

    @property
    def rule_count(self) -> int:
        return len({r.rule_id for c in self.controls for r in c.rules})


def _control_status(rules: tuple[RuleStatus, ...]) -> Status:
    statuses = {r.status for r in rules}
    return next((s for s in STATUSES if s in statuses), "disabled")


def rule_statuses(evaluation: Evaluation, run: RunInfo) -> dict[str, RuleStatus]:
    """How each rule of the run fared, by rule id."""
    not_evaluated = {n.rule_id for n in evaluation.not_evaluated}
    disabled = {d.rule_id for d in evaluation.disabled}
    failing: Counter[str] = Counter()
    waived: Counter[str] = Counter()
    for f in evaluation.findings:
        (waived if f.waived is not None else failing)[f.rule_id] += 1
    out: dict[str, RuleStatus] = {}
    for rule in run.rules:
        status: Status
        if rule.id in disabled:
            status = "disabled"
        elif rule.id in not_evaluated:
            status = "not-evaluated"
        elif failing[rule.id]:
            status = "fail"
        else:
            status = "pass"
        out[rule.id] = RuleStatus(rule.id, rule.title, status, failing[rule.id], waived[rule.id])
    return out


def framework_views(evaluation: Evaluation, run: RunInfo) -> tuple[FrameworkView, ...]:
    """Every framework the run's rules map to (only those ``--framework`` chose, if any), each
    control in the framework's own order, each control's rules in the policy's order."""
    statuses = rule_statuses(evaluation, run)
    by_framework: dict[str, dict[str, list[RuleStatus]]] = {}
    for rule in run.rules:
        for framework, control_ids in rule.controls:
            if run.frameworks and framework not in run.frameworks:
                continue
            for control in control_ids:
                by_framework.setdefault(framework, {}).setdefault(control, []).append(
                    statuses[rule.id]
                )
    views = []
    for framework in sorted(by_framework):
        controls: tuple[ControlView, ...] = tuple(
            ControlView(
                id=control,
                title=control_title(framework, control),
                status=_control_status(tuple(rules)),
                rules=tuple(rules),
            )
            for control, rules in sorted(
                by_framework[framework].items(), key=lambda item: control_sort_key(item[0])
            )
        )
        views.append(FrameworkView(framework, framework_name(framework), controls))
    return tuple(views)


def controls_words(view: FrameworkView) -> str:
    """``14 controls: 3 fail, 11 pass`` for a framework."""
    n = len(view.controls)
    return f"{n} control{'' if n == 1 else 's'}: {status_words(view.counts())}"


def status_words(counts: dict[Status, int]) -> str:
    """``3 fail, 9 pass, 1 not evaluated`` (statuses with none left out)."""
    return ", ".join(f"{n} {s.replace('-', ' ')}" for s, n in counts.items() if n) or "none"
