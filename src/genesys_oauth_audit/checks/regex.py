"""Regular expressions of policies, evaluated in linear time: RE2 (google-re2), compiled once.

Python's ``re`` backtracks: ``^owner: (\\w+\\s?)*$`` against a 40-character
description that ends in ``!`` runs for minutes, so one client's description
could stall the gate. RE2 matches in time linear in the text for every
pattern it accepts, and refuses the few constructs that cannot be matched that
way (backreferences, lookahead and lookbehind); ``validate`` reports those at
the pattern's file:line:column. Syntax: RE2's (docs/writing-policies.md), which
is Python's for everything else a policy needs, except that ``\\d``, ``\\w``,
``\\s`` and ``\\b`` are ASCII-only and the end of text is ``\\z``, not ``\\Z``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

SYNTAX_HINT = (
    "patterns use RE2 syntax: no backreferences or lookaround, end of text is \\z "
    "(docs/writing-policies.md)"
)


class PatternError(ValueError):
    """A pattern RE2 cannot compile; ``str()`` says why, in RE2's words."""


def _options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr itself
    options.never_capture = True  # only "does it match" is asked: no groups to record
    return options


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    # RE2 is loaded with the first pattern (once: compiled patterns are cached): loading a policy
    # without ``matches`` needs none of it.
    import re2

    try:
        # Bytes in and out: the binding's str path re-maps every offset, which a yes/no
        # search does not need; surrogatepass lets a lone surrogate through as RE2's problem.
        return re2.compile(pattern.encode("utf-8", "surrogatepass"), options=_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise PatternError(text) from None


def problem(pattern: str) -> str | None:
    """Why RE2 cannot compile ``pattern`` (for ``validate``), or None when it can."""
    try:
        _compiled(pattern)
    except PatternError as exc:
        return f"invalid regular expression {_shown(pattern)}: {exc}; {SYNTAX_HINT}"
    return None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``, in time linear in the text."""
    return _compiled(pattern).search(text.encode("utf-8", "surrogatepass")) is not None


def _shown(pattern: str) -> str:
    """The pattern as written in the policy (``repr`` would double every backslash), quoted."""
    return "'" + pattern.encode("unicode_escape").decode("ascii").replace("\\\\", "\\") + "'"
