"""The HTTP side of Genesys Cloud: login, retries, rate limits and paging (docs/reliability.md).

One ``GenesysClient`` per run. It owns one access token and reuses it until
shortly before it expires, sends at most ``requests_per_minute`` API requests
in any 60 seconds (the documented per-token limit), retries what is worth
retrying within a budget the user sets, and turns every other failure into an
``errors.FetchError`` with one clear line. It never logs headers or bodies, so
neither the client secret nor the token can reach a log; and it registers every
credential it builds or receives with ``redact``, so one echoed back by a server
is taken out of every line the tool writes.

Every answer is bounded before it is believed: in time (``--timeout`` bounds one
whole response, not the gap between two bytes; ``--deadline`` the whole run, every
wait included), in size (``--max-response-mb``, counted after decompression, so a
small gzip body cannot expand without limit) and in nesting depth; a listing may
not grow past what its first page declared. Ids from the API are placed in URL
paths only percent-encoded, and not at all when they could change the path.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import math
import os
import random
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from itertools import accumulate
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from genesys_oauth_audit import __version__, redact
from genesys_oauth_audit.errors import (
    ApiError,
    AuditError,
    AuthenticationError,
    BadInputError,
    BadResponseError,
    DeadlineError,
    FetchError,
    InvalidTokenError,
    PagingError,
    PermissionDeniedError,
    ResponseTooLargeError,
    TransportError,
    UnsafeIdError,
)
from genesys_oauth_audit.files.reading import DuplicateKey, unique_pairs
from genesys_oauth_audit.genesys.wire import WireError, WireListing, WireToken
from genesys_oauth_audit.settings import ConnectionSettings, header_safe

log = logging.getLogger("genesys_oauth_audit.http")

M = TypeVar("M", bound=BaseModel)

# The permission each endpoint needs (x-inin-requires-permissions, API-NOTES §9), so a 403
# can name what to grant.
REQUIRED_PERMISSIONS: dict[str, str] = {
    "/api/v2/oauth/clients": "oauth:client:view",
    "/api/v2/authorization/roles": "authorization:role:view",
    "/api/v2/usage/query": "oauth:client:view (or usage:organization:view)",
    "/api/v2/usage/aggregates/query/jobs": "usage:organization:view",
}

# Statuses worth another try: throttling and the gateway/server family. 501 means
# "not implemented" and will not change on a retry.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 408})

DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
DEFAULT_DEADLINE_SECONDS = 900.0
# The API's bodies nest about six levels deep; far deeper is an attack on the parser (Python's
# json recurses, and 200,000 levels fit in 400 KB), refused before it is parsed.
MAX_JSON_DEPTH = 100


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up (the run then exits 3).

    ``max_retries`` bounds the retries of any one request; ``budget_seconds``
    bounds the time the whole run may spend waiting between retries.
    """

    max_retries: int = 8
    budget_seconds: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


