"""files/schemacheck.py: a policy it proves valid is one jsonschema finds valid, every verdict it
gives is jsonschema's, and every error it reports is jsonschema's own."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from genesys_oauth_audit.errors import Diagnostic
from genesys_oauth_audit.files import schemacheck
from genesys_oauth_audit.files.schemacheck import (
    SchemaValidator,
    end_anchored,
    proves_valid,
    shown_pattern,
)
from genesys_oauth_audit.files.yamldoc import Document, compose
from genesys_oauth_audit.policy import orgsfile
from genesys_oauth_audit.policy.schema import policy_schema, policy_test_schema
from tests.helpers import DATA, ROOT

POLICY_FOLDERS = (
    ROOT / "policies",
    ROOT / "examples" / "policies",
    ROOT / "docs",
    DATA / "policies",
)


def _documents() -> dict[str, Any]:
    """Every policy document the repository holds (shipped packs, examples, the cookbook, the
    valid and invalid test policies), composed as the loader composes it."""
    found: dict[str, Any] = {}
    for folder in POLICY_FOLDERS:
        for path in sorted(folder.rglob("*.y*ml")):
            if path.name.endswith((".test.yaml", ".test.yml")):
                continue
            diagnostics: list[Diagnostic] = []
            doc = Document(str(path))
            compose(path.read_text(encoding="utf-8", errors="replace"), doc, diagnostics)
            if isinstance(doc.data, dict) and doc.data.get("kind") != "PolicyTest":
                found[str(path.relative_to(ROOT))] = doc.data
    return found


DOCUMENTS = _documents()
SCHEMA = policy_schema()
CHECK_SCHEMA = {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/check"}
FULL = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
FULL_CHECK = Draft202012Validator(CHECK_SCHEMA, format_checker=FormatChecker())


def _verdict(schema: dict[str, Any], value: Any) -> bool | None:
    """The evaluator's own answer: True or False, or None where it leaves the answer to
    jsonschema."""
    try:
        return schemacheck._Evaluator(schema).valid(schema, value, root=True)
    except schemacheck._Unsure:
        return None


def _checks(data: Any) -> Iterator[Any]:
    rules = data.get("rules") if isinstance(data, dict) else None
    for rule in rules if isinstance(rules, list) else ():
        if isinstance(rule, dict) and "check" in rule:
            yield rule["check"]


def test_the_repository_holds_enough_policies_to_judge_by() -> None:
    valid = [name for name, data in DOCUMENTS.items() if FULL.is_valid(data)]
    invalid = [name for name, data in DOCUMENTS.items() if not FULL.is_valid(data)]
    assert len(valid) >= 40 and len(invalid) >= 10, (len(valid), len(invalid))
    assert "policies/tutorial.yaml" in valid


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_policy_gets_jsonschemas_verdict(name: str) -> None:
    """A valid policy is proved valid (so ``validate`` never loads jsonschema for it); an invalid
    one is never proved valid; the same holds for every rule's ``check`` mapping alone (what an
    override's parameters are validated against)."""
    data = DOCUMENTS[name]
    assert proves_valid(SCHEMA, data) is FULL.is_valid(data)
    for check in _checks(data):
        assert proves_valid(CHECK_SCHEMA, check) is FULL_CHECK.is_valid(check)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


# Values that break (or, by chance, keep) what a schema asks of a place: each JSON type, the
# look-alikes JSON Schema tells apart (true and 1, 1 and 1.0), dates that look right and are not,
# and the empty forms minLength and minItems refuse.
SUBSTITUTES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    1.0,
    -1,
    2.5,
    10**6,
    "",
    "x",
    "critical",
    "CRITICAL",
    "genesys-oauth-audit/v1",
    "Policy",
    "field",
    "2026-01-31",
    "2026-02-30",
    "2026-1-31",
    "20260131",
    "２０２６-01-31",
    "users:*",
    "*",
    [],
    ["x"],
    ["x", "x"],
    [1],
    {},
    {"type": "field"},
)


def _mutate(
    data: Any,
    rng: random.Random,
    substitutes: tuple[Any, ...] = SUBSTITUTES,
    keys: tuple[str, ...] = ("unknown", "titel", "type", "severity", "value", "all"),
) -> Any:
    out = copy.deepcopy(data)
    path = rng.choice(list(_paths(out)))
    if not path:
        return rng.choice(substitutes)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    action = rng.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(keys)] = rng.choice(substitutes)
    elif action == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    else:
        parent[key] = copy.deepcopy(rng.choice(substitutes))
    return out


