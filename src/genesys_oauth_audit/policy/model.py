"""Loaded policies as frozen records: rules, their selectors, overrides and exceptions (docs/writing-policies.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from genesys_oauth_audit.checks import CheckType, Params
from genesys_oauth_audit.errors import Diagnostic
from genesys_oauth_audit.severity import Severity

if TYPE_CHECKING:
    from genesys_oauth_audit.inventory import Client


@dataclass(frozen=True)
class SourceRef:
    """Where something was written: file and line, for error messages and ``rules``."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Where:
    """Which clients a rule applies to; every key given must match. Globs are case-sensitive."""

    grant_types: tuple[str, ...] | None = None
    states: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    exclude_names: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()

    @property
    def everyone(self) -> bool:
        """True when the rule selects every client (no selector given): no need to ask each one."""
        return (
            self.grant_types is None
            and self.states is None
            and self.names is None
            and self.ids is None
            and not self.exclude_names
            and not self.exclude_ids
        )

    def matches(self, client: Client) -> bool:
        if self.grant_types is not None and client.grant_type not in self.grant_types:
            return False
        if self.states is not None and (client.state or "") not in self.states:
            return False
        if self.names is not None and not any(fnmatchcase(client.name, g) for g in self.names):
            return False
        if self.ids is not None and client.id not in self.ids:
            return False
        if client.id in self.exclude_ids:
            return False
        return not any(fnmatchcase(client.name, g) for g in self.exclude_names)


Controls = tuple[tuple[str, tuple[str, ...]], ...]
"""Framework id -> control ids, in the order written (a tuple of pairs: rules stay hashable)."""


@dataclass(frozen=True)
class Override:
    """An override of an included rule (policy ``overrides``): where it is written, which settings
    it replaced (each with its own line), the rule as included, and whether it switches the rule
    off, why, and until when (UTC; like an exception it holds through its ``expires`` day)."""

    source: SourceRef
    base: Rule
    settings: tuple[tuple[str, SourceRef], ...] = ()
    enabled: bool = True
    reason: str | None = None
    owner: str | None = None
    ticket: str | None = None
    expires: date | None = None

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def disables(self, today: date) -> bool:
        """Whether the rule is off on ``today``: a lapsed override enables it again."""
        return not self.enabled and not self.expired(today)


@dataclass(frozen=True)
class Rule:
    """A rule with its effective settings: an override's replacements already applied (the rule
    as included is ``override.base``), and ``origin()`` says where each setting came from."""

    id: str
    title: str
    severity: Severity
    check_type: CheckType
    params: Params
    where: Where
    source: SourceRef
    description: str | None = None
    remediation: str | None = None
    help_uri: str | None = None
    tags: tuple[str, ...] = ()
    controls: Controls = ()
    override: Override | None = None

    def origin(self, setting: str) -> SourceRef:
        """Where a setting (``severity``, ``where``, ``check``, …) of the rule was written."""
        if self.override is not None:
            for name, ref in self.override.settings:
                if name == setting:
                    return ref
        return self.source

    def disabled_on(self, today: date) -> bool:
        return self.override is not None and self.override.disables(today)

    @property
    def frameworks(self) -> tuple[str, ...]:
        return tuple(framework for framework, _ in self.controls)


@dataclass(frozen=True)
class PolicyException:
    """A waiver of one rule for some clients, with a reason, until an optional date (UTC)."""

    rule_id: str
    clients: tuple[str, ...]
    reason: str
    source: SourceRef
    expires: date | None = None
    ticket: str | None = None
    owner: str | None = None

    def matches(self, client_id: str | None, client_name: str) -> bool:
        """Exact id, or a glob on the name; never a substring regex."""
        for pattern in self.clients:
            if client_id is not None and pattern == client_id:
                return True
            if fnmatchcase(client_name, pattern):
                return True
        return False

    def expired(self, today: date) -> bool:
        """The exception holds through its ``expires`` day (UTC) and lapses at the next midnight."""
        return self.expires is not None and today > self.expires


@dataclass(frozen=True)
class PolicyFile:
    """One loaded file, for reports (path and sha256) and ``rules``."""

    path: str
    sha256: str
    name: str | None
    description: str | None
    builtin: str | None = None


@dataclass(frozen=True)
class PolicySet:
    """Everything loaded from the files given and their includes, in load order."""

    files: tuple[PolicyFile, ...]
    rules: tuple[Rule, ...]
    exceptions: tuple[PolicyException, ...]
    # Things worth a second look that do not make the policy invalid (an unknown framework id).
    warnings: tuple[Diagnostic, ...] = ()

    def _active(self, today: date | None) -> tuple[Rule, ...]:
        if today is None:
            return self.rules
        return tuple(r for r in self.rules if not r.disabled_on(today))

    def needs(self, today: date | None = None) -> frozenset[str]:
        """The inventory parts the rules need (``scopes``, ``roles``, ``usage``); with ``today``,
        only the rules not switched off by an override on that day."""
        return frozenset(n for rule in self._active(today) for n in rule.check_type.needs)

    def usage_days(self, today: date | None = None) -> int | None:
        """The longest usage look-back any rule asks for (its check type's ``window_days``)."""
        days = [
            d
            for rule in self._active(today)
            if (d := rule.check_type.window_days(rule.params)) is not None
        ]
        return max(days) if days else None

    def frameworks(self) -> tuple[str, ...]:
        """Every framework id the rules map controls of, sorted."""
        return tuple(sorted({f for rule in self.rules for f in rule.frameworks}))

    def for_frameworks(self, framework_ids: tuple[str, ...]) -> PolicySet:
        """Only the rules mapped to one of ``framework_ids`` (``check --framework``), and the
        exceptions of those rules."""
        wanted = set(framework_ids)
        rules = tuple(r for r in self.rules if wanted & set(r.frameworks))
        kept = {r.id for r in rules}
        return replace(
            self, rules=rules, exceptions=tuple(e for e in self.exceptions if e.rule_id in kept)
        )

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
