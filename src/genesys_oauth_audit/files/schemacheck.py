"""JSON Schema validation that proves a valid document valid without loading jsonschema, and leaves
every error to jsonschema itself.

jsonschema (with ``referencing``, ``attrs`` and the bundled metaschemas) costs about four times the
interpreter's own start-up to import; ``validate`` of a good policy needs none of it. So
``SchemaValidator.iter_errors`` first runs ``proves_valid``: a small evaluator of exactly the
Draft 2020-12 keywords our schemas use (the policy schema and its check parameters, the orgs
file's), following jsonschema's semantics keyword by keyword (``equal`` that tells ``true`` from ``1``, ``re.search``
for ``pattern``, the ``date`` format checker). When it proves the document valid there is nothing
to report. Anything else (an error, a keyword or ``$ref`` it does not know, a value it is not sure
of) goes to jsonschema's ``Draft202012Validator`` with the format checker, so messages, paths and
their order are jsonschema's, exactly as before. ``tests/test_schemacheck.py`` holds the two to
the same verdict on every policy the tests ship and on mutated ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# Keywords that only annotate (jsonschema ignores them when validating).
_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$defs",
        "then",  # applied by "if"
        "else",  # applied by "if"
    }
)
_ROOT_ONLY = frozenset({"$schema", "$id"})  # elsewhere, $id would change how $ref resolves
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)  # jsonschema's own (jsonschema._format)


class _Unsure(Exception):
    """A keyword, reference or value this evaluator does not decide: jsonschema will."""


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's ``equal``: JSON equality, where ``true`` is not ``1`` and ``1`` is ``1.0``."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if not (_scalar(one) and _scalar(two)):
        raise _Unsure
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return bool(one == two)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float))


def _is_type(value: Any, name: str) -> bool:
    """jsonschema's Draft 2020-12 type checker."""
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":  # from draft 6 on, 1.0 is an integer too
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return True
        if value is None or isinstance(value, (str, list, dict)):
            return False
        raise _Unsure  # another numbers.Number: not what YAML or JSON gives
    raise _Unsure


def _is_number(value: Any) -> bool:
    return _is_type(value, "number")


def _valid_date(value: Any) -> bool:
    """jsonschema's ``date`` format check (``is_date``; a ValueError is a failed check)."""
    if not isinstance(value, str):
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class _Evaluator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise _Unsure
        node: Any = self.root
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise _Unsure
            node = node[part]
        return node

    def valid(self, schema: Any, value: Any, *, root: bool = False) -> bool:
        """Whether ``value`` meets ``schema``, exactly as jsonschema decides; ``_Unsure`` where
        this evaluator does not know."""
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, dict):
            raise _Unsure
        for keyword, arg in schema.items():
            if keyword in _ANNOTATIONS or (root and keyword in _ROOT_ONLY):
                continue
            if not self.keyword(keyword, arg, value, schema):
                return False
        return True

    def keyword(self, keyword: str, arg: Any, value: Any, schema: dict[str, Any]) -> bool:
        if keyword == "type":
            names = [arg] if isinstance(arg, str) else arg
            if not isinstance(names, list):
                raise _Unsure
            return any(_is_type(value, name) for name in names)
        if keyword == "$ref":
            return self.valid(self.resolve(arg), value)
        if keyword == "const":
            return _equal(value, arg)
        if keyword == "enum":
            if not isinstance(arg, list):
                raise _Unsure
            return any(_equal(choice, value) for choice in arg)
        if keyword == "properties":
            if not isinstance(value, dict):
                return True
            return all(self.valid(sub, value[key]) for key, sub in arg.items() if key in value)
        if keyword == "additionalProperties":
            if not isinstance(value, dict):
                return True
            known = schema.get("properties", {})
            patterns = schema.get("patternProperties", {})
            # jsonschema's find_additional_properties: one search of the patterns joined by "|".
            joined = "|".join(patterns)
            extras = [
                key for key in value if key not in known and not (joined and re.search(joined, key))
            ]
            if isinstance(arg, dict):
                return all(self.valid(arg, value[key]) for key in extras)
            if isinstance(arg, bool):
                return arg or not extras
            raise _Unsure
        if keyword == "patternProperties":
            if not isinstance(value, dict):
                return True
            return all(
                self.valid(sub, item)
                for pattern, sub in arg.items()
                for key, item in value.items()
                if re.search(pattern, key)
            )
        if keyword == "required":
            return not isinstance(value, dict) or all(key in value for key in arg)
        if keyword == "propertyNames":
            return not isinstance(value, dict) or all(self.valid(arg, key) for key in value)
        if keyword == "items":
            if not isinstance(value, list):
                return True
            if "prefixItems" in schema:
                raise _Unsure
            return all(self.valid(arg, item) for item in value)
        if keyword == "minItems":
            return not isinstance(value, list) or len(value) >= arg
        if keyword == "uniqueItems":
            if not arg or not isinstance(value, list):
                return True
            if not all(isinstance(item, str) for item in value):
                raise _Unsure
            return len(set(value)) == len(value)
        if keyword == "minLength":
            return not isinstance(value, str) or len(value) >= arg
        if keyword == "pattern":
            return not isinstance(value, str) or re.search(arg, value) is not None
        if keyword == "format":
            if arg != "date":
                raise _Unsure
            return _valid_date(value)
        if keyword == "minimum":
            return not _is_number(value) or not value < arg
        if keyword == "maximum":
            return not _is_number(value) or not value > arg
        if keyword == "exclusiveMinimum":
            return not _is_number(value) or not value <= arg
        if keyword == "exclusiveMaximum":
            return not _is_number(value) or not value >= arg
        if keyword == "allOf":
            return all(self.valid(sub, value) for sub in arg)
        if keyword == "anyOf":
            return any(self.valid(sub, value) for sub in arg)
        if keyword == "if":
            branch = schema.get("then") if self.valid(arg, value) else schema.get("else")
            return branch is None or self.valid(branch, value)
        raise _Unsure


