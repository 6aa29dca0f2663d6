"""The generic ``field`` check type: one inventory field compared with a value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timezone
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from genesys_oauth_audit.checks.registry import (
    Context,
    Example,
    ParamProblem,
    Params,
    Problem,
    check,
)
from genesys_oauth_audit.evidence import JsonValue, ValueEvidence
from genesys_oauth_audit.files.yamldoc import did_you_mean
from genesys_oauth_audit.inventory import GRANT_TYPE_NAMES, Client

FieldOp = Literal[
    "eq",
    "ne",
    "in",
    "not-in",
    "lt",
    "le",
    "gt",
    "ge",
    "matches",
    "contains",
    "exists",
    "empty",
    "not-empty",
]
FIELD_OPS: tuple[str, ...] = get_args(FieldOp)


def _field_reads(params: Any) -> frozenset[str]:
    return frozenset({str(params.path).split(".")[0]})


class FieldCheck(Params):
    path: str = Field(
        min_length=1, description="An inventory field, dotted for nested ones (createdBy.id)."
    )
    op: FieldOp = Field(description="The comparison.")
    value: Any = Field(default=None, description="What to compare with (a list for in / not-in).")

    def problems(self) -> Iterator[ParamProblem]:
        paths = field_paths()
        if self.path not in paths:
            yield ParamProblem(
                f"unknown field path {self.path!r}{did_you_mean(self.path, paths)} "
                f"(fields: {', '.join(paths)})",
                at=("path",),
            )
        op, value = self.op, self.value
        has_value = "value" in self.model_fields_set
        if op in ("exists", "empty", "not-empty"):
            if has_value:
                yield ParamProblem(f"operator {op!r} takes no value", at=("value",))
        elif not has_value:
            yield ParamProblem(f"operator {op!r} needs a value")
        elif op in ("in", "not-in") and not isinstance(value, list):
            yield ParamProblem(f"operator {op!r} needs a list value", at=("value",))
        elif op == "matches":
            if not isinstance(value, str):
                yield ParamProblem(
                    "operator 'matches' needs a regular expression string", at=("value",)
                )
            else:
                try:
                    re.compile(value)
                except re.error as exc:
                    yield ParamProblem(
                        f"invalid regular expression {value!r}: {exc}", at=("value",)
                    )


def field_value(client: Client, path: str) -> Any:
    """The value at a dotted camelCase path of a client, or None where a step is missing.

    A step through a list maps over it: ``roles.name`` is the tuple of the
    client's role names.
    """
    if "." not in path:  # the common case, read for every client: one lookup
        name = _aliases(Client).get(path)
        return getattr(client, name) if name is not None else None
    return _step(client, path.split("."))


def _step(current: Any, parts: list[str]) -> Any:
    if not parts or current is None:
        return current
    if isinstance(current, tuple):
        values = (_step(item, parts) for item in current)
        return tuple(v for v in values if v is not None)
    if isinstance(current, BaseModel):
        name = _python_name(type(current), parts[0])
        if name is None:
            return None
        return _step(getattr(current, name), parts[1:])
    return None


def _python_name(model: type[BaseModel], alias: str) -> str | None:
    return _aliases(model).get(alias)


@cache
def _aliases(model: type[BaseModel]) -> dict[str, str]:
    """camelCase alias -> attribute name, once per model (field paths are read per client)."""
    return {(info.alias or name): name for name, info in model.model_fields.items()}


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any]:
    """Make a YAML value comparable with an inventory value (dates given as strings)."""
    if isinstance(actual, datetime) and isinstance(expected, (str, date)):
        exp = expected if isinstance(expected, datetime) else _parse_datetime(str(expected))
        if exp is not None:
            if actual.tzinfo is None:
                actual = actual.replace(tzinfo=timezone.utc)
            return actual, exp
    if isinstance(actual, date) and not isinstance(actual, datetime) and isinstance(expected, str):
        try:
            return actual, date.fromisoformat(expected)
        except ValueError:
            pass
    return actual, expected


def _parse_datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", (), [], {})


def compare(actual: Any, op: str, expected: Any) -> bool:
    """Whether ``actual op expected`` holds (SPEC §5 operators)."""
    if op == "exists":
        return actual is not None
    if op == "empty":
        return _is_empty(actual)
    if op == "not-empty":
        return not _is_empty(actual)
    if op == "contains":
        if isinstance(actual, (tuple, list)):
            return expected in actual
        return isinstance(actual, str) and isinstance(expected, str) and expected in actual
    if op == "matches":
        pattern = re.compile(str(expected))
        if isinstance(actual, (tuple, list)):
            return any(pattern.search(str(item)) for item in actual)
        return actual is not None and pattern.search(str(actual)) is not None
    if op in ("in", "not-in"):
        members = [_comparable(actual, item)[1] for item in (expected or [])]
        value = _comparable(actual, (expected or [None])[0])[0] if expected else actual
        found = value in members
        return found if op == "in" else not found
    a, e = _comparable(actual, expected)
    if op == "eq":
        return bool(a == e)
    if op == "ne":
        return bool(a != e)
    if a is None or e is None:
        return False  # a missing field fails lt/le/gt/ge
    try:
        if op == "lt":
            return bool(a < e)
        if op == "le":
            return bool(a <= e)
        if op == "gt":
            return bool(a > e)
        if op == "ge":
            return bool(a >= e)
    except TypeError:
        return False
    raise ValueError(f"unknown operator {op}")


@check(
    "field",
    reads=_field_reads,
    params=FieldCheck,
    summary="A client field must satisfy a comparison (eq, ne, in, not-in, lt, le, gt, ge, matches, contains, exists, empty, not-empty).",
    subject="the field path",
    example=Example(
        params={"path": "description", "op": "not-empty"},
        passing={"description": "Nightly export to the data warehouse; owner: data-team"},
        failing={"description": ""},
        subjects=("description",),
    ),
)
def field_check(client: Client, ctx: Context, p: FieldCheck) -> Iterator[Problem]:
    """A finding for a client whose field fails the comparison; a missing field fails lt/le/gt/ge."""
    actual = field_value(client, p.path)
    if not compare(actual, p.op, p.value):
        # The rule's half of the sentence and of the evidence is built once per rule; the entry
        # holds the parameters, so its key (their identity) cannot be reused by another object.
        key = ("field", id(p))
        rule = ctx.memo.get(key)
        if rule is None or rule[0] is not p:
            rule = ctx.memo[key] = (p, _rule_tail(p.path, p.op, p.value), _jsonable(p.value))
        yield Problem(
            p.path,
            _said_actual(p.path, actual) + ("" if p.op == "empty" and actual is None else rule[1]),
            ValueEvidence(p.path, _jsonable(actual), p.op, rule[2]),
        )


# What each field is called in a sentence; other paths are named as written.
FIELD_LABELS = {
    "grantType": "grant type",
    "tokenValiditySeconds": "access-token lifetime (seconds)",
    "redirectUris": "redirect URIs",
    "dateCreated": "creation date",
    "dateModified": "last modification date",
    "dateToDelete": "deletion date",
    "lastUsed": "last use",
}

# The end of the sentence for each operator, when the comparison fails ({v}: the rule's value).
_FAILS = {
    "eq": "; this rule requires {v}",
    "ne": ", which this rule forbids",
    "in": ", which is not one of {v}",
    "not-in": ", one of the forbidden {v}",
    "lt": "; this rule requires less than {v}",
    "le": "; this rule requires at most {v}",
    "gt": "; this rule requires more than {v}",
    "ge": "; this rule requires at least {v}",
    "matches": ", which does not match the pattern {v}",
    "not-matches": ", which matches the forbidden pattern {v}",
    "contains": ", which does not contain {v}",
    "not-contains": ", which contains the forbidden {v}",
    "exists": "",
    "empty": "; this rule requires it to be empty",
    "not-empty": "",
}


def failure_sentence(path: str, op: str, actual: Any, expected: Any) -> str:
    """Why a comparison failed, as a sentence: "grant type is TOKEN (implicit), which this rule
    forbids", "description is empty", "access-token lifetime (seconds) is 172800; this rule
    requires at most 86400"."""
    tail = "" if op == "empty" and actual is None else _rule_tail(path, op, expected)
    return _said_actual(path, actual) + tail


