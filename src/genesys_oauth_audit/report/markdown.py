"""Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``: a verdict, counts by severity,
the top findings as a table, the rest folded away. Every piece of org text is neutralised."""

from __future__ import annotations

from genesys_oauth_audit.evidence import for_people
from genesys_oauth_audit.findings import SEVERITIES, Evaluation, Finding
from genesys_oauth_audit.report import leastpriv
from genesys_oauth_audit.report.base import RunInfo, counts_text, usage_text, verdict_reason
from genesys_oauth_audit.report.escape import markdown as md
from genesys_oauth_audit.report.escape import markdown_code
from genesys_oauth_audit.report.frameworks import FrameworkView, controls_words, framework_views
from genesys_oauth_audit.report.text import absent_text, describe_client, riskiest

TOP = 20
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
    org = run.least_privilege
    if org is None:
        return []
    view = leastpriv.rows(org)
    holding = [r for r in view if r.unused]
    lines = [
        f"<details><summary>Least privilege: {md(leastpriv.summary_text(org, view))}</summary>",
        "",
        f"{md(leastpriv.window_text(org))}.",
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
                f"… and {len(holding) - leastpriv.TOP} more (the JSON and HTML reports list "
                "every client).",
            ]
    lines += [*(f"- {md(note)}" for note in org.notes), "", "</details>", ""]
    return lines


def render(evaluation: Evaluation, run: RunInfo) -> str:
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
    lines = [
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
    if counting:
        lines += ["### Top findings", "", *HEADER, *(_row(f) for f in counting[:TOP]), ""]
        rest = counting[TOP:]
        if rest:
            lines += [
                f"<details><summary>{len(rest)} more findings</summary>",
                "",
                *HEADER,
                *(_row(f) for f in rest),
                "",
                "</details>",
                "",
            ]
    waived = [f for f in reported if f.waived is not None]
    if waived:
        lines += [
            f"<details><summary>{len(waived)} waived findings</summary>",
            "",
            "| rule | client | subject | reason | until |",
            "|---|---|---|---|---|",
        ]
        for f in waived:
            assert f.waived is not None
            until = f.waived.expires.isoformat() if f.waived.expires else "—"
            lines.append(
                f"| `{f.rule_id}` | {md(f.client_name)} | {markdown_code(f.subject) if f.subject else '—'} | "
                f"{md(f.waived.reason)} | {until} |"
            )
        lines += ["", "</details>", ""]
    lines += _disabled_table(evaluation)
    top = riskiest(evaluation)
    if top:
        lines += [
            f"<details><summary>{len(top)} clients rated high or critical by the risk catalog</summary>",
            "",
            "| risk | client | grant type, roles, permissions | why |",
            "|---|---|---|---|",
        ]
        for c in top[:TOP]:
            assert c.highest_risk is not None
            who = md(c.name) + (f" <sub>{markdown_code(c.id)}</sub>" if c.id else "")
            lines.append(
                f"| {ICON[c.highest_risk.value]} {c.highest_risk.value} | {who} | {md(describe_client(c))} | "
                f"{md(c.risk_reason or '')} |"
            )
        lines += ["", "</details>", ""]
    lines += _least_privilege_table(run)
    if evaluation.absent:
        lines += [
            f"<details><summary>{len(evaluation.absent)} baseline entries absent "
            "(no longer found: fixed or deleted)</summary>",
            "",
            *(f"- {md(absent_text(e))}" for e in evaluation.absent),
            "",
            "</details>",
            "",
        ]
    notes = [f"- ℹ️ {md(note)}" for note in src.notes]
    for n in evaluation.not_evaluated:
        notes.append(f"- ⚠️ `{n.rule_id}` was **not evaluated**: {md(n.reason)}")
    for n in evaluation.pairs_not_evaluated:
        c = evaluation.clients[n.client_index]
        where = f" ({markdown_code(f'{c.location.path}:{c.location.line}')})" if c.location else ""
        notes.append(
            f"- ⚠️ `{n.rule_id}` was **not evaluated** for {md(c.name)}{where}: {md(n.reason)}"
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
        lines += ["### Notes", "", *notes, ""]
    lines += _framework_tables(framework_views(evaluation, run))
    policies = ", ".join(markdown_code(p.path) for p in run.policies)
    lines.append(
        f"<sub>{run.tool_name} {run.tool_version} · policies {policies}"
        + (
            f" · {tally.hidden} findings below `{run.min_severity.value}` not shown"
            if tally.hidden
            else ""
        )
        + "</sub>"
    )
    return "\n".join(lines) + "\n"
