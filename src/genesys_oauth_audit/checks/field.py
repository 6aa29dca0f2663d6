"""The generic ``field`` check type: an inventory field compared with a value, or a tree of such
comparisons composed with ``all``, ``any`` and ``not`` (docs/writing-policies.md).

A tree states what a compliant client satisfies, as a single comparison does; a client for which
it does not hold is a finding whose subject and message name the comparisons that decided it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from genesys_oauth_audit.checks import regex
from genesys_oauth_audit.checks.registry import (
    Context,
    Example,
    ParamProblem,
    Params,
    Problem,
    check,
)
from genesys_oauth_audit.data.enums import GRANT_TYPE_NAMES
from genesys_oauth_audit.evidence import JsonValue, ValueEvidence
from genesys_oauth_audit.files.yamldoc import did_you_mean, type_name

if TYPE_CHECKING:
    from genesys_oauth_audit.inventory import Client

FieldOp = Literal[
    "eq",
    "ne",
    "in",
    "not-in",
    "lt",
    "le",
    "gt",
    "ge",
    "contains",
    "not-contains",
    "matches",
    "not-matches",
    "exists",
    "empty",
    "not-empty",
]
FIELD_OPS: tuple[str, ...] = get_args(FieldOp)
NO_VALUE_OPS = ("exists", "empty", "not-empty")
REGEX_OPS = ("matches", "not-matches")
ORDER_OPS = ("lt", "le", "gt", "ge")

# A tree is bounded so a policy stays readable and a client is judged in bounded time: a root
# comparison is one level, ``any: [comparison]`` two.
MAX_DEPTH = 8
MAX_LEAVES = 64
# The most comparisons a finding's message names (the subject names every path).
MESSAGE_LEAVES = 8

Path_ = tuple[str | int, ...]


def _search(pattern: str, text: str) -> bool:
    """Whether a policy's regular expression matches somewhere in ``text``: the one place
    ``matches`` and ``not-matches`` meet client text."""
    # RE2, in linear time: a client's description cannot stall the gate (checks/regex.py).
    return regex.search(pattern, text)


def _regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a regular expression the ``matches`` operators accept, or None."""
    return regex.problem(pattern)


def _no_null(schema: dict[str, Any]) -> None:
    # The parameter may be left out, never given as null: say so in the published schema.
    schema.pop("default", None)


def _optional(description: str, **kwargs: Any) -> Any:
    return Field(default=None, description=description, json_schema_extra=_no_null, **kwargs)


