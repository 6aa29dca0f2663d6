"""Reference documentation of the check types, generated from the registry (docs/check-types.md)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from genesys_oauth_audit.checks import CHECKS


def _params_table(schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties", {})
    if not props:
        return ["No parameters."]
    required = set(schema.get("required", []))
    rows = ["| parameter | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in props.items():
        branches = [b for b in prop.get("anyOf", ()) if b.get("type") != "null"]
        if len(branches) == 1 and len(prop["anyOf"]) == 2:
            kind = f"{_kind(branches[0])} or null"  # an optional value (Python's X | None)
        else:
            kind = _kind(prop)
        default = f" (default {json.dumps(prop['default'])})" if "default" in prop else ""
        rows.append(
            f"| `{name}` | {kind} | {'yes' if name in required else 'no'} | {prop.get('description', '')}{default} |"
        )
    return rows


def _kind(prop: dict[str, Any]) -> str:
    """A parameter's type in words: ``integer``, ``list of strings``, ``one of a, b``."""
    kind: str = prop.get("type") or (
        "one of " + ", ".join(prop["enum"]) if "enum" in prop else "any"
    )
    if "$ref" in prop:
        kind = _ref_name(prop["$ref"])
    if kind == "array":
        items = prop.get("items", {})
        kind = f"list of {_ref_name(items['$ref']) + 's' if '$ref' in items else items.get('type', 'values')}"
    return kind


def _ref_name(ref: str) -> str:
    """``#/$defs/FieldCondition`` -> ``field condition``."""
    name = ref.rpartition("/")[2]
    return " ".join(w.lower() for w in re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name))


def _yaml(data: Any) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
    ).strip()


def check_types_markdown() -> str:
    lines = [
        "# Check types",
        "",
        "Generated from the check registry (`src/genesys_oauth_audit/checks/`, one module per",
        "family of check types) by",
        "`python scripts/gen_schemas.py`; a test keeps it in step. Every PASS and FAIL example",
        "below also runs as a test, and `genesys-oauth-audit explain RULE_ID` shows a rule's.",
        "",
    ]
    for name, check in CHECKS.items():
        schema = check.params.model_json_schema(by_alias=True)
        example = check.example
        rule = {
            "id": "EXAMPLE-001",
            "title": check.summary.rstrip("."),
            "check": {"type": name, **example.params},
        }
        lines += [
            f"## `{name}`",
            "",
            check.summary,
            "",
            " ".join(check.doc.split()),
            "",
            f"- **Defined in** `src/genesys_oauth_audit/checks/{check.run.__module__.rpartition('.')[2]}.py`.",
            f"- **Subject** of a finding: {check.subject}.",
            f"- **Needs** in the inventory: {', '.join(sorted(check.needs)) if check.needs else 'nothing beyond the clients'}"
            + (" (else the rule is reported as *not evaluated*)." if check.needs else "."),
            "",
            *_params_table(schema),
            "",
            "```yaml",
            _yaml([rule]),
            "```",
            "",
        ]
        if example.context:
            lines += [
                "With this inventory context:",
                "",
                "```yaml",
                _yaml(example.context),
                "```",
                "",
            ]
        subjects = ", ".join("(no subject)" if s is None else f"`{s}`" for s in example.subjects)
        lines += [
            "PASS: no finding for a client with",
            "",
            "```yaml",
            _yaml(example.passing),
            "```",
            "",
            f"FAIL: findings for {subjects}, for a client with",
            "",
            "```yaml",
            _yaml(example.failing),
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
