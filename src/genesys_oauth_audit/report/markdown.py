"""Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``: a verdict, counts by severity,
the top findings as a table, the rest folded away. Every piece of org text is neutralised."""

from __future__ import annotations

from dataclasses import dataclass

from genesys_oauth_audit.evidence import for_people
from genesys_oauth_audit.findings import SEVERITIES, Evaluation, Finding
from genesys_oauth_audit.report import leastpriv
from genesys_oauth_audit.report.base import (
    RunInfo,
    counts_text,
    unnamed_client,
    usage_text,
    verdict_reason,
)
from genesys_oauth_audit.report.escape import markdown as md
from genesys_oauth_audit.report.escape import markdown_code
from genesys_oauth_audit.report.frameworks import FrameworkView, controls_words, framework_views
from genesys_oauth_audit.report.text import absent_text, describe_client, riskiest

TOP = 20
# GitHub restricts each step's job summary to 1 MiB and drops a larger one whole ("Job summaries
# are isolated between steps and each step is restricted to a maximum size of 1MiB", in
# https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/workflow-commands-for-github-actions#adding-a-job-summary;
# the runner says "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k").
# 900 KiB leaves a margin for what the same step appends (the action writes only this report).
MAX_BYTES = 900 * 1024
ICON = {"critical": "🟣", "high": "🔴", "medium": "🟠", "low": "🔵", "info": "⚪"}


def _row(f: Finding) -> str:
    client = md(f.client_name) + (
        f" <sub>{markdown_code(f.client_id)}</sub>" if f.client_id else " <sub>proposed</sub>"
    )
    subject = markdown_code(f.subject) if f.subject is not None else "—"
    state = " (new)" if f.baseline_state == "new" else ""
    line = for_people(f.evidence)
    evidence = f"<br><sub>{md(line)}</sub>" if line is not None else ""
    return (
        f"| {ICON[f.severity.value]} {f.severity.value}{state} | `{f.rule_id}` {md(f.title)} | {client} | "
        f"{subject} | {md(f.message)}{evidence} |"
    )


HEADER = ["| severity | rule | client | subject | finding |", "|---|---|---|---|---|"]
STATUS_ICON = {"fail": "❌", "pass": "✅", "not-evaluated": "⚠️", "disabled": "🔕"}


def _disabled_table(evaluation: Evaluation) -> list[str]:
    """Rules switched off by overrides, folded away like waived findings."""
    if not evaluation.disabled:
        return []
    lines = [
        f"<details><summary>{len(evaluation.disabled)} "
        f"rule{'' if len(evaluation.disabled) == 1 else 's'} disabled by overrides</summary>",
        "",
        "| rule | reason | owner | ticket | until | override |",
        "|---|---|---|---|---|---|",
    ]
    for d in evaluation.disabled:
        lines.append(
            f"| `{d.rule_id}` {md(d.title)} | {md(d.reason)} | {md(d.owner or '—')} | "
            f"{md(d.ticket or '—')} | {d.expires.isoformat() if d.expires else '—'} | "
            f"{markdown_code(d.source)} |"
        )
    return [*lines, "", "</details>", ""]


def _framework_tables(views: tuple[FrameworkView, ...]) -> list[str]:
    """Per framework: each control, its status, and the rules that support it."""
    if not views:
        return []
    lines = ["### Frameworks", ""]
    for view in views:
        lines += [
            f"<details><summary>{md(view.name)} ({markdown_code(view.id)}): "
            f"{controls_words(view)}</summary>",
            "",
            "| control | status | rules |",
            "|---|---|---|",
        ]
        for control in view.controls:
            title = f" {md(control.title)}" if control.title else ""
            rules = "<br>".join(
                f"{STATUS_ICON[r.status]} `{r.rule_id}` {r.status.replace('-', ' ')}"
                + (f" ({r.findings})" if r.findings else "")
                for r in control.rules
            )
            lines.append(
                f"| {markdown_code(control.id)}{title} | {STATUS_ICON[control.status]} "
                f"{control.status.replace('-', ' ')} | {rules} |"
            )
        lines += ["", "</details>", ""]
    return lines


