"""Composed field conditions (SPEC §10): all / any / not trees, the new operators, bounds, the
schema that describes the tree, and findings that name the comparisons that decided them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from genesys_oauth_audit.checks import CHECKS
from genesys_oauth_audit.checks.field import MAX_DEPTH, MAX_LEAVES, FieldCheck, compare
from genesys_oauth_audit.inventory import Client
from tests.helpers import ROOT
from tests.test_checks import client, context

# The example of SPEC §10: every client-credentials client keeps its tokens to a day and names
# an owner.
SPEC_TREE: dict[str, Any] = {
    "any": [
        {"not": {"path": "grantType", "op": "eq", "value": "CLIENT-CREDENTIALS"}},
        {
            "all": [
                {"path": "tokenValiditySeconds", "op": "le", "value": 86400},
                {"path": "description", "op": "matches", "value": r"owner: \S+"},
            ]
        },
    ]
}


def problems(params: dict[str, Any], c: Client) -> list[tuple[str | None, str]]:
    check = CHECKS["field"]
    found = check.run(c, context({}), check.params.model_validate(params))
    return [(p.subject, p.message) for p in found]


def cc(**fields: Any) -> Client:
    return client(grantType="CLIENT-CREDENTIALS", **fields)


def test_the_spec_example_passes_compliant_clients() -> None:
    assert problems(SPEC_TREE, client(grantType="CODE")) == []  # not client credentials
    assert problems(SPEC_TREE, cc(tokenValiditySeconds=3600, description="owner: data")) == []


def test_a_finding_names_the_comparisons_that_decided_it() -> None:
    found = problems(SPEC_TREE, cc(tokenValiditySeconds=172800, description="owner: data"))
    assert found == [
        (
            "grantType, tokenValiditySeconds",
            "grant type is CLIENT-CREDENTIALS (client credentials), which this rule forbids; "
            "access-token lifetime (seconds) is 172800; this rule requires at most 86400",
        )
    ]
    # both conditions of the all fail: both are named, in the order written
    (subject, message), *_ = problems(SPEC_TREE, cc(tokenValiditySeconds=172800, description=""))
    assert subject == "grantType, tokenValiditySeconds, description"
    assert message.endswith("description is empty, which does not match the pattern /owner: \\S+/")


def test_a_not_that_fails_names_the_comparison_that_held() -> None:
    tree = {"not": {"any": [{"path": "name", "op": "matches", "value": "^tmp"}, FORBIDDEN_STATE]}}
    found = problems(tree, client(name="tmp-report", state="active"))
    assert found == [
        ("name", "name is 'tmp-report', which this rule forbids (not name matches '^tmp')")
    ]
    # all under not: every comparison held, so every one is named
    both = {"not": {"all": [{"path": "name", "op": "exists"}, {"path": "state", "op": "exists"}]}}
    (subject, message) = problems(both, client(state="active"))[0]
    assert subject == "name, state"
    assert message.startswith("name is 'Example Client', which this rule forbids (not name exists)")


FORBIDDEN_STATE = {"path": "state", "op": "eq", "value": "disabled"}


def test_double_negation_and_any_that_holds() -> None:
    tree = {"not": {"not": {"path": "state", "op": "eq", "value": "active"}}}
    assert problems(tree, client(state="active")) == []
    assert problems(tree, client(state="disabled")) == [
        ("state", "state is 'disabled'; this rule requires 'active'")
    ]
    any_tree = {
        "any": [{"path": "state", "op": "eq", "value": "x"}, {"path": "name", "op": "exists"}]
    }
    assert problems(any_tree, client()) == []


def test_a_single_comparison_keeps_its_message_and_subject() -> None:
    found = problems({"path": "description", "op": "not-empty"}, client(description=""))
    assert found == [("description", "description is empty")]


@pytest.mark.parametrize(
    ("actual", "op", "value", "holds"),
    [
        (("a", "b"), "not-contains", "c", True),
        (("a", "b"), "not-contains", "a", False),
        ("owner: x", "not-contains", "owner", False),
        (None, "not-contains", "x", True),
        ("Legacy app", "not-matches", "^Legacy", False),
        ("New app", "not-matches", "^Legacy", True),
        (("https://a", "http://b"), "not-matches", "^http:", False),
        (None, "not-matches", "x", True),
    ],
)
def test_the_new_operators(actual: Any, op: str, value: Any, holds: bool) -> None:
    assert compare(actual, op, value) is holds


def test_the_tree_reads_every_field_it_names() -> None:
    params = FieldCheck.model_validate(SPEC_TREE)
    assert CHECKS["field"].reads(params) == frozenset(
        {"grantType", "tokenValiditySeconds", "description"}
    )
    nested = FieldCheck.model_validate({"not": {"path": "createdBy.id", "op": "exists"}})
    assert CHECKS["field"].reads(nested) == frozenset({"createdBy"})


def _chain(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"path": "name", "op": "exists"}
    for _ in range(depth - 1):
        node = {"not": node}
    return node


def test_depth_and_breadth_are_bounded() -> None:
    def messages(params: dict[str, Any]) -> list[str]:
        return [p.message for p in FieldCheck.model_validate(params).problems()]

    assert messages(_chain(MAX_DEPTH)) == []
    assert messages(_chain(MAX_DEPTH + 1)) == [
        "conditions are nested more than 8 levels deep; flatten the tree or split the rule"
    ]
    leaf = {"path": "name", "op": "ne", "value": "x"}
    assert messages({"all": [leaf] * MAX_LEAVES}) == []
    assert messages({"any": [leaf] * (MAX_LEAVES + 1)}) == [
        "a field check may compare at most 64 conditions; this one has 65: split the rule"
    ]


def test_problems_point_at_the_leaf_they_are_about() -> None:
    params = FieldCheck.model_validate(
        {
            "any": [
                {"path": "name", "op": "exists"},
                {
                    "all": [
                        {"path": "nmae", "op": "exists"},
                        {"path": "name", "op": "matches", "value": "("},
                    ]
                },
            ]
        }
    )
    at = [p.at for p in params.problems()]
    assert at == [("any", 1, "all", 0, "path"), ("any", 1, "all", 1, "value")]


def test_the_published_schema_describes_the_tree() -> None:
    schema = json.loads((ROOT / "schemas" / "policy.schema.json").read_text())
    condition = schema["$defs"]["FieldCondition"]
    assert condition["properties"]["all"]["items"] == {"$ref": "#/$defs/FieldCondition"}
    assert condition["properties"]["not"]["$ref"] == "#/$defs/FieldCondition"
    assert condition["additionalProperties"] is False
    validator = Draft202012Validator(schema)
    policy = {
        "apiVersion": "genesys-oauth-audit/v1",
        "kind": "Policy",
        "rules": [{"id": "T-1", "title": "tree", "check": {"type": "field", **SPEC_TREE}}],
    }
    assert list(validator.iter_errors(policy)) == []
    policy["rules"][0]["check"]["any"][1]["all"][0]["pth"] = "x"  # type: ignore[index]
    errors = list(validator.iter_errors(policy))
    assert [tuple(e.absolute_path) for e in errors] == [("rules", 0, "check", "any", 1, "all", 0)]


def test_explain_shows_the_tree_in_words(run_cli: Any, tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - id: T-1\n    title: tree\n    check:\n      type: field\n"
        "      any:\n        - not: {path: grantType, op: eq, value: CLIENT-CREDENTIALS}\n"
        "        - {path: description, op: not-matches, value: '^TODO'}\n"
    )
    ran = run_cli("explain", "T-1", "-p", str(path))
    assert ran.code == 0, ran.stderr
    assert (
        "  condition  any of (not (grantType eq 'CLIENT-CREDENTIALS'); description not-matches "
        "'^TODO')" in ran.stdout
    )
