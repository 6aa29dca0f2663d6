"""The published schemas stay equal to what the code enforces, and accept what the tool writes."""

from __future__ import annotations

import json

import yaml
from jsonschema import Draft202012Validator

from genesys_oauth_audit.checks import CHECKS
from genesys_oauth_audit.checks.field import FIELD_OPS
from genesys_oauth_audit.policy.schema import build_policy_schema, policy_schema, published_schemas
from tests.helpers import DATA, ROOT, SAMPLE_SNAPSHOT


def test_published_schemas_are_generated_from_the_code() -> None:
    for name, text in published_schemas().items():
        published = (ROOT / "schemas" / name).read_text(encoding="utf-8")
        assert published == text, f"schemas/{name} is stale: run python scripts/gen_schemas.py"


def test_the_loader_validates_with_the_schema_the_code_builds() -> None:
    """The loader reads the published policy schema instead of building it from every check
    type's parameters model; it is the one the registry builds."""
    assert policy_schema() == build_policy_schema()


def test_policy_schema_enums_follow_the_registry() -> None:
    schema = json.loads((ROOT / "schemas" / "policy.schema.json").read_text())
    check = schema["$defs"]["check"]
    assert check["properties"]["type"]["enum"] == list(CHECKS)
    branches = {b["if"]["properties"]["type"]["const"]: b["then"] for b in check["allOf"]}
    assert set(branches) == set(CHECKS)
    for name, ct in CHECKS.items():
        params = {(f.alias or n) for n, f in ct.params.model_fields.items()}
        assert set(branches[name]["properties"]) - {"type"} == params
    assert branches["field"]["properties"]["op"]["enum"] == list(FIELD_OPS)


def test_schemas_are_valid_json_schema() -> None:
    for name in ("policy.schema.json", "inventory.schema.json"):
        Draft202012Validator.check_schema(json.loads((ROOT / "schemas" / name).read_text()))


def test_sample_snapshot_matches_the_inventory_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "inventory.schema.json").read_text())
    Draft202012Validator(schema).validate(json.loads(SAMPLE_SNAPSHOT.read_text()))


def test_valid_policies_match_the_policy_schema_as_an_editor_sees_it() -> None:
    schema = json.loads((ROOT / "schemas" / "policy.schema.json").read_text())
    for path in [
        *sorted((DATA / "policies" / "valid").glob("*.yaml")),
        *sorted((ROOT / "policies").glob("*.yaml")),
    ]:
        data = yaml.safe_load(path.read_text())
        # PyYAML turns dates into date objects; editors see text
        for exc in [*data.get("exceptions", []), *data.get("overrides", [])]:
            if "expires" in exc:
                exc["expires"] = str(exc["expires"])
        Draft202012Validator(schema).validate(data)


def test_check_type_docs_are_generated_from_the_registry() -> None:
    from genesys_oauth_audit.policy.docs import check_types_markdown

    published = (ROOT / "docs" / "check-types.md").read_text(encoding="utf-8")
    assert published == check_types_markdown(), (
        "docs/check-types.md is stale: run python scripts/gen_schemas.py"
    )
    for name in CHECKS:
        assert f"## `{name}`" in published
