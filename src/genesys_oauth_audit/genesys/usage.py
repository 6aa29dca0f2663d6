"""Org-level API usage (docs/least-privilege.md): when each client was last used, and which operations it called.

Usage is read from the newer usage service (``POST /api/v2/usage/aggregates/query/jobs``,
API-NOTES §12) with two jobs at most per run, whatever the number of clients:

- *last use*: grouped by client, per day (the latest day with requests is the client's last use);
- *operations*: grouped by client, template URI and HTTP method, totals over the window, with
  the status counts (2xx, 3xx, 4xx, 429, 5xx) least privilege needs.

Both are submitted first and polled together, with a short first wait that doubles (a job over
90 days of an org's usage takes seconds to minutes). Results are paged by cursor; a cursor that
repeats or does not advance, a page that leaves the job, a finished job without its rows, or a
job that failed are errors (exit 3): never a shortened usage table, since a client missing from
it would look unused.

A job covers at most 90 days and starts within the last year. The operations window is
therefore capped at 90 days (and says so). Last use over a longer window (``--usage-days 180``
for a ``max-days-unused`` rule of 180 days) comes from the legacy ``POST /api/v2/usage/query``,
which reaches further back and gives last use only. When the newer service answers 404 (not
available in the region) or 403 (the auditor lacks ``usage:organization:view``), last use comes
from the legacy query and operation data is absent; the inventory records why
(``usage_notes``), so every report names the source and the rules that need operations say why
they were not evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from genesys_oauth_audit.data.operations import CalledOperation, merge_calls, resolve
from genesys_oauth_audit.errors import (
    ApiError,
    BadResponseError,
    FetchError,
    PagingError,
    PermissionDeniedError,
)
from genesys_oauth_audit.genesys.client import GenesysClient, path_segment
from genesys_oauth_audit.genesys.wire import (
    WireApiUsage,
    WireUsageExecution,
    WireUsageJob,
    WireUsageJobResults,
    WireUsageResult,
)
from genesys_oauth_audit.inventory import USAGE_JOBS, USAGE_QUERY, UsageWindow

log = logging.getLogger("genesys_oauth_audit.fetch")

JOBS_PATH = "/api/v2/usage/aggregates/query/jobs"
LEGACY_PATH = "/api/v2/usage/query"
JOBS_PERMISSION = "usage:organization:view"
MAX_JOB_DAYS = 90  # "End date cannot be more than 90 days after the start"
MAX_LOOKBACK_DAYS = 365  # "Start date cannot be more than a year ago"
RESULTS_PAGE_SIZE = 1000  # the service's maximum: fewest requests
MAX_RESULT_PAGES = 10_000
# A job over an org's usage takes a second or more; a first look after a quarter of a second,
# doubling each time, sees a quick job done within half a second of its end and a slow one
# polled about a dozen times a minute at most after the first minute (30 s between looks).
FIRST_POLL_DELAY = 0.25
MAX_POLL_DELAY = 30.0
LAST_USE = "last use"
OPERATIONS = "operations"
STATUS_METRICS = ["Requests", "Status200", "Status300", "Status400", "Status429", "Status500"]
# A row the service could not attribute to a template (a request to a path that exists in no
# API) is kept, as an unknown operation: never dropped.
NO_TEMPLATE = "(no template)"
NO_METHOD = "UNKNOWN"


@dataclass(frozen=True)
class UsageData:
    """What the usage services answered. ``None`` where not asked for, or not available."""

    usage: UsageWindow | None = None
    last_used: dict[str, date] | None = None
    operation_usage: UsageWindow | None = None
    operations: dict[str, tuple[CalledOperation, ...]] | None = None
    notes: tuple[str, ...] = ()


@dataclass
class PendingUsage:
    """Usage queries submitted and not read yet: ``collect`` polls them together and reads
    their rows. Submitted first, they run on the service's side while the rest of the org is
    read."""

    api: GenesysClient
    jobs: list[_Job]
    legacy: _LegacyQuery | None
    timeout: float
    sleep: Callable[[float], None] | None
    notes: tuple[str, ...]

    def collect(self) -> UsageData:
        usage: UsageWindow | None = None
        last_used: dict[str, date] | None = None
        operation_usage: UsageWindow | None = None
        operations: dict[str, tuple[CalledOperation, ...]] | None = None
        if self.legacy is not None:
            usage, last_used = self.legacy.collect(self.api, self.timeout, self.sleep)
        _poll_together(self.api, self.jobs, self.timeout, self.sleep)
        for job in self.jobs:
            if job.kind == LAST_USE:
                usage = job.window()
                last_used = _last_use(job.rows, job.what, usage.start, usage.end)
            else:
                operation_usage, operations = job.window(), _operations(job.rows, job.what)
        return UsageData(usage, last_used, operation_usage, operations, self.notes)


def start_usage(
    api: GenesysClient,
    *,
    last_use_days: int | None,
    operation_days: int | None,
    now: datetime,
    timeout: float,
    sleep: Callable[[float], None] | None = None,
) -> PendingUsage:
    """Submit the usage queries for last use over ``last_use_days`` and operations over
    ``operation_days`` (capped at 90): at most two jobs of the newer usage service, or the legacy
    query when it is absent; ``collect()`` on the answer reads them."""
    today = now.astimezone(timezone.utc).date()
    notes: list[str] = []
    if operation_days is not None and operation_days > MAX_JOB_DAYS:
        notes.append(
            f"operations were read over the last {MAX_JOB_DAYS} days, not {operation_days}: a "
            f"usage-service job covers at most {MAX_JOB_DAYS} days"
        )
        operation_days = MAX_JOB_DAYS
    last_via_jobs = last_use_days is not None and last_use_days <= MAX_JOB_DAYS
    if last_use_days is not None and not last_via_jobs:
        notes.append(
            f"last use over {last_use_days} days came from the legacy usage query: a usage-service "
            f"job covers at most {MAX_JOB_DAYS} days"
        )

    wanted: list[tuple[str, int]] = []
    if last_via_jobs:
        assert last_use_days is not None
        wanted.append((LAST_USE, last_use_days))
    if operation_days is not None:
        wanted.append((OPERATIONS, operation_days))

    jobs: list[_Job] = []
    unavailable: str | None = None
    for kind, days in wanted:
        try:
            jobs.append(_submit(api, kind, days, today))
        except PermissionDeniedError:
            unavailable = (
                f"POST {JOBS_PATH} answered 403: the auditor's OAuth client lacks "
                f"{JOBS_PERMISSION} (add a role that grants it for operation data)"
            )
        except ApiError as exc:
            if exc.status != 404:
                raise
            unavailable = (
                f"POST {JOBS_PATH} answered 404: the newer usage service is not available "
                "in this region"
            )
        if unavailable is not None:
            break

    if unavailable is not None:
        # One source for the run: a job submitted before the refusal is left to expire.
        jobs = []
        notes.append(
            unavailable
            + (
                "; last use came from the legacy usage query, which gives no operation data"
                if last_use_days is not None
                else "; the legacy usage query gives no operation data"
            )
        )
        # Said at -v: every report and the fetch's summary line carry it (usage_notes).
        log.info("%s", notes[-1])
        last_via_jobs = False

    legacy = None
    if last_use_days is not None and not last_via_jobs:
        legacy = _LegacyQuery.submit(api, last_use_days, now)
    return PendingUsage(api, jobs, legacy, timeout, sleep, tuple(notes))


# -- the newer service: aggregates query jobs --------------------------------------------------


def _interval(days: int, today: date) -> tuple[date, date, str]:
    """The window's first and last day and the interval to send: from midnight of the first day
    to midnight after the last (``days`` whole days, the last one today: usage lags up to a day)."""
    end = today + timedelta(days=1)
    start = end - timedelta(days=days)
    return start, today, f"{midnight(start)}/{midnight(end)}"


@dataclass
class _Job:
    kind: str
    job_id: str
    days: int
    start: date
    end: date
    path: str
    ready: bool = False  # the service answered 200 (done) rather than 202 (started)
    rows: list[WireApiUsage] = field(default_factory=list)

    @property
    def what(self) -> str:
        return f"GET {JOBS_PATH}/{{jobId}} ({self.kind})"

    def window(self) -> UsageWindow:
        return UsageWindow(days=self.days, start=self.start, end=self.end, source=USAGE_JOBS)


def _submit(api: GenesysClient, kind: str, days: int, today: date) -> _Job:
    start, end, interval = _interval(days, today)
    body: dict[str, Any] = {"interval": interval}
    if kind == LAST_USE:
        body.update(granularity="Day", groupBy=["OauthClientId"], metrics=["Requests"])
    else:
        # Totals over the window: one row per client, template and method, not one per day.
        body.update(groupBy=["OauthClientId", "TemplateUri", "HttpMethod"], metrics=STATUS_METRICS)
    status, job = api.post_status(JOBS_PATH, body, WireUsageJob)
    # The id goes into the path: percent-encoded, and refused if it could move the request.
    segment = path_segment(job.id, f"POST {JOBS_PATH}: id")
    return _Job(kind, job.id, days, start, end, f"{JOBS_PATH}/{segment}", ready=status == 200)


def _poll_together(
    api: GenesysClient,
    jobs: list[_Job],
    timeout: float,
    sleep: Callable[[float], None] | None,
) -> None:
    """Poll every job until each has all its rows: a short first wait (none when every job was
    answered 200, done), doubling up to 30 s."""
    pending = list(jobs)
    waits = _PollWaits(api, timeout, sleep)
    first = all(job.ready for job in pending)
    while pending:
        if not first:
            waits.wait(
                f"polling {', '.join(j.what for j in pending)}",
                f"{pending[0].what}: the usage job",
            )
        first = False
        pending = [job for job in pending if not _poll(api, job)]


class _PollWaits:
    """The waits between the polls of a usage query or job: a short first one, doubling up to
    ``MAX_POLL_DELAY``, and no wait that would take the total past ``timeout``."""

    def __init__(
        self, api: GenesysClient, timeout: float, sleep: Callable[[float], None] | None
    ) -> None:
        self._api, self._timeout, self._sleep = api, timeout, sleep
        self._waited = 0.0
        self._delay = FIRST_POLL_DELAY

    def wait(self, doing: str, still_running: str | None) -> None:
        """Wait before the next poll; ``still_running`` (what is polled) bounds it by the
        timeout, None waits regardless (the first look at a query just submitted)."""
        if still_running is not None and self._waited + self._delay > self._timeout:
            raise FetchError(
                f"{still_running} was still running after {self._waited:.0f}s; giving up "
                "(raise --usage-timeout, or audit without usage rules)"
            )
        self._api.wait(self._delay, doing, self._sleep)
        self._waited += self._delay
        self._delay = min(self._delay * 2, MAX_POLL_DELAY)


def _poll(api: GenesysClient, job: _Job) -> bool:
    """One look at a job; when it has succeeded, every page of its rows is read. True when done."""
    first = api.get(job.path, WireUsageJobResults, {"pageSize": RESULTS_PAGE_SIZE})
    status = first.queryStatus
    if status in ("Queued", "Running"):
        return False
    if status in ("Failed", "Cancelled"):
        detail = ""
        if first.errorBody is not None and (first.errorBody.message or first.errorBody.code):
            detail = f" ({first.errorBody.code or ''}: {first.errorBody.message or ''})"
        raise FetchError(
            f"{job.what}: the usage job ended {status}{detail}; no usage was read, try again later"
        )
    if status != "Succeeded":
        raise BadResponseError(f"{job.what}: unexpected queryStatus {status!r}")
    job.rows = _all_pages(api, job, first)
    return True


def _all_pages(api: GenesysClient, job: _Job, first: WireUsageJobResults) -> list[WireApiUsage]:
    """Every row of a succeeded job, following ``nextUri`` cursors with the paging safety of
    ``GenesysClient.get_all_pages``: the cursor must stay on this job and move forward."""
    page, number = first, 1
    rows: list[WireApiUsage] = []
    seen_next: set[str] = set()
    seen_after: set[str] = set()
    while True:
        if page.entities is None:
            raise BadResponseError(
                f"{job.what}: page {number} says {page.queryStatus} but has no entities list; "
                "refusing to judge usage without its rows"
            )
        if page.queryStatus != "Succeeded":
            raise BadResponseError(
                f"{job.what}: page {number} says queryStatus {page.queryStatus!r} after the job "
                "succeeded"
            )
        rows.extend(page.entities)
        if not page.nextUri:
            return rows  # "only included if there is another page"
        if not page.entities:
            raise PagingError(
                f"{job.what}: page {number} is empty but announces another page; refusing to "
                "follow a cursor that does not advance"
            )
        if page.nextUri in seen_next:
            raise PagingError(f"{job.what}: nextUri {page.nextUri!r} repeats; the cursor loops")
        seen_next.add(page.nextUri)
        path, params = api.next_page(page.nextUri, job.what)
        if path != job.path:
            raise PagingError(
                f"{job.what}: nextUri {page.nextUri!r} leaves the job's results; not followed"
            )
        params = dict(params or {})
        after = params.get("after")
        if not isinstance(after, str) or not after:
            raise PagingError(f"{job.what}: nextUri {page.nextUri!r} carries no 'after' cursor")
        if after in seen_after:
            raise PagingError(
                f"{job.what}: the 'after' cursor {after!r} repeats; the cursor does not advance"
            )
        seen_after.add(after)
        params.setdefault("pageSize", RESULTS_PAGE_SIZE)
        number += 1
        if number > MAX_RESULT_PAGES:
            raise PagingError(f"{job.what}: the results did not end after {MAX_RESULT_PAGES} pages")
        page = api.get(path, WireUsageJobResults, params)


def _client_id(row: WireApiUsage, what: str) -> str:
    """The row's client: both jobs group by it, so a row without one is an answer we cannot
    attribute (and dropping it could make a client look unused)."""
    if row.oauthClient is None or not row.oauthClient.id:
        raise BadResponseError(
            f"{what}: a row names no OAuth client, although the job grouped by client"
        )
    return row.oauthClient.id


def _in_window(day: date, start: date, end: date, client_id: str, what: str) -> date:
    """A row's day, refused outside the window asked for (a day of slack each side for the
    service's own idea of midnight): a row dated 2099 would make a stale client look used."""
    if not start - timedelta(days=1) <= day <= end + timedelta(days=1):
        raise BadResponseError(
            f"{what}: a row for client {client_id!r} is dated {day.isoformat()}, outside the "
            f"window asked for ({start.isoformat()} to {end.isoformat()})"
        )
    return day


