"""``explain`` and ``rules``: a rule in words, for the person deciding whether a finding matters,
with where each of its settings came from (the rule's file, or an override's line)."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import date

from genesys_oauth_audit.policy.frameworks import control_title, framework_name
from genesys_oauth_audit.policy.model import Override, PolicySet, Rule, Where


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


def _params_text(rule: Rule) -> str:
    """The check's parameters: in words where the check type says them (a field check's
    condition tree), else as JSON."""
    described = rule.params.describe()
    if described is not None:
        return described
    # Unset optional parameters (None) are left out: "riskAtLeast": null says nothing.
    return json.dumps(rule.params.model_dump(by_alias=True, exclude_none=True), ensure_ascii=False)


def _setting_value(rule: Rule, setting: str) -> str:
    """The effective value of one setting an override may replace, in one line."""
    if setting == "severity":
        return rule.severity.value
    if setting == "title":
        return repr(rule.title)
    if setting == "remediation":
        return "replaced"
    if setting == "tags":
        return ", ".join(rule.tags) or "(none)"
    if setting == "where":
        words = _where_words(rule.where)
        return "; ".join(words) if words else "every client"
    return _params_text(rule)


def _was(override: Override, setting: str) -> str:
    """What the included rule had, for the settings short enough to show."""
    if setting == "severity":
        return f"; included: {override.base.severity.value}"
    if setting == "title":
        return f"; included: {override.base.title!r}"
    return ""


def disabled_words(override: Override, today: date | None = None) -> str:
    """``at acme.yaml:5 until 2027-03-31 (then enabled again), owner x, ticket y: reason``; once
    ``today`` is past the expiry, ``expired on 2027-03-31: the rule is enabled again``."""
    parts = [f"at {override.source}"]
    if override.expires is not None:
        if today is not None and override.expired(today):
            parts.append(f"expired on {override.expires.isoformat()}: the rule is enabled again")
        else:
            parts.append(f"until {override.expires.isoformat()} (then enabled again)")
    if override.owner:
        parts.append(f"owner {override.owner}")
    if override.ticket:
        parts.append(f"ticket {override.ticket}")
    return ", ".join(parts) + f": {override.reason}"


def origin_lines(rule: Rule, indent: str, today: date | None = None) -> list[str]:
    """For an overridden rule: one line per replaced setting with its value and where it was
    written, and whether the override switches the rule off as of ``today`` (``rules`` and
    ``explain``)."""
    override = rule.override
    if override is None:
        return []
    lines = []
    if not override.enabled:
        lines.append(f"{indent}disabled   {disabled_words(override, today)}")
    for setting, ref in override.settings:
        lines.append(
            f"{indent}{setting:<10} {_setting_value(rule, setting)} "
            f"(overridden at {ref}{_was(override, setting)})"
        )
    return lines


def controls_text(rule: Rule) -> list[str]:
    """``nist-800-53 AC-6(5) Least Privilege | Privileged Accounts`` per control, by framework."""
    lines = []
    for framework, ids in rule.controls:
        for control in ids:
            title = control_title(framework, control)
            lines.append(
                f"    {framework_name(framework)} {control}" + (f": {title}" if title else "")
            )
    return lines


# Inline Markdown (and the RST double backticks of the check types' docs), read for a terminal:
# code spans first, so nothing inside them is touched.
_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\((\S+?)\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_STRONG = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*|__(\S(?:.*?\S)?)__")
_EMPHASIS = re.compile(r"(?<![\w*])\*(\w(?:[^*]*?\w)?)\*(?![\w*])|(?<!\w)_(\w(?:[^_]*?\w)?)_(?!\w)")


def terminal_markdown(text: str) -> str:
    """Markdown as a terminal reader wants it: ``**bold**`` and ``*emphasis*`` without their
    markers, links as ``text (url)``, code spans in single backticks (`oauth:*:*`), escapes
    undone; no raw markup left to read around."""
    out: list[str] = []
    pos = 0
    for match in _CODE.finditer(text):
        out.append(_prose(text[pos : match.start()]))
        out.append(f"`{match[1] or match[2]}`")
        pos = match.end()
    out.append(_prose(text[pos:]))
    return "".join(out)


def _prose(text: str) -> str:
    text = _LINK.sub(lambda m: m[1] if m[1] == m[2] else f"{m[1]} ({m[2]})", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _STRONG.sub(lambda m: m[1] or m[2], text)
    text = _EMPHASIS.sub(lambda m: m[1] or m[2], text)
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", text)


def _block(title: str, text: str | None, width: int = 80) -> list[str]:
    if not text:
        return []
    return [
        "",
        f"{title}:",
        *textwrap.wrap(
            terminal_markdown(" ".join(text.split())),
            max(width - 2, 40),
            initial_indent="  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
            break_long_words=False,
        ),
    ]


def explain_rule(
    rule: Rule, policies: PolicySet, *, width: int = 80, today: date | None = None
) -> str:
    """The rule in full, its prose (what it checks, why, what to do) wrapped at ``width``."""
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
        if rule.params.describe() is not None:
            # One line, never wrapped: a break inside a regular expression would change it.
            lines.append("  condition  " + _params_text(rule))
        else:
            lines.append("  parameters " + _params_text(rule))
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
    if rule.override is not None:
        lines += ["", "Overridden:", *origin_lines(rule, "  ", today)]
    if rule.controls:
        lines += ["", "Controls it supports:", *controls_text(rule)]
    lines += _block("What it checks", check.doc, width)
    lines += _block("Why", rule.description, width)
    lines += _block("What to do", rule.remediation, width)
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
