"""The risk catalog (data/risk-catalog.json): Genesys permissions and scopes rated by what they let a
client do, each with its reason and source. Checks can forbid by rating (``riskAtLeast``) and reports
show each client's highest risk."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal, get_args

from pydantic import Field

from genesys_oauth_audit.checks.registry import ParamProblem, Params
from genesys_oauth_audit.severity import Severity

CATALOG_PATH = Path(__file__).resolve().parent.parent / "data" / "risk-catalog.json"
RiskLevel = Literal["critical", "high", "medium", "low"]
Category = Literal[
    "privilege-escalation",
    "identity-takeover",
    "external-access",
    "credential-use",
    "integrity",
    "data-protection",
    "bulk-data",
    "persistence",
    "disruption",
]
RISK_LEVELS: tuple[str, ...] = get_args(RiskLevel)
# What makes a catalog pattern a glob (fnmatch's special characters).
_GLOB = frozenset("*?[")
CATEGORIES: tuple[str, ...] = get_args(Category)


@dataclass(frozen=True)
class RiskEntry:
    pattern: str
    risk: Severity
    category: str
    reason: str
    source: str


def permission_grants(granted: str, pattern: str) -> bool:
    """Whether a granted permission could grant what ``pattern`` describes.

    Each part of the grant is ``*`` (it grants everything there) or matches
    the pattern's part as a glob. So the grant ``oauth:*:*`` matches the
    pattern ``oauth:client:edit``, and the grant ``oauth:client:edit`` matches
    the pattern ``oauth:client:*``.
    """
    g = granted.split(":")
    q = pattern.split(":")
    if len(g) != 3 or len(q) != 3:
        return False
    return all(gp == "*" or fnmatchcase(gp, qp) for gp, qp in zip(g, q, strict=True))


class RiskCatalog:
    def __init__(self, permissions: tuple[RiskEntry, ...], scopes: tuple[RiskEntry, ...]) -> None:
        # Most severe first, so the first match is the highest rating.
        self.permissions = tuple(sorted(permissions, key=lambda e: -e.risk.rank))
        self.scopes = {e.pattern: e for e in scopes}
        self._cache: dict[str, tuple[RiskEntry, ...]] = {}
        # When every entry names one permission (no glob, as the shipped catalog does), a part of a
        # grant matches an entry's part only by being ``*`` or equal to it. So a grant with no
        # ``*`` part grants the entries of its very name (one lookup), and one with a domain of
        # its own only entries of that domain: not a glob match against every entry for each
        # grant an org holds for the first time.
        self._by_name: dict[str, tuple[RiskEntry, ...]] | None = None
        self._by_domain: dict[str, tuple[RiskEntry, ...]] | None = None
        if not any(set(e.pattern) & _GLOB for e in self.permissions):
            self._by_name = _grouped(self.permissions, lambda e: e.pattern)
            self._by_domain = _grouped(self.permissions, lambda e: e.pattern.split(":")[0])

    def permission_entries(self, granted: str) -> tuple[RiskEntry, ...]:
        """Every entry a granted permission could grant, most severe first (cached: grants repeat)."""
        hit = self._cache.get(granted)
        if hit is None:
            parts = granted.split(":")
            if self._by_name is not None and "*" not in parts:
                hit = self._by_name.get(granted, ())
            else:
                pool = self.permissions
                if self._by_domain is not None and parts[0] != "*":
                    pool = self._by_domain.get(parts[0], ())
                hit = tuple(e for e in pool if permission_grants(granted, e.pattern))
            self._cache[granted] = hit
        return hit

    def permission(self, granted: str) -> RiskEntry | None:
        entries = self.permission_entries(granted)
        return entries[0] if entries else None

    def scope(self, scope: str) -> RiskEntry | None:
        return self.scopes.get(scope)

    def highest(
        self, permissions: tuple[str, ...] | None, scopes: tuple[str, ...]
    ) -> tuple[RiskEntry, str] | None:
        """A client's highest-rated permission or scope, and which of its own grants it is.
        One pass, first of the most severe: run for every client of the org."""
        best: RiskEntry | None = None
        culprit = ""
        best_rank = -1
        for granted in permissions or ():
            entries = self._cache.get(granted)
            if entries is None:
                entries = self.permission_entries(granted)
            if entries and entries[0].risk.rank > best_rank:
                best, culprit, best_rank = entries[0], granted, entries[0].risk.rank
        for scope in scopes:
            entry = self.scopes.get(scope)
            if entry is not None and entry.risk.rank > best_rank:
                best, culprit, best_rank = entry, scope, entry.risk.rank
        return (best, culprit) if best is not None else None


def _grouped(
    entries: tuple[RiskEntry, ...], key: Callable[[RiskEntry], str]
) -> dict[str, tuple[RiskEntry, ...]]:
    """The entries by ``key``, each group in the catalog's order (most severe first)."""
    groups: dict[str, list[RiskEntry]] = {}
    for e in entries:
        groups.setdefault(key(e), []).append(e)
    return {k: tuple(v) for k, v in groups.items()}


def _entries(items: list[dict[str, str]]) -> tuple[RiskEntry, ...]:
    return tuple(
        RiskEntry(i["pattern"], Severity(i["risk"]), i["category"], i["reason"], i["source"])
        for i in items
    )


@lru_cache(maxsize=1)
def risk_catalog() -> RiskCatalog:
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return RiskCatalog(_entries(data["permissions"]), _entries(data["scopes"]))


class RiskFilter(Params):
    """Forbid by the risk catalog's rating, optionally only some categories of risk."""

    # The check type, and its parameter that lists what is forbidden by name.
    check_name: ClassVar[str]
    listed: ClassVar[str]

    risk_at_least: RiskLevel | None = Field(
        default=None,
        description="Also forbid everything the risk catalog rates at this level or above.",
    )
    categories: tuple[Category, ...] | None = Field(
        default=None, description="With riskAtLeast: only these categories of risk."
    )

    def risky(self, entries: tuple[RiskEntry, ...]) -> RiskEntry | None:
        if self.risk_at_least is None:
            return None
        return risky(self.risk_at_least, self.categories, entries)

    def problems(self) -> Iterator[ParamProblem]:
        if not getattr(self, self.listed) and self.risk_at_least is None:
            yield ParamProblem(
                f"{self.check_name} needs {self.listed}, riskAtLeast, or both: "
                "as written it forbids nothing"
            )
        if self.categories is not None and self.risk_at_least is None:
            yield ParamProblem(
                "categories only narrows riskAtLeast: give riskAtLeast too", at=("categories",)
            )


@lru_cache(maxsize=65536)
def risky(
    risk_at_least: str, categories: tuple[str, ...] | None, entries: tuple[RiskEntry, ...]
) -> RiskEntry | None:
    """The first (most severe) entry at or above the floor, in the categories. Cached: the same
    granted permissions, hence the same entries, come back for thousands of clients."""
    floor = Severity(risk_at_least)
    return next(
        (
            e
            for e in entries
            if e.risk.at_least(floor) and (categories is None or e.category in categories)
        ),
        None,
    )