def _agree_on_mutants(
    schema: dict[str, Any],
    full: Draft202012Validator,
    valid: list[Any],
    rng: random.Random,
    count: int,
    substitutes: tuple[Any, ...] = SUBSTITUTES,
    keys: tuple[str, ...] = ("unknown", "titel", "type", "severity", "value", "all"),
) -> list[Any]:
    """``count`` mutants of ``valid`` documents: wherever the evaluator answers, its answer is
    jsonschema's (exactly: an ``if`` relies on a "no" being right too). Returns the mutants it
    answered for."""
    answered = []
    for _ in range(count):
        mutant = _mutate(rng.choice(valid), rng, substitutes, keys)
        verdict = _verdict(schema, mutant)
        if verdict is not None:
            answered.append(mutant)
            assert verdict is full.is_valid(mutant), mutant
    return answered


@pytest.mark.parametrize("seed", range(4))
def test_mutated_policies_get_jsonschemas_verdict(seed: int) -> None:
    """Policies with one value replaced, removed, added or repeated: wherever the evaluator
    answers, its answer is jsonschema's (exactly: an ``if`` relies on a "no" being right too)."""
    valid = [data for data in DOCUMENTS.values() if FULL.is_valid(data)]
    answered = _agree_on_mutants(SCHEMA, FULL, valid, random.Random(seed), 400)
    for mutant in answered:
        for check in _checks(mutant):
            check_verdict = _verdict(CHECK_SCHEMA, check)
            if check_verdict is not None:
                assert check_verdict is FULL_CHECK.is_valid(check), check
    assert len(answered) > 300  # the evaluator decides nearly everything: this compared something


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"const": 1}, True, False),  # JSON Schema tells true from 1 ...
        ({"enum": [True]}, 1, False),
        ({"const": 1}, 1.0, True),  # ... but not 1 from 1.0
        ({"type": "integer"}, True, False),
        ({"type": "integer"}, 1.0, True),  # since draft 6
        ({"type": "integer"}, 1.5, False),
        ({"type": "number"}, False, False),
        ({"minimum": 1}, False, True),  # minimum ignores what is not a number
        ({"format": "date"}, "2026-02-30", False),
        ({"format": "date"}, "2026-02-28", True),
        (
            {"format": "date"},
            "20260228",
            False,
        ),  # ISO 8601's basic form: Python reads it, JSON Schema does not
        ({"format": "date"}, 20260228, True),  # format ignores what is not a string
        ({"pattern": "b"}, "abc", True),  # pattern searches, unanchored
        ({"minLength": 2}, "é", False),  # characters, not bytes
        ({"if": {"const": 1}, "then": {"type": "string"}}, 2, True),
        ({"if": {"const": 1}, "else": {"type": "string"}}, 2, False),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, None, True),
        ({"uniqueItems": True}, ["a", "b", "a"], False),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": 1}, False),
        ({"$defs": {"s": {"type": "string"}}, "items": {"$ref": "#/$defs/s"}}, ["a", 1], False),
        ({"patternProperties": {"^x": {"type": "string"}}}, {"xa": 1}, False),
        ({"patternProperties": {"^x": {"type": "string"}}}, {"ya": 1}, True),
        ({"patternProperties": {"x": {"type": "string"}}}, {"ax": "s", "bx": 2}, False),  # search
        ({"patternProperties": {"^x": {}}, "additionalProperties": False}, {"xa": 1}, True),
        ({"patternProperties": {"^x": {}}, "additionalProperties": False}, {"ya": 1}, False),
        (
            {"patternProperties": {"a": {}, "^b$": {}}, "additionalProperties": False},
            {"za": 1, "b": 2},
            True,
        ),
        ({"patternProperties": {"^(a|b)$": {}}, "additionalProperties": False}, {"ab": 1}, False),
        (
            {
                "properties": {"p": {}},
                "patternProperties": {"^x": {"type": "string"}},
                "additionalProperties": {"type": "integer"},
            },
            {"p": "s", "x1": "s", "z": 1},
            True,
        ),
        (
            {
                "properties": {"p": {}},
                "patternProperties": {"^x": {"type": "string"}},
                "additionalProperties": {"type": "integer"},
            },
            {"p": "s", "x1": "s", "z": "s"},
            False,
        ),
        ({"patternProperties": {"^x": False}}, {"x": None}, False),
        ({"patternProperties": {"^x": False}}, [1], True),  # objects only
        # One empty pattern: it matches every key, yet jsonschema's additionalProperties joins
        # the patterns into "" and so counts every key as additional.
        ({"patternProperties": {"": {}}, "additionalProperties": False}, {"a": 1}, False),
        (
            {"patternProperties": {"": True}, "additionalProperties": {"type": "string"}},
            {"a": 1},
            False,
        ),
    ],
)
def test_keywords_mean_what_jsonschema_makes_them_mean(
    schema: dict[str, Any], value: Any, expected: bool
) -> None:
    assert Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(value) is expected
    assert _verdict(schema, value) is expected


