"""A ``field`` comparison whose value cannot match what its path holds (a quoted number, a grant
type or state the API does not have, ``eq`` on a list) is refused where it is written: such a rule
would load and then silently never match (or always), a gate nobody notices is blind. What each
path holds is read off the inventory model (tests/data/policies/invalid/field-value-types.yaml has
the messages)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from genesys_oauth_audit.checks.field import FieldCheck, compare, field_paths, field_types
from genesys_oauth_audit.inventory import CLIENT_STATES, GRANT_TYPES, Client
from tests.helpers import SAMPLE_SNAPSHOT, Run

HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
QUOTED = (
    "  - id: X-1\n"
    "    title: Tokens live at most a day\n"
    '    check: {type: field, path: tokenValiditySeconds, op: gt, value: "86400"}\n'
)


def messages(params: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    return [(p.at, p.message) for p in FieldCheck.model_validate(params).problems()]


def test_what_each_path_holds_is_read_off_the_inventory_model() -> None:
    types = field_types()
    assert tuple(types) == field_paths()
    assert types["grantType"].values == GRANT_TYPES
    assert types["state"].values == CLIENT_STATES and types["state"].nullable
    assert types["tokenValiditySeconds"].kind is int
    assert types["lastUsed"].kind is date and types["dateCreated"].kind is datetime
    assert types["scopes"].many and types["roles.name"].many and types["operations.requests"].many
    assert types["createdBy"].record and not types["createdBy.id"].record
    # Every path holds something a value can be checked against: a field of a new kind (a float,
    # a dict) fails here until the field check knows how it compares.
    for path, held in types.items():
        assert held.record or held.kind in (bool, int, str, date, datetime), path
    # Every enumerated field of the model is marked, so a comparison names the API's values.
    marked = {p for p, held in types.items() if held.values is not None}
    assert marked == {"grantType", "state"}
    assert set(Client.model_fields) >= {"grant_type", "state"}


def test_the_quoted_number_was_blind() -> None:
    # Why this matters: compared as text, 172800 is never "greater than" '86400'.
    assert compare(172800, "gt", "86400") is False
    assert messages({"path": "tokenValiditySeconds", "op": "gt", "value": "86400"}) == [
        (
            ("value",),
            "the value for tokenValiditySeconds must be a whole number, not the text '86400' "
            "(write 86400 without quotes: quoted, it is text)",
        )
    ]


@pytest.mark.parametrize(
    ("params", "at", "expected"),
    [
        (
            {"path": "grantType", "op": "eq", "value": "client_credentials"},
            ("value",),
            "the value for grantType must be one of CODE, TOKEN, SAML2-BEARER, PASSWORD, "
            "CLIENT-CREDENTIALS, not the text 'client_credentials'; did you mean "
            "'CLIENT-CREDENTIALS'?",
        ),
        (
            {"path": "grantType", "op": "ne", "value": "IMPLICIT"},
            ("value",),
            "the value for grantType must be one of CODE, TOKEN, SAML2-BEARER, PASSWORD, "
            "CLIENT-CREDENTIALS, not the text 'IMPLICIT'",
        ),
        (
            # no near miss by letters: 'enabled' is one letter from 'disabled', its opposite
            {"path": "state", "op": "in", "value": ["active", "enabled"]},
            ("value", 1),
            "each value for state must be one of active, disabled, inactive, not the text "
            "'enabled'",
        ),
        (
            {"path": "state", "op": "not-in", "value": "disabled"},
            ("value",),
            "operator 'not-in' needs a list of values, each one of active, disabled, inactive; "
            "got the text 'disabled'",
        ),
        (
            {"path": "exposeClientSecret", "op": "eq", "value": "true"},
            ("value",),
            "the value for exposeClientSecret must be true or false, not the text 'true' "
            "(write true without quotes: quoted, it is text)",
        ),
        (
            {"path": "lastUsed", "op": "lt", "value": "2026-01-01T00:00:00Z"},
            ("value",),
            "the value for lastUsed must be a date (YYYY-MM-DD), not the text "
            "'2026-01-01T00:00:00Z'",
        ),
        (
            {"path": "dateCreated", "op": "lt", "value": 2020},
            ("value",),
            "the value for dateCreated must be a date or a date and time (ISO 8601: 2024-01-31 "
            "or 2024-01-31T12:00:00Z), not the number 2020",
        ),
        (
            {"path": "roles.name", "op": "contains", "value": 7},
            ("value",),
            "the value for roles.name must be text (a member of the list), not the number 7",
        ),
        (
            {"path": "tokenValiditySeconds", "op": "ge", "value": None},
            ("value",),
            "the value for tokenValiditySeconds must be a whole number, not null",
        ),
        (
            {"path": "scopes", "op": "eq", "value": ["users"]},
            ("op",),
            "scopes is a list: operator 'eq' compares a single value and would never match; use "
            "contains or not-contains (a member), empty or not-empty",
        ),
        (
            {"path": "redirectUris", "op": "in", "value": ["https://a"]},
            ("op",),
            "redirectUris is a list: operator 'in' compares a single value and would never "
            "match; use contains or not-contains (a member), empty or not-empty",
        ),
        (
            {"path": "state", "op": "ge", "value": "active"},
            ("op",),
            "operator 'ge' orders values, and state is one of active, disabled, inactive; use eq, "
            "ne, in or not-in",
        ),
        (
            {"path": "tokenValiditySeconds", "op": "not-contains", "value": 1},
            ("op",),
            "operator 'not-contains' looks inside text or a list, and tokenValiditySeconds is a "
            "whole number; use eq, ne, in, not-in, lt, le, gt or ge",
        ),
        (
            {"path": "roles", "op": "contains", "value": "Master Admin"},
            ("op",),
            "roles holds records (RoleGrant), which no value written here equals: operator "
            "'contains' would never match; compare one of its fields (roles.roleId, "
            "roles.divisionId, roles.name)",
        ),
    ],
)
def test_a_value_that_cannot_match_is_refused_at_the_value(
    params: dict[str, Any], at: tuple[str | int, ...], expected: str
) -> None:
    assert messages(params) == [(at, expected)]


@pytest.mark.parametrize(
    "params",
    [
        {"path": "grantType", "op": "in", "value": list(GRANT_TYPES)},
        {"path": "state", "op": "eq", "value": None},  # a missing state
        {"path": "state", "op": "not-in", "value": ["disabled", None]},
        {"path": "tokenValiditySeconds", "op": "le", "value": 86400},
        {"path": "tokenValiditySeconds", "op": "ne", "value": None},
        {"path": "dateCreated", "op": "lt", "value": "2020-01-01"},
        {"path": "dateCreated", "op": "ge", "value": "2024-01-31T12:00:00Z"},
        {"path": "lastUsed", "op": "ge", "value": "2026-01-01"},
        {"path": "exposeClientSecret", "op": "ne", "value": True},
        {"path": "roles.divisionId", "op": "not-contains", "value": "*"},
        {"path": "operations.requests", "op": "contains", "value": 0},
        {"path": "description", "op": "contains", "value": "owner"},
        {"path": "name", "op": "lt", "value": "m"},
        {"path": "createdBy", "op": "exists"},
        {"path": "roles", "op": "matches", "value": "admin"},
        {"path": "tokenValiditySeconds", "op": "matches", "value": "^3600$"},
    ],
)
def test_values_that_can_match_are_accepted(params: dict[str, Any]) -> None:
    assert messages(params) == []


def test_every_path_accepts_a_value_of_its_own_kind() -> None:
    # The check and the comparison agree: a value the check accepts can make eq hold.
    samples: dict[type, Any] = {
        bool: True,
        int: 3600,
        str: "x",
        date: "2026-01-01",
        datetime: "2026-01-01T00:00:00Z",
    }
    for path, held in field_types().items():
        if held.record:
            continue
        value = held.values[0] if held.values else samples[held.kind]
        op = "contains" if held.many else "eq"
        assert messages({"path": path, "op": op, "value": value}) == [], path
    assert issubclass(field_types()["operations"].kind, BaseModel)


def test_problems_in_a_tree_point_at_their_leaf() -> None:
    found = messages(
        {
            "any": [
                {"not": {"path": "grantType", "op": "eq", "value": "CLIENT_CREDENTIALS"}},
                {"all": [{"path": "tokenValiditySeconds", "op": "le", "value": "86400"}]},
            ]
        }
    )
    assert [at for at, _ in found] == [
        ("any", 0, "not", "value"),
        ("any", 1, "all", 0, "value"),
    ]


# -- the command line -----------------------------------------------------------------------------


def test_validate_exits_2_at_the_value(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "tokens.yaml"
    policy.write_text(HEADER + QUOTED)
    ran = run_cli("validate", str(policy))
    assert ran.code == 2 and ran.stdout == ""
    assert ran.stderr.splitlines() == [
        f"{policy}:6:69: error: the value for tokenValiditySeconds must be a whole number, not "
        "the text '86400' (write 86400 without quotes: quoted, it is text)",
        "1 error in 1 file",
    ]
    policy.write_text(HEADER + QUOTED.replace('"86400"', "86400"))
    assert run_cli("validate", str(policy)).code == 0


def test_check_refuses_the_policy_before_judging_anyone(run_cli: Run, tmp_path: Path) -> None:
    policy = tmp_path / "states.yaml"
    policy.write_text(
        HEADER + "  - id: X-1\n    title: Only live clients\n"
        "    check: {type: field, path: state, op: in, value: [active, Active]}\n"
        "  - id: X-2\n    title: No implicit grant\n"
        "    check: {type: field, path: grantType, op: ne, value: implicit}\n"
    )
    report = tmp_path / "report.json"
    ran = run_cli(
        "check",
        "-p",
        str(policy),
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--json-output",
        str(report),
    )
    assert ran.code == 2 and ran.stdout == "" and not report.exists()
    lines = ran.stderr.splitlines()
    assert lines[0] == (
        f"{policy}:6:63: error: each value for state must be one of active, disabled, inactive, "
        "not the text 'Active'; did you mean 'active'?"
    )
    assert lines[1] == (
        f"{policy}:9:58: error: the value for grantType must be one of CODE, TOKEN, "
        "SAML2-BEARER, PASSWORD, CLIENT-CREDENTIALS, not the text 'implicit'"
    )
