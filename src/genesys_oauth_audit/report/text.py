"""The text report for people: grouped by rule (or client), wrapped at the terminal's width (80
columns at least, and in files) with hanging indents, colour only when asked."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

from genesys_oauth_audit.evidence import for_people
from genesys_oauth_audit.findings import (
    BaselineEntry,
    ClientRef,
    DisabledRule,
    Evaluation,
    ExceptionStatus,
    Finding,
    Severity,
)
from genesys_oauth_audit.report.base import (
    RunInfo,
    SourceInfo,
    counts_text,
    shown_location,
    usage_text,
    verdict_reason,
)
from genesys_oauth_audit.report.escape import terminal
from genesys_oauth_audit.report.frameworks import controls_words, framework_views
from genesys_oauth_audit.report.leastpriv import text_lines as least_privilege_lines

WIDTH = 80  # the narrowest the report is wrapped at, and always in a file

_COLORS = {
    Severity.CRITICAL: "\x1b[1;35m",
    Severity.HIGH: "\x1b[1;31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
    Severity.INFO: "\x1b[2m",
}
_RESET = "\x1b[0m"


def _sev(severity: Severity, color: bool) -> str:
    label = severity.value.upper()
    return f"{_COLORS[severity]}{label}{_RESET}" if color else label


_UNUSUAL_SPACE = re.compile(r"[\t\n\r\x0b\x0c]|^\s|\s$")
HANG = "    "  # a continuation line is indented this much deeper than its first line, so deeper
# than the lines nested under that one (a client's message at +2, its evidence at +4)


def _wrap(text: str, indent: str, width: int = WIDTH) -> list[str]:
    """``text`` at ``indent``, wrapped at ``width`` with a hanging indent.

    Fast path: nearly every line fits (0.5% of lines need wrapping on a large org, and
    textwrap took 87% of the rendering time, issue 17): a line that fits and has no whitespace
    textwrap would rewrite is returned as it is, exactly as textwrap would return it."""
    if len(indent) + len(text) <= width and not _UNUSUAL_SPACE.search(text):
        return [indent + text] if text else [indent]
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + HANG,
        break_on_hyphens=False,
    ) or [indent]


def _client(f: Finding) -> str:
    name = terminal(f.client_name) or "(unnamed)"
    return f"{name} ({terminal(f.client_id)})" if f.client_id else f"{name} (proposed)"


def _exception_lines(title: str, items: Iterable[ExceptionStatus], width: int) -> list[str]:
    items = list(items)
    if not items:
        return []
    lines = ["", *_wrap(f"{title} ({len(items)}):", "", width)]
    for e in items:
        expires = f", expires {e.expires.isoformat()}" if e.expires else ""
        clients = ", ".join(terminal(c) for c in e.clients)
        lines += _wrap(
            f"{terminal(e.rule_id)} for {clients}{expires} ({terminal(e.source)}): "
            f"{terminal(e.reason)}",
            "  ",
            width,
        )
    return lines


def disabled_text(d: DisabledRule) -> str:
    """``GOA-BL-001 No implicit grant: until 2027-03-31, owner platform-team, ticket SEC-88
    (policies/acme.yaml:5): reason`` -- one disabled rule, as text and Markdown say it."""
    lapse = "expired" if d.expired else "until"
    details = [
        part
        for part in (
            f"{lapse} {d.expires.isoformat()}" if d.expires else None,
            f"owner {d.owner}" if d.owner else None,
            f"ticket {d.ticket}" if d.ticket else None,
        )
        if part
    ]
    extra = f"{', '.join(details)} " if details else ""
    return f"{d.rule_id} {d.title}: {extra}({d.source}): {d.reason}"


def _disabled_lines(evaluation: Evaluation, width: int) -> list[str]:
    lines: list[str] = []
    if evaluation.disabled:
        lines += ["", *_wrap(f"Disabled by overrides ({len(evaluation.disabled)}):", "", width)]
        for d in evaluation.disabled:
            lines += _wrap(f"- {terminal(disabled_text(d))}", "  ", width)
    if evaluation.expired_overrides:
        count = len(evaluation.expired_overrides)
        title = f"Expired overrides (their rules are evaluated again) ({count}):"
        lines += ["", *_wrap(title, "", width)]
        for d in evaluation.expired_overrides:
            lines += _wrap(f"- {terminal(disabled_text(d))}", "  ", width)
    return lines


def _framework_lines(evaluation: Evaluation, run: RunInfo, width: int) -> list[str]:
    """One line per framework (its controls by status), then the failing controls' ids."""
    views = framework_views(evaluation, run)
    if not views:
        return []
    title = "Frameworks (the JSON, HTML and Markdown reports show each control's rules):"
    lines = ["", *_wrap(title, "", width)]
    for view in views:
        lines += _wrap(f"- {terminal(view.name)}: {controls_words(view)}", "  ", width)
        failing = [terminal(c.id) for c in view.controls if c.status == "fail"]
        if failing:
            lines += _wrap("failing: " + ", ".join(failing), "    ", width)
    return lines


