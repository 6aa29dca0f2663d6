"""Check types about when a client was last used (the org-level usage data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pydantic import Field

from genesys_oauth_audit.checks.registry import (
    NEEDS_USAGE,
    Context,
    Example,
    Params,
    Problem,
    check,
)
from genesys_oauth_audit.evidence import UsageEvidence

if TYPE_CHECKING:
    from genesys_oauth_audit.inventory import Client


class MaxDaysUnused(Params):
    days: int = Field(ge=1, description="A client unused for more than this many days is stale.")


def _usage_window_long_enough(p: MaxDaysUnused, ctx: Context) -> str | None:
    if ctx.usage is not None and ctx.usage.days < p.days:
        return (
            f"the usage data covers {ctx.usage.days} days but the rule looks back {p.days} days "
            f"(fetch with --usage-days {p.days} or more)"
        )
    return None


@check(
    "max-days-unused",
    reads=frozenset({"lastUsed", "dateCreated"}),
    params=MaxDaysUnused,
    needs=frozenset({NEEDS_USAGE}),
    precondition=_usage_window_long_enough,
    window_days=lambda p: p.days,
    summary="A client must have been used within the last `days` days (unless created within them).",
    subject="none (one finding per client)",
    example=Example(
        params={"days": 30},
        passing={"lastUsed": "2026-11-20", "dateCreated": "2024-01-01T00:00:00Z"},
        failing={"lastUsed": "2026-09-01", "dateCreated": "2024-01-01T00:00:00Z"},
        subjects=(None,),
        context={
            "today": "2026-11-24",
            "usage": {"days": 90, "start": "2026-08-26", "end": "2026-11-24"},
        },
    ),
)
def max_days_unused(client: Client, ctx: Context, p: MaxDaysUnused) -> Iterator[Problem]:
    """A finding for a client with no API use in the last ``days`` days (UTC).

    A client created within those days is not stale yet. Usage data is up to a
    day old (Genesys aggregates it daily), so "the last N days" counts back from the as-of
    day: the snapshot's ``fetchedAt``, today for a live org, or ``--as-of``.
    """
    # The last N days are the as-of day and the N-1 days before it (the usage window is the same).
    today = ctx.today
    cutoff = today - timedelta(days=p.days - 1)
    created = client.date_created
    created_day = _utc_date(created) if created is not None else None
    if created_day is not None and created_day >= cutoff:
        return
    last = client.last_used
    if last is None or last < cutoff:
        usage = ctx.usage
        if last is not None:
            since = f"last used {last.isoformat()}, {(today - last).days} days before {today.isoformat()}"
        elif usage is not None:
            since = (
                f"no use recorded in the usage window, {usage.start.isoformat()} to "
                f"{usage.end.isoformat()}"
            )
        else:
            since = "no use recorded"
        yield Problem(
            None,
            f"not used in the last {p.days} days ({since})",
            UsageEvidence(
                last,
                created_day,
                p.days,
                today,
                usage.start if usage is not None else None,
                usage.end if usage is not None else None,
            ),
        )


def _utc_date(value: datetime) -> date:
    # Dates from the API are UTC already; converting only the others is 20x cheaper per client.
    offset = value.utcoffset()
    if offset:
        value = value.astimezone(timezone.utc)
    return value.date()