@pytest.mark.parametrize(
    "schema",
    [
        {"not": {"type": "string"}},  # a keyword the evaluator does not know
        {"dependentRequired": {"a": ["b"]}},
        {"$ref": "https://example.com/other.json"},  # a reference outside the document
        {"format": "email"},
        {"uniqueItems": True},  # on values it does not compare (1 and true are different)
    ],
)
def test_what_the_evaluator_does_not_know_goes_to_jsonschema(schema: dict[str, Any]) -> None:
    value: Any = [1, True] if "uniqueItems" in schema else 5
    assert _verdict(schema, value) is None
    assert proves_valid(schema, value) is False


def test_errors_are_jsonschemas_own() -> None:
    """Once a document is not proved valid, the errors (message, place, order, context) come
    from jsonschema itself: the exact ``invalid/*.expected.txt`` messages stay as they were."""
    names = [name for name, data in DOCUMENTS.items() if not FULL.is_valid(data)]
    validator = SchemaValidator(SCHEMA)
    # jsonschema's own, on the schema as the tool validates it (patterns end where strings end).
    full = Draft202012Validator(validator.schema, format_checker=FormatChecker())
    for name in names:
        data = DOCUMENTS[name]
        ours = [
            (e.message, list(e.absolute_path), e.validator) for e in validator.iter_errors(data)
        ]
        theirs = [(e.message, list(e.absolute_path), e.validator) for e in full.iter_errors(data)]
        assert ours == theirs, name
        assert [p for _, p, _ in ours] == [list(e.absolute_path) for e in FULL.iter_errors(data)]