class FieldCondition(Params):
    """One condition of a field check: a comparison (path, op, value), or all, any or not of
    conditions."""

    path: str | SkipJsonSchema[None] = _optional(
        "An inventory field, dotted for nested ones (createdBy.id); with op, or instead a tree "
        "of all, any and not.",
        min_length=1,
    )
    op: FieldOp | SkipJsonSchema[None] = _optional("The comparison (with path).")
    value: Any = Field(
        default=None,
        description="What to compare with (a list for in / not-in, a regular expression for "
        "matches / not-matches).",
    )
    all_: Annotated[tuple[FieldCondition, ...], Field(min_length=1)] | SkipJsonSchema[None] = (
        _optional("Every condition holds.", alias="all")
    )
    any_: Annotated[tuple[FieldCondition, ...], Field(min_length=1)] | SkipJsonSchema[None] = (
        _optional("At least one condition holds.", alias="any")
    )
    not_: FieldCondition | SkipJsonSchema[None] = _optional(
        "The condition does not hold.", alias="not"
    )

    @property
    def children(self) -> tuple[tuple[str, int | None, FieldCondition], ...]:
        """The sub-conditions with where each is written: (``all``/``any``/``not``, index)."""
        out: list[tuple[str, int | None, FieldCondition]] = []
        for key, nodes in (("all", self.all_), ("any", self.any_)):
            out.extend((key, i, node) for i, node in enumerate(nodes or ()))
        if self.not_ is not None:
            out.append(("not", None, self.not_))
        return tuple(out)

    @property
    def is_comparison(self) -> bool:
        return self.all_ is None and self.any_ is None and self.not_ is None

    def leaves(self) -> Iterator[FieldCondition]:
        """Every comparison of the tree, in the order written."""
        if self.is_comparison:
            yield self
        for _, _, node in self.children:
            yield from node.leaves()

    def text(self) -> str:
        """The condition as a person reads it: ``path op value``, ``all of (…)``, ``not (…)``."""
        if self.is_comparison:
            value = "" if self.op in NO_VALUE_OPS else f" {_show(self.value)}"
            return f"{self.path} {self.op}{value}"
        if self.not_ is not None:
            return f"not ({self.not_.text()})"
        key, nodes = ("all", self.all_) if self.all_ is not None else ("any", self.any_)
        return f"{key} of ({'; '.join(n.text() for n in nodes or ())})"

    def _shape_problems(self, at: Path_, depth: int) -> Iterator[ParamProblem]:
        """The tree's shape, then each comparison's semantics, each at its own place."""
        given = [k for k, v in (("all", self.all_), ("any", self.any_), ("not", self.not_)) if v]
        compared = [k for k in ("path", "op", "value") if k in self.model_fields_set]
        if given and compared:
            yield ParamProblem(
                f"a condition is either a comparison (path, op, value) or one of all, any, not; "
                f"this one has {', '.join(compared)} and {' and '.join(given)}",
                at=at,
            )
            return
        if len(given) > 1:
            yield ParamProblem(
                f"a condition has one of all, any, not; this one has {' and '.join(given)}: "
                "nest them instead",
                at=at,
            )
            return
        if not given:
            yield from self._comparison_problems(at)
            return
        if depth >= MAX_DEPTH:
            yield ParamProblem(
                f"conditions are nested more than {MAX_DEPTH} levels deep; "
                "flatten the tree or split the rule",
                at=at,
            )
            return
        for key, index, node in self.children:
            yield from node._shape_problems(
                (*at, key) if index is None else (*at, key, index), depth + 1
            )

    def _comparison_problems(self, at: Path_) -> Iterator[ParamProblem]:
        if self.path is None or self.op is None:
            missing = " and ".join(k for k in ("path", "op") if getattr(self, k) is None)
            yield ParamProblem(
                f"a condition needs path and op (a comparison), or one of all, any, not; "
                f"missing {missing}",
                at=at,
            )
            return
        paths = field_paths()
        if self.path not in paths:
            yield ParamProblem(
                f"unknown field path {self.path!r}{did_you_mean(self.path, paths)} "
                f"(fields: {', '.join(paths)})",
                at=(*at, "path"),
            )
        op, value = self.op, self.value
        held = field_types().get(self.path)
        has_value = "value" in self.model_fields_set
        if op in NO_VALUE_OPS:
            if has_value:
                yield ParamProblem(f"operator {op!r} takes no value", at=(*at, "value"))
        elif not has_value:
            yield ParamProblem(f"operator {op!r} needs a value", at=at)
        elif op in REGEX_OPS:
            if not isinstance(value, str):
                yield ParamProblem(
                    f"operator {op!r} needs a regular expression string", at=(*at, "value")
                )
            else:
                problem = _regex_problem(value)
                if problem:
                    yield ParamProblem(problem, at=(*at, "value"))
        elif held is not None and (wrong := _operator_problem(self.path, held, op)):
            yield ParamProblem(wrong, at=(*at, "op"))
        elif op in ("in", "not-in"):
            if not isinstance(value, list):
                each = f" of values, each {held.expected}" if held is not None else " value"
                yield ParamProblem(
                    f"operator {op!r} needs a list{each}; got {_got(value)}", at=(*at, "value")
                )
            elif held is not None:
                for j, item in enumerate(value):
                    problem = _value_problem(self.path, held, op, item, each=True)
                    if problem:
                        yield ParamProblem(problem, at=(*at, "value", j))
        elif held is not None:
            problem = _value_problem(self.path, held, op, value)
            if problem:
                yield ParamProblem(problem, at=(*at, "value"))