def _where(f: Finding, source: SourceInfo) -> str:
    at = shown_location(f, source)
    return f"  [{terminal(at.path)}:{at.line}]" if at is not None else ""


def _new(f: Finding) -> str:
    return "  (new)" if f.baseline_state == "new" else ""


def _evidence(f: Finding, width: int) -> list[str]:
    """The evidence line under a finding's message (deeper, so the eye skips it when scanning)."""
    line = for_people(f.evidence)
    return _wrap(terminal(line), "      ", width) if line is not None else []


def _header(severity: Severity, rest: str, color: bool, indent: str, width: int) -> list[str]:
    """``HIGH  GOA-X  title``: wrapped as plain text (never past the width), then coloured."""
    label = severity.value.upper()
    lines = _wrap(f"{label}  {rest}", indent, width)
    if color:
        lines[0] = indent + _sev(severity, color) + lines[0][len(indent) + len(label) :]
    return lines


def absent_text(e: BaselineEntry) -> str:
    """A baseline entry this run no longer finds, for people (text, Markdown and HTML say this)."""
    who = e.client_name or e.client_id or "(unknown client)"
    ident = f" ({e.client_id})" if e.client_id and e.client_name else ""
    subject = f" {e.subject}" if e.subject else ""
    return f"{e.rule_id or '(unknown rule)'} {who}{ident}{subject}"


def _by_rule(findings: list[Finding], color: bool, source: SourceInfo, width: int) -> list[str]:
    lines: list[str] = []
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.rule_id, []).append(f)
    for rule_id, items in groups.items():
        first = items[0]
        rest = f"{rule_id}  {terminal(first.title)}  [{len(items)}]"
        lines += ["", *_header(first.severity, rest, color, "", width)]
        for f in items:
            # Every check's message names its subject, so the subject is not repeated here.
            lines += _wrap(f"- {_client(f)}{_where(f, source)}{_new(f)}", "  ", width)
            lines += _wrap(terminal(f.message), "    ", width)
            lines += _evidence(f, width)
    return lines


def _by_client(findings: list[Finding], color: bool, source: SourceInfo, width: int) -> list[str]:
    """Clients by their worst finding (most severe first, then by name), each client's findings
    most severe first: the client to look at first is on top."""
    lines: list[str] = []
    groups: dict[tuple[str | None, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.client_id, f.client_name), []).append(f)
    ordered = sorted(
        groups.items(),
        key=lambda item: (
            -max(f.severity.rank for f in item[1]),
            item[0][1].casefold(),
            item[0][0] or "",
        ),
    )
    for _, items in ordered:
        items.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.subject or ""))
        first = items[0]
        lines += ["", *_wrap(f"{_client(first)}{_where(first, source)}  [{len(items)}]", "", width)]
        for f in items:
            rest = f"{f.rule_id}  {terminal(f.title)}{_new(f)}"
            lines += _header(f.severity, rest, color, "  ", width)
            lines += _wrap(terminal(f.message), "    ", width)
            lines += _evidence(f, width)
    return lines