def proves_valid(schema: Mapping[str, Any], value: Any) -> bool:
    """True only when ``value`` is valid under ``schema`` as jsonschema's Draft 2020-12 validator
    with the format checker decides; False when it is not, or when this module cannot tell."""
    try:
        return _Evaluator(schema).valid(schema, value, root=True)
    except Exception:  # _Unsure, or a schema shaped unlike ours: jsonschema decides (and says why)
        return False


_END = re.compile(r"(?<!\\)((?:\\\\)*)\$$")  # a pattern's final "$", not an escaped "\$"


def end_anchored(pattern: str) -> str:
    """``pattern`` with its final ``$`` as ``\\Z``: the end of the string, as ``$`` is in a JSON
    Schema (ECMA-262) pattern. Python's ``$`` also matches before a final newline, so
    jsonschema, which searches with ``re``, would take ``"emea-prod\\n"`` (a YAML block scalar,
    ``name: |``) for a name of ``^[a-z0-9][a-z0-9_-]{0,62}$``."""
    return _END.sub(lambda m: m.group(1) + "\\Z", pattern)


def shown_pattern(pattern: str) -> str:
    """A pattern as the schema writes it (``end_anchored`` undone), for messages."""
    return pattern[:-2] + "$" if pattern.endswith("\\Z") else pattern


def _end_anchored_schema(node: Any) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                out[key] = end_anchored(value)
            elif key == "patternProperties" and isinstance(value, dict):
                out[key] = {end_anchored(k): _end_anchored_schema(v) for k, v in value.items()}
            elif key in ("properties", "$defs") and isinstance(value, dict):
                # Names, not keywords: a property called "pattern" is not a pattern.
                out[key] = {k: _end_anchored_schema(v) for k, v in value.items()}
            elif key in ("const", "enum", "default", "examples"):
                out[key] = value  # values, not schemas
            else:
                out[key] = _end_anchored_schema(value)
        return out
    if isinstance(node, list):
        return [_end_anchored_schema(item) for item in node]
    return node


class SchemaValidator:
    """``iter_errors`` of jsonschema's ``Draft202012Validator`` with the format checker, without
    importing jsonschema for a document ``proves_valid`` accepts. Patterns end where the string
    ends (``end_anchored``), for both."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = _end_anchored_schema(schema)
        self._full: Draft202012Validator | None = None

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if proves_valid(self.schema, instance):
            return iter(())
        return iter(self.full().iter_errors(instance))

    def full(self) -> Draft202012Validator:
        """jsonschema's validator, built the first time a document needs its errors."""
        if self._full is None:
            from jsonschema import Draft202012Validator, FormatChecker

            self._full = Draft202012Validator(self.schema, format_checker=FormatChecker())
        return self._full