class FieldCheck(FieldCondition):
    """A field check's parameters: one comparison, or a tree of all, any and not."""

    def problems(self) -> Iterator[ParamProblem]:
        yield from self._shape_problems((), 1)
        count = sum(1 for _ in self.leaves())
        if count > MAX_LEAVES:
            yield ParamProblem(
                f"a field check may compare at most {MAX_LEAVES} conditions; this one has "
                f"{count}: split the rule"
            )

    @classmethod
    def merged(cls, base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
        """An override that gives any condition replaces the whole condition: a comparison and a
        tree cannot be mixed key by key."""
        return dict(override) if override else dict(base)

    def describe(self) -> str | None:
        return self.text()


def _field_reads(params: Any) -> frozenset[str]:
    return frozenset(str(leaf.path).split(".")[0] for leaf in params.leaves())


def field_value(client: Client, path: str) -> Any:
    """The value at a dotted camelCase path of a client, or None where a step is missing.

    A step through a list maps over it: ``roles.name`` is the tuple of the
    client's role names.
    """
    if "." not in path:  # the common case, read for every client: one lookup
        name = _aliases(type(client)).get(path)
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


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", (), [], {})


def compare(actual: Any, op: str, expected: Any) -> bool:
    """Whether ``actual op expected`` holds (docs/writing-policies.md)."""
    if op == "exists":
        return actual is not None
    if op == "empty":
        return _is_empty(actual)
    if op == "not-empty":
        return not _is_empty(actual)
    if op in ("contains", "not-contains"):
        if isinstance(actual, (tuple, list)):
            found = expected in actual
        else:
            found = isinstance(actual, str) and isinstance(expected, str) and expected in actual
        return found if op == "contains" else not found
    if op in REGEX_OPS:
        pattern = str(expected)
        if isinstance(actual, (tuple, list)):
            found = any(_search(pattern, str(item)) for item in actual)
        else:
            found = actual is not None and _search(pattern, str(actual))
        return found if op == "matches" else not found
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


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return repr(value)


Decided = list[tuple[FieldCondition, Any, bool]]  # (comparison, the client's value, it held)


def _decide(node: FieldCondition, client: Client) -> tuple[bool, Decided]:
    """Whether ``node`` holds for ``client``, and the comparisons that decided it: for ``all``
    that fails, the failing ones; for ``any`` that holds, the first that holds; for ``not``,
    those that decided its operand (so a failing ``not`` names the comparison that held)."""
    if node.is_comparison:
        assert node.path is not None
        assert node.op is not None
        actual = field_value(client, node.path)
        held = compare(actual, node.op, node.value)
        return held, [(node, actual, held)]
    if node.not_ is not None:
        held, decided = _decide(node.not_, client)
        return not held, decided
    if node.all_ is not None:
        results = [_decide(child, client) for child in node.all_]
        if all(held for held, _ in results):
            return True, [d for _, ds in results for d in ds]
        return False, [d for held, ds in results if not held for d in ds]
    failed: Decided = []
    for child in node.any_ or ():
        held, ds = _decide(child, client)
        if held:
            return True, ds
        failed.extend(ds)
    return False, failed


def _because(decided: Decided) -> str:
    """What a client's values were against the comparisons that decided a finding, as sentences:
    a comparison that failed says why (as a single comparison does); one that held inside a
    ``not`` says the rule forbids it."""
    parts = []
    for leaf, actual, held in decided[:MESSAGE_LEAVES]:
        assert leaf.path is not None
        assert leaf.op is not None
        if held:
            # The value itself is forbidden (an eq that held): the sentence says it all; else
            # name the comparison that held.
            value = "" if leaf.op in NO_VALUE_OPS else f" {_said(leaf.path, leaf.value)}"
            held_as = "" if leaf.op == "eq" else f" (not {leaf.path} {leaf.op}{value})"
            parts.append(f"{_said_actual(leaf.path, actual)}, which this rule forbids{held_as}")
        else:
            parts.append(failure_sentence(leaf.path, leaf.op, actual, leaf.value))
    more = len(decided) - MESSAGE_LEAVES
    return "; ".join(parts) + (f"; and {more} more conditions" if more > 0 else "")


@check(
    "field",
    reads=_field_reads,
    params=FieldCheck,
    summary="A client field must satisfy a comparison (eq, ne, in, not-in, lt, le, gt, ge, matches, not-matches, contains, not-contains, exists, empty, not-empty), or a tree of comparisons must hold (all, any, not).",
    subject="the field path; for a tree, the paths of the comparisons that decided it",
    example=Example(
        params={"path": "description", "op": "not-empty"},
        passing={"description": "Nightly export to the data warehouse; owner: data-team"},
        failing={"description": ""},
        subjects=("description",),
    ),
)
def field_check(client: Client, ctx: Context, p: FieldCheck) -> Iterator[Problem]:
    """A finding for a client whose field fails the comparison; a missing field fails lt/le/gt/ge.
    With a tree (all, any, not), a finding when the tree does not hold, naming the comparisons
    that decided it (for a not, the comparison that held)."""
    path, op = p.path, p.op
    if path is not None and op is not None:  # a comparison, judged for every client: no tree walk
        actual = field_value(client, path)
        if not compare(actual, op, p.value):
            # The rule's half of the sentence and of the evidence is built once per rule; the
            # entry holds the parameters, so its key (their identity) cannot be reused by another.
            key = ("field", id(p))
            rule = ctx.memo.get(key)
            if rule is None or rule[0] is not p:
                rule = ctx.memo[key] = (p, _rule_tail(path, op, p.value), _jsonable(p.value))
            yield Problem(
                path,
                _said_actual(path, actual) + ("" if op == "empty" and actual is None else rule[1]),
                ValueEvidence(path, _jsonable(actual), op, rule[2]),
            )
        return
    held, decided = _decide(p, client)
    if not held:
        paths = ", ".join(dict.fromkeys(str(leaf.path) for leaf, _, _ in decided))
        yield Problem(
            paths,
            _because(decided),
            ValueEvidence(
                paths,
                tuple(_jsonable(actual) for _, actual, _ in decided),
                "condition",
                p.text(),
            ),
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
    return tuple(field_types())


# -- what each path holds, so a comparison value of the wrong type is an error, not a blind gate --

# A value of each kind, in words ("the value for tokenValiditySeconds must be a whole number").
_KIND_WORDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number",
    str: "text",
    datetime: "a date or a date and time (ISO 8601: 2024-01-31 or 2024-01-31T12:00:00Z)",
    date: "a date (YYYY-MM-DD)",
}


@dataclass(frozen=True)
class FieldType:
    """What a field path holds, read off the inventory model: the type of one value (``kind``),
    whether the path holds a list of them (a list field, or a path through one: ``roles.name``),
    whether it may be missing, and the API's values for an enumerated field (``OneOf``)."""

    kind: type
    many: bool
    nullable: bool
    values: tuple[str, ...] | None = None

    @property
    def record(self) -> bool:
        """A nested model (``createdBy``, ``roles``): no value written in a policy equals one."""
        return issubclass(self.kind, BaseModel)

    @property
    def expected(self) -> str:
        """One value of the path, in words."""
        if self.values is not None:
            return f"one of {', '.join(self.values)}"
        return _KIND_WORDS.get(self.kind, self.kind.__name__)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` can equal (or be ordered against) one value of the path, as
        ``compare`` reads it (a date written as text is parsed there too)."""
        if self.values is not None:
            return value in self.values
        kind = self.kind
        if kind is bool:
            return isinstance(value, bool)
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if kind is str:
            return isinstance(value, str)
        if kind is datetime:
            return isinstance(value, date) or (
                isinstance(value, str) and _parse_datetime(value) is not None
            )
        if kind is date:
            if isinstance(value, date):
                return not isinstance(value, datetime)
            return isinstance(value, str) and _parse_date(value) is not None
        return False


@cache
def field_types() -> dict[str, FieldType]:
    """Every path a ``field`` check may name (client fields, then each one's nested fields) and
    what it holds, derived from the inventory model."""
    # Here, not at the top: a policy without a field check loads without the inventory models.
    from genesys_oauth_audit.inventory import Client

    out: dict[str, FieldType] = {}
    for name, info in Client.model_fields.items():
        alias = info.alias or name
        top = _field_type(info.annotation, info.metadata, many=False, nullable=False)
        out[alias] = top
        if issubclass(top.kind, BaseModel):
            for sub_name, sub_info in top.kind.model_fields.items():
                out[f"{alias}.{sub_info.alias or sub_name}"] = _field_type(
                    sub_info.annotation, sub_info.metadata, many=top.many, nullable=top.nullable
                )
    return out


def _field_type(annotation: Any, metadata: list[Any], *, many: bool, nullable: bool) -> FieldType:
    """A model field's annotation as a ``FieldType``: ``X | None`` may be missing, ``tuple[X, ...]``
    is a list of X. Below a list, missing members are dropped (``field_value``): still a list."""
    from genesys_oauth_audit.inventory import OneOf

    args = get_args(annotation)
    if type(None) in args:
        nullable = True
        annotation = next(a for a in args if a is not type(None))
    if get_origin(annotation) is Annotated:  # a constrained type (inventory.Moment): its type
        annotation, *constraints = get_args(annotation)
        metadata = [*metadata, *constraints]
    if get_origin(annotation) is tuple:
        many = True
        annotation = get_args(annotation)[0]
    values = next((m.values for m in metadata if isinstance(m, OneOf)), None)
    return FieldType(annotation, many, nullable, values)


def _operator_problem(path: str, held: FieldType, op: str) -> str | None:
    """Why ``op`` with a value can never hold, or always, for what ``path`` holds, or None."""
    if held.record:
        fields = [p for p in field_types() if p.startswith(f"{path}.")]
        return (
            f"{path} holds {'records' if held.many else 'a record'} ({held.kind.__name__}), "
            f"which no value written here equals: operator {op!r} would never match; compare one "
            f"of its fields ({', '.join(fields)})"
        )
    if held.many:
        if op in ("contains", "not-contains"):
            return None
        return (
            f"{path} is a list: operator {op!r} compares a single value and would never match; "
            "use contains or not-contains (a member), empty or not-empty"
        )
    if op in ("contains", "not-contains") and held.kind is not str:
        return (
            f"operator {op!r} looks inside text or a list, and {path} is {held.expected}; "
            f"use {_usable(held)}"
        )
    if op in ORDER_OPS and (held.values is not None or held.kind is bool):
        return f"operator {op!r} orders values, and {path} is {held.expected}; use {_usable(held)}"
    return None


def _usable(held: FieldType) -> str:
    """The operators that compare a single value of ``held``, in words."""
    if held.values is not None:
        return "eq, ne, in or not-in"
    if held.kind is bool:
        return "eq or ne"
    return "eq, ne, in, not-in, lt, le, gt or ge"


def _value_problem(
    path: str, held: FieldType, op: str, value: Any, *, each: bool = False
) -> str | None:
    """Why ``value`` (one member of an ``in`` list when ``each``) can never match what ``path``
    holds, saying what it must be; None when it can. Null stands for a missing field where the
    field may be missing and the operator tests equality."""
    if value is None and held.nullable and op in ("eq", "ne", "in", "not-in"):
        return None
    if held.accepts(value):
        return None
    member = " (a member of the list)" if held.many else ""
    subject = "each value" if each else "the value"
    return (
        f"{subject} for {path} must be {held.expected}{member}, not {_got(value)}"
        f"{_hint(held, value)}"
    )


def _got(value: Any) -> str:
    """A value written in a policy, in words (what it was taken as)."""
    if isinstance(value, str):
        return f"the text {value!r}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, date):
        return value.isoformat()
    return type_name(value)


def _hint(held: FieldType, value: Any) -> str:
    """What was probably meant: the API's spelling of an enumerated value, a number or boolean
    without its quotes."""
    if not isinstance(value, str):
        return ""
    if held.values is not None:
        # Only the API's spelling of the same word: a near miss by letters can be the opposite
        # ('enabled' is one letter from 'disabled'), and the message lists every value anyway.
        folded = value.casefold().replace("_", "-")
        for known in held.values:
            if known.casefold() == folded:
                return f"; did you mean {known!r}?"
        return ""
    if held.kind is int and value.strip().lstrip("+-").isdigit():
        return f" (write {value.strip()} without quotes: quoted, it is text)"
    if held.kind is bool and value.strip().lower() in ("true", "false"):
        return f" (write {value.strip().lower()} without quotes: quoted, it is text)"
    return ""