RISKIEST_SHOWN = 10  # the default of --riskiest


def riskiest(evaluation: Evaluation, at_least: Severity = Severity.HIGH) -> list[ClientRef]:
    """Clients rated high or critical (at least ``at_least``, never below high) by the risk
    catalog, most risky first."""
    floor = at_least if at_least.at_least(Severity.HIGH) else Severity.HIGH
    rated = [
        c
        for c in evaluation.clients
        if c.highest_risk is not None and c.highest_risk.at_least(floor)
    ]
    return sorted(
        rated, key=lambda c: (-c.highest_risk.rank if c.highest_risk else 0, c.name.casefold())
    )


def describe_client(c: ClientRef) -> str:
    """Grant type, roles and effective permission count, in one phrase."""
    parts = [c.grant_type or "(no grant type)"]
    if c.roles:
        parts.append("roles: " + ", ".join(c.roles))
    if c.permission_count is not None and (c.roles or c.grant_type == "CLIENT-CREDENTIALS"):
        parts.append(_plural(c.permission_count, "permission"))
    if c.scope_count or c.grant_type != "CLIENT-CREDENTIALS":
        parts.append(_plural(c.scope_count, "scope"))
    return "; ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _riskiest(evaluation: Evaluation, run: RunInfo, width: int) -> list[str]:
    """The riskiest clients, at most ``run.riskiest`` (--riskiest; 0 leaves the block out), and
    only as severe as ``--min-severity`` asks (the block lists high and critical at most)."""
    if run.riskiest <= 0:
        return []
    clients = riskiest(evaluation, run.min_severity)
    if not clients:
        return []
    rated = "critical" if run.min_severity is Severity.CRITICAL else "high or critical"
    title = f"Riskiest clients ({len(clients)} rated {rated} by the risk catalog):"
    lines = ["", *_wrap(title, "", width)]
    for c in clients[: run.riskiest]:
        assert c.highest_risk is not None
        who = f"{terminal(c.name)} ({terminal(c.id)})" if c.id else f"{terminal(c.name)} (proposed)"
        lines += _header(c.highest_risk, who, run.color, "  ", width)
        why = f"{terminal(describe_client(c))}; {terminal(c.risk_reason or '')}"
        lines += _wrap(why, "    ", width)
    if len(clients) > run.riskiest:
        more = len(clients) - run.riskiest
        lines += _wrap(
            f"… and {more} more (--riskiest N shows more; the JSON report lists every client)",
            "  ",
            width,
        )
    return lines