class _RetryLater(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _TooSlow(Exception):
    """Internal: the response took longer than the time it was given."""


class RunAborted(Exception):
    """A request or a wait stopped because another part of the run failed (``abort``): the run
    ends with that failure, never with this, so it is no ``AuditError``."""


@dataclass(frozen=True)
class Reply:
    """One response, read whole within its bounds: status, headers and the decoded body."""

    status_code: int
    headers: httpx.Headers
    content: bytes


@dataclass
class RequestStats:
    """What the run cost, for the summary line and the benchmarks."""

    requests: int = 0
    token_requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


_TLS_LOCK = threading.Lock()


def _tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """The TLS context of every client of the process, as httpx builds it (certificate checks
    on; the CA bundle from ``SSL_CERT_FILE``/``SSL_CERT_DIR``, else certifi's). Built once per CA
    setting: loading a CA bundle costs about 20 ms of CPU, and a run over many orgs builds a
    client per org, on several threads at once (hence the lock). A context is safe to share."""
    with _TLS_LOCK:
        return _built_tls_context(cafile, capath)


@functools.lru_cache(maxsize=4)
def _built_tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()


class Place(Protocol):
    """Where a run's work takes place, for a run that shares a bound among several (``--jobs``
    over many orgs: ``orgs.Slots``). Every thread of the run holds it while it works and lets go
    while it waits (a ``Retry-After``, a backoff, a poll, pacing, the other reads); the place is
    someone else's only while every thread of the run waits."""

    def add(self) -> None:
        """One more thread at work (called by the working thread that starts it)."""

    def leave(self) -> None:
        """The calling thread waits, or is done."""

    def enter(self) -> None:
        """The calling thread goes on working (after ``leave``)."""


class _Anywhere:
    """The place of a run that shares nothing: any thread works whenever it likes."""

    def add(self) -> None:
        pass

    def leave(self) -> None:
        pass

    def enter(self) -> None:
        pass


ANYWHERE: Place = _Anywhere()


class GenesysClient:
    """Authenticated, paced, retrying JSON client for the Platform API v2."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        requests_per_minute: int = 300,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_request: Callable[[str], None] | None = None,
        deadline: float | None = DEFAULT_DEADLINE_SECONDS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        place: Place = ANYWHERE,
    ) -> None:
        self._settings = settings
        self.place = place
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout
        self._deadline = deadline
        self._deadline_at = clock() + deadline if deadline is not None else None
        self._max_bytes = max_response_bytes
        redact.register(
            settings.credentials.client_secret.get_secret_value()
            if settings.credentials.client_secret is not None
            else None
        )
        redact.register(
            settings.credentials.access_token.get_secret_value()
            if settings.credentials.access_token is not None
            else None
        )
        self._rng = rng or random.Random()
        self._on_request = on_request
        self._rpm = requests_per_minute
        self._sent: deque[float] = deque()
        # Several threads of one run share this client (fetch reads clients, scopes, roles and the
        # org side by side while the usage jobs run): one lock for the counters and the progress
        # callback, one for the pacing window (a thread that must wait holds it, so the others
        # queue behind it in order), one for the token (one login, one refresh after a 401,
        # however many threads hold the token that expired).
        self._lock = threading.Lock()
        self._pace_lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._aborted = threading.Event()
        self._login_failure: AuditError | None = None
        # No request leaves before this clock time: a retry's wait (a 429, a 5xx) is the token's,
        # so every thread waits it out, and the retry budget is charged once for it, not once a
        # thread.
        self._hold_until = 0.0
        if sleep is time.sleep:
            # A real wait (a poll, a backoff, pacing) ends early when the run is aborted.
            self._sleep = self._abortable_sleep
        self._token: SecretStr | None = settings.credentials.access_token
        self._token_expires_at: float | None = None
        self._static_token = settings.credentials.access_token is not None
        self.stats = RequestStats()
        try:
            self._http = httpx.Client(
                transport=transport,
                verify=_tls_context(
                    os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
                ),
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
                headers={
                    "User-Agent": f"genesys-oauth-audit/{__version__}",
                    "Accept": "application/json",
                },
            )
        except (OSError, ssl.SSLError, ImportError, ValueError) as exc:
            # A CA bundle that cannot be read (SSL_CERT_FILE), a proxy httpx cannot use
            # (HTTPS_PROXY=socks5://... without socksio, a malformed one): the environment's.
            raise BadInputError(
                "cannot set up HTTPS from the environment (SSL_CERT_FILE, SSL_CERT_DIR, "
                f"HTTPS_PROXY, ALL_PROXY): {type(exc).__name__}: {exc}"
            ) from None

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GenesysClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def abort(self) -> None:
        """Stop every request and wait of this client that has not started yet, and every real
        wait under way (``RunAborted``): another part of the run failed, so this one's answers
        would not be used."""
        self._aborted.set()

    def _abortable_sleep(self, seconds: float) -> None:
        self._aborted.wait(seconds)

    def _check_aborted(self) -> None:
        if self._aborted.is_set():
            raise RunAborted

    @property
    def api_base(self) -> str:
        return self._settings.endpoint.api_base

    @property
    def signs_in_with_client_credentials(self) -> bool:
        """True when this run logs in with its own OAuth client (which the org then must list)."""
        return not self._static_token

    # -- the run's deadline ----------------------------------------------------------------------

    def _remaining(self) -> float | None:
        return None if self._deadline_at is None else self._deadline_at - self._clock()

    def _deadline_error(self, doing: str) -> DeadlineError:
        return DeadlineError(
            f"the audit did not finish within --deadline {self._deadline:g}s ({doing}); "
            "raise --deadline, or see what is slow with -v"
        )

    def _check_deadline(self, doing: str, wait: float = 0.0) -> None:
        """Raise when the deadline has passed, or would pass during a wait of ``wait`` seconds."""
        remaining = self._remaining()
        if remaining is not None and wait >= remaining:
            raise self._deadline_error(doing)

    def wait(
        self, seconds: float, doing: str, sleep: Callable[[float], None] | None = None
    ) -> None:
        """Sleep ``seconds`` (polling, for one) unless that would pass the run's deadline."""
        self._check_deadline(f"{doing}; {seconds:.1f}s more to wait", seconds)
        self._check_aborted()
        self._away(sleep or self._sleep, seconds)
        self._check_aborted()

    @contextmanager
    def _queued(self, lock: threading.Lock) -> Iterator[None]:
        """``with lock``, where waiting for another thread that holds it (and may be waiting out
        a Retry-After meanwhile) is waiting too: without the run's place."""
        if not lock.acquire(blocking=False):
            self.place.leave()
            try:
                lock.acquire()
            finally:
                self.place.enter()
        try:
            yield
        finally:
            lock.release()

    def _away(self, sleep: Callable[[float], None], seconds: float) -> None:
        """Every wait of the client: without the run's place meanwhile."""
        self.place.leave()
        try:
            sleep(seconds)
        finally:
            self.place.enter()

    # -- public API ----------------------------------------------------------------------------

    def get(self, path: str, model: type[M], params: dict[str, Any] | None = None) -> M:
        """GET a JSON document and parse it as ``model``."""
        return self._parse(self._api("GET", path, params=params), model, f"GET {path}")

    def post(self, path: str, body: dict[str, Any], model: type[M]) -> M:
        return self._parse(self._api("POST", path, json_body=body), model, f"POST {path}")

    def post_status(self, path: str, body: dict[str, Any], model: type[M]) -> tuple[int, M]:
        """``post``, with the success status too (a job answered 200 is done, 202 still running)."""
        reply = self._api("POST", path, json_body=body)
        return reply.status_code, self._parse(reply, model, f"POST {path}")

    def get_all_pages(
        self, path: str, params: dict[str, Any] | None = None, *, max_pages: int = 10_000
    ) -> list[dict[str, Any]]:
        """Every entity of a paged listing, or a ``PagingError``: never a partial list.

        The first page is requested as given. More pages are followed when the
        answer says there are more (``nextUri``, ``pageCount`` > page, or
        ``total`` > what we hold). A page that repeats entities already seen, a
        ``nextUri`` seen before, more pages than announced, or a final count
        that disagrees with ``total`` are all errors: the listing changed under
        us or the server pages wrongly, and an audit of part of an org is worse
        than none.
        """
        what = f"GET {path}"
        first = self.get(path, WireListing, params)
        entities = _entities(first, what, 1)
        seen_ids = _ids(entities, what, 1)
        if len(seen_ids) != len(entities):
            raise PagingError(f"{what}: page 1 lists the same entity twice")
        # What the first page declares bounds the listing: one that grows while it is read (a
        # pageCount or total that rises on every page, with fresh nextUris) would otherwise be
        # followed to max_pages.
        total = first.total
        page_count = first.pageCount
        if total is None and page_count is None:
            # Genesys listings state both (API-NOTES §1, §5); without either, a listing cut to its
            # first page looks complete, and a gate must not take part of an org for all of it.
            raise PagingError(
                f"{what}: the listing states neither pageCount nor total; refusing a listing "
                "whose completeness cannot be verified"
            )
        page_number = first.pageNumber or 1
        if page_number != 1:
            raise PagingError(
                f"{what}: asked for the first page, the answer is page {page_number}; refusing "
                "to audit a partial list"
            )
        seen_next: set[str] = set()
        listing = first
        pages = 1
        while self._has_more(listing, page_number, page_count, total, len(entities)):
            if page_count is None and total is None:
                # Genesys listings state pageCount and total; without them nothing bounds the
                # listing or proves it complete, and following it could take thousands of requests.
                raise PagingError(
                    f"{what}: the listing has more pages but states neither pageCount nor total; "
                    "refusing to follow a listing whose end cannot be verified"
                )
            pages += 1
            if page_count is not None and pages > max(page_count, 1):
                raise PagingError(
                    f"{what}: pagination did not end within the {max(page_count, 1)} pages the "
                    f"listing first declared (page {pages - 1} announces more); refusing to "
                    "follow a listing that grows while it is read"
                )
            if pages > max_pages:
                raise PagingError(f"{what}: pagination did not end after {max_pages} pages")
            next_params: dict[str, Any] | None
            if listing.nextUri:
                next_path, next_params = self._same_origin(listing.nextUri, what)
                key = listing.nextUri
                if key in seen_next:
                    raise PagingError(
                        f"{what}: nextUri {listing.nextUri!r} repeats; pagination loops"
                    )
                seen_next.add(key)
            else:
                next_path, next_params = path, dict(params or {})
                next_params["pageNumber"] = page_number + 1
            listing = self.get(next_path, WireListing, next_params)
            if listing.pageNumber is not None and listing.pageNumber != pages:
                raise PagingError(
                    f"{what}: page {pages} of the listing says it is page {listing.pageNumber} "
                    "(pages were skipped or repeated); refusing to audit a partial list"
                )
            page_entities = _entities(listing, what, pages)
            if not page_entities:
                raise PagingError(
                    f"{what}: page {pages} is empty but the listing announced more "
                    f"(total={total}, pageCount={page_count}, held {len(entities)})"
                )
            page_ids = _ids(page_entities, what, pages)
            repeated = page_ids & seen_ids
            if repeated or len(page_ids) != len(page_entities):
                raise PagingError(
                    f"{what}: page {pages} repeats {len(repeated) or 'some'} entities of earlier "
                    "pages (the server ignores paging, or the list changed while it was read); "
                    "refusing to audit a partial list"
                )
            seen_ids |= page_ids
            entities.extend(page_entities)
            if total is not None and len(entities) > total:
                raise PagingError(
                    f"{what}: the listing holds more than the {total} entities it first declared "
                    "(it grew while it was read); refusing to audit a list that is still changing"
                )
            page_number = listing.pageNumber or page_number + 1
        if total is not None and total != len(entities):
            raise PagingError(
                f"{what}: the listing says total={total} but gave {len(entities)} entities; "
                "refusing to audit a partial list"
            )
        if page_count is not None and pages != max(page_count, 1):
            raise PagingError(
                f"{what}: the listing declared {page_count} pages but {pages} were read; "
                "refusing to audit a partial list"
            )
        return entities

    def next_page(self, uri: str, what: str) -> tuple[str, dict[str, Any] | None]:
        """Where a ``nextUri`` leads (path and query), refused unless it stays on this API host
        and is an API path (``PagingError``): the token must not travel with a cursor."""
        return self._same_origin(uri, what)

    # -- paging helpers ------------------------------------------------------------------------

    @staticmethod
    def _has_more(
        listing: WireListing, page_number: int, page_count: int | None, total: int | None, held: int
    ) -> bool:
        if listing.nextUri and listing.nextUri != listing.selfUri:
            return True
        if page_count is not None:
            # The declared page count rules; a total it disagrees with is caught at the end.
            return page_number < page_count
        return total is not None and held < total and bool(listing.entities)

    def _same_origin(self, uri: str, what: str) -> tuple[str, dict[str, Any] | None]:
        """A ``nextUri`` is followed only on our own API host: the token must not travel."""
        parts = urlsplit(uri)
        base = urlsplit(self.api_base)
        if parts.netloc and (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise PagingError(
                f"{what}: nextUri points at another host ({parts.netloc}); not followed"
            )
        segments = unquote(parts.path).split("/")
        if (
            not parts.path.startswith("/api/v2/")
            or any(seg in (".", "..") for seg in segments)
            or _CONTROL.search(unquote(uri))
        ):
            raise PagingError(f"{what}: nextUri {uri!r} is not an API path")
        params: dict[str, Any] | None = None
        if parts.query:
            params = dict(httpx.QueryParams(parts.query).multi_items())
        return parts.path, params

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self, response: Reply, model: type[M], what: str, *, login: bool = False) -> M:
        data = _decode_json(response, what, redacting=not login)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise BadResponseError(
                f"{what}: unexpected response shape: {_first_error(exc)}"
            ) from None

    # -- the request loop ----------------------------------------------------------------------

    def _api(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> Reply:
        url = self.api_base + path
        what = f"{method} {path}"
        refreshed = False
        failures = 0
        while True:
            token = self._ensure_token()
            self._pace(what)
            header = f"Bearer {token.get_secret_value()}"
            redact.register(header)
            headers = {"Authorization": header}
            response = self._send_once(
                self._http.build_request(
                    method, url, params=params, json=json_body, headers=headers
                ),
                what,
                count_as_api=True,
            )
            if isinstance(response, _RetryLater):
                failures += 1
                self._wait_before_retry(what, failures, response)
                continue
            status = response.status_code
            if status == 401:
                if self._static_token or refreshed:
                    raise AuthenticationError(
                        f"{what}: the API rejected the access token (401 {_error_text(response)})"
                        + (
                            "; GENESYSCLOUD_ACCESS_TOKEN is expired or invalid"
                            if self._static_token
                            else "; a freshly issued token was rejected too"
                        )
                    )
                refreshed = True
                self._drop_token(token)  # a new one, once for this request, once for all threads
                continue
            if 200 <= status < 300:
                return response
            if status == 403:
                raise PermissionDeniedError(_permission_message(what, path, response))
            raise ApiError(f"{what}: HTTP {status} {_error_text(response)}", status)

    def _send_once(
        self, request: httpx.Request, what: str, *, count_as_api: bool
    ) -> Reply | _RetryLater:
        """One try: a response read whole within its bounds, or a reason to retry."""
        self._check_aborted()
        self._check_deadline(f"before {what}")
        remaining = self._remaining()
        # One response may take --timeout, but never past the run's deadline.
        limit = self._timeout if remaining is None else min(self._timeout, remaining)
        request.extensions["timeout"] = httpx.Timeout(limit).as_dict()
        started = self._clock()
        with self._lock:
            if count_as_api:
                self.stats.requests += 1
            if self._on_request is not None:
                self._on_request(what)
        try:
            response = self._http.send(request, stream=True)
            try:
                reply = self._read(response, what, started, limit)
            finally:
                response.close()
        except (httpx.TimeoutException, _TooSlow):
            self._check_deadline(f"waiting for {what}")
            log.debug("%s: timed out", what)
            return _RetryLater(f"no complete answer within --timeout {self._timeout:g}s")
        except httpx.DecodingError:
            log.debug("%s: undecodable body", what)
            return _RetryLater("the body could not be decoded (its Content-Encoding is broken)")
        except httpx.TransportError as exc:
            log.debug("%s: transport error %s", what, type(exc).__name__)
            return _RetryLater(f"connection failed ({_transport_reason(exc)})")
        log.debug("%s -> %s in %.0f ms", what, reply.status_code, (self._clock() - started) * 1000)
        if reply.status_code in _RETRY_STATUSES:
            return _RetryLater(
                f"HTTP {reply.status_code} {_error_text(reply)}",
                _retry_after(reply) if reply.status_code in (429, 503) else None,
            )
        return reply

    def _read(self, response: httpx.Response, what: str, started: float, limit: float) -> Reply:
        """Read the body in pieces, stopping at the size cap and at the whole-response time limit.

        httpx's own timeout bounds the wait for each piece; a server that drips one byte every
        few seconds never trips it, so the time since the request was sent is checked as each
        piece arrives. The size is counted after decompression: a 0.5 MB gzip body can expand
        to 512 MB.
        """
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity").strip().lower()
        if declared.isdigit() and encoded in ("", "identity") and int(declared) > self._max_bytes:
            raise self._too_large(what)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise self._too_large(what)
            chunks.append(chunk)
            if self._clock() - started > limit:
                raise _TooSlow(what)
        return Reply(response.status_code, response.headers, b"".join(chunks))

    def _too_large(self, what: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"{what}: the response is larger than --max-response-mb "
            f"{self._max_bytes / 2**20:g} once decompressed; refusing to read more "
            "(raise --max-response-mb if the org is really that large)"
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self._retry.backoff_cap, self._retry.backoff_base * 2.0 ** (attempt - 1))
        # "Equal jitter": never less than half the exponential step, so a storm of
        # clients still spreads out without collapsing to zero waits.
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _wait_before_retry(self, what: str, attempt: int, failure: _RetryLater) -> None:
        if attempt > self._retry.max_retries:
            raise TransportError(
                f"{what}: giving up after {attempt} attempts: {failure.reason} "
                f"(--max-retries {self._retry.max_retries}: the retries of any one request)"
            )
        delay = self._backoff(attempt, failure.retry_after)
        with self._lock:
            now = self._clock()
            # Threads that retry at the same time wait together: the budget pays only for how
            # much later than already planned this wait ends.
            end = max(self._hold_until, now + delay)
            charged = end - max(self._hold_until, now)
            if self.stats.waited_seconds + charged > self._retry.budget_seconds:
                raise TransportError(
                    f"{what}: giving up: {failure.reason}; waiting {delay:.1f}s more would exceed "
                    f"the retry budget of {self._retry.budget_seconds:g}s"
                )
            self._hold_until = end
            self.stats.retries += 1
            self.stats.waited_seconds += charged
        wait = end - now
        self._check_deadline(f"{what}: {failure.reason}; {wait:.1f}s to wait before a retry", wait)
        log.info("%s: %s; retrying in %.1fs", what, failure.reason, wait)
        self._check_aborted()
        self._away(self._sleep, wait)
        self._check_aborted()

    def _pace(self, what: str) -> None:
        """Stay under the per-token request limit before the server has to say 429 (one thread at
        a time: the window is shared by every thread of the run)."""
        hold = self._hold_until - self._clock()
        if hold > 0:
            # Another thread is waiting out a retry: the token's throttle is this request's too.
            self.wait(hold, f"before {what}, waiting out a retry")
        if self._rpm <= 0:
            return
        # Queueing behind a thread that paces (or waits out the window) is waiting.
        with self._queued(self._pace_lock):
            self._pace_locked(what)

    def _pace_locked(self, what: str) -> None:
        now = self._clock()
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        if len(self._sent) >= self._rpm:
            wait = 60.0 - (now - self._sent[0])
            if wait > 0:
                self._check_deadline(f"pacing before {what}; {wait:.1f}s to wait", wait)
                log.info(
                    "pacing: %d requests in the last minute; waiting %.1fs", len(self._sent), wait
                )
                self._away(self._sleep, wait)
                self._check_aborted()
            self._sent.popleft()
        self._sent.append(self._clock())

    # -- authentication ------------------------------------------------------------------------

    def _drop_token(self, rejected: SecretStr) -> None:
        """Forget the token a 401 rejected, unless another thread has already replaced it."""
        with self._queued(self._token_lock):
            if self._token is rejected:
                self._token = None

    def _ensure_token(self) -> SecretStr:
        if self._static_token:
            # Checked with the other settings (settings.connection_settings: exit 2).
            assert self._token is not None
            return self._token
        with self._queued(self._token_lock):
            if self._login_failure is not None:
                # Another thread's login was refused: the same credentials would be refused
                # again (and a second attempt counts against lockouts and login limits).
                raise self._login_failure
            if (
                self._token is not None
                and self._token_expires_at is not None
                and self._clock() < self._token_expires_at
            ):
                return self._token
            try:
                return self._login()
            except AuditError as exc:
                self._login_failure = exc
                raise

    def _login(self) -> SecretStr:
        creds = self._settings.credentials
        assert creds.client_id is not None
        assert creds.client_secret is not None
        url = self._settings.endpoint.login_base + "/oauth/token"
        what = "POST /oauth/token"
        try:
            # surrogateescape: a secret read from the environment as undecodable bytes is sent
            # as those bytes.
            pair = f"{creds.client_id}:{creds.client_secret.get_secret_value()}".encode(
                "utf-8", "surrogateescape"
            )
        except UnicodeEncodeError:
            raise AuthenticationError(
                "the client id or secret contains characters that cannot be encoded; "
                "check GENESYSCLOUD_OAUTHCLIENT_ID / GENESYSCLOUD_OAUTHCLIENT_SECRET"
            ) from None
        basic = base64.b64encode(pair).decode("ascii")
        redact.register(basic)
        redact.register(f"Basic {basic}")
        failures = 0
        while True:
            with self._lock:
                self.stats.token_requests += 1
            response = self._send_once(
                self._http.build_request(
                    "POST",
                    url,
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": f"Basic {basic}"},
                ),
                what,
                count_as_api=False,
            )
            if isinstance(response, _RetryLater):
                failures += 1
                self._wait_before_retry(what, failures, response)
                continue
            if response.status_code == 200:
                # The login answer is the one body not redacted: it carries the new token, which
                # may equal one issued before.
                token = self._parse(
                    response,
                    WireToken,
                    f"login at {self._settings.endpoint.login_base}",
                    login=True,
                )
                redact.register(token.access_token)
                if not header_safe(token.access_token):
                    raise InvalidTokenError(
                        f"login at {self._settings.endpoint.login_base}: the access token contains "
                        "characters not allowed in an HTTP header; nothing was sent with it"
                    )
                lifetime = (
                    token.expires_in
                    if token.expires_in and math.isfinite(token.expires_in) and token.expires_in > 0
                    else 3600.0
                )
                # Renew a little before the end: a minute, or a tenth of a short lifetime.
                margin = min(60.0, lifetime / 10)
                self._token = SecretStr(token.access_token)
                self._token_expires_at = self._clock() + lifetime - margin
                return self._token
            err = _error_body(response)
            text = (err.description or err.error_description or err.message or "").strip()
            if (
                response.status_code == 400
                and err.error == "invalid_request"
                and text.lower().startswith("rate limit exceeded")
            ):
                failures += 1
                self._wait_before_retry(
                    what,
                    failures,
                    _RetryLater("the login host is throttling (rate limit exceeded)"),
                )
                continue
            if err.error == "invalid_client" or response.status_code == 401:
                raise AuthenticationError(
                    f"login failed at {self._settings.endpoint.login_base}: the client id or secret "
                    f"was rejected ({err.error or response.status_code}: {text or 'no detail'}); "
                    "check GENESYSCLOUD_OAUTHCLIENT_ID / GENESYSCLOUD_OAUTHCLIENT_SECRET and the region"
                )
            if err.error == "unauthorized_client":
                raise AuthenticationError(
                    f"login failed: {text or 'unauthorized_client'}; the auditor needs an OAuth client "
                    "with the Client Credentials grant"
                )
            raise AuthenticationError(
                f"login failed at {self._settings.endpoint.login_base}: HTTP {response.status_code} "
                f"{_error_text(response)}"
            )


# -- helpers -------------------------------------------------------------------------------------


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_UNSAFE_IN_PATH = re.compile(r"[/\\?#%\x00-\x20\x7f-\x9f]|\.\.")


def path_segment(value: str, what: str) -> str:
    """An id from the API as one percent-encoded URL path segment, or ``UnsafeIdError``.

    An id that holds ``/``, ``..``, ``?``, ``#``, ``%`` or a control character would move the
    request (and its bearer token) to another path; no real id does, so it is refused, not
    cleaned up.
    """
    if value in ("", ".") or _UNSAFE_IN_PATH.search(value):
        shown = repr(value) if len(value) <= 80 else repr(value[:80]) + "…"
        raise UnsafeIdError(
            f"{what}: the API answered an id that cannot be placed in a URL path ({shown}); "
            "refusing to send a request it would redirect"
        )
    return quote(value, safe="")


def _entities(listing: WireListing, what: str, page: int) -> list[dict[str, Any]]:
    if listing.entities is None:
        raise BadResponseError(
            f"{what}: page {page} has no entities list; a listing without its entities is not "
            "an answer the API gives (a proxy, or a changed API?)"
        )
    return list(listing.entities)


def _ids(entities: list[dict[str, Any]], what: str, page: int) -> set[str]:
    ids: set[str] = set()
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict) or not isinstance(entity.get("id"), str):
            raise BadResponseError(f"{what}: page {page}, entity {index} has no string id")
        ids.add(entity["id"])
    return ids


def _retry_after(response: Reply) -> float | None:
    """Seconds the server asks us to wait; ``None`` (the normal backoff) for anything but a
    positive number or a future date: ``0``, negative or garbage must not mean "retry now"."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_STRING = re.compile(b'"[^"]*"')
_DEPTH_STEP = [0] * 256
for _c in b"[{":
    _DEPTH_STEP[_c] = 1
for _c in b"]}":
    _DEPTH_STEP[_c] = -1


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than ``limit``, found without parsing (which recurses).

    Escaped backslashes and quotes go first; then only brackets and quotes are kept, strings
    (now just quote pairs) are dropped, and the running sum of openers minus closers is the
    depth. C-speed passes: a few per cent of what parsing the same body costs.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        shape = _STRING.sub(b"", shape)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, shape)), default=0) > limit


_SURROGATE = re.compile("[\ud800-\udfff]")


def _visible_surrogates(value: Any) -> Any:
    """The parsed body with each lone surrogate (JSON can spell ``"\\ud800"``; no encoder can
    write it) as visible text ``\\ud800``, so a hostile name is shown, never a crash."""
    if isinstance(value, str):
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, list):
        return [_visible_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_visible_surrogates(k): _visible_surrogates(v) for k, v in value.items()}
    return value


def _loads(body: bytes, what: str) -> Any:
    """Parse a JSON body within the depth limit; lone surrogates made visible."""
    too_deep = BadResponseError(
        f"{what}: the JSON body is nested deeper than {MAX_JSON_DEPTH} levels; refused"
    )
    if json_depth_exceeds(body):
        raise too_deep
    try:
        data = json.loads(body, object_pairs_hook=unique_pairs)
    except RecursionError:
        raise too_deep from None
    except DuplicateKey:
        # JSON readers keep one of the values (Python's the last): an answer that says two things
        # is not understood.
        raise BadResponseError(
            f"{what}: the JSON body names a key twice in one object; refused"
        ) from None
    # Only a \u escape can make a lone surrogate; the backslash is rare, so that scan is cheap.
    if b"\\u" in body and (b"\\ud" in body or b"\\uD" in body):
        data = _visible_surrogates(data)
    return data


def _decode_json(response: Reply, what: str, *, redacting: bool = True) -> Any:
    """The body as JSON. A server or proxy that echoes a credential (an error quoting the
    Authorization header, a token in a description) must not get it into an error line, a log,
    a report or the snapshot: registered secrets are redacted from the body first."""
    body = redact.redact_bytes(response.content) if redacting else response.content
    if not body.strip():
        raise BadResponseError(
            f"{what}: HTTP {response.status_code} with an empty body, expected JSON"
        )
    if _looks_like_html(response):
        raise BadResponseError(
            f"{what}: HTTP {response.status_code} answered an HTML page, not JSON "
            "(a proxy or gateway in the way?)"
        )
    try:
        return _loads(body, what)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise BadResponseError(
            f"{what}: HTTP {response.status_code} body is not valid JSON ({detail}; "
            f"{len(body)} bytes received; truncated?)"
        ) from None


def _looks_like_html(response: Reply) -> bool:
    ctype = response.headers.get("Content-Type", "").lower()
    head = response.content[:200].lstrip().lower()
    return "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<"))


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(body)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first['msg']}{more}"


def _error_body(response: Reply) -> WireError:
    try:
        data = _loads(redact.redact_bytes(response.content), "error body")
        return WireError.model_validate(data) if isinstance(data, dict) else WireError()
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError, BadResponseError):
        return WireError()


def _error_text(response: Reply) -> str:
    """One line about an error response: the API's message, code and contextId when it sent them."""
    if not response.content.strip():
        return "(empty body)"
    if _looks_like_html(response):
        return "(an HTML error page, not the API's JSON: a proxy or gateway answered)"
    err = _error_body(response)
    parts = []
    if err.code or err.error:
        parts.append(str(err.code or err.error))
    message = err.message or err.description or err.error_description
    if message:
        parts.append(_one_line(message))
    if err.contextId:
        parts.append(f"contextId {err.contextId}")
    if not parts:
        return "(a body that is not the API's error JSON)"
    return ": ".join(parts[:2]) + (f" ({parts[2]})" if len(parts) > 2 else "")


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _permission_message(what: str, path: str, response: Reply) -> str:
    needed = next(
        (perm for prefix, perm in REQUIRED_PERMISSIONS.items() if path.startswith(prefix)), None
    )
    detail = _error_text(response)
    if needed is None:
        return f"{what}: HTTP 403 {detail}"
    return (
        f"{what}: HTTP 403 {detail}; the auditor's OAuth client lacks permission {needed}: "
        "add a role that grants it to the client"
    )


def _transport_reason(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {_one_line(text, 160)}" if text else type(exc).__name__


__all__ = [
    "FetchError",
    "GenesysClient",
    "Reply",
    "RequestStats",
    "RetryPolicy",
    "RunAborted",
    "path_segment",
]
