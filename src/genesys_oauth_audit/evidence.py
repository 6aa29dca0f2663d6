"""Why a finding holds, as typed records: the roles, divisions and policies behind a permission, the
divisions of a role, the dates behind a usage verdict, the value compared and the rule's parameter.

A check returns one of these beside each problem; every reporter prints it (``describe()`` for
people, ``as_dict()`` for JSON and SARIF), so a reader can trace a finding to its cause without
opening the snapshot. They are NamedTuples, like ``Finding``: a large org yields hundreds of
thousands of findings, and each carries one.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    # Annotations only: a check module imports this one, and loading a policy (its parameter
    # models) must not build the inventory models.
    from genesys_oauth_audit.inventory import PermissionPolicy

# A value as compared: what JSON can carry (tuples for lists, ISO text for dates).
JsonValue = str | int | float | bool | None | tuple["JsonValue", ...]

ALL_DIVISIONS = "*"
NO_DIVISION = ""  # a grant through the deprecated ``roleIds``, which names no division


def divisions_text(divisions: tuple[str, ...]) -> str:
    """``all divisions``, ``division d-1``, ``divisions d-1, d-2``: where a role is granted."""
    if ALL_DIVISIONS in divisions:
        return "all divisions"
    named = [d if d != NO_DIVISION else "no division (roleIds)" for d in divisions]
    if not named:
        return "no division"
    return ("division " if len(named) == 1 else "divisions ") + ", ".join(named)


def _show(value: JsonValue) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "(none)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _json(value: JsonValue) -> Any:
    return [_json(v) for v in value] if isinstance(value, tuple) else value


class Via(NamedTuple):
    """One role of the client that grants a permission: in which divisions, by which policy."""

    role_id: str
    role_name: str | None
    divisions: tuple[str, ...]  # '*' every division; '' no division (the deprecated roleIds)
    permission: str  # as the role grants it; any part may be '*'
    policy: (
        PermissionPolicy | None
    )  # the role's policy stating it; None: the inventory lacks policies

    @property
    def policy_text(self) -> str:
        """The policy as the role states it, or (snapshots without policies) the permission."""
        return self.policy.text if self.policy is not None else self.permission

    def describe(self) -> str:
        name = repr(self.role_name) if self.role_name else self.role_id
        return f"role {name} ({divisions_text(self.divisions)}), policy {self.policy_text}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "roleId": self.role_id,
            "roleName": self.role_name,
            "divisions": list(self.divisions),
            "permission": self.permission,
            "policy": (
                {
                    "domain": self.policy.domain,
                    "entityName": self.policy.entity_name,
                    "actionSet": list(self.policy.action_set),
                }
                if self.policy is not None
                else None
            ),
        }


class PermissionEvidence(NamedTuple):
    """A permission the client can exercise, what of the rule it broke, and every role granting it."""

    permission: str  # the finding's subject: granted, or the part of a wildcard grant that matters
    matched: str | None  # the rule's pattern (or the risk catalog's entry) it broke
    grants: tuple[Via, ...]  # every role of the client that grants it; () when roles do not resolve

    @property
    def kind(self) -> str:
        return "permission"

    def describe(self) -> str:
        if not self.grants:
            return f"permission {self.permission}; no resolved role of the client states it"
        return "via " + "; ".join(v.describe() for v in self.grants)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "permission": self.permission,
            "matched": self.matched,
            "grants": [v.as_dict() for v in self.grants],
        }


class RoleEvidence(NamedTuple):
    """A role the client holds and where it is granted."""

    role_id: str
    role_name: str | None
    divisions: tuple[str, ...]
    matched: str | None  # the rule's glob the name matched; None for a role that does not resolve

    @property
    def kind(self) -> str:
        return "role"

    def describe(self) -> str:
        name = repr(self.role_name) if self.role_name else "(unresolved)"
        return f"role {name} (id {self.role_id}), granted in {divisions_text(self.divisions)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "roleId": self.role_id,
            "roleName": self.role_name,
            "divisions": list(self.divisions),
            "matched": self.matched,
        }


class UsageEvidence(NamedTuple):
    """The dates behind a usage verdict."""

    last_used: date | None
    date_created: date | None
    days: int  # the rule's look-back
    as_of: date  # the day the verdict is judged as of
    window_start: date | None  # the usage data's window
    window_end: date | None

    @property
    def kind(self) -> str:
        return "usage"

    def describe(self) -> str:
        last = self.last_used.isoformat() if self.last_used else "never in the window"
        window = (
            f"usage window {self.window_start.isoformat()} to {self.window_end.isoformat()}"
            if self.window_start and self.window_end
            else "no usage window"
        )
        created = f"; created {self.date_created.isoformat()}" if self.date_created else ""
        return (
            f"last used {last}{created}; {window}; rule allows {self.days} days; "
            f"as of {self.as_of.isoformat()}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lastUsed": self.last_used.isoformat() if self.last_used else None,
            "dateCreated": self.date_created.isoformat() if self.date_created else None,
            "days": self.days,
            "asOf": self.as_of.isoformat(),
            "windowStart": self.window_start.isoformat() if self.window_start else None,
            "windowEnd": self.window_end.isoformat() if self.window_end else None,
        }


class ValueEvidence(NamedTuple):
    """A client field's value as compared, and the rule's parameter it was compared with."""

    field: str  # the client field, camelCase (scopes, redirectUris, grantType, a field path)
    value: JsonValue
    parameter: str | None = None  # the rule's parameter (prefixes, seconds, an operator)
    expected: JsonValue = None  # its value (or the part of it that matched)

    @property
    def kind(self) -> str:
        return "value"

    def describe(self) -> str:
        rule = ""
        if self.parameter:
            shown = f" {_show(self.expected)}" if self.expected is not None else ""
            rule = f"; rule {self.parameter}{shown}"
        return f"{self.field} = {_show(self.value)}{rule}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "field": self.field,
            "value": _json(self.value),
            "parameter": self.parameter,
            "expected": _json(self.expected),
        }


def _some(items: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class ExerciseEvidence(NamedTuple):
    """What the operations a client called in the usage window proved it exercised of one role
    grant (a role, in its divisions) or one scope: the least-privilege evidence.

    For a role: ``granted`` distinct permissions (wildcards expanded over the operations
    catalog, plus ids no operation requires), ``observable`` those API usage can show,
    ``exercised`` the ids some successful call needed, ``ambiguous`` the candidates of ANY
    requirements the client holds several of (never guessed), ``unused`` the observable rest,
    ``unused_grants`` the grants (as the role states them) of which nothing was exercised, and
    ``ignored`` the ids the rule set aside. For a scope: ``exercised`` names the operations that
    needed it and ``narrow_to`` the read-only scope that would have done.
    """

    role_id: str | None
    role_name: str | None
    divisions: tuple[str, ...]
    scope: str | None
    granted: int
    observable: int
    exercised: tuple[str, ...]
    ambiguous: tuple[str, ...]
    unused: int
    unused_grants: tuple[str, ...]
    ignored: int
    narrow_to: str | None
    days: int
    window_start: date
    window_end: date
    source: str | None
    requests: int  # every request the client made in the window
    operations: int  # distinct operations it called

    @property
    def kind(self) -> str:
        return "least-privilege"

    def describe(self) -> str:
        window = (
            f"{self.operations} operation{'' if self.operations == 1 else 's'}, "
            f"{self.requests} request{'' if self.requests == 1 else 's'} from "
            f"{self.window_start.isoformat()} to {self.window_end.isoformat()} ({self.days} days)"
        )
        if self.scope is not None:
            if self.narrow_to is not None:
                used = f"needed only as {self.narrow_to} by {_some(self.exercised, 4)}"
            elif self.exercised:
                used = f"needed by {_some(self.exercised, 4)}"
            else:
                used = "needed by no call"
            return f"scope {self.scope}: {used}; {window}"
        name = repr(self.role_name) if self.role_name else self.role_id
        parts = [
            f"role {name} ({divisions_text(self.divisions)}) grants {self.granted} "
            f"permissions, {self.observable} that API usage can show",
            f"exercised: {_some(self.exercised) if self.exercised else 'none'}",
        ]
        if self.ambiguous:
            parts.append(f"possibly exercised (ANY of several held): {_some(self.ambiguous)}")
        parts.append(f"{self.unused} unused")
        if self.unused_grants:
            parts.append(f"grants unused entirely: {_some(self.unused_grants)}")
        if self.ignored:
            parts.append(f"{self.ignored} ignored by the rule")
        return "; ".join(parts) + f"; {window}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "role": (
                {
                    "roleId": self.role_id,
                    "roleName": self.role_name,
                    "divisions": list(self.divisions),
                }
                if self.role_id is not None
                else None
            ),
            "scope": self.scope,
            "granted": self.granted,
            "observable": self.observable,
            "exercised": list(self.exercised),
            "ambiguous": list(self.ambiguous),
            "unused": self.unused,
            "unusedGrants": list(self.unused_grants),
            "ignored": self.ignored,
            "narrowTo": self.narrow_to,
            "window": {
                "days": self.days,
                "start": self.window_start.isoformat(),
                "end": self.window_end.isoformat(),
                "source": self.source,
            },
            "requests": self.requests,
            "operations": self.operations,
        }


Evidence = PermissionEvidence | RoleEvidence | UsageEvidence | ValueEvidence | ExerciseEvidence


def for_people(evidence: Evidence | None) -> str | None:
    """The evidence line reports for people print under a message: the roles, policies and
    divisions behind a permission, a role's id, the dates behind a usage verdict. A compared value
    is left out there: the message already names it and the rule's parameter (JSON, SARIF
    properties and JUnit carry it whole)."""
    if evidence is None or isinstance(evidence, ValueEvidence):
        return None
    return evidence.describe()