def _least_privilege(run: RunInfo, width: int) -> list[str]:
    """Granted versus exercised per client: the clients with the largest unused share."""
    block = least_privilege_lines(run.least_privilege)
    if not block:
        return []
    lines = ["", *_wrap(terminal(block[0]), "", width)]
    for line in block[1:]:
        lines += textwrap.wrap(
            terminal(line.strip()),
            width=width,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
    return lines


def render(evaluation: Evaluation, run: RunInfo) -> str:
    reported = run.reported(evaluation)
    counts = run.counts(evaluation)
    failed = counts.failing > 0
    counting = [f for f in reported if f.counts]
    waived = [f for f in reported if f.waived is not None]
    src = run.source
    width = max(run.width, WIDTH)

    verdict = "FAIL" if failed else "PASS"
    lines = _wrap(f"{run.tool_name} {run.tool_version}: {verdict}", "", width)
    lines += _wrap(counts_text(counts), "", width)
    lines += _wrap(
        f"Evaluated: {evaluation.clients_evaluated} clients and {evaluation.rules_evaluated} "
        f"rules, as of {run.as_of_text}",
        "",
        width,
    )
    # The org's name and region come from the API or a snapshot file: neutralised like any
    # other text from outside; paths too, since a file name can hold anything.
    org = terminal(src.org_name or src.org_id or "unknown org")
    region = terminal(str(src.region))
    if src.kind == "live":
        fetched = src.fetched_at.strftime("%Y-%m-%d %H:%M UTC") if src.fetched_at else "now"
        lines += _wrap(f"Source: org {org}, region {region}, fetched {fetched}", "", width)
    elif src.kind == "snapshot":
        fetched = src.fetched_at.strftime("%Y-%m-%d %H:%M UTC") if src.fetched_at else "unknown"
        lines += _wrap(
            f"Source: snapshot {terminal(src.path or '')} (org {org}, region {region}, "
            f"fetched {fetched})",
            "",
            width,
        )
    usage = usage_text(src)
    if usage is not None:
        lines += _wrap(terminal(usage), "", width)
    if src.proposals:
        lines += _wrap(f"Proposals: {', '.join(terminal(p) for p in src.proposals)}", "", width)
    lines += _wrap("Policies: " + ", ".join(terminal(p.path) for p in run.policies), "", width)
    if run.frameworks:
        lines += _wrap(
            f"Rules: only those mapped to {', '.join(terminal(f) for f in run.frameworks)}",
            "",
            width,
        )
    if run.baseline:
        lines += _wrap(f"Baseline: {terminal(run.baseline)} (only new findings count)", "", width)
    for note in src.notes:
        lines += _wrap(f"Note: {terminal(note)}", "", width)
    for warning in run.warnings:
        lines += _wrap(f"WARNING: {terminal(warning)}", "  ", width)

    if run.group_by == "client":
        lines += _by_client(counting, run.color, src, width)
    else:
        lines += _by_rule(counting, run.color, src, width)

    lines += _riskiest(evaluation, run, width)
    lines += _least_privilege(run, width)

    if waived:
        lines += ["", *_wrap(f"Waived by exceptions ({len(waived)}):", "", width)]
        for f in waived:
            assert f.waived is not None
            expires = f" until {f.waived.expires.isoformat()}" if f.waived.expires else ""
            subject = f" {terminal(f.subject)}" if f.subject is not None else ""
            lines += _wrap(
                f"- {f.rule_id} {_client(f)}{subject}{expires}: {terminal(f.waived.reason)}",
                "  ",
                width,
            )

    lines += _disabled_lines(evaluation, width)

    not_evaluated = len(evaluation.not_evaluated) + len(evaluation.pairs_not_evaluated)
    if not_evaluated:
        lines += ["", *_wrap(f"Not evaluated ({not_evaluated}):", "", width)]
        for n in evaluation.not_evaluated:
            lines += _wrap(f"- {n.rule_id}: {terminal(n.reason)}", "  ", width)
        for n in evaluation.pairs_not_evaluated:
            c = evaluation.clients[n.client_index]
            where = f" [{terminal(c.location.path)}:{c.location.line}]" if c.location else ""
            who = terminal(c.name) + (f" ({terminal(c.id)})" if c.id else " (proposed)")
            lines += _wrap(
                f"- {n.rule_id} for {who}{where}: {terminal(n.shown_reason)}", "  ", width
            )
    lines += _exception_lines(
        "Expired exceptions (their findings count again)", evaluation.expired_exceptions, width
    )
    lines += _exception_lines(
        "Exceptions expiring within 14 days", evaluation.expiring_exceptions, width
    )
    lines += _exception_lines(
        "Unused exceptions (they waive nothing)", evaluation.unused_exceptions, width
    )
    lines += _framework_lines(evaluation, run, width)

    if evaluation.absent:
        absent = len(evaluation.absent)
        title = f"Absent: in the baseline, no longer found ({absent}; fixed or deleted):"
        lines += ["", *_wrap(title, "", width)]
        for e in evaluation.absent:
            lines += _wrap(f"- {terminal(absent_text(e))}", "  ", width)

    if counts.hidden:
        hidden = (
            f"{counts.hidden} findings below --min-severity {run.min_severity.value} are not shown."
        )
        lines += ["", *_wrap(hidden, "", width)]
    reason = verdict_reason(counts, run)
    threshold, _, why = reason.partition(": ")
    result = f"Result: {verdict} ({threshold})" + (f": {why}" if why else "")
    lines += ["", *_wrap(result, "", width)]
    return "\n".join(line.rstrip() for line in lines) + "\n"
