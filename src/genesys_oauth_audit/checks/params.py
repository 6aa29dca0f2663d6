"""Annotated parameter types that validate their own semantics (globs, permission patterns, grant
types), so a check's parameters model says everything about what it accepts.

The schema cannot see these problems: ``fnmatch`` never rejects a glob (a stray
``[`` silently matches only itself), and a permission pattern with a typo
(``oauth:clients:edit``) silently matches nothing. Each raises a pydantic error
of type ``PARAM_ERROR`` whose context carries the message; the policy loader
maps it to file:line:column like any schema error.
"""

from __future__ import annotations

import difflib
import re
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from genesys_oauth_audit.data import permission_catalog
from genesys_oauth_audit.data.enums import GRANT_TYPES
from genesys_oauth_audit.files.yamldoc import did_you_mean

PARAM_ERROR = "goa_param"
PERMISSION_PATTERN = re.compile(r"^[^:\s]+:[^:\s]+:[^:\s]+$")


def param_error(message: str, *, located: bool = False) -> PydanticCustomError:
    """A parameter problem; ``located``: prefix it with where it is, as schema errors are."""
    return PydanticCustomError(PARAM_ERROR, "{message}", {"message": message, "located": located})


def glob_problem(glob: str) -> str | None:
    """fnmatch never rejects a glob; a stray ``[`` silently matches only itself. Catch that."""
    i = 0
    while i < len(glob):
        if glob[i] == "[":
            j = i + 1
            if j < len(glob) and glob[j] in "!^":
                j += 1
            if j < len(glob) and glob[j] == "]":
                j += 1
            close = glob.find("]", j)
            if close < 0:
                return f"glob {glob!r} has an unclosed '['"
            i = close + 1
            continue
        i += 1
    return None


def permission_problem(pattern: str, catalog: frozenset[str]) -> str | None:
    """Why a ``domain:entity:action`` pattern is malformed or matches nothing in the catalog."""
    if not PERMISSION_PATTERN.fullmatch(pattern):
        return f"{pattern!r} is not a permission pattern of the form domain:entity:action"
    for part in pattern.split(":"):
        problem = glob_problem(part)
        if problem:
            return problem
    parts = pattern.split(":")
    if any(part in ("[*]", "\\*") for part in parts):
        return (
            f"{pattern!r} asks for a literal '*': a pattern matches the permissions a client is "
            "granted, and a grant of *:*:* is already reported for each forbidden permission it "
            "includes; to forbid wildcard grants themselves, use the wildcard-grants check type"
        )
    for perm in catalog:
        if all(fnmatchcase(cp, pp) for cp, pp in zip(perm.split(":"), parts, strict=False)):
            return None
    close = difflib.get_close_matches(pattern, sorted(catalog), n=3, cutoff=0.75)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{pattern!r} matches no permission of the Genesys permission catalog{hint}"


def _glob(value: str) -> str:
    problem = glob_problem(value)
    if problem:
        raise param_error(problem, located=True)
    return value


def _permission(value: str) -> str:
    problem = permission_problem(value, permission_catalog())
    if problem:
        raise param_error(problem)
    return value


def _grant_type(value: str) -> str:
    if value not in GRANT_TYPES:
        raise param_error(
            f"unknown grant type {value!r}{did_you_mean(value, GRANT_TYPES)} "
            f"(expected one of: {', '.join(GRANT_TYPES)})"
        )
    return value


Glob = Annotated[str, AfterValidator(_glob)]
"""A shell-style glob (``*``, ``?``, ``[...]``; case-sensitive) whose brackets close."""

PermissionPattern = Annotated[str, AfterValidator(_permission)]
"""``domain:entity:action`` (each part a glob) that matches a permission of the catalog."""

GrantTypeName = Annotated[str, AfterValidator(_grant_type)]
"""An ``authorizedGrantType`` the API knows."""
