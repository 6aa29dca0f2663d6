"""The HTTP side of Genesys Cloud: login, retries, rate limits and paging (SPEC §2, §8).

One ``GenesysClient`` per run. It owns one access token and reuses it until
shortly before it expires, sends at most ``requests_per_minute`` API requests
in any 60 seconds (the documented per-token limit), retries what is worth
retrying within a budget the user sets, and turns every other failure into an
``errors.FetchError`` with one clear line. It never logs headers or bodies, so
neither the client secret nor the token can reach a log.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from genesys_oauth_audit import __version__
from genesys_oauth_audit.errors import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    FetchError,
    PagingError,
    PermissionDeniedError,
    TransportError,
)
from genesys_oauth_audit.genesys.wire import WireError, WireListing, WireToken
from genesys_oauth_audit.settings import ConnectionSettings

log = logging.getLogger("genesys_oauth_audit.http")

M = TypeVar("M", bound=BaseModel)

# The permission each endpoint needs (x-inin-requires-permissions, API-NOTES §9), so a 403
# can name what to grant.
REQUIRED_PERMISSIONS: dict[str, str] = {
    "/api/v2/oauth/clients": "oauth:client:view",
    "/api/v2/authorization/roles": "authorization:role:view",
    "/api/v2/usage/query": "oauth:client:view (or usage:organization:view)",
}

# Statuses worth another try: throttling and the gateway/server family. 501 means
# "not implemented" and will not change on a retry.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 408})


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


@dataclass
class RequestStats:
    """What the run cost, for the summary line and the benchmarks."""

    requests: int = 0
    token_requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


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
    ) -> None:
        self._settings = settings
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_request = on_request
        self._rpm = requests_per_minute
        self._sent: deque[float] = deque()
        self._token: SecretStr | None = settings.credentials.access_token
        self._token_expires_at: float | None = None
        self._static_token = settings.credentials.access_token is not None
        self.stats = RequestStats()
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={
                "User-Agent": f"genesys-oauth-audit/{__version__}",
                "Accept": "application/json",
            },
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GenesysClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_base(self) -> str:
        return self._settings.endpoint.api_base

    # -- public API ----------------------------------------------------------------------------

    def get(self, path: str, model: type[M], params: dict[str, Any] | None = None) -> M:
        """GET a JSON document and parse it as ``model``."""
        return self._parse(self._api("GET", path, params=params), model, f"GET {path}")

    def post(self, path: str, body: dict[str, Any], model: type[M]) -> M:
        return self._parse(self._api("POST", path, json_body=body), model, f"POST {path}")

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
        entities = list(first.entities or [])
        seen_ids = _ids(entities, what, 1)
        if len(seen_ids) != len(entities):
            raise PagingError(f"{what}: page 1 lists the same entity twice")
        total = first.total
        page_count = first.pageCount
        page_number = first.pageNumber or 1
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
            if pages > max_pages or (page_count is not None and pages > max(page_count, 1) + 1):
                raise PagingError(f"{what}: pagination did not end after {pages - 1} pages")
            next_params: dict[str, Any] | None
            if listing.nextUri:
                next_path, next_params = self._same_origin(listing.nextUri, what)
                key = listing.nextUri
                if key in seen_next:
                    raise PagingError(
                        f"{what}: nextUri {listing.nextUri} repeats; pagination loops"
                    )
                seen_next.add(key)
            else:
                next_path, next_params = path, dict(params or {})
                next_params["pageNumber"] = page_number + 1
            listing = self.get(next_path, WireListing, next_params)
            page_entities = list(listing.entities or [])
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
            page_number = listing.pageNumber or page_number + 1
            if listing.total is not None:
                total = listing.total
            if listing.pageCount is not None:
                page_count = listing.pageCount
        if total is not None and total != len(entities):
            raise PagingError(
                f"{what}: the listing says total={total} but gave {len(entities)} entities; "
                "refusing to audit a partial list"
            )
        return entities

    # -- paging helpers ------------------------------------------------------------------------

    @staticmethod
    def _has_more(
        listing: WireListing, page_number: int, page_count: int | None, total: int | None, held: int
    ) -> bool:
        if listing.nextUri and listing.nextUri != listing.selfUri:
            return True
        if page_count is not None and page_number < page_count:
            return True
        return total is not None and held < total and bool(listing.entities)

    def _same_origin(self, uri: str, what: str) -> tuple[str, dict[str, Any] | None]:
        """A ``nextUri`` is followed only on our own API host: the token must not travel."""
        parts = urlsplit(uri)
        base = urlsplit(self.api_base)
        if parts.netloc and (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise PagingError(
                f"{what}: nextUri points at another host ({parts.netloc}); not followed"
            )
        if not parts.path.startswith("/api/v2/"):
            raise PagingError(f"{what}: nextUri {uri!r} is not an API path")
        params: dict[str, Any] | None = None
        if parts.query:
            params = dict(httpx.QueryParams(parts.query).multi_items())
        return parts.path, params

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self, response: httpx.Response, model: type[M], what: str) -> M:
        data = _decode_json(response, what)
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
    ) -> httpx.Response:
        url = self.api_base + path
        what = f"{method} {path}"
        refreshed = False
        failures = 0
        while True:
            token = self._ensure_token()
            self._pace()
            headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
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
                self._token = None  # force a new one, once, for this request
                continue
            if 200 <= status < 300:
                return response
            if status == 403:
                raise PermissionDeniedError(_permission_message(what, path, response))
            raise ApiError(f"{what}: HTTP {status} {_error_text(response)}")

    def _send_once(
        self, request: httpx.Request, what: str, *, count_as_api: bool
    ) -> httpx.Response | _RetryLater:
        """One try: a response to judge, or a reason to retry."""
        started = self._clock()
        if count_as_api:
            self.stats.requests += 1
        if self._on_request is not None:
            self._on_request(what)
        try:
            response = self._http.send(request)
        except httpx.TimeoutException:
            log.debug("%s: timed out", what)
            return _RetryLater("the request timed out")
        except httpx.TransportError as exc:
            log.debug("%s: transport error %s", what, type(exc).__name__)
            return _RetryLater(f"connection failed ({_transport_reason(exc)})")
        log.debug(
            "%s -> %s in %.0f ms", what, response.status_code, (self._clock() - started) * 1000
        )
        if response.status_code in _RETRY_STATUSES:
            return _RetryLater(
                f"HTTP {response.status_code} {_error_text(response)}",
                _retry_after(response) if response.status_code in (429, 503) else None,
            )
        return response

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
                f"(retry budget: {self._retry.max_retries} retries per request)"
            )
        delay = self._backoff(attempt, failure.retry_after)
        if self.stats.waited_seconds + delay > self._retry.budget_seconds:
            raise TransportError(
                f"{what}: giving up: {failure.reason}; waiting {delay:.1f}s more would exceed the "
                f"retry budget of {self._retry.budget_seconds:g}s"
            )
        log.info("%s: %s; retrying in %.1fs", what, failure.reason, delay)
        self.stats.retries += 1
        self.stats.waited_seconds += delay
        self._sleep(delay)

    def _pace(self) -> None:
        """Stay under the per-token request limit before the server has to say 429."""
        if self._rpm <= 0:
            return
        now = self._clock()
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        if len(self._sent) >= self._rpm:
            wait = 60.0 - (now - self._sent[0])
            if wait > 0:
                log.info(
                    "pacing: %d requests in the last minute; waiting %.1fs", len(self._sent), wait
                )
                self._sleep(wait)
            self._sent.popleft()
        self._sent.append(self._clock())

    # -- authentication ------------------------------------------------------------------------

    def _ensure_token(self) -> SecretStr:
        if self._static_token:
            assert self._token is not None
            return self._token
        if (
            self._token is not None
            and self._token_expires_at is not None
            and self._clock() < self._token_expires_at
        ):
            return self._token
        return self._login()

    def _login(self) -> SecretStr:
        creds = self._settings.credentials
        assert creds.client_id is not None
        assert creds.client_secret is not None
        url = self._settings.endpoint.login_base + "/oauth/token"
        what = "POST /oauth/token"
        basic = base64.b64encode(
            f"{creds.client_id}:{creds.client_secret.get_secret_value()}".encode()
        ).decode("ascii")
        failures = 0
        while True:
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
                token = self._parse(
                    response, WireToken, f"login at {self._settings.endpoint.login_base}"
                )
                lifetime = token.expires_in if token.expires_in and token.expires_in > 0 else 3600.0
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


def _ids(entities: list[dict[str, Any]], what: str, page: int) -> set[str]:
    ids: set[str] = set()
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict) or not isinstance(entity.get("id"), str):
            raise BadResponseError(f"{what}: page {page}, entity {index} has no string id")
        ids.add(entity["id"])
    return ids


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _decode_json(response: httpx.Response, what: str) -> Any:
    body = response.content
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
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise BadResponseError(
            f"{what}: HTTP {response.status_code} body is not valid JSON ({detail}; "
            f"{len(body)} bytes received; truncated?)"
        ) from None


def _looks_like_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("Content-Type", "").lower()
    head = response.content[:200].lstrip().lower()
    return "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<"))


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(body)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first['msg']}{more}"


def _error_body(response: httpx.Response) -> WireError:
    try:
        data = json.loads(response.content)
        return WireError.model_validate(data) if isinstance(data, dict) else WireError()
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError):
        return WireError()


def _error_text(response: httpx.Response) -> str:
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


def _permission_message(what: str, path: str, response: httpx.Response) -> str:
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


__all__ = ["FetchError", "GenesysClient", "RequestStats", "RetryPolicy"]
