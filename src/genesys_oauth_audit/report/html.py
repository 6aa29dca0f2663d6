"""The HTML report (docs/report-formats.md): one self-contained file a security lead can open, filter, print and share.

No external request of any kind: styles and the small filtering script are
inline, and a Content-Security-Policy allows exactly those two (by hash) and
nothing else, so even an escaping mistake could not run injected script or
load anything. Every piece of org text is escaped, and control and bidi
characters are shown as visible escapes. Filters (minimum severity, rule,
client, waived) also read the URL fragment (``#severity=high&rule=GOA-BL-005``),
so a filtered view can be shared as a link; so does the least-privilege table's
order (``#sort=unused``, ``#sort=name:asc``).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from string import Template

from genesys_oauth_audit.evidence import for_people
from genesys_oauth_audit.findings import SEVERITIES, Evaluation, Finding
from genesys_oauth_audit.report import leastpriv
from genesys_oauth_audit.report.base import (
    RunInfo,
    counts_text,
    shown_location,
    unnamed_client,
    usage_text,
    verdict_reason,
)
from genesys_oauth_audit.report.escape import terminal
from genesys_oauth_audit.report.frameworks import controls_words, framework_views
from genesys_oauth_audit.report.text import absent_text, describe_client, riskiest

STYLE = """
:root { --critical:#6b21a8; --high:#b91c1c; --medium:#b45309; --low:#0e7490; --info:#4b5563; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px; color: #111; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.verdict.fail { color: var(--high); } .verdict.pass { color: #15803d; }
.meta { color: #444; margin: .2rem 0; word-break: break-word; }
.cards { display: flex; gap: .75rem; flex-wrap: wrap; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-left: 6px solid; border-radius: 6px; padding: .5rem 1rem; min-width: 7rem; }
.card b { font-size: 1.4rem; display: block; }
.sev-critical { border-color: var(--critical); } .sev-high { border-color: var(--high); }
.sev-medium { border-color: var(--medium); } .sev-low { border-color: var(--low); } .sev-info { border-color: var(--info); }
.badge { color: #fff; border-radius: 4px; padding: 0 .4rem; font-size: .8rem; text-transform: uppercase; }
.badge.critical { background: var(--critical); } .badge.high { background: var(--high); } .badge.medium { background: var(--medium); }
.badge.low { background: var(--low); } .badge.info { background: var(--info); }
.filters { display: flex; gap: 1rem; flex-wrap: wrap; align-items: end; background: #f6f6f6; padding: .75rem; border-radius: 6px; }
.filters label { display: flex; flex-direction: column; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; margin-top: .75rem; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .4rem .5rem; text-align: left; vertical-align: top; }
th { background: #fafafa; } code { font-size: .85em; word-break: break-all; }
tr.waived td { color: #777; } details summary { cursor: pointer; color: #1d4ed8; }
.small { color: #555; font-size: .85rem; }
th button { font: inherit; background: none; border: 0; padding: 0; cursor: pointer; color: #1d4ed8; }
td.num, th.num { text-align: right; } meter { width: 5rem; display: block; margin-left: auto; }
@media print { .filters { display: none; } body { margin: 0; max-width: none; } details { display: block; } tr { break-inside: avoid; } }
"""

# ``$ids`` prefixes every element id the script reads: a page of many orgs (report/orgs.py) holds
# one findings table, one set of filters and one script per org.
_SCRIPT = Template("""
(function () {
  var rank = {critical: 4, high: 3, medium: 2, low: 1, info: 0};
  var rows = Array.prototype.slice.call(document.querySelectorAll('#${ids}findings tbody tr'));
  var sev = document.getElementById('${ids}f-severity'), rule = document.getElementById('${ids}f-rule');
  var client = document.getElementById('${ids}f-client'), waived = document.getElementById('${ids}f-waived');
  var shown = document.getElementById('${ids}shown');
  function fromHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    if (params.has('severity') && rank.hasOwnProperty(params.get('severity'))) { sev.value = params.get('severity'); }
    if (params.has('rule')) { rule.value = params.get('rule'); }
    if (params.has('client')) { client.value = params.get('client'); }
    if (params.has('waived')) { waived.checked = params.get('waived') === '1'; }
  }
  function apply() {
    var min = rank[sev.value], wanted = rule.value, text = client.value.toLowerCase(), count = 0;
    rows.forEach(function (tr) {
      var ok = rank[tr.getAttribute('data-severity')] >= min
        && (!wanted || tr.getAttribute('data-rule') === wanted)
        && (!text || tr.getAttribute('data-client').toLowerCase().indexOf(text) >= 0)
        && (waived.checked || tr.getAttribute('data-waived') !== '1');
      tr.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = String(count);
  }
  [sev, rule, client, waived].forEach(function (el) {
    el.addEventListener('input', apply);
    el.addEventListener('change', apply);
  });
  window.addEventListener('hashchange', function () { fromHash(); apply(); });
  fromHash();
  apply();
})();
""")

# The least-privilege table's sorting (one table per page, id "least-privilege").
LP_SCRIPT = """(function () {
  var table = document.getElementById('least-privilege');
  if (!table) { return; }
  var body = table.tBodies[0], order = {};
  var buttons = Array.prototype.slice.call(table.querySelectorAll('th button[data-sort]'));
  function sort(key, direction) {
    var button = buttons.filter(function (b) { return b.getAttribute('data-sort') === key; })[0];
    if (!button) { return; }
    var text = key === 'name';
    order[key] = direction || (order[key] ? (order[key] === 'desc' ? 'asc' : 'desc') : (text ? 'asc' : 'desc'));
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.getAttribute('data-' + key), y = b.getAttribute('data-' + key);
      var c = text ? x.localeCompare(y) : Number(x) - Number(y);
      return order[key] === 'desc' ? -c : c;
    });
    rows.forEach(function (tr) { body.appendChild(tr); });
    buttons.forEach(function (b) { b.parentNode.removeAttribute('aria-sort'); });
    button.parentNode.setAttribute('aria-sort', order[key] === 'desc' ? 'descending' : 'ascending');
  }
  buttons.forEach(function (button) {
    button.addEventListener('click', function () { sort(button.getAttribute('data-sort')); });
  });
  function fromHash() {
    var wanted = new URLSearchParams(location.hash.slice(1)).get('sort');
    if (!wanted) { return; }
    var parts = wanted.split(':');
    sort(parts[0], parts[1] === 'asc' || parts[1] === 'desc' ? parts[1] : undefined);
  }
  window.addEventListener('hashchange', fromHash);
  fromHash();
})();
"""


def script(ids: str = "") -> str:
    """The filtering script for the findings table whose element ids start with ``ids``."""
    return _SCRIPT.substitute(ids=ids)


SCRIPT = script() + LP_SCRIPT


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode(
        "ascii"
    )


def csp(styles: tuple[str, ...] = (STYLE,), scripts: tuple[str, ...] = (SCRIPT,)) -> str:
    """The Content-Security-Policy that allows exactly these inline styles and scripts."""
    style_src = " ".join(f"'{_hash(s)}'" for s in styles)
    script_src = " ".join(f"'{_hash(s)}'" for s in scripts) or "'none'"
    return f"default-src 'none'; style-src {style_src}; script-src {script_src}; img-src 'none'; base-uri 'none'; form-action 'none'"


CSP = csp()


def h(text: object) -> str:
    """Org text for HTML: control and bidi characters made visible, then escaped (quotes too)."""
    return escape(terminal(str(text)), quote=True)


# A browser opens a page of a few megabytes; one with every finding of a 100,000-client org would
# be hundreds (each row carries its evidence and remediation), more than a browser opens. Past
# these many rows a table shows the first ones (the most severe findings; the clients with the
# largest unused share) and says how many more there are and where every one of them is.
MAX_FINDING_ROWS = 5000
MAX_CLIENT_ROWS = leastpriv.HTML_CLIENT_ROWS


def _capped(shown: int, total: int, what: str) -> list[str]:
    """The notice under a table that shows ``shown`` of ``total`` rows; none when all are shown."""
    if shown >= total:
        return []
    return [
        f'<p class="verdict fail">This page lists {shown:,} of the {total:,} {what}; a page with '
        "every one would be too large for a browser. The JSON, SARIF and JUnit reports "
        "(<code>--json-output</code>, <code>--sarif-output</code>, <code>--junit-output</code>) "
        "hold them all.</p>"
    ]


def _row(f: Finding, run: RunInfo) -> str:
    rule = run.rule(f.rule_id)
    client_text = f"{f.client_name} {f.client_id or ''}"
    waived = ""
    if f.waived is not None:
        until = f" until {f.waived.expires.isoformat()}" if f.waived.expires else ""
        waived = f'<div class="small">waived{h(until)}: {h(f.waived.reason)}</div>'
    at = shown_location(f, run.source)
    where = f'<div class="small">{h(at.path)}:{at.line}</div>' if at is not None else ""
    details = []
    if rule is not None and rule.description:
        details.append(f"<p><b>Why:</b> {h(' '.join(rule.description.split()))}</p>")
    if rule is not None and rule.remediation:
        details.append(f"<p><b>What to do:</b> {h(' '.join(rule.remediation.split()))}</p>")
    details.append(f'<p class="small">Fingerprint <code>{h(f.fingerprint)}</code></p>')
    line = for_people(f.evidence)
    evidence = f'<div class="small evidence">{h(line)}</div>' if line is not None else ""
    if f.evidence is not None:
        details.append(f'<p class="small">Evidence: {h(f.evidence.describe())}</p>')
    state = " (new)" if f.baseline_state == "new" else ""
    flag = "1" if f.waived else "0"
    waived_class = ' class="waived"' if f.waived else ""
    return (
        f'<tr data-severity="{f.severity.value}" data-rule="{h(f.rule_id)}" data-client="{h(client_text)}" '
        f'data-waived="{flag}"{waived_class}>'
        f'<td><span class="badge {f.severity.value}">{f.severity.value}</span>{h(state)}</td>'
        f"<td><code>{h(f.rule_id)}</code><div>{h(f.title)}</div></td>"
        f'<td>{h(f.client_name)}<div class="small"><code>{h(f.client_id or "proposed")}</code></div>{where}</td>'
        f"<td>{'<code>' + h(f.subject) + '</code>' if f.subject is not None else '—'}</td>"
        f"<td>{h(f.message)}{evidence}{waived}<details><summary>evidence and remediation</summary>{''.join(details)}</details></td>"
        "</tr>"
    )


def _status(status: str) -> str:
    """A framework status for the eye: a failure stands out, the rest is plain."""
    words = status.replace("-", " ")
    return f"<b>{words}</b>" if status == "fail" else words


def _privilege_details(row: leastpriv.ClientPrivilege) -> str:
    """What is behind one client's counts: its roles (or scopes) and what was not exercised."""
    lists = row.lists
    items: list[str] = []
    if isinstance(lists, leastpriv.PermissionLists):
        for r in lists.roles:
            name = r.role_name or r.role_id
            division = r.division_id or "home division"
            if not r.resolved:
                items.append(f"role <code>{h(name)}</code> ({h(division)}): does not resolve")
                continue
            items.append(
                f"role <b>{h(name)}</b> ({h(division)}): {r.permissions} permissions, "
                f"{r.exercised} exercised, {r.ambiguous} possibly, {r.unused} unused"
            )
        if lists.exercised:
            items.append("exercised: " + ", ".join(f"<code>{h(p)}</code>" for p in lists.exercised))
        if lists.ambiguous:
            items.append(
                "possibly (ambiguous ANY): "
                + ", ".join(f"<code>{h(p)}</code>" for p in lists.ambiguous)
            )
        if lists.unused_grants:
            items.append(
                "grants unused entirely: "
                + ", ".join(f"<code>{h(p)}</code>" for p in lists.unused_grants)
            )
        for g in lists.partly_used_grants:
            items.append(
                f"<code>{h(g.permission)}</code> covers {g.covers}, used for "
                + ", ".join(f"<code>{h(p)}</code>" for p in g.exercised)
            )
        if lists.not_held:
            items.append(
                "needed but granted by no role today: "
                + ", ".join(f"<code>{h(p)}</code>" for p in lists.not_held)
            )
    else:
        for scope, state in lists.states():
            items.append(f"scope <code>{h(scope)}</code>: {h(state.replace('-', ' '))}")
    for label, keys in (
        ("unknown operations", row.unknown_operations),
        ("attempted, denied", row.denied_operations),
    ):
        if keys:
            items.append(f"{label}: " + ", ".join(f"<code>{h(k)}</code>" for k in keys))
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _least_privilege(run: RunInfo, ids: str = "") -> list[str]:
    """Granted versus exercised per client, sortable by each column (unused share first)."""
    view = run.least_privilege
    if view is None:
        return []
    shown = view.clients[:MAX_CLIENT_ROWS]
    head = "".join(
        f'<th class="{"num" if key != "name" else ""}"><button type="button" data-sort="{key}">'
        f"{label}</button></th>"
        for key, label in (
            ("name", "client"),
            ("granted", "granted"),
            ("exercised", "exercised"),
            ("ambiguous", "possibly"),
            ("unused", "unused"),
            ("share", "unused share"),
            ("requests", "requests"),
        )
    )
    parts = [
        f"<h2>Least privilege ({len(view.clients)} clients)</h2>",
        f'<p class="meta">{h(view.window_text())}; '
        f"{h(view.summary_text())}. Granted = exercised + possibly + unused "
        "(+ permissions API usage cannot show); click a column to sort.</p>",
        *(f'<p class="meta">{h(n)}</p>' for n in view.notes),
        # The sorting script (LP_SCRIPT) sorts the table of a one-org page; a page of many orgs
        # prefixes each org's ids, so they stay unique.
        f'<table id="{ids}least-privilege"><thead><tr>{head}<th>details</th></tr></thead><tbody>',
    ]
    for r in shown:
        share = r.unused_share
        parts.append(
            f'<tr data-name="{h(r.client_name.casefold())}" data-granted="{r.granted}" '
            f'data-exercised="{r.exercised}" data-ambiguous="{r.ambiguous}" '
            f'data-unused="{r.unused}" data-share="{share:.4f}" data-requests="{r.requests}">'
            f'<td>{h(r.client_name)}<div class="small"><code>{h(r.client_id)}</code> '
            f"{h(r.grant_type)}, {r.what}</div></td>"
            f'<td class="num">{r.granted}</td><td class="num">{r.exercised}</td>'
            f'<td class="num">{r.ambiguous}</td><td class="num">{r.unused}</td>'
            # A meter, not a styled bar: the page's CSP allows no inline style attribute.
            f'<td class="num">{share:.0%}<meter min="0" max="1" value="{share:.4f}"></meter></td>'
            f'<td class="num">{r.requests}</td>'
            f"<td><details><summary>{r.operations} operations</summary>"
            f"{_privilege_details(r)}</details></td></tr>"
        )
    parts += [
        "</tbody></table>",
        *_capped(
            len(shown), len(view.clients), "clients, those with the largest unused share first"
        ),
        *(f'<p class="small">{h(n)}</p>' for n in view.limits),
    ]
    return parts


def page(
    title: str,
    body: list[str],
    *,
    styles: tuple[str, ...] = (STYLE,),
    scripts: tuple[str, ...] = (SCRIPT,),
) -> str:
    """A whole self-contained page: ``body`` (HTML), these inline styles and scripts, and the
    Content-Security-Policy that allows exactly them."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp(styles, scripts)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{title}</title>",
        "".join(f"<style>{style}</style>" for style in styles) + "</head><body>",
        *body,
        *(f"<script>{code}</script>" for code in scripts),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def render(evaluation: Evaluation, run: RunInfo) -> str:
    failed = run.counts(evaluation).failing > 0
    return page(f"genesys-oauth-audit: {'FAIL' if failed else 'PASS'}", body(evaluation, run))


def body(
    evaluation: Evaluation,
    run: RunInfo,
    *,
    heading: str = "genesys-oauth-audit",
    level: int = 1,
    ids: str = "",
) -> list[str]:
    """The report of one run as a page's body: its heading (``heading``, HTML, at ``level``)
    and verdict, facts, findings table with its filters (element ids prefixed with ``ids``,
    as ``script(ids)`` expects), and every other section."""
    everything = run.reported(evaluation)
    reported = everything[:MAX_FINDING_ROWS]  # most severe first
    tally = run.counts(evaluation)
    counts = tally.by_severity
    failed = tally.failing > 0
    src = run.source
    if src.kind == "live":
        source = f"org {h(src.org_name or src.org_id or 'unknown')} ({h(src.region or '?')}), live"
    elif src.kind == "snapshot":
        source = f"snapshot {h(src.path or '')} of org {h(src.org_name or src.org_id or 'unknown')}"
    else:
        source = "proposed clients"
    if src.proposals:
        source += "; proposals " + ", ".join(h(p) for p in src.proposals)
    when = run.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    rules = sorted({f.rule_id for f in everything})
    cards = "".join(
        f'<div class="card sev-{s.value}"><b data-count="{s.value}">{counts[s.value]}</b>{s.value}</div>'
        for s in SEVERITIES
    )
    numbers: list[tuple[str, int | None]] = [
        ("waived", tally.waived),
        ("hidden", tally.hidden),
        ("total", tally.total),
    ]
    if tally.new is not None:
        numbers += [("new", tally.new), ("unchanged", tally.unchanged), ("absent", tally.absent)]
    cards += "".join(
        f'<div class="card"><b data-count="{name}">{value}</b>{name}</div>'
        for name, value in numbers
    )
    parts = [
        f'<h{level}>{heading}: <span class="verdict {"fail" if failed else "pass"}">{"FAIL" if failed else "PASS"}</span></h{level}>',
        f'<p class="meta">{source}; generated {when} by {h(run.tool_name)} {h(run.tool_version)}; '
        f"as of {h(run.as_of_text)}; {h(verdict_reason(tally, run))}.</p>",
        f'<p class="meta">Policies: {", ".join(f"<code>{h(p.path)}</code>" for p in run.policies)}</p>',
        *([f'<p class="meta">{h(u)}</p>'] if (u := usage_text(src)) is not None else []),
        *(f'<p class="verdict fail">Warning: {h(w)}</p>' for w in run.warnings),
        f'<p class="meta" id="{ids}counts">{h(counts_text(tally))}.</p>',
        f'<div class="cards">{cards}</div>',
        '<h2>Findings</h2><div class="filters">',
        f'<label>Minimum severity<select id="{ids}f-severity">'
        + "".join(f'<option value="{s.value}">{s.value}</option>' for s in reversed(SEVERITIES))
        + "</select></label>",
        f'<label>Rule<select id="{ids}f-rule"><option value="">all rules</option>'
        + "".join(f'<option value="{h(r)}">{h(r)}</option>' for r in rules)
        + "</select></label>",
        f'<label>Client<input id="{ids}f-client" type="search" placeholder="name or id"></label>',
        f'<label><span>Waived</span><input id="{ids}f-waived" type="checkbox"></label>',
        f'<span class="small"><span id="{ids}shown">{len(reported)}</span> of {len(reported)} findings shown</span></div>',
        f'<table id="{ids}findings"><thead><tr><th>severity</th><th>rule</th><th>client</th><th>subject</th>'
        "<th>finding</th></tr></thead><tbody>",
        *(_row(f, run) for f in reported),
        "</tbody></table>",
        *_capped(len(reported), len(everything), "findings, the most severe first"),
    ]
    rated = riskiest(evaluation)
    top = rated[:MAX_CLIENT_ROWS]
    if top:
        parts += [
            f"<h2>Clients rated high or critical by the risk catalog ({len(rated)})</h2>",
            "<table><thead><tr><th>risk</th><th>client</th><th>grant type, roles, permissions</th><th>why</th></tr></thead><tbody>",
        ]
        for c in top:
            assert c.highest_risk is not None
            parts.append(
                f'<tr><td><span class="badge {c.highest_risk.value}">{c.highest_risk.value}</span></td>'
                f'<td>{h(c.name)}<div class="small"><code>{h(c.id or "proposed")}</code></div></td>'
                f"<td>{h(describe_client(c))}</td><td>{h(c.risk_reason or '')}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts += _capped(len(top), len(rated), "clients rated high or critical, the riskiest first")
    parts += _least_privilege(run, ids)
    if evaluation.disabled:
        parts += [
            f"<h2>Rules disabled by overrides ({len(evaluation.disabled)})</h2>",
            "<table><thead><tr><th>rule</th><th>reason</th><th>owner</th><th>ticket</th>"
            "<th>until</th><th>override</th></tr></thead><tbody>",
        ]
        for d in evaluation.disabled:
            parts.append(
                f"<tr><td><code>{h(d.rule_id)}</code><div>{h(d.title)}</div></td><td>{h(d.reason)}</td>"
                f"<td>{h(d.owner or '—')}</td><td>{h(d.ticket or '—')}</td>"
                f"<td>{d.expires.isoformat() if d.expires else '—'}</td><td><code>{h(d.source)}</code></td></tr>"
            )
        parts.append("</tbody></table>")
    views = framework_views(evaluation, run)
    if views:
        parts.append("<h2>Compliance frameworks</h2>")
        if run.frameworks:
            parts.append(
                f'<p class="meta">Only rules mapped to {", ".join(f"<code>{h(f)}</code>" for f in run.frameworks)} were run.</p>'
            )
        for view in views:
            parts += [
                f"<h3>{h(view.name)} <code>{h(view.id)}</code></h3>",
                f'<p class="small">{h(controls_words(view))}</p>',
                "<table><thead><tr><th>control</th><th>status</th><th>rules</th></tr></thead><tbody>",
            ]
            for control in view.controls:
                supporting = "<br>".join(
                    f"<code>{h(r.rule_id)}</code> {_status(r.status)}"
                    + (f" ({r.findings})" if r.findings else "")
                    for r in control.rules
                )
                title = f'<div class="small">{h(control.title)}</div>' if control.title else ""
                parts.append(
                    f"<tr><td><code>{h(control.id)}</code>{title}</td>"
                    f"<td>{_status(control.status)}</td>"
                    f"<td>{supporting}</td></tr>"
                )
            parts.append("</tbody></table>")
    notes = [f"<li>{h(note)}</li>" for note in src.notes]
    notes += [
        f"<li><code>{h(n.rule_id)}</code> was not evaluated: {h(n.reason)}</li>"
        for n in evaluation.not_evaluated
    ]
    for n in evaluation.pairs_not_evaluated:
        c = evaluation.clients[n.client_index]
        notes.append(
            f"<li><code>{h(n.rule_id)}</code> was not evaluated for {h(c.name or unnamed_client(c.id))}: {h(n.shown_reason)}</li>"
        )
    for title, items in (
        ("expired: its findings count again", evaluation.expired_exceptions),
        ("expires soon", evaluation.expiring_exceptions),
        ("waives nothing", evaluation.unused_exceptions),
    ):
        for e in items:
            expires = f" ({e.expires.isoformat()})" if e.expires else ""
            notes.append(
                f"<li>Exception for <code>{h(e.rule_id)}</code> ({h(', '.join(e.clients))}) {title}{expires}: {h(e.reason)}</li>"
            )
    for d in evaluation.expired_overrides:
        notes.append(
            f"<li>The override disabling <code>{h(d.rule_id)}</code> (<code>{h(d.source)}</code>) "
            f"expired ({d.expires.isoformat() if d.expires else '?'}): the rule is evaluated again</li>"
        )
    if notes:
        parts += ["<h2>Notes</h2><ul>", *notes, "</ul>"]
    if evaluation.absent:
        parts += [
            f"<h2>Absent from this run ({len(evaluation.absent)})</h2>",
            "<p>In the baseline, no longer found (fixed, or the client is gone):</p><ul>",
            *(f"<li>{h(absent_text(e))}</li>" for e in evaluation.absent),
            "</ul>",
        ]
    return parts
