"""The policy file's JSON Schema, built from the check registry (published as schemas/policy.schema.json).

The loader validates with exactly this schema; a test keeps the published file
equal to it, so the enum of check types and their parameters can never drift
from the registry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from genesys_oauth_audit.severity import SEVERITIES

API_VERSION = "genesys-oauth-audit/v1"
KIND = "Policy"
SCHEMA_BASE = (
    "https://raw.githubusercontent.com/genesys-oauth-audit/genesys-oauth-audit/main/schemas/"
)
SCHEMA_ID = SCHEMA_BASE + "policy.schema.json"
TEST_KIND = "PolicyTest"
ORGS_KIND = "Orgs"
# A name is used in reports, SARIF categories, JUnit suite names and file names (fetch -o DIR
# writes DIR/<name>.json): lowercase, so two names cannot become one file on a case-insensitive
# file system, and nothing a shell or a path would read specially.
ORG_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# What an environment variable's name looks like (POSIX: capitals, digits, underscores).
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"

RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
# A compliance framework's id: a lowercase slug (nist-800-53, iso-27001-2022, soc2, cis-controls-v8).
FRAMEWORK_ID_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _check_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """The ``check`` mapping: one if/then branch per check type. Definitions a parameters model
    needs (a field check's recursive condition tree) are added to ``defs``, the document's own
    ``$defs``, where the model's ``#/$defs/...`` references point."""
    # Here, not at the top: the orgs file's schema (every matrix job's start) needs no check type,
    # and the check types bring pydantic and their parameter models.
    from genesys_oauth_audit.checks import CHECKS

    branches = []
    for name, check in CHECKS.items():
        params = _strip_titles(check.params.model_json_schema(by_alias=True))
        for def_name, definition in params.get("$defs", {}).items():
            if def_name in defs and defs[def_name] != definition:
                raise ValueError(f"two check types define a different {def_name!r}")
            defs[def_name] = definition
        properties = {"type": {"const": name}, **params.get("properties", {})}
        then: dict[str, Any] = {
            "properties": properties,
            "additionalProperties": False,
        }
        if params.get("required"):
            then["required"] = params["required"]
        branches.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": then,
            }
        )
    return {
        "type": "object",
        "description": "What the rule checks: a check type and its parameters.",
        "required": ["type"],
        "properties": {
            "type": {
                "description": "The check type.",
                "enum": list(CHECKS),
            }
        },
        "allOf": branches,
    }


