"""Reports of a run over many orgs (``check --orgs``, ``merge``), composed from the single-org
reporters: each org's part is exactly what ``check`` would render for that org alone, placed
under a per-org summary.

- JSON: one object per org, holding the org's single-org report (each finding
  names its org) and ``detail``, what the other formats need beyond it, so that
  ``merge`` can rebuild every format exactly (report/load.py reads it back).
- SARIF: each audited org's run, with a code-scanning category of its own.
  An org that could not be audited has no run: a run without results would
  tell GitHub that the org's alerts were fixed.
- JUnit: each org's suites, one per (org, rule), the org in every suite's name
  and every testcase's ``classname``; an org not audited is a suite with an error.
- text, Markdown, HTML: a table of the orgs first (region, clients, findings by
  severity, verdict or the error), then each org's report.

An org that could not be audited appears everywhere with its one-line error, and
no finding is invented for it.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from genesys_oauth_audit.errors import ExitCode
from genesys_oauth_audit.files.output import compact_json_text, json_text
from genesys_oauth_audit.findings import SEVERITIES, Evaluation, Severity
from genesys_oauth_audit.report import html as html_report
from genesys_oauth_audit.report import json_report, junit, markdown, sarif, text
from genesys_oauth_audit.report.base import RunInfo
from genesys_oauth_audit.report.escape import markdown as md
from genesys_oauth_audit.report.escape import markdown_code, one_line, terminal, xml_safe

REPORT_KIND = "orgs"
Verdict = Literal["pass", "fail", "error"]
VERDICT_WORD: dict[Verdict, str] = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}
# The run's word for its exit code: the worst of its orgs.
RUN_WORD = {
    ExitCode.OK: "PASS",
    ExitCode.FINDINGS: "FAIL",
    ExitCode.BAD_INPUT: "INCOMPLETE",
    ExitCode.INCOMPLETE: "INCOMPLETE",
}
# GitHub code scanning refuses a SARIF file with more runs than this (one run per org).
GITHUB_MAX_RUNS = 20
# GitHub drops a job summary ($GITHUB_STEP_SUMMARY) over 1 MiB whole; orgs past this budget
# are listed in the table but their sections are left out.
MARKDOWN_BUDGET = 1_000_000


@dataclass(frozen=True)
class OrgReport:
    """One org of a run over many: audited (its evaluation and the facts of its run, exactly as
    ``check`` has them for one org) or not (why, in one line, and the exit code that says so)."""

    name: str
    region: str
    evaluation: Evaluation | None = None
    run: RunInfo | None = None
    error: str | None = None
    error_code: ExitCode = ExitCode.INCOMPLETE

    @property
    def audited(self) -> bool:
        return self.evaluation is not None and self.run is not None

    @property
    def verdict(self) -> Verdict:
        if self.evaluation is None or self.run is None:
            return "error"
        return "fail" if self.run.verdict(self.evaluation) else "pass"

    @property
    def exit_code(self) -> ExitCode:
        verdict = self.verdict
        if verdict == "error":
            return self.error_code
        return ExitCode.FINDINGS if verdict == "fail" else ExitCode.OK


@dataclass(frozen=True)
class OrgsRun:
    """A run over the orgs of an orgs file (all of them, or those ``--org`` picked), in the
    file's order; ``listed`` is every org the file lists (name, region), so that a merge of
    the reports of separate runs can tell which orgs are missing."""

    tool_name: str
    tool_version: str
    generated_at: datetime
    orgs_file: str
    orgs_sha256: str
    listed: tuple[tuple[str, str], ...]
    orgs: tuple[OrgReport, ...]
    min_severity: Severity
    fail_on: Severity | None
    color: bool = False

    @property
    def exit_code(self) -> ExitCode:
        """The worst of the orgs: 3 when one could not be audited, then 1, then 0."""
        return max((o.exit_code for o in self.orgs), default=ExitCode.OK)

    def tally(self) -> dict[Verdict, int]:
        counts: dict[Verdict, int] = {"pass": 0, "fail": 0, "error": 0}
        for o in self.orgs:
            counts[o.verdict] += 1
        return counts

    def in_words(self) -> str:
        """``3 orgs: 1 pass, 1 fail, 1 not audited``."""
        tally = self.tally()
        n = len(self.orgs)
        parts = [f"{tally['pass']} pass", f"{tally['fail']} fail"]
        if tally["error"]:
            parts.append(f"{tally['error']} not audited")
        return f"{n} org{'' if n == 1 else 's'}: {', '.join(parts)}"


def _audited(o: OrgReport) -> tuple[Evaluation, RunInfo]:
    assert o.evaluation is not None
    assert o.run is not None
    return o.evaluation, o.run


# -- JSON -----------------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def org_report_dict(o: OrgReport) -> dict[str, Any]:
    """One org of the JSON report: what ``check`` writes for it alone (each finding naming the
    org), and ``detail``, the rest of what the other formats show."""
    report = detail = None
    if o.audited:
        evaluation, run = _audited(o)
        report = json_report.report_dict(evaluation, run)
        for finding in report["findings"]:
            finding["org"] = o.name
        detail = detail_dict(evaluation, run)
    return {
        "name": o.name,
        "region": o.region,
        "verdict": o.verdict,
        "exitCode": int(o.exit_code),
        "error": o.error,
        "report": report,
        "detail": detail,
    }


def detail_dict(evaluation: Evaluation, run: RunInfo) -> dict[str, Any]:
    """What the JSON report leaves out of an evaluation and its run, and the other formats show:
    the rules in full, the findings below ``--min-severity`` (counted, never shown), which
    client each finding and each unevaluated pair is about, which clients each rule selected,
    where each client is (with its column), the order of the disabled rules, the baseline file,
    ``--framework`` and ``--sarif-category``. report/load.py reads it back; tests/test_merge.py
    renders every format from what it reads and compares it with the original, byte for byte.

    What only draws a format (colour, grouping, ``--riskiest``, the text's width, waived
    results in SARIF) and the files a run writes are not carried: ``merge`` takes them as its
    own flags, for the reports it writes (docs/many-orgs.md)."""
    reported = run.reported(evaluation)
    shown = set(map(id, reported))
    hidden = [f for f in evaluation.findings if id(f) not in shown]
    return {
        "rules": [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity.value,
                "checkType": r.check_type,
                "description": r.description,
                "remediation": r.remediation,
                "helpUri": r.help_uri,
                "tags": list(r.tags),
                "source": r.source,
                "controls": [[framework, list(ids)] for framework, ids in r.controls],
            }
            for r in run.rules
        ],
        "hiddenFindings": [json_report.finding_dict(f) for f in hidden],
        "findingClients": [f.client_index for f in (*reported, *hidden)],
        "notEvaluatedClients": [
            n.client_index for n in (*evaluation.not_evaluated, *evaluation.pairs_not_evaluated)
        ],
        "clientLocations": [
            None
            if c.location is None
            else {"path": c.location.path, "line": c.location.line, "column": c.location.column}
            for c in evaluation.clients
        ],
        "selected": {rule: list(indices) for rule, indices in evaluation.selected.items()},
        "rulesNotEvaluated": len(evaluation.not_evaluated),
        "pairsEvaluated": evaluation.pairs_evaluated,
        "disabledOrder": [d.rule_id for d in evaluation.disabled_rules],
        "baseline": run.baseline,
        "frameworks": list(run.frameworks),
        "sarifCategory": run.sarif_category,
    }


def report_dict(orgs: OrgsRun) -> dict[str, Any]:
    counts = dict.fromkeys((s.value for s in SEVERITIES), 0)
    shown = 0
    for o in orgs.orgs:
        if o.audited:
            evaluation, run = _audited(o)
            tally = run.counts(evaluation)
            shown += tally.shown
            for severity, n in tally.by_severity.items():
                counts[severity] += n
    verdicts = orgs.tally()
    return {
        "reportVersion": json_report.REPORT_VERSION,
        "kind": REPORT_KIND,
        "tool": {"name": orgs.tool_name, "version": orgs.tool_version},
        "generatedAt": _iso(orgs.generated_at),
        "orgsFile": {
            "path": orgs.orgs_file,
            "sha256": orgs.orgs_sha256,
            "orgs": [{"name": name, "region": region} for name, region in orgs.listed],
        },
        "summary": {
            "orgs": len(orgs.orgs),
            "verdicts": dict(verdicts),
            "counts": counts,
            "findings": shown,
            "minSeverity": orgs.min_severity.value,
            "failOn": orgs.fail_on.value if orgs.fail_on else "never",
            "exitCode": int(orgs.exit_code),
        },
        "orgs": [org_report_dict(o) for o in orgs.orgs],
    }


def render_json(orgs: OrgsRun) -> str:
    data = report_dict(orgs)
    size = sum(
        len(o["report"]["findings"]) + len(o["report"]["clients"])
        for o in data["orgs"]
        if o["report"] is not None
    )
    if size > json_report.INDENT_LIMIT:
        return compact_json_text(data) + "\n"
    return json_text(data) + "\n"


# -- SARIF ----------------------------------------------------------------------------------------


def categories(runs: list[tuple[str, str]]) -> list[str]:
    """Each org's code-scanning category (``automationDetails.id``), from (org name, the
    category its run would have alone, which report/sarif.py decides for every kind of run).

    That single-org category names the org by its id, so an org keeps its alerts whether it is
    audited alone, in a run of many or in a CI matrix, and whatever its name in the orgs file.
    When two orgs would share one (one category set for the whole run), each gets its name
    added: GitHub refuses an upload with two runs of one category."""
    seen: dict[str, int] = {}
    for _, category in runs:
        seen[category] = seen.get(category, 0) + 1
    out = []
    for name, category in runs:
        if seen[category] > 1:
            base = category if category.endswith("/") else category + "/"
            category = f"{base}{name}/"
        out.append(category)
    return out


def sarif_log(orgs: OrgsRun) -> dict[str, Any]:
    runs: list[tuple[str, dict[str, Any]]] = []
    for o in orgs.orgs:
        if not o.audited:
            continue
        evaluation, run = _audited(o)
        log = sarif.sarif_log(evaluation, run)
        for one in log["runs"]:
            one["properties"]["org"] = o.name
            for result in one["results"]:
                result["properties"]["org"] = o.name
            runs.append((o.name, one))
    named = categories([(name, r["automationDetails"]["id"]) for name, r in runs])
    for (_, run_obj), category in zip(runs, named, strict=True):
        run_obj["automationDetails"]["id"] = category
    return {"$schema": sarif.SARIF_SCHEMA, "version": "2.1.0", "runs": [r for _, r in runs]}


def render_sarif(orgs: OrgsRun) -> str:
    return json_text(sarif_log(orgs)) + "\n"


# -- JUnit ----------------------------------------------------------------------------------------


def render_junit(orgs: OrgsRun) -> str:
    """Each org's suites (the single-org JUnit report's, renamed ``<org>: <rule>: <title>``, the
    testcases' ``classname`` ``<org>.<rule>``: unique and stable across orgs, and read by Jenkins
    as a package per org); an org not audited is one suite whose one testcase is an error."""
    root = ET.Element("testsuites")
    suite_id = 0
    timestamp = orgs.generated_at.strftime("%Y-%m-%dT%H:%M:%S")
    for o in orgs.orgs:
        if not o.audited:
            suite = ET.SubElement(root, "testsuite")
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="org", value=o.name)
            ET.SubElement(props, "property", name="region", value=xml_safe(o.region))
            case = ET.SubElement(suite, "testcase", classname=o.name, name="audit", time="0")
            error = ET.SubElement(
                case,
                "error",
                message=one_line(f"not audited: {o.error or 'unknown error'}", 500),
                type="not-audited",
            )
            error.text = xml_safe(
                f"The org could not be audited, so none of its rules was evaluated: {o.error}"
            )
            suite.attrib.update(
                {
                    "name": f"{o.name}: not audited",
                    "tests": "1",
                    "failures": "0",
                    "errors": "1",
                    "skipped": "0",
                    "time": "0",
                    "timestamp": timestamp,
                    "hostname": xml_safe(o.region),
                    "id": str(suite_id),
                    "package": "genesys-oauth-audit",
                }
            )
            ET.SubElement(suite, "system-out").text = ""
            ET.SubElement(suite, "system-err").text = ""
            suite_id += 1
            continue
        evaluation, run = _audited(o)
        # The single-org renderer stays the one place that decides what a suite holds.
        for suite in junit.testsuites(evaluation, run).findall("testsuite"):
            suite.set("name", one_line(f"{o.name}: {suite.get('name', '')}"))
            suite.set("id", str(suite_id))
            found = suite.find("properties")
            assert found is not None
            found.insert(0, ET.Element("property", name="org", value=o.name))
            for case in suite.findall("testcase"):
                case.set("classname", f"{o.name}.{case.get('classname', '')}")
            root.append(suite)
            suite_id += 1
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- text -----------------------------------------------------------------------------------------


def _wrap(line: str, indent: str, hanging: str | None = None) -> list[str]:
    return textwrap.wrap(
        line,
        width=text.WIDTH,
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_on_hyphens=False,
    ) or [indent]


def _row_cells(o: OrgReport) -> list[str]:
    if not o.audited:
        return [o.name, o.region, "-", *("-" for _ in SEVERITIES), "ERROR"]
    evaluation, run = _audited(o)
    counts = run.counts(evaluation)
    return [
        o.name,
        o.region,
        str(evaluation.clients_evaluated),
        *(str(counts.by_severity[s.value]) for s in SEVERITIES),
        VERDICT_WORD[o.verdict],
    ]


def render_text(orgs: OrgsRun) -> str:
    word = RUN_WORD[orgs.exit_code]
    lines = [f"{orgs.tool_name} {orgs.tool_version}: {word} ({orgs.in_words()})"]
    lines.append(f"Orgs file: {terminal(orgs.orgs_file)}")
    header = ["org", "region", "clients", *(s.value for s in SEVERITIES), "result"]
    rows = [[terminal(cell) for cell in _row_cells(o)] for o in orgs.orgs]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # Names and regions to the left, numbers to the right.
        return "  ".join(
            c.ljust(w) if i in (0, 1, len(cells) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines += ["", line(header), *(line(r) for r in rows)]
    failed = [o for o in orgs.orgs if not o.audited]
    if failed:
        lines += ["", "Not audited (no findings are reported for these orgs):"]
        for o in failed:
            lines += _wrap(f"- {terminal(o.name)}: {terminal(o.error or '')}", "  ", "    ")
    for number, o in enumerate(orgs.orgs, start=1):
        where = f"org {terminal(o.name)} ({terminal(o.region)}), {number} of {len(orgs.orgs)}"
        lines += ["", f"==== {where} " + "=" * max(3, text.WIDTH - len(where) - 6), ""]
        if o.audited:
            lines += text.render(*_audited(o)).rstrip("\n").split("\n")
        else:
            lines += _wrap(f"Not audited: {terminal(o.error or '')}", "")
    lines += ["", f"Result: {word} ({orgs.in_words()})"]
    return "\n".join(lines) + "\n"


# -- Markdown -------------------------------------------------------------------------------------

_MD_VERDICT: dict[Verdict, str] = {"pass": "✅ PASS", "fail": "❌ FAIL", "error": "⚠️ not audited"}
_MD_RUN = {
    ExitCode.OK: "✅ **PASS**",
    ExitCode.FINDINGS: "❌ **FAIL**",
    ExitCode.BAD_INPUT: "⚠️ **INCOMPLETE**",
    ExitCode.INCOMPLETE: "⚠️ **INCOMPLETE**",
}


def _org_markdown(o: OrgReport) -> list[str]:
    """One org's section: the single-org Markdown under a heading naming the org, its own
    headings one level down (they are the renderer's lines, the only ones that start with '#':
    org text is escaped)."""
    heading = f"### org {markdown_code(o.name)}: {_MD_VERDICT[o.verdict]}"
    if not o.audited:
        return [heading, "", f"Not audited: {md(o.error or '')}", ""]
    body = markdown.render(*_audited(o)).rstrip("\n").split("\n")[1:]
    return [heading, *("#" + line if line.startswith("#") else line for line in body), ""]


def render_markdown(orgs: OrgsRun) -> str:
    icons = markdown.ICON
    lines = [
        f"## genesys-oauth-audit: {_MD_RUN[orgs.exit_code]} ({orgs.in_words()})",
        "",
        f"Orgs file {markdown_code(orgs.orgs_file)}; {orgs.tool_name} {orgs.tool_version}.",
        "",
        "| org | region | clients | "
        + " | ".join(f"{icons[s.value]} {s.value}" for s in SEVERITIES)
        + " | result |",
        "|---|---|" + "---:|" * (1 + len(SEVERITIES)) + "---|",
    ]
    for o in orgs.orgs:
        cells = _row_cells(o)
        result = _MD_VERDICT[o.verdict] + (f": {md(o.error or '')}" if not o.audited else "")
        numbers = [cell if cell != "-" else "—" for cell in cells[2 : 3 + len(SEVERITIES)]]
        lines.append(
            f"| {markdown_code(o.name)} | {markdown_code(o.region)} | "
            + " | ".join(numbers)
            + f" | {result} |"
        )
    lines.append("")
    size = len("\n".join(lines).encode("utf-8"))
    left_out = []
    for o in orgs.orgs:
        section = _org_markdown(o)
        cost = len("\n".join(section).encode("utf-8")) + 1
        if size + cost > MARKDOWN_BUDGET:
            left_out.append(o.name)
            continue
        lines += section
        size += cost
    if left_out:
        lines += [
            f"> ⚠️ The sections of {len(left_out)} orgs ("
            + ", ".join(markdown_code(n) for n in left_out)
            + ") are left out to keep this under GitHub's 1 MiB job summary limit; "
            "the JSON and HTML reports hold them.",
            "",
        ]
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------------

ORGS_STYLE = """
table.orgs td.n, table.orgs th.n { text-align: right; }
section.org { border-top: 3px solid #333; margin-top: 2.5rem; padding-top: .25rem; }
section.org > h2:first-child { font-size: 1.3rem; }
"""


def render_html(orgs: OrgsRun) -> str:
    h = html_report.h
    word = RUN_WORD[orgs.exit_code]
    css = "fail" if word != "PASS" else "pass"
    rows = []
    for number, o in enumerate(orgs.orgs):
        cells = _row_cells(o)
        counts = "".join(f'<td class="n">{h(c)}</td>' for c in cells[2 : 3 + len(SEVERITIES)])
        result = h(VERDICT_WORD[o.verdict]) + (f": {h(o.error or '')}" if not o.audited else "")
        rows.append(
            f'<tr><td><a href="#org-{number}"><code>{h(o.name)}</code></a></td>'
            f"<td>{h(o.region)}</td>{counts}<td>{result}</td></tr>"
        )
    body = [
        f'<h1>genesys-oauth-audit: <span class="verdict {css}">{word}</span></h1>',
        f'<p class="meta">{h(orgs.in_words())}; orgs file <code>{h(orgs.orgs_file)}</code>; '
        f"generated {orgs.generated_at.strftime('%Y-%m-%d %H:%M UTC')} by "
        f"{h(orgs.tool_name)} {h(orgs.tool_version)}.</p>",
        '<table class="orgs"><thead><tr><th>org</th><th>region</th><th class="n">clients</th>'
        + "".join(f'<th class="n">{s.value}</th>' for s in SEVERITIES)
        + "<th>result</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    scripts = []
    for number, o in enumerate(orgs.orgs):
        heading = f"org <code>{h(o.name)}</code> ({h(o.region)})"
        body.append(f'<section class="org" id="org-{number}">')
        if o.audited:
            ids = f"org-{number}-"
            body += html_report.body(*_audited(o), heading=heading, level=2, ids=ids)
            scripts.append(html_report.script(ids))
        else:
            body += [
                f'<h2>{heading}: <span class="verdict fail">not audited</span></h2>',
                f'<p class="meta">{h(o.error or "")}</p>',
                "<p>No finding is reported for this org: it could not be audited.</p>",
            ]
        body.append("</section>")
    return html_report.page(
        f"genesys-oauth-audit: {word}",
        body,
        styles=(html_report.STYLE, ORGS_STYLE),
        scripts=tuple(scripts),
    )


# The many-orgs renderer of each format of ``REPORTERS`` (a test keeps the two in step).
ORGS_REPORTERS: dict[str, Callable[[OrgsRun], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
    "markdown": render_markdown,
    "html": render_html,
}
