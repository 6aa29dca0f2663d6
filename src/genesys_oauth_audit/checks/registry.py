"""The check-type registry: what a check is, what it needs, and how one registers itself.

A check is ``(client, context, params) -> Iterator[Problem]``: it says which
*subjects* of one client break it and why. The engine, not the check, stamps
rule id, severity, fingerprint and exceptions. Each check type lives in one
module of this package (its parameters model validates its own semantics, its
registry entry says what data it needs) and carries a PASS and a FAIL example;
the test suite runs every one of them, and ``explain`` shows them. The policy
schema's enum of check types is generated from this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    # What a check runs on, for annotations only: loading a policy needs the check types and
    # their parameter models, not the inventory models or the least-privilege analysis.
    from typing import TypeAlias

    from genesys_oauth_audit.evidence import Evidence
    from genesys_oauth_audit.inventory import Client, Role, UsageWindow
    from genesys_oauth_audit.leastpriv.org import OrgLeastPrivilege

Need = Literal["scopes", "roles", "usage", "operations"]
NEEDS_SCOPES: Need = "scopes"
NEEDS_ROLES: Need = "roles"
NEEDS_USAGE: Need = "usage"
NEEDS_OPERATIONS: Need = "operations"

NEED_REASONS: dict[str, str] = {
    NEEDS_SCOPES: "the inventory has no scope catalog of the org",
    NEEDS_ROLES: "the inventory has no roles (fetch them, or use a snapshot written with roles)",
    NEEDS_USAGE: "the inventory has no usage data (fetch with --usage-days, or a snapshot that has it)",
    NEEDS_OPERATIONS: "the inventory has no operation data (the operations each client called, "
    "read from the usage service's aggregates query jobs: fetch with --usage-days, or a snapshot "
    "that has it)",
}


@dataclass(frozen=True)
class Problem:
    """One subject of one client that breaks a check, a sentence saying why, and the evidence
    behind it (built only here, for a problem: most pairs pass and build nothing)."""

    subject: str | None
    message: str
    evidence: Evidence | None = None


@dataclass(frozen=True)
class Context:
    """What the checks may compare a client against, beyond the client itself. ``today`` is the
    day time-based checks judge as of (the snapshot's ``fetchedAt``, now, or ``--as-of``)."""

    today: date
    scopes: frozenset[str] | None = None
    roles: Mapping[str, Role] | None = None
    usage: UsageWindow | None = None
    # The window of the operations clients called (Inventory.operation_usage), and least
    # privilege over it, computed once per run (None: computed per client when asked).
    operations: UsageWindow | None = None
    least_privilege: OrgLeastPrivilege | None = None
    # Evidence shared by many findings (the policy of a role that states a permission), built once
    # per evaluation: clients share roles, so the same answers come back thousands of times.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ParamProblem:
    """A semantic problem of a rule's parameters that the schema cannot see (a glob that never
    matches, an unknown field path). ``at`` is the path below the rule's ``check`` mapping, as
    deep as the parameters nest (``("any", 1, "all", 0, "path")`` in a field check's tree); with
    ``located`` the message is prefixed with where it is, as schema errors are."""

    message: str
    at: tuple[str | int, ...] = ()
    located: bool = False


class Params(BaseModel):
    """Base of every check's parameters: frozen, camelCase, no unknown keys.

    Per-value semantics live in annotated types (``checks.params``); rules that
    span several parameters live in ``problems()``, which the loader calls once
    the values are valid, so every problem of a rule is reported at once.
    """

    # defer_build: a parameters model's validator is built when first used, so a run builds
    # those of the check types its policies use, not the registry's every one.
    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        extra="forbid",
        defer_build=True,
    )

    def problems(self) -> Iterator[ParamProblem]:
        """Problems that involve several parameters; none by default."""
        return iter(())

    @classmethod
    def merged(cls, base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
        """The parameters of an included rule with an override's parameters applied (policy
        ``overrides``): by default each parameter given replaces that parameter. A check type whose
        parameters only make sense together says otherwise."""
        return {**base, **override}

    def describe(self) -> str | None:
        """The parameters in words for ``explain``, where JSON would not read well; None: JSON."""
        return None


class NoParams(Params):
    pass


CheckFn: TypeAlias = "Callable[[Client, Context, Any], Iterator[Problem]]"


@dataclass(frozen=True)
class Example:
    """A PASS and a FAIL client for one parameter set; ``subjects`` is what FAIL must yield."""

    params: dict[str, Any]
    passing: dict[str, Any]
    failing: dict[str, Any]
    subjects: tuple[str | None, ...]
    context: dict[str, Any] = field(default_factory=dict)


def _reads_nothing(params: Any) -> frozenset[str]:
    return frozenset()


def _no_window(params: Any) -> int | None:
    return None


@dataclass(frozen=True)
class CheckType:
    """One registered check type and everything the loader, engine and docs need to know of it."""

    name: str
    params: type[Params]
    run: CheckFn
    needs: frozenset[str]
    summary: str
    subject: str
    example: Example
    # Extra reasons a rule cannot be evaluated on this inventory (beyond ``needs``).
    precondition: Callable[[Any, Context], str | None] | None = None
    # The client fields the check reads: when one is unknown for a client (a value a plan
    # knows only after apply), the rule is not evaluated for that client instead of passing.
    reads: Callable[[Any], frozenset[str]] = _reads_nothing
    # How many days of usage a rule of this type looks back (the fetch reads at least the longest).
    window_days: Callable[[Any], int | None] = _no_window

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()


CHECKS: dict[str, CheckType] = {}


def check(
    name: str,
    *,
    params: type[Params],
    summary: str,
    subject: str,
    example: Example,
    needs: frozenset[str] = frozenset(),
    precondition: Callable[[Any, Context], str | None] | None = None,
    reads: frozenset[str] | Callable[[Any], frozenset[str]] = frozenset(),
    window_days: Callable[[Any], int | None] = _no_window,
) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as the check type ``name``."""

    def register(fn: CheckFn) -> CheckFn:
        if name in CHECKS:
            raise ValueError(f"check type {name} registered twice")
        reader = reads if callable(reads) else (lambda params, fields=reads: fields)
        CHECKS[name] = CheckType(
            name=name,
            params=params,
            run=fn,
            needs=needs,
            summary=summary,
            subject=subject,
            example=example,
            precondition=precondition,
            reads=reader,
            window_days=window_days,
        )
        return fn

    return register


def any_glob(value: str, globs: tuple[str, ...]) -> str | None:
    """The first glob that matches ``value`` (case-sensitive), or None."""
    return next((g for g in globs if fnmatchcase(value, g)), None)


def nonempty_strings(description: str) -> Any:
    return Field(min_length=1, description=description)