def _least_privilege_table(run: RunInfo) -> list[str]:
    """Granted versus exercised: the clients with the largest unused share, folded away."""
    view = run.least_privilege
    if view is None:
        return []
    holding = view.holding
    lines = [
        f"<details><summary>Least privilege: {md(view.summary_text())}</summary>",
        "",
        f"{md(view.window_text())}.",
        "",
    ]
    if holding:
        lines += [
            "| client | holds | granted | exercised | unused | unused share |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in holding[: leastpriv.TOP]:
            exercised = f"{r.exercised}" + (f" (+{r.ambiguous} possibly)" if r.ambiguous else "")
            lines.append(
                f"| {md(r.client_name)} <sub>{markdown_code(r.client_id)}</sub> | {r.what} | "
                f"{r.granted} | {exercised} | {r.unused} | {r.unused_share:.0%} |"
            )
        if len(holding) > leastpriv.TOP:
            lines += [
                "",
                f"… and {len(holding) - leastpriv.TOP} more "
                f"({leastpriv.where_every_client(view)}).",
            ]
    lines += [*(f"- {md(note)}" for note in view.notes), "", "</details>", ""]
    return lines


@dataclass
class _Section:
    """A part of the report whose rows can be left out to fit the cap: ``head`` and ``tail``
    stay whole (a section without rows is kept or left out whole), ``rows`` are kept in order
    while they fit. Sections are filled by ``priority`` (0 first) and written in report order."""

    head: list[str]
    rows: list[str]
    tail: list[str]
    priority: int
    findings: bool = False  # rows are findings (the notice counts them apart)


def render(evaluation: Evaluation, run: RunInfo, *, max_bytes: int = MAX_BYTES) -> str:
    """The report; past ``max_bytes`` (UTF-8), the summary and the most severe findings first,
    with a notice under the counts saying how many entries were left out and where the full
    report is."""
    header, sections, footer = _parts(evaluation, run)
    lines = [*header, *(line for s in sections for line in (*s.head, *s.rows, *s.tail)), *footer]
    if _size(lines) <= max_bytes:
        return "\n".join(lines) + "\n"
    return _capped(header, sections, footer, run, max_bytes)


def _size(lines: list[str]) -> int:
    """Bytes of the lines as written (UTF-8, one newline each): GitHub counts bytes."""
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def _capped(
    header: list[str],
    sections: list[_Section],
    footer: list[str],
    run: RunInfo,
    max_bytes: int,
) -> str:
    """Fill the budget by priority (findings, most severe first, before anything else), then
    write the kept parts in the report's order, each cut section saying how much it lost."""
    everything = sum(max(len(s.rows), 1) for s in sections)
    budget = max_bytes - _size(header) - _size(footer)
    budget -= _size(_notice(everything, everything, run))
    kept: dict[int, int] = {}  # section index -> rows kept (-1: left out whole)
    for i in sorted(range(len(sections)), key=lambda i: sections[i].priority):
        section = sections[i]
        cost = _size(section.head) + _size(section.tail)
        if section.rows:
            cost += _size(["", _omitted(everything)])
        if cost > budget:
            kept[i] = -1
            continue
        budget -= cost
        n = 0
        for row in section.rows:
            size = len(row.encode("utf-8")) + 1
            if size > budget:
                break
            budget -= size
            n += 1
        kept[i] = n
    body: list[str] = []
    left_findings = left_other = 0
    for i, section in enumerate(sections):
        n = kept[i]
        left = len(section.rows) - n if n >= 0 else max(len(section.rows), 1)
        if section.findings:
            left_findings += left
        else:
            left_other += left
        if n < 0:
            continue
        body += [*section.head, *section.rows[:n]]
        if left:
            body += ["", _omitted(left)]
        body += section.tail
    # The notice goes right under the counts, where a reader looks first.
    lines = [*header, *_notice(left_findings, left_other, run), *body, *footer]
    return "\n".join(lines) + "\n"


def _omitted(n: int) -> str:
    return f"_… and {n} more, left out to fit the job summary (see the note at the top)._"


def _notice(findings: int, other: int, run: RunInfo) -> list[str]:
    """What was left out, and where every finding is."""
    files = [f"{markdown_code(path)} ({fmt})" for fmt, path in run.outputs if fmt != "markdown"]
    where = (
        "Every finding is in " + ", ".join(files) + "."
        if files
        else "Every finding is in the JSON or HTML report (`--json-output`, `--html-output`)."
    )
    parts = [f"{findings} findings (the least severe)"] if findings else []
    parts += [f"{other} other entries"] if other else []
    return [
        "> ⚠️ **Shortened to fit:** GitHub drops a job summary over 1 MiB, so this one leaves "
        f"out {' and '.join(parts) or 'some entries'}. {where}",
        "",
    ]


def _parts(evaluation: Evaluation, run: RunInfo) -> tuple[list[str], list[_Section], list[str]]:
    """The report in three parts: the summary (never cut), the sections (rows may be cut), and
    the footer (never cut)."""
    reported = run.reported(evaluation)
    counting = [f for f in reported if f.counts]
    tally = run.counts(evaluation)
    failed = tally.failing > 0
    counts = tally.by_severity
    src = run.source
    if src.kind == "live":
        where = (
            f"org **{md(src.org_name or src.org_id or 'unknown')}** ({md(src.region or '?')}), live"
        )
    elif src.kind == "snapshot":
        where = f"snapshot {markdown_code(src.path or '')} of org **{md(src.org_name or src.org_id or 'unknown')}**"
    else:
        where = "proposed clients " + ", ".join(markdown_code(p) for p in src.proposals)

    verdict = "❌ **FAIL**" if failed else "✅ **PASS**"
    extra = ["unchanged", "new", "absent"] if tally.new is not None else []
    header = [
        f"## genesys-oauth-audit: {verdict}",
        "",
        f"{counts_text(tally)}.",
        "",
        f"Over {evaluation.clients_evaluated} clients and {evaluation.rules_evaluated} rules "
        f"in {where}, as of {run.as_of_text}; {verdict_reason(tally, run)}."
        + (
            f" Compared with baseline {markdown_code(run.baseline)}: only new findings count."
            if run.baseline
            else ""
        ),
        "",
        *([f"{md(usage)}.", ""] if (usage := usage_text(src)) is not None else []),
        *(f"> ⚠️ **Warning:** {md(w)}\n" for w in run.warnings),
        "| "
        + " | ".join(f"{ICON[s.value]} {s.value}" for s in SEVERITIES)
        + " | waived | hidden |"
        + "".join(f" {name} |" for name in extra),
        "|" + "---:|" * (len(SEVERITIES) + 2 + len(extra)),
        "| "
        + " | ".join(str(counts[s.value]) for s in SEVERITIES)
        + f" | {tally.waived} | {tally.hidden} |"
        + "".join(f" {getattr(tally, name)} |" for name in extra),
        "",
    ]
    sections: list[_Section] = []
    if counting:
        # The most severe come first (the evaluation's order): a cut leaves out the least severe.
        sections.append(
            _Section(
                ["### Top findings", "", *HEADER],
                [_row(f) for f in counting[:TOP]],
                [""],
                priority=0,
                findings=True,
            )
        )
        rest = counting[TOP:]
        if rest:
            sections.append(
                _Section(
                    [f"<details><summary>{len(rest)} more findings</summary>", "", *HEADER],
                    [_row(f) for f in rest],
                    ["", "</details>", ""],
                    priority=1,
                    findings=True,
                )
            )
    waived = [f for f in reported if f.waived is not None]
    if waived:
        rows = []
        for f in waived:
            assert f.waived is not None
            until = f.waived.expires.isoformat() if f.waived.expires else "—"
            rows.append(
                f"| `{f.rule_id}` | {md(f.client_name)} | {markdown_code(f.subject) if f.subject else '—'} | "
                f"{md(f.waived.reason)} | {until} |"
            )
        sections.append(
            _Section(
                [
                    f"<details><summary>{len(waived)} waived findings</summary>",
                    "",
                    "| rule | client | subject | reason | until |",
                    "|---|---|---|---|---|",
                ],
                rows,
                ["", "</details>", ""],
                priority=5,
            )
        )
    disabled = _disabled_table(evaluation)
    if disabled:
        sections.append(_Section(disabled[:4], disabled[4:-3], disabled[-3:], priority=3))
    top = riskiest(evaluation)
    if top:
        rows = []
        for c in top[:TOP]:
            assert c.highest_risk is not None
            who = md(c.name) + (f" <sub>{markdown_code(c.id)}</sub>" if c.id else "")
            rows.append(
                f"| {ICON[c.highest_risk.value]} {c.highest_risk.value} | {who} | {md(describe_client(c))} | "
                f"{md(c.risk_reason or '')} |"
            )
        sections.append(
            _Section(
                [
                    f"<details><summary>{len(top)} clients rated high or critical by the risk catalog</summary>",
                    "",
                    "| risk | client | grant type, roles, permissions | why |",
                    "|---|---|---|---|",
                ],
                rows,
                ["", "</details>", ""],
                priority=4,
            )
        )
    least = _least_privilege_table(run)
    if least:
        sections.append(_Section(least, [], [], priority=8))  # kept or left out whole
    if evaluation.absent:
        sections.append(
            _Section(
                [
                    f"<details><summary>{len(evaluation.absent)} baseline entries absent "
                    "(no longer found: fixed or deleted)</summary>",
                    "",
                ],
                [f"- {md(absent_text(e))}" for e in evaluation.absent],
                ["", "</details>", ""],
                priority=6,
            )
        )
    notes = [f"- ℹ️ {md(note)}" for note in src.notes]
    for n in evaluation.not_evaluated:
        notes.append(f"- ⚠️ `{n.rule_id}` was **not evaluated**: {md(n.reason)}")
    for n in evaluation.pairs_not_evaluated:
        c = evaluation.clients[n.client_index]
        where = f" ({markdown_code(f'{c.location.path}:{c.location.line}')})" if c.location else ""
        notes.append(
            f"- ⚠️ `{n.rule_id}` was **not evaluated** for {md(c.name or unnamed_client(c.id))}{where}: {md(n.shown_reason)}"
        )
    for e in evaluation.expired_exceptions:
        notes.append(
            f"- ⏰ exception for `{e.rule_id}` ({md(', '.join(e.clients))}) **expired** {e.expires}: its findings count again"
        )
    for e in evaluation.expiring_exceptions:
        notes.append(
            f"- ⏳ exception for `{e.rule_id}` ({md(', '.join(e.clients))}) expires {e.expires}"
        )
    for e in evaluation.unused_exceptions:
        notes.append(
            f"- 💤 exception for `{e.rule_id}` ({md(', '.join(e.clients))}) waives nothing"
        )
    for d in evaluation.expired_overrides:
        notes.append(
            f"- ⏰ the override disabling `{d.rule_id}` ({markdown_code(d.source)}) **expired** "
            f"{d.expires}: the rule is evaluated again"
        )
    if run.frameworks:
        notes.append(
            "- 🔎 only rules mapped to "
            + ", ".join(markdown_code(f) for f in run.frameworks)
            + " were run"
        )
    if notes:
        sections.append(_Section(["### Notes", ""], notes, [""], priority=2))
    frameworks = _framework_tables(framework_views(evaluation, run))
    if frameworks:
        sections.append(_Section(frameworks, [], [], priority=7))  # kept or left out whole
    policies = ", ".join(markdown_code(p.path) for p in run.policies)
    footer = [
        f"<sub>{run.tool_name} {run.tool_version} · policies {policies}"
        + (
            f" · {tally.hidden} findings below `{run.min_severity.value}` not shown"
            if tally.hidden
            else ""
        )
        + "</sub>"
    ]
    return header, sections, footer