def _last_use(rows: list[WireApiUsage], what: str, start: date, end: date) -> dict[str, date]:
    last: dict[str, date] = {}
    for row in rows:
        client_id = _client_id(row, what)
        if not row.requestCount:
            continue
        if row.date is None:
            # Grouped per day, a row with requests but no day would silently lose a client's use.
            raise BadResponseError(
                f"{what}: a row for client {client_id!r} has requests but no date, although the "
                "job asked for daily rows"
            )
        day = _in_window(row.date, start, end, client_id, what)
        if client_id not in last or day > last[client_id]:
            last[client_id] = day
    return last


def _operations(rows: list[WireApiUsage], what: str) -> dict[str, tuple[CalledOperation, ...]]:
    """The operations each client called, as the inventory stores them: one record per catalog
    operation (its swagger key), counts summed, in catalog order; an unknown template as seen."""
    by_client: dict[str, list[CalledOperation]] = {}
    for row in rows:
        client_id = _client_id(row, what)
        s2, s3, s4, s429, s5 = (
            row.status200 or 0,
            row.status300 or 0,
            row.status400 or 0,
            row.status429 or 0,
            row.status500 or 0,
        )
        requests = row.requestCount if row.requestCount is not None else s2 + s3 + s4 + s5
        if not requests and not (s2 or s3 or s4 or s5):
            continue
        res = resolve(row.httpMethod or NO_METHOD, row.templateUri or NO_TEMPLATE)
        by_client.setdefault(client_id, []).append(
            CalledOperation(
                method=res.method,
                path=res.path,
                requests=requests,
                status2xx=s2,
                status3xx=s3,
                status4xx=s4,
                status429=s429,
                status5xx=s5,
            )
        )
    return {client_id: merge_calls(calls) for client_id, calls in by_client.items()}


