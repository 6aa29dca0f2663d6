"""What GitHub code scanning accepts of a rule in SARIF: ``validate`` warns, the SARIF report enforces.

GitHub's documented limits, from "SARIF support for code scanning"
(https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning,
the ``reportingDescriptor`` object): ``name`` is "limited to 255 characters",
``shortDescription.text`` and ``fullDescription.text`` are "limited to 1024
characters"; and from "SARIF results exceed one or more limits"
(https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit):
at most 20 tags per rule, past which the whole file is rejected ("Analysis
SARIF file rejected due to rule tag limits"). The limits live here, below both
the policy loader and the reporters, so the two cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MAX_TAGS = 20
MAX_NAME = 255
MAX_DESCRIPTION = 1024
# What a truncated text ends with, so a reader knows there was more (the rule's help has it all).
MARKER = "…"


def utf16_length(text: str) -> int:
    """Length as GitHub counts it (JavaScript strings: UTF-16 code units; an emoji is two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 code units, ending with ``MARKER`` when cut; never
    splits a character (a surrogate pair stays whole)."""
    if utf16_length(text) <= limit:
        return text
    room = limit - utf16_length(MARKER)
    kept: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > room:
            break
        kept.append(ch)
        used += width
    return "".join(kept).rstrip() + MARKER


def pascal_name(title: str) -> str:
    """The rule's SARIF ``name``: its title in PascalCase (GitHub lists rules by it)."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words) or "Rule"


def rule_tags(
    tags: Iterable[str], controls: Sequence[tuple[str, Sequence[str]]]
) -> tuple[list[str], int]:
    """The tags a rule carries in SARIF and how many were left out to stay within ``MAX_TAGS``.

    The most useful first: ``security`` (GitHub's security view filters on it) and the rule's
    own tags, then one ``framework/control`` tag per control it supports, in the policy's order.
    """
    own = sorted({"security", *tags})
    dropped = 0
    if len(own) > MAX_TAGS:
        others = [t for t in own if t != "security"]
        dropped += len(others) - (MAX_TAGS - 1)
        own = ["security", *others[: MAX_TAGS - 1]]
    wanted = [
        t
        for t in dict.fromkeys(f"{fw}/{control}" for fw, ids in controls for control in ids)
        if t not in own
    ]
    room = MAX_TAGS - len(own)
    dropped += max(0, len(wanted) - room)
    return own + wanted[:room], dropped


def full_description(title: str, description: str | None) -> str:
    """The rule's SARIF ``fullDescription``: its description on one line (else its title)."""
    return " ".join((description or title).split())


def limit_warnings(
    title: str,
    description: str | None,
    tags: Iterable[str],
    controls: Sequence[tuple[str, Sequence[str]]],
) -> list[tuple[str, str]]:
    """``(setting, message)`` for each part of a rule the SARIF report will have to shorten."""
    out: list[tuple[str, str]] = []
    if utf16_length(title) > MAX_DESCRIPTION:
        out.append(
            (
                "title",
                f"title is {utf16_length(title)} characters; GitHub code scanning accepts at most "
                f"{MAX_DESCRIPTION} (SARIF shortDescription): the SARIF report truncates it",
            )
        )
    name = pascal_name(title)
    if utf16_length(name) > MAX_NAME:
        out.append(
            (
                "title",
                f"the rule's SARIF name (its title in PascalCase) is {utf16_length(name)} "
                f"characters; GitHub code scanning accepts at most {MAX_NAME}: the SARIF report "
                "truncates it",
            )
        )
    full = full_description(title, description)
    if description is not None and utf16_length(full) > MAX_DESCRIPTION:
        out.append(
            (
                "description",
                f"description is {utf16_length(full)} characters on one line; GitHub code "
                f"scanning accepts at most {MAX_DESCRIPTION} (SARIF fullDescription): the SARIF "
                "report truncates it (its help keeps the whole text)",
            )
        )
    tags = tuple(tags)
    kept, dropped = rule_tags(tags, controls)
    if dropped:
        # Where to look: the tags when they alone are too many, else the controls that crowd in.
        out.append(
            (
                "tags" if len({"security", *tags}) > MAX_TAGS else "controls",
                f"the rule has {len(kept) + dropped} SARIF tags (security, its tags, one per "
                f"control); GitHub code scanning rejects a whole upload with more than {MAX_TAGS} "
                f"per rule: the SARIF report keeps security and the rule's own tags first, then "
                f"controls, and leaves {dropped} out",
            )
        )
    return out
