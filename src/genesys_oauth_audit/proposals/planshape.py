"""The shape of a Terraform plan (``terraform show -json``), as far as this tool reads it: a JSON
Schema of those parts only, so a malformed plan is refused with the JSON path and the line of what
is wrong (exit 2) instead of crashing the reader. Everything else in a plan may be anything.

The enumerations are the provider's, not the API's: the provider accepts ``SAML2BEARER`` as well
as ``SAML2-BEARER``, and only ``active`` and ``inactive`` as a state
(genesyscloud/oauth_client/resource_genesyscloud_oauth_client_schema.go).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from genesys_oauth_audit.errors import Diagnostic
from genesys_oauth_audit.files.yamldoc import Document, compose, schema_diagnostics

CLIENT_TYPE = "genesyscloud_oauth_client"
ROLE_TYPE = "genesyscloud_auth_role"
PROVIDER_GRANT_TYPES = (
    "CODE",
    "TOKEN",
    "SAML2BEARER",
    "SAML2-BEARER",
    "PASSWORD",
    "CLIENT-CREDENTIALS",
)
PROVIDER_STATES = ("active", "inactive")
# Above this, positions for an error are not worth composing the whole plan as YAML again.
LOCATE_LIMIT = 16 * 1024 * 1024

_STRING = {"type": "string"}
_STRING_OR_NULL = {"type": ["string", "null"]}
_STRINGS_OR_NULL = {"type": ["array", "null"], "items": _STRING}


def _enum_or_null(values: tuple[str, ...]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, {"enum": list(values)}]}


def _client_values(*, planned: bool) -> dict[str, Any]:
    """A client's values: as planned (``after``: the provider's enumerations, since Terraform
    would refuse anything else), or as they are (``before``: whatever the API said)."""
    grant = _enum_or_null(PROVIDER_GRANT_TYPES) if planned else _STRING_OR_NULL
    state = _enum_or_null(PROVIDER_STATES) if planned else _STRING_OR_NULL
    return {
        "type": ["object", "null"],
        "properties": {**_CLIENT_PROPERTIES, "authorized_grant_type": grant, "state": state},
    }


_CLIENT_PROPERTIES = {
    "id": _STRING_OR_NULL,
    "name": _STRING_OR_NULL,
    "description": _STRING_OR_NULL,
    "scopes": _STRINGS_OR_NULL,
    "registered_redirect_uris": _STRINGS_OR_NULL,
    "access_token_validity_seconds": {"type": ["integer", "null"]},
    "roles": {
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "properties": {"role_id": _STRING_OR_NULL, "division_id": _STRING_OR_NULL},
        },
    },
    "expose_client_secret": {"type": ["boolean", "null"]},
    "directory_client_secret": _STRING_OR_NULL,
}
_ROLE_VALUES = {
    "type": ["object", "null"],
    "properties": {
        "id": _STRING_OR_NULL,
        "name": _STRING_OR_NULL,
        "permission_policies": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "domain": _STRING_OR_NULL,
                    "entity_name": _STRING_OR_NULL,
                    "action_set": _STRINGS_OR_NULL,
                },
            },
        },
    },
}


def _change_of(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"change": {"properties": {"before": before, "after": after}}}}


_RESOURCE_CHANGE = {
    "type": "object",
    "required": ["address", "type", "change"],
    "properties": {
        "address": _STRING,
        "type": _STRING,
        "name": _STRING,
        "mode": _STRING,
        "module_address": _STRING,
        "change": {
            "type": "object",
            "required": ["actions"],
            "properties": {
                "actions": {"type": "array", "items": _STRING},
                "before": {"type": ["object", "null"]},
                "after": {"type": ["object", "null"]},
                "after_unknown": {"type": ["object", "boolean", "null"]},
            },
        },
    },
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": CLIENT_TYPE}}},
            "then": _change_of(_client_values(planned=False), _client_values(planned=True)),
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": ROLE_TYPE}}},
            "then": _change_of(_ROLE_VALUES, _ROLE_VALUES),
        },
    ],
}
_EXPRESSION = {
    "type": "object",
    "properties": {"references": {"type": "array", "items": _STRING}},
}
_CONFIG_RESOURCE = {
    "type": "object",
    "properties": {
        "address": _STRING,
        "expressions": {
            "type": "object",
            "properties": {
                "roles": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"role_id": _EXPRESSION, "division_id": _EXPRESSION},
                    },
                }
            },
        },
    },
}
PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "format_version": {"type": ["string", "number"]},
        "errored": {"type": "boolean"},
        "complete": {"type": "boolean"},
        "resource_changes": {"type": "array", "items": _RESOURCE_CHANGE},
        "deferred_changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["resource_change"],
                "properties": {"reason": _STRING, "resource_change": _RESOURCE_CHANGE},
            },
        },
        "configuration": {
            "type": "object",
            "properties": {"root_module": {"$ref": "#/$defs/module"}},
        },
    },
    "$defs": {
        "module": {
            "type": "object",
            "properties": {
                "resources": {"type": "array", "items": _CONFIG_RESOURCE},
                "module_calls": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"module": {"$ref": "#/$defs/module"}},
                    },
                },
            },
        }
    },
}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(PLAN_SCHEMA)


def shape_problems(data: Any, text: str, shown: str) -> list[Diagnostic]:
    """Every part of the plan this tool reads that is not the shape Terraform writes, each with
    its JSON path and, when the plan is not huge, its line and column."""
    try:
        errors = list(_validator().iter_errors(data))
    except RecursionError:  # modules nested absurdly deep: the reader would recurse as well
        return [Diagnostic(shown, 1, 1, "configuration modules nested too deeply")]
    if not errors:
        return []
    doc = Document(shown)
    if len(text) <= LOCATE_LIMIT:
        located: list[Diagnostic] = []
        compose(text, doc, located)  # JSON is YAML: positions for every value, or none
    problems: list[Diagnostic] = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])[:50]:
        problems.extend(schema_diagnostics(doc, error))
    return problems
