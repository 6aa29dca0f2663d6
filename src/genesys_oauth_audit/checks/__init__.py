"""Every check type (docs/writing-policies.md), one module per family, all in one registry (``CHECKS``).

Importing this package registers them all. To add a check type, add it to the
module of its family (or a new module imported below): its parameters model,
its function, and its ``@check`` registration with a PASS and a FAIL example.
"""

from __future__ import annotations

from genesys_oauth_audit.checks import field, grants, leastprivilege, roles, scopes, usage
from genesys_oauth_audit.checks.registry import (
    CHECKS,
    NEED_REASONS,
    NEEDS_OPERATIONS,
    NEEDS_ROLES,
    NEEDS_SCOPES,
    NEEDS_USAGE,
    CheckType,
    Context,
    Example,
    ParamProblem,
    Params,
    Problem,
)

# The order check types are documented and listed in the schema: by family, then as registered.
FAMILIES = (scopes, grants, roles, usage, leastprivilege, field)
_FAMILY_RANK = {family.__name__: rank for rank, family in enumerate(FAMILIES)}
_ORDERED = sorted(CHECKS.values(), key=lambda c: _FAMILY_RANK[c.run.__module__])
CHECKS.clear()
CHECKS.update((c.name, c) for c in _ORDERED)

__all__ = [
    "CHECKS",
    "FAMILIES",
    "NEEDS_OPERATIONS",
    "NEEDS_ROLES",
    "NEEDS_SCOPES",
    "NEEDS_USAGE",
    "NEED_REASONS",
    "CheckType",
    "Context",
    "Example",
    "ParamProblem",
    "Params",
    "Problem",
]