# -- the legacy query: last use only ----------------------------------------------------------


def legacy_last_use(
    api: GenesysClient,
    days: int,
    now: datetime,
    timeout: float,
    sleep: Callable[[float], None] | None,
) -> tuple[UsageWindow, dict[str, date]]:
    """One org-level query for every client (never one per client), polled until complete."""
    return _LegacyQuery.submit(api, days, now).collect(api, timeout, sleep)


@dataclass(frozen=True)
class _LegacyQuery:
    """The legacy query, submitted: where its results are and the window it covers."""

    path: str
    days: int
    start_day: date
    end_day: date

    @staticmethod
    def submit(api: GenesysClient, days: int, now: datetime) -> _LegacyQuery:
        return _legacy_submit(api, days, now)

    def collect(
        self, api: GenesysClient, timeout: float, sleep: Callable[[float], None] | None
    ) -> tuple[UsageWindow, dict[str, date]]:
        return _legacy_collect(api, self, timeout, sleep)


def _legacy_submit(api: GenesysClient, days: int, now: datetime) -> _LegacyQuery:
    end_day = now.astimezone(timezone.utc).date() + timedelta(days=1)
    start_day = end_day - timedelta(days=days)
    interval = f"{midnight(start_day)}/{midnight(end_day)}"
    execution = api.post(
        LEGACY_PATH,
        {
            "interval": interval,
            "granularity": "Day",
            "groupBy": ["OAuthClientId"],
            "metrics": ["Requests"],
        },
        WireUsageExecution,
    )
    # The id goes into the path: percent-encoded, and refused if it could move the request
    # (an executionId of "../../oauth/clients?x=" would send the token elsewhere).
    path = (
        f"{LEGACY_PATH}/"
        f"{path_segment(execution.executionId, 'POST /api/v2/usage/query: executionId')}/results"
    )
    return _LegacyQuery(path, days, start_day, end_day)


