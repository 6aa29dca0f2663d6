"""The JSON Schemas this tool publishes under schemas/, generated from the code that enforces them."""

from __future__ import annotations

import json
from typing import Any

INVENTORY_SCHEMA_ID = "https://raw.githubusercontent.com/genesys-oauth-audit/genesys-oauth-audit/main/schemas/inventory.schema.json"


def inventory_schema() -> dict[str, Any]:
    from genesys_oauth_audit.inventory import Inventory

    schema = Inventory.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": INVENTORY_SCHEMA_ID,
        "title": "genesys-oauth-audit inventory snapshot",
        "description": "The normalised inventory of one Genesys Cloud org's OAuth clients, as written by "
        "`genesys-oauth-audit fetch -o` and read by `check --inventory` (SPEC §4).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def generated_schemas() -> dict[str, str]:
    from genesys_oauth_audit.policy.schema import policy_schema, policy_test_schema

    def dump(schema: dict[str, Any]) -> str:
        return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

    return {
        "policy.schema.json": dump(policy_schema()),
        "policy-test.schema.json": dump(policy_test_schema()),
        "inventory.schema.json": dump(inventory_schema()),
    }
