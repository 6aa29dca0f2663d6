"""``explain``: a rule in words, for the person deciding whether a finding matters."""

from __future__ import annotations

import json
import textwrap

from genesys_oauth_audit.policy.model import PolicySet, Rule, Where


def _where_words(where: Where) -> list[str]:
    words = []
    if where.grant_types is not None:
        words.append("grant type is one of " + ", ".join(where.grant_types))
    if where.states is not None:
        words.append("state is one of " + ", ".join(where.states))
    if where.names is not None:
        words.append("name matches " + " or ".join(repr(n) for n in where.names))
    if where.ids is not None:
        words.append("id is one of " + ", ".join(where.ids))
    if where.exclude_names:
        words.append("name matches none of " + ", ".join(repr(n) for n in where.exclude_names))
    if where.exclude_ids:
        words.append("id is none of " + ", ".join(where.exclude_ids))
    return words


def _block(title: str, text: str | None) -> list[str]:
    if not text:
        return []
    return [
        "",
        f"{title}:",
        *textwrap.wrap(" ".join(text.split()), 78, initial_indent="  ", subsequent_indent="  "),
    ]


def explain_rule(rule: Rule, policies: PolicySet) -> str:
    check = rule.check_type
    params = rule.params.model_dump(by_alias=True, exclude_defaults=False)
    lines = [
        f"{rule.id}: {rule.title}",
        f"  severity   {rule.severity.value}",
        f"  defined at {rule.source}",
        f"  check      {check.name}: {check.summary}",
        f"  subject    {check.subject}",
    ]
    if params:
        lines.append("  parameters " + json.dumps(params, ensure_ascii=False))
    if rule.tags:
        lines.append("  tags       " + ", ".join(rule.tags))
    if rule.help_uri:
        lines.append(f"  help       {rule.help_uri}")
    where = _where_words(rule.where)
    lines.append(
        "  applies to "
        + ("clients whose " + "; and whose ".join(where) if where else "every client")
    )
    if check.needs:
        lines.append(
            "  needs      "
            + ", ".join(sorted(check.needs))
            + " in the inventory (else: not evaluated)"
        )
    lines += _block("What it checks", check.doc)
    lines += _block("Why", rule.description)
    lines += _block("What to do", rule.remediation)
    ex = check.example
    lines += [
        "",
        f"Example of the check type (parameters {json.dumps(ex.params)}):",
        f"  PASS  {json.dumps(ex.passing, ensure_ascii=False)}",
        f"  FAIL  {json.dumps(ex.failing, ensure_ascii=False)}",
        "        findings for: "
        + ", ".join("(no subject)" if s is None else s for s in ex.subjects),
    ]
    waivers = [e for e in policies.exceptions if e.rule_id == rule.id]
    if waivers:
        lines += ["", "Exceptions:"]
        for e in waivers:
            until = f" until {e.expires.isoformat()}" if e.expires else ""
            lines.append(f"  {', '.join(e.clients)}{until} ({e.source}): {e.reason}")
    return "\n".join(lines) + "\n"