def _said_actual(path: str, actual: Any) -> str:
    """The client's half of the sentence: "grant type is TOKEN (implicit)", "... is missing"."""
    label = FIELD_LABELS.get(path, path)
    if actual is None:
        return f"{label} is missing"
    if _is_empty(actual):
        return f"{label} is empty"
    return f"{label} is {_said(path, actual)}"


def _rule_tail(path: str, op: str, expected: Any) -> str:
    """The rule's half of the sentence: ", which this rule forbids", "; this rule requires at
    most 3600" (nothing for exists and not-empty: "is missing" says it all)."""
    if op in ("exists", "not-empty"):
        return ""
    if isinstance(expected, list):
        shown = ", ".join(_said(path, v) for v in expected)
    elif op in ("matches", "not-matches"):
        shown = f"/{expected}/"
    else:
        shown = _said(path, expected)
    return _FAILS.get(op, f" (fails {op} {{v}})").format(v=shown)


def _said(path: str, value: Any) -> str:
    """A value in a sentence: a grant type with its OAuth name, text quoted, lists bracketed."""
    if path == "grantType" and isinstance(value, str) and value in GRANT_TYPE_NAMES:
        return f"{value} ({GRANT_TYPE_NAMES[value]})"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_said(path, v) for v in value) + "]"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _jsonable(value: Any) -> JsonValue:
    if isinstance(value, (tuple, list)):
        return tuple(_jsonable(v) for v in value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, BaseModel):
        return str(value.model_dump(mode="json", by_alias=True))
    return str(value)


def field_paths() -> tuple[str, ...]:
    """Every path a ``field`` check may name: client fields, and fields of nested models."""
    paths: list[str] = []
    for name, info in Client.model_fields.items():
        alias = info.alias or name
        paths.append(alias)
        annotation = info.annotation
        for sub in _nested_models(annotation):
            for sub_name, sub_info in sub.model_fields.items():
                paths.append(f"{alias}.{sub_info.alias or sub_name}")
    return tuple(paths)


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        if arg is not Ellipsis:
            yield from _nested_models(arg)