def _legacy_collect(
    api: GenesysClient,
    query: _LegacyQuery,
    timeout: float,
    sleep: Callable[[float], None] | None,
) -> tuple[UsageWindow, dict[str, date]]:
    path, days, start_day, end_day = query.path, query.days, query.start_day, query.end_day
    waits = _PollWaits(api, timeout, sleep)
    # The first look comes after a short wait too: the query was submitted a moment ago.
    waits.wait(f"polling GET {path}", None)
    while True:
        result = api.get(path, WireUsageResult)
        status = result.queryStatus
        if status == "Complete":
            break
        if status == "Failed":
            raise FetchError(
                f"GET {path}: the usage query failed (queryStatus Failed); try again later"
            )
        if status != "Running":
            raise BadResponseError(f"GET {path}: unexpected queryStatus {status!r}")
        waits.wait(f"polling GET {path}", f"GET {path}: the usage query")
    if result.results is None:
        raise BadResponseError(
            f"GET {path}: the usage query is Complete but its answer has no results list; "
            "refusing to judge last use without it"
        )
    last: dict[str, date] = {}
    for row in result.results:
        # As for the jobs (``_client_id``, ``_last_use``): the query groups by client per day, so
        # every row names its client, and a row with requests has its day; one that does not is
        # an answer we cannot attribute, and dropping it could make a client look unused.
        if not row.clientId:
            raise BadResponseError(
                f"GET {path}: a row names no clientId, although the query grouped by OAuthClientId"
            )
        if not row.requests:
            continue
        if row.date is None:
            raise BadResponseError(
                f"GET {path}: a row for client {row.clientId!r} has requests but no date, "
                "although the query asked for daily rows"
            )
        day = row.date.astimezone(timezone.utc).date() if row.date.tzinfo else row.date.date()
        _in_window(day, start_day, end_day - timedelta(days=1), row.clientId, f"GET {path}")
        if row.clientId not in last or day > last[row.clientId]:
            last[row.clientId] = day
    window = UsageWindow(
        days=days, start=start_day, end=end_day - timedelta(days=1), source=USAGE_QUERY
    )
    return window, last


def midnight(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