@lru_cache(maxsize=1)
def policy_schema() -> dict[str, Any]:
    """The schema the loader validates with: the published file (schemas/policy.schema.json,
    shipped in the wheel), which ``build_policy_schema`` writes and a test keeps equal to it.
    Read, not built: building it means building every check type's parameters model (pydantic
    builds a model's validator when first used), a third of a ``validate``'s start-up."""
    from genesys_oauth_audit.data import data_dir

    text = (data_dir("schemas") / "policy.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def build_policy_schema() -> dict[str, Any]:
    """The policy file's schema from the check registry (scripts/gen_schemas.py publishes it)."""
    strings = {"type": "array", "items": {"type": "string", "minLength": 1}}
    param_defs: dict[str, Any] = {}
    check = _check_schema(param_defs)
    expires = {
        "type": "string",
        "format": "date",
        "pattern": r"^\d{4}-\d{2}-\d{2}$",
    }
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "genesys-oauth-audit policy",
        "description": "A policy file of genesys-oauth-audit: rules over the OAuth clients of a "
        "Genesys Cloud org, and exceptions to them.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
            "include": {
                "description": "Other policy files (paths relative to this one) or shipped packs (builtin:NAME).",
                **strings,
            },
            "overrides": {
                "description": "Changes to rules loaded through include: switch one off (with a "
                "reason) or replace some of its settings.",
                "type": "array",
                "items": {"$ref": "#/$defs/override"},
            },
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
            "exceptions": {"type": "array", "items": {"$ref": "#/$defs/exception"}},
        },
        "$defs": {
            "severity": {"enum": [s.value for s in SEVERITIES]},
            "globs": strings,
            "rule": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "title", "check"],
                "properties": {
                    "id": {
                        "type": "string",
                        "pattern": RULE_ID_PATTERN,
                        "description": "Unique across everything loaded.",
                    },
                    "title": {"type": "string", "minLength": 1},
                    "severity": {"$ref": "#/$defs/severity", "default": "medium"},
                    "description": {"type": "string", "description": "Markdown."},
                    "remediation": {"type": "string", "description": "Markdown."},
                    "helpUri": {"type": "string", "pattern": "^https?://"},
                    "tags": strings,
                    "where": {"$ref": "#/$defs/where"},
                    "controls": {"$ref": "#/$defs/controls"},
                    "check": {"$ref": "#/$defs/check"},
                },
            },
            "controls": {
                "type": "object",
                "description": "The compliance controls the rule supports: framework id (a "
                "lowercase slug such as nist-800-53, iso-27001-2022, soc2, cis-controls-v8) -> "
                "control ids.",
                "propertyNames": {
                    "pattern": FRAMEWORK_ID_PATTERN,
                    "description": "a framework id: a lowercase slug such as nist-800-53",
                },
                "additionalProperties": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "string", "minLength": 1},
                },
            },
            "where": {
                "type": "object",
                "description": "Which clients the rule applies to; every key given must match.",
                "additionalProperties": False,
                "properties": {
                    "grantTypes": {"type": "array", "items": {"type": "string"}},
                    "states": {"type": "array", "items": {"type": "string"}},
                    "names": {"$ref": "#/$defs/globs", "description": "Globs on the client name."},
                    "ids": {"$ref": "#/$defs/globs", "description": "Exact client ids."},
                    "excludeNames": {"$ref": "#/$defs/globs"},
                    "excludeIds": {"$ref": "#/$defs/globs"},
                },
            },
            "check": check,
            "override": {
                "type": "object",
                "description": "An override of one rule loaded through include: enabled: false "
                "(with a reason) switches it off; severity, title, remediation, tags, where and "
                "check parameters (not the check type) replace the included rule's.",
                "additionalProperties": False,
                "required": ["rule"],
                "properties": {
                    "rule": {"type": "string", "description": "The id of an included rule."},
                    "enabled": {
                        "type": "boolean",
                        "description": "false switches the rule off (a reason is required).",
                    },
                    "reason": {"type": "string", "minLength": 1},
                    "owner": {"type": "string"},
                    "ticket": {"type": "string"},
                    "expires": {
                        **expires,
                        "description": "YYYY-MM-DD; with enabled: false, the rule is off through "
                        "that day (UTC) and on again from the next.",
                    },
                    "severity": {"$ref": "#/$defs/severity"},
                    "title": {"type": "string", "minLength": 1},
                    "remediation": {"type": "string", "description": "Markdown."},
                    "tags": strings,
                    "where": {
                        "$ref": "#/$defs/where",
                        "description": "Selector keys to replace; keys not given keep the "
                        "included rule's.",
                    },
                    "check": {
                        "type": "object",
                        "description": "Check parameters to replace, validated as the included "
                        "rule's check type validates them; the type cannot change.",
                    },
                },
                "if": {"properties": {"enabled": {"const": False}}, "required": ["enabled"]},
                "then": {"required": ["reason"]},
            },
            "exception": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rule", "clients", "reason"],
                "properties": {
                    "rule": {"type": "string", "description": "The id of the rule waived."},
                    "clients": {
                        "description": "Client ids (exact) or globs on client names.",
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "minLength": 1},
                    },
                    "reason": {"type": "string", "minLength": 1},
                    "expires": {
                        **expires,
                        "description": "YYYY-MM-DD; the exception holds through that day (UTC).",
                    },
                    "ticket": {"type": "string"},
                    "owner": {"type": "string"},
                },
            },
        },
    }
    schema["$defs"].update(param_defs)
    return schema


