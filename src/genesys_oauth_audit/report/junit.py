"""JUnit XML (docs/report-formats.md) that the strict Ant schema, GitLab, Jenkins and Azure DevOps all accept.

A ``testsuite`` per rule, a ``testcase`` per (rule, client) pair the rule
selected, passes included, so a dashboard shows what was checked and not only
what failed. ``classname`` is the rule id and ``name`` the client's name and id:
unique and stable (GitLab keeps only the first of duplicate names). A pair with
findings that count is a ``failure``; one whose findings are all waived or
already in the baseline, whose rule was not evaluated, or to which the rule
cannot apply (the usage of a client that does not exist yet) is ``skipped`` with
the reason as its text (the junit4 schema allows no ``message`` on ``skipped``).
A pair the rule could not be evaluated for because data that should have been
there was not (a value known only after apply) is an ``error``: GitLab, Jenkins
and junit2html count it as failed, which is right for a gap, wrong for a rule
that does not apply.
The strict Ant schema allows no attributes on ``testsuites`` and
wants ``properties``, ``system-out`` and ``system-err`` in every suite.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from genesys_oauth_audit.findings import ClientRef, DisabledRule, Evaluation, Finding
from genesys_oauth_audit.report.base import RunInfo, counts_dict, usage_text
from genesys_oauth_audit.report.escape import one_line, terminal, xml_safe
from genesys_oauth_audit.report.leastpriv import text_lines as least_privilege_lines


def _case_name(client: ClientRef) -> str:
    if client.id:
        return one_line(f"{client.name or '(unnamed)'} [{client.id}]")
    where = f" {client.location.path}:{client.location.line}" if client.location else ""
    return one_line(f"{client.name or '(unnamed)'} [proposed{where}]")


def _evidence(findings: list[Finding], remediation: str | None) -> str:
    lines = []
    for f in findings:
        subject = f" [{f.subject}]" if f.subject is not None else ""
        where = f" ({f.location.path}:{f.location.line})" if f.location else ""
        lines.append(f"- {f.message}{subject}{where} (fingerprint {f.fingerprint})")
        if f.evidence is not None:
            lines.append(f"  evidence: {f.evidence.describe()}")
    if remediation:
        lines += ["", "Remediation: " + " ".join(remediation.split())]
    return xml_safe("\n".join(lines))


def _skip_reason(findings: list[Finding]) -> str:
    if all(f.waived is not None for f in findings):
        waiver = findings[0].waived
        assert waiver is not None
        until = f" until {waiver.expires.isoformat()}" if waiver.expires else ""
        return f"waived{until}: {waiver.reason}"
    return "known in the baseline"


def _disabled_text(d: DisabledRule) -> str:
    details = [
        f"at {d.source}",
        *([f"until {d.expires.isoformat()}"] if d.expires else []),
        *([f"owner {d.owner}"] if d.owner else []),
        *([f"ticket {d.ticket}"] if d.ticket else []),
    ]
    return f"{d.reason} ({', '.join(details)})"


LEAST_PRIVILEGE_CHECKS = frozenset({"unused-permissions", "unused-roles", "unused-scopes"})


def _skip(case: ET.Element, reason: str) -> None:
    # The reason is the element's text: the junit4 schema allows no attribute on <skipped>.
    ET.SubElement(case, "skipped").text = one_line(reason, 500)


def render(evaluation: Evaluation, run: RunInfo) -> str:
    root = testsuites(evaluation, run)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def testsuites(evaluation: Evaluation, run: RunInfo) -> ET.Element:
    """The ``testsuites`` element: a suite per rule (a run of many orgs takes each org's)."""
    timestamp = run.generated_at.strftime("%Y-%m-%dT%H:%M:%S")
    not_evaluated = {n.rule_id: n.reason for n in evaluation.not_evaluated}
    disabled = {d.rule_id: d for d in evaluation.disabled_rules}
    pair_errors = {(n.rule_id, n.client_index): n for n in evaluation.pairs_not_evaluated}
    by_pair: dict[tuple[str, int], list[Finding]] = defaultdict(list)
    for f in run.reported(evaluation):
        by_pair[(f.rule_id, f.client_index)].append(f)

    # The run's numbers and as-of day, in every suite: the strict Ant schema allows no
    # properties on <testsuites>, and a reader may look at any one suite.
    run_properties = [("asOf", f"{run.as_of_day.isoformat()} ({run.as_of_basis})")]
    run_properties += [
        (f"findings.{name}", "" if value is None else str(value))
        for name, value in counts_dict(run.counts(evaluation)).items()
        if name != "bySeverity"
    ]
    usage = usage_text(run.source)
    if usage is not None:
        run_properties.append(("usage", one_line(usage, 1000)))
    # Granted versus exercised per client, where every CI reader shows a suite's output: in the
    # suites of the least-privilege rules, else in the first suite (bounded, as in text).
    privilege = "".join(
        f"{terminal(line)}\n" for line in least_privilege_lines(run.least_privilege)
    )
    homes = {r.id for r in run.rules if r.check_type in LEAST_PRIVILEGE_CHECKS}
    if privilege and not homes and run.rules:
        homes = {run.rules[0].id}
    root = ET.Element("testsuites")
    # Run-level warnings go where every CI reader shows a suite's stderr (no suite, no warning:
    # a run with no rules has nothing to gate anyway).
    warnings = "".join(f"WARNING: {w}\n" for w in run.warnings)
    for suite_id, rule in enumerate(run.rules):
        chosen = evaluation.selected.get(rule.id, ())
        suite = ET.SubElement(root, "testsuite")
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("rule", rule.id),
            ("severity", rule.severity.value),
            ("check", rule.check_type),
            ("source", rule.source),
            *run_properties,
        ):
            ET.SubElement(props, "property", name=name, value=xml_safe(value))
        off = disabled.get(rule.id)
        if off is not None:
            # The override that switches the rule off (or did, until a day that has passed).
            ET.SubElement(
                props,
                "property",
                name="override-expired" if off.expired else "disabled",
                value=one_line(_disabled_text(off)),
            )
        failures = skipped = errors = 0
        for index in chosen:
            client = evaluation.clients[index]
            case = ET.SubElement(
                suite, "testcase", classname=rule.id, name=_case_name(client), time="0"
            )
            if off is not None and not off.expired:
                _skip(case, f"disabled by an override: {_disabled_text(off)}")
                skipped += 1
                continue
            if rule.id in not_evaluated:
                _skip(case, f"not evaluated: {not_evaluated[rule.id]}")
                skipped += 1
                continue
            pair = pair_errors.get((rule.id, index))
            if pair is not None and pair.not_applicable:
                # The rule cannot apply to this client (it does not exist yet): not a gap.
                _skip(case, f"not applicable: {pair.reason}")
                skipped += 1
                continue
            if pair is not None:
                # The rule could not be evaluated for this client: an error, not a pass.
                reason = pair.reason
                error = ET.SubElement(
                    case,
                    "error",
                    message=one_line(f"not evaluated: {reason}", 500),
                    type="not-evaluated",
                )
                error.text = xml_safe(f"The rule could not be evaluated for this client: {reason}")
                errors += 1
                continue
            findings = by_pair.get((rule.id, index), [])
            counting = [f for f in findings if f.counts]
            if counting:
                first = counting[0]
                more = f" (and {len(counting) - 1} more)" if len(counting) > 1 else ""
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=one_line(first.message + more, 500),
                    type=rule.severity.value,
                )
                failure.text = _evidence(counting, rule.remediation)
                failures += 1
            elif findings:
                _skip(case, _skip_reason(findings))
                skipped += 1
        suite.attrib.update(
            {
                "name": one_line(f"{rule.id}: {rule.title}"),
                "tests": str(len(chosen)),
                "failures": str(failures),
                "errors": str(errors),
                "skipped": str(skipped),
                "time": "0",
                "timestamp": timestamp,
                "hostname": xml_safe(run.source.region or "genesys-cloud"),
                "id": str(suite_id),
                "package": "genesys-oauth-audit",
            }
        )
        ET.SubElement(suite, "system-out").text = xml_safe(privilege if rule.id in homes else "")
        ET.SubElement(suite, "system-err").text = xml_safe(warnings)
    return root