def test_patterns_end_where_the_string_ends() -> None:
    """A JSON Schema pattern's ``$`` is the end of the string (ECMA-262); Python's ``$`` also
    matches before a final newline, so "r1\\n" (a YAML block scalar, ``id: |``) would pass
    ``^...$`` in jsonschema. The tool validates with ``\\Z`` there, in both paths, and shows the
    pattern as the schema writes it."""
    assert end_anchored("^a$") == "^a\\Z"
    assert end_anchored("^a\\$") == "^a\\$"  # a literal dollar
    assert end_anchored("^a\\\\$") == "^a\\\\\\Z"  # an escaped backslash, then the end
    assert end_anchored("^https?://") == "^https?://"
    assert shown_pattern(end_anchored("^(x|y)$")) == "^(x|y)$"
    schema = {"properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}
    validator = SchemaValidator(schema)
    assert list(validator.iter_errors({"id": "r"})) == []
    assert [e.validator for e in validator.iter_errors({"id": "r\n"})] == ["pattern"]
    assert proves_valid(validator.schema, {"id": "r\n"}) is False
    # Names are not keywords: a property called "pattern" keeps its own schema.
    named = SchemaValidator({"properties": {"pattern": {"const": "x$"}}})
    assert named.schema == {"properties": {"pattern": {"const": "x$"}}}
    orgs = SchemaValidator(ORGS_SCHEMA)
    pasted = copy.deepcopy(ORGS_EXAMPLE)
    pasted["orgs"][0]["clientSecret\n"] = "s3cr3t"
    assert not proves_valid(orgs.schema, pasted) and list(orgs.iter_errors(pasted))


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_policy_gets_the_same_verdict_with_patterns_anchored(name: str) -> None:
    anchored = SchemaValidator(SCHEMA).schema
    data = DOCUMENTS[name]
    expected = Draft202012Validator(anchored, format_checker=FormatChecker()).is_valid(data)
    assert proves_valid(anchored, data) is expected
    # Only a final newline tells the two apart.
    assert expected is FULL.is_valid(data) or name.endswith("trailing-newline.yaml")


def test_a_valid_document_does_not_build_jsonschemas_validator() -> None:
    validator = SchemaValidator(SCHEMA)
    assert list(validator.iter_errors(DOCUMENTS["policies/tutorial.yaml"])) == []
    assert validator._full is None


def test_the_date_pattern_is_jsonschemas() -> None:
    """The ``date`` format check copies jsonschema's regular expression: if jsonschema changes
    it, this says so (rather than the evaluator quietly disagreeing)."""
    from jsonschema import _format

    theirs = vars(_format)["_RE_DATE"]  # private, hence untyped
    assert schemacheck._DATE.pattern == theirs.pattern
    assert schemacheck._DATE.flags == theirs.flags


def test_every_policy_folder_exists() -> None:
    assert all(Path(folder).is_dir() for folder in POLICY_FOLDERS)


# -- the orgs file ------------------------------------------------------------------------------

ORGS_SCHEMA = orgsfile._loader_schema()
FULL_ORGS = Draft202012Validator(ORGS_SCHEMA, format_checker=FormatChecker())
ORGS_EXAMPLE = yaml.safe_load((ROOT / "examples" / "orgs.yaml").read_text(encoding="utf-8"))
# What an orgs file's places get wrong: a secret where a variable's name goes (the loader's
# pointed error, so the schema tolerates those keys), names that break the pattern, odd regions.
ORGS_SUBSTITUTES: tuple[Any, ...] = (
    *SUBSTITUTES,
    "Orgs",
    "emea-prod",
    "EMEA-Prod",
    "eu-west-1",
    "EMEA_PROD_CLIENT_ID",
    {"name": "x", "region": "r", "clientIdEnv": "A", "clientSecretEnv": "B"},
    {"name": "x", "region": "r", "clientIdEnv": "A", "clientSecretEnv": "B", "clientSecret": "s"},
    {"name": "x", "region": "r", "clientIdEnv": "A", "clientSecretEnv": "B", "secret": 1},
    {"name": "x", "region": "r", "clientIdEnv": "A", "clientSecretEnv": "B", "secrets": 1},
)


def test_the_orgs_example_is_proved_valid() -> None:
    """``check --orgs`` and every matrix job read the orgs file: a valid one never needs
    jsonschema, and one that tolerates a secret-holding key (the loader's own error follows)
    is proved valid too, as jsonschema finds it."""
    assert FULL_ORGS.is_valid(ORGS_EXAMPLE)
    assert proves_valid(ORGS_SCHEMA, ORGS_EXAMPLE)
    pasted = copy.deepcopy(ORGS_EXAMPLE)
    pasted["orgs"][0]["clientSecret"] = "s3cr3t"
    assert FULL_ORGS.is_valid(pasted) and proves_valid(ORGS_SCHEMA, pasted)
    pasted["orgs"][0]["clientSecrets"] = "s3cr3t"
    assert not FULL_ORGS.is_valid(pasted) and not proves_valid(ORGS_SCHEMA, pasted)


ORGS_KEYS = (
    "unknown",
    "clientSecret",
    "secret",
    "clientId",
    "orgId",
    "policies",
    "metadata",
    "nam",
)


@pytest.mark.parametrize("seed", range(3))
def test_mutated_orgs_files_get_jsonschemas_verdict(seed: int) -> None:
    """Orgs files with one value replaced, removed, added or repeated: wherever the evaluator
    answers, its answer is jsonschema's."""
    rng = random.Random(seed)
    answered = _agree_on_mutants(
        ORGS_SCHEMA, FULL_ORGS, [ORGS_EXAMPLE], rng, 400, ORGS_SUBSTITUTES, ORGS_KEYS
    )
    assert len(answered) > 350


# -- policy tests -------------------------------------------------------------------------------


def _test_documents() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for folder in POLICY_FOLDERS:
        for path in sorted(folder.rglob("*.test.y*ml")):
            diagnostics: list[Diagnostic] = []
            doc = Document(str(path))
            compose(path.read_text(encoding="utf-8", errors="replace"), doc, diagnostics)
            found[str(path.relative_to(ROOT))] = doc.data
    return found


TEST_DOCUMENTS = _test_documents()
TEST_SCHEMA = policy_test_schema()
FULL_TEST = Draft202012Validator(TEST_SCHEMA, format_checker=FormatChecker())


def test_the_repository_holds_policy_tests_to_judge_by() -> None:
    assert len(TEST_DOCUMENTS) >= 5, sorted(TEST_DOCUMENTS)


@pytest.mark.parametrize("name", sorted(TEST_DOCUMENTS))
def test_each_policy_test_file_gets_jsonschemas_verdict(name: str) -> None:
    """``test`` validates its files as ``validate`` does policies: a valid one without jsonschema."""
    data = TEST_DOCUMENTS[name]
    assert proves_valid(TEST_SCHEMA, data) is FULL_TEST.is_valid(data)


@pytest.mark.parametrize("seed", range(2))
def test_mutated_policy_test_files_get_jsonschemas_verdict(seed: int) -> None:
    valid = [data for data in TEST_DOCUMENTS.values() if FULL_TEST.is_valid(data)]
    answered = _agree_on_mutants(TEST_SCHEMA, FULL_TEST, valid, random.Random(seed), 300)
    assert len(answered) > 200
