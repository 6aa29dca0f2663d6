"""Severities, ordered: what a rule declares, a finding carries and ``--fail-on`` compares.

Apart from ``findings.py`` (which re-exports them) so that loading a policy, which names
severities, does not build the evaluation's records.
"""

from __future__ import annotations

from enum import Enum


class Severity(str, Enum):
    """Ordered from most to least severe; ``rank`` compares them."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        return _RANK[self] >= _RANK[threshold]


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}

SEVERITIES: tuple[Severity, ...] = tuple(Severity)