@lru_cache(maxsize=1)
def policy_test_schema() -> dict[str, Any]:
    """The schema of policy test files (docs/writing-policies.md); clients inside are checked by the inventory model."""
    strings = {"type": "array", "items": {"type": "string", "minLength": 1}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + "policy-test.schema.json",
        "title": "genesys-oauth-audit policy test",
        "description": "Unit tests of policies: an inventory, and the findings each case expects.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "policies", "cases"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": TEST_KIND},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
            },
            "policies": {
                "description": "Policy files (relative to this file) or builtin:NAME.",
                "minItems": 1,
                **strings,
            },
            "today": {
                "type": "string",
                "format": "date",
                "description": "The day time-based checks judge as of (UTC), like check's "
                "--as-of; default: the inventoryFile's fetchedAt, else today. test --as-of "
                "overrides it.",
            },
            "inventory": {
                "type": "object",
                "description": "An inline inventory; omitted parts are not fetched (their rules are "
                "not evaluated).",
                "additionalProperties": False,
                "properties": {
                    "org": {"type": "object"},
                    "region": {"type": "string"},
                    "scopes": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "object"}]},
                        "description": "The org's scope catalog: ids, or {id, description}.",
                    },
                    "roles": {"type": "array", "items": {"type": "object"}},
                    "usage": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["days"],
                        "properties": {"days": {"type": "integer", "minimum": 1}},
                        "description": "Last use was read over this many days, ending on the "
                        "day of the test (clients' lastUsed).",
                    },
                    "operationUsage": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["days"],
                        "properties": {"days": {"type": "integer", "minimum": 1}},
                        "description": "The operations clients called were read over this "
                        "many days, ending on the day of the test (clients' operations).",
                    },
                    "clients": {"type": "array", "items": {"type": "object"}},
                },
            },
            "inventoryFile": {
                "type": "string",
                "description": "A snapshot file (relative to this file), instead of an inline inventory.",
            },
            "notEvaluated": {
                **strings,
                "description": "If given: exactly the rules expected to be not evaluated.",
            },
            "disabled": {
                **strings,
                "description": "If given: exactly the rules expected to be switched off by "
                "overrides on the day of the test.",
            },
            "frameworks": {
                **strings,
                "minItems": 1,
                "description": "Run only the rules mapped to these frameworks (as check "
                "--framework).",
            },
            "cases": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "client", "expect"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "client": {
                            "type": "string",
                            "description": "The client's id or exact name.",
                        },
                        "rules": {
                            **strings,
                            "description": "Compare only the findings of these rules (default: all).",
                        },
                        "expect": {
                            "type": "array",
                            "description": "Exactly the findings expected; [] means the client passes.",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["rule"],
                                "properties": {
                                    "rule": {"type": "string"},
                                    "subject": {"type": ["string", "null"]},
                                    "waived": {"type": "boolean", "default": False},
                                },
                            },
                        },
                    },
                },
            },
        },
    }


@lru_cache(maxsize=1)
def orgs_schema() -> dict[str, Any]:
    """The orgs file's JSON Schema (published as schemas/orgs.schema.json)."""
    env_name = {
        "type": "string",
        "pattern": ENV_NAME_PATTERN,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + "orgs.schema.json",
        "title": "genesys-oauth-audit orgs file",
        "description": "The Genesys Cloud orgs one run (check --orgs, fetch --orgs) or one CI "
        "matrix audits. It names the environment variables that hold each org's credentials; "
        "it never holds a credential itself.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "orgs"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": ORGS_KIND},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
            },
            "orgs": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "region", "clientIdEnv", "clientSecretEnv"],
                    "properties": {
                        "name": {
                            "type": "string",
                            "pattern": ORG_NAME_PATTERN,
                            "description": "Unique; used in reports, SARIF categories and file "
                            "names: lowercase letters, digits, '-' and '_' (at most 63).",
                        },
                        "region": {
                            "type": "string",
                            "minLength": 1,
                            "description": "The org's region: us-east-1 style, a host suffix "
                            "(mypurecloud.ie) or the API base URL.",
                        },
                        "clientIdEnv": {
                            **env_name,
                            "description": "The name of the environment variable holding the "
                            "auditor client's id (never the id itself).",
                        },
                        "clientSecretEnv": {
                            **env_name,
                            "description": "The name of the environment variable holding the "
                            "auditor client's secret (never the secret itself).",
                        },
                        "policies": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "minLength": 1},
                            "description": "Policy files (relative to this file) or "
                            "builtin:NAME for this org; default: the run's -p.",
                        },
                        "orgId": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Optional: the org's id. When given, an audit whose "
                            "credentials reach another org fails instead of reporting it under "
                            "this name.",
                        },
                    },
                },
            },
        },
    }


def published_schemas() -> dict[str, str]:
    """Every JSON Schema the tool publishes under schemas/, by file name, as written there."""

    # Here, not at the top: loading a policy needs its schema, not the snapshot's models.
    from genesys_oauth_audit.inventory import inventory_schema

    def dump(schema: dict[str, Any]) -> str:
        return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

    return {
        "policy.schema.json": dump(build_policy_schema()),
        "policy-test.schema.json": dump(policy_test_schema()),
        "inventory.schema.json": dump(inventory_schema()),
        "orgs.schema.json": dump(orgs_schema()),
    }
