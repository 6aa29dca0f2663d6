"""A stateful fake of Genesys Cloud's Platform API v2 (the OAuth-client audit surface).

Shapes follow shared/genesys/openapi-oauth-subset.json (tests/test_contract.py
validates every body it serves against that extract). One ``FakeGenesys``
serves the login host (``POST /oauth/token``) and the API host, reachable

- through ``fake.transport()`` (an ``httpx.MockTransport``), or
- over a real loopback socket with ``with fake.serve() as base_url:``.

It can inject the faults real orgs show: 429 with ``Retry-After``, 5xx,
connection resets, timeouts, HTML error pages, truncated and empty bodies,
wrong JSON types, login throttling, token expiry and broken paging; and the
ones an attacker or a broken proxy sends: bodies dripped a byte at a time,
gzip bombs, oversized and deeply nested bodies, errors that echo the request's
``Authorization`` header, listings that grow on every page, hostile execution
ids, tokens a header cannot carry, and any mis-shape of any answer
(``fake.mangle``). Every request is logged (``fake.log``) so tests assert what
the tool *sent*.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx

# (method, path regex, OpenAPI path template, handler method)
ROUTES: list[tuple[str, str, str, str]] = [
    ("GET", r"/api/v2/oauth/clients", "/api/v2/oauth/clients", "_clients"),
    ("GET", r"/api/v2/oauth/scopes", "/api/v2/oauth/scopes", "_scopes"),
    ("GET", r"/api/v2/organizations/me", "/api/v2/organizations/me", "_org"),
    ("GET", r"/api/v2/authorization/roles", "/api/v2/authorization/roles", "_roles"),
    ("POST", r"/api/v2/usage/query", "/api/v2/usage/query", "_usage_query"),
    (
        "GET",
        r"/api/v2/usage/query/(?P<eid>[^/]+)/results",
        "/api/v2/usage/query/{executionId}/results",
        "_usage_results",
    ),
    (
        "POST",
        r"/api/v2/usage/aggregates/query/jobs",
        "/api/v2/usage/aggregates/query/jobs",
        "_usage_job_submit",
    ),
    (
        "GET",
        r"/api/v2/usage/aggregates/query/jobs/(?P<job_id>[^/]+)",
        "/api/v2/usage/aggregates/query/jobs/{jobId}",
        "_usage_job_results",
    ),
]

# How a fake client's calls of one operation turned out: the share of its requests per status
# class (the rest succeed). "denied": every call answered 403.
OUTCOMES: dict[str, dict[str, float]] = {
    "ok": {},
    "denied": {"status400": 1.0},
    "throttled": {"status429": 0.02},
    "flaky": {"status500": 0.02},
    "redirected": {"status300": 1.0},
}
# What a client with no profile of its own calls (organizations/me needs no permission).
DEFAULT_PROFILE: tuple[tuple[str, str, int, str], ...] = (
    ("GET", "api/v2/organizations/me", 1, "ok"),
)
JOB_GROUP_BY = (
    "OauthClientName",
    "OauthClientId",
    "UserId",
    "HttpMethod",
    "TemplateUri",
    "Platform",
)
JOB_METRICS = ("Requests", "Status200", "Status300", "Status400", "Status429", "Status500")
JOB_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def template_of(method: str, path: str) -> str | None:
    """The OpenAPI path template a request is for (None: not an API operation we serve)."""
    for route_method, pattern, template, _ in ROUTES:
        if route_method == method and re.fullmatch(pattern, path):
            return template
    return None


FAULT_KINDS = (
    "429",
    "5xx",
    "html",
    "reset",
    "timeout",
    "truncated",
    "empty",
    "wrongtype",
    "login-throttle",
    "drip",  # the real body, one byte every ``drip_interval`` seconds
    "gzip-bomb",  # a small gzip body that expands to ``bomb_bytes``
    "big",  # an uncompressed body of ``bomb_bytes``
    "deep",  # JSON nested ``deep_levels`` deep
    "echo-auth",  # an error whose text quotes the request's Authorization header
    "hostile-error",  # an error message full of terminal escapes and invisible characters
)

# What a hostile server puts in an error message to rewrite the user's terminal: a colour (CSI),
# a window title (OSC), a clear-screen, bidi overrides, a forged second line (U+2028, NEL, CR).
HOSTILE_TEXT = (
    "denied\x1b[31m RED\x1b]0;pwned-title\x07\x1b[2J\u202egnp.exe\u2066x\u2069"
    "\u2028forged: PASS\x85\rPASS\u200b\ufeff\u061c\x9b31m"
)


class FakeDrop(Exception):
    """The fake drops the connection (``reset``) or never answers (``timeout``)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Logged:
    """One request as the fake saw it. Only whether credentials were present is kept."""

    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    body: Any
    had_basic: bool
    had_bearer: bool
    status: int | None = None
    fault: str | None = None
    template: str | None = None
    response_json: Any = None


@dataclass
class ScriptedFault:
    path: str  # a regex searched in the request path
    kind: str
    times: int = 1
    method: str | None = None


@dataclass
class FakeGenesys:
    clients: list[dict[str, Any]] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    org: dict[str, Any] = field(default_factory=lambda: {"id": "org-0001", "name": "Fake Org"})
    # client id -> {"YYYY-MM-DD": requests}
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    credentials: dict[str, str] = field(
        default_factory=lambda: {"auditor-id": "auditor-secret-value"}
    )
    permissions: set[str] = field(
        default_factory=lambda: {
            "oauth:client:view",
            "authorization:role:view",
            "usage:organization:view",
        }
    )
    token_lifetime: int = 86400
    # paging of GET /api/v2/oauth/clients: None answers everything at once, as the real API does
    client_page_size: int | None = None
    paging_bug: str | None = (
        None  # "repeat", "loop", "endless", "overrun", "short-total", "foreign-next"
    )
    usage_running_polls: int = 1
    # The largest pageSize the role listing honours: a larger one is answered with this many
    # roles a page (and the pageSize, pageCount and nextUri that say so), as Genesys listings cap.
    role_page_cap: int = 500
    usage_final_status: str = "Complete"
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("429", "5xx")
    retry_after: str | None = "1"  # None: 429s without a Retry-After header
    latency: float = 0.0
    timeout_delay: float = 2.0  # socket mode: how long a "timeout" fault stalls
    seed: int = 0
    clock: Callable[[], float] = time.monotonic
    # How a "drip" paces its bytes: real sleeps over a socket; through MockTransport, tests hand
    # in the fake clock's sleep, so the tool sees time pass without waiting for it.
    sleep: Callable[[float], None] = time.sleep
    drip_interval: float = 2.0
    bomb_bytes: int = 4 * 1024 * 1024
    deep_levels: int = 200_000
    # Mis-shapes: OpenAPI path template -> a function of the JSON body that returns the body to
    # send instead (applied to successful answers of that operation).
    mangle: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    execution_id: str | None = None  # the executionId the usage query answers (None: a uuid)
    # The newer usage service (aggregates query jobs). client id -> the operations it calls, as
    # (METHOD, template URI as the usage rows spell it, weight, outcome of OUTCOMES): each day's
    # requests of ``usage`` are split over them by weight, so both services tell the same story.
    operation_profiles: dict[str, list[tuple[str, str, int, str]]] = field(default_factory=dict)
    usage_jobs_status: int | None = None  # e.g. 404: the service is not available in the region
    # Polls answered Queued/Running before a job has succeeded (None: as usage_running_polls);
    # with 0 the job is done when submitted, and the submission answers 200 instead of 202.
    job_running_polls: int | None = None
    job_final_status: str = "Succeeded"  # or Failed, Cancelled, or anything the API never says
    job_page_size: int = 1000  # the most rows a results page holds (the service's maximum)
    # "repeat-next", "stuck-after", "empty-page", "no-entities", "foreign-next", "other-job",
    # "no-after", "status-changes": the ways a cursor-paged answer can go wrong
    job_paging_bug: str | None = None
    job_id: str | None = None  # the id a submitted job answers (None: a uuid)
    today: str | None = None  # set: refuse an interval starting more than a year before it
    token_suffix: str = ""  # appended to every token the login host issues (e.g. "\r\n")

    def __post_init__(self) -> None:
        self.log: list[Logged] = []
        self.scripted: list[ScriptedFault] = []
        self.tokens: dict[str, float] = {}
        self.issued_tokens: list[str] = []
        self.executions: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- configuration helpers -----------------------------------------------------------------

    def fail(self, path: str, kind: str, times: int = 1, method: str | None = None) -> None:
        """Script ``times`` faults of ``kind`` for requests whose path matches ``path``."""
        assert kind in FAULT_KINDS, kind
        self.scripted.append(ScriptedFault(path, kind, times, method))

    def page_clients(self, size: int, bug: str | None = None) -> None:
        """Serve the client listing ``size`` clients a page, with one of the paging bugs if given."""
        self.client_page_size = size
        self.paging_bug = bug

    def api_requests(self) -> list[Logged]:
        return [r for r in self.log if r.path.startswith("/api/")]

    def token_requests(self) -> list[Logged]:
        return [r for r in self.log if r.path == "/oauth/token"]

    def secrets(self) -> list[str]:
        """Everything that must never appear in any output of the tool."""
        out = list(self.credentials.values()) + list(self.issued_tokens)
        out += [c["secret"] for c in self.clients if c.get("secret")]
        return out

    # -- transports ----------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            request.read()
            try:
                response = self.handle(request)
            except FakeDrop as drop:
                if drop.kind == "timeout":
                    raise httpx.ReadTimeout("timed out (fake)", request=request) from None
                raise httpx.ReadError("connection reset by peer (fake)", request=request) from None
            cut = response.headers.get("X-Fake-Truncate")
            if cut is not None:
                body = response.content[: int(cut)]
                headers = {
                    k: v
                    for k, v in response.headers.items()
                    if k.lower() not in ("x-fake-truncate", "content-length")
                }
                return httpx.Response(response.status_code, headers=headers, content=body)
            if "X-Fake-Drip" in response.headers:
                return httpx.Response(
                    response.status_code,
                    headers=_wire_headers(response),
                    stream=_Drip(response.content, self.drip_interval, self.sleep),
                )
            if "X-Fake-Encoded" in response.headers:
                # The body is already gzip: the client's httpx must do the decoding, as over a socket.
                return httpx.Response(
                    response.status_code,
                    headers=_wire_headers(response),
                    stream=httpx.ByteStream(response.content),
                )
            return response

        return httpx.MockTransport(handler)

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve over a real loopback socket; yields the base URL (``http://127.0.0.1:PORT``)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(
                    self.command,
                    f"http://{self.headers.get('Host', 'localhost')}{self.path}",
                    headers=list(self.headers.items()),
                    content=body,
                )
                try:
                    response = fake.handle(request)
                except FakeDrop as drop:
                    if drop.kind == "timeout":
                        time.sleep(fake.timeout_delay)
                    # SO_LINGER 0: close with a TCP reset, as a dropped proxy connection does.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                content = response.content
                cut = response.headers.get("X-Fake-Truncate")
                self.send_response(response.status_code)
                for key, value in _wire_headers(response).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if cut is not None:
                    self.wfile.write(content[: int(cut)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if "X-Fake-Drip" in response.headers:
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # the client hangs up: that is the point
                        for i in range(len(content)):
                            if fake._stopping.wait(fake.drip_interval):
                                return
                            self.wfile.write(content[i : i + 1])
                            self.wfile.flush()
                    return
                self.wfile.write(content)

            do_GET = _serve
            do_POST = _serve
            do_PUT = _serve
            do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up mid-body (it refused a bomb, or timed out a drip) is
                # what those tests want; anything else is a bug in the fake and is shown.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._stopping.clear()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            self._stopping.set()  # a dripping handler stops at once
            server.shutdown()
            server.server_close()

    # -- the handler -----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            time.sleep(self.latency)
        url = request.url
        body: Any = None
        raw = request.content
        if raw:
            ctype = request.headers.get("Content-Type", "")
            if "json" in ctype:
                body = json.loads(raw)
            elif "x-www-form-urlencoded" in ctype:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        auth = request.headers.get("Authorization", "")
        entry = Logged(
            method=request.method,
            host=url.host,
            path=url.path,
            query=parse_qs(url.query.decode() if isinstance(url.query, bytes) else str(url.query)),
            body=body,
            had_basic=auth.startswith("Basic "),
            had_bearer=auth.startswith("Bearer "),
        )
        with self._lock:
            self.log.append(entry)
            fault = self._pick_fault(request.method, url.path)
        entry.fault = fault
        if fault in ("reset", "timeout"):
            raise FakeDrop(fault)
        if fault == "login-throttle" and url.path != "/oauth/token":
            fault = "429"
        response = self._fault_response(fault, request, entry) if fault else None
        if response is None:
            response = self._route(request, entry, body)
            template = template_of(request.method, url.path)
            if template in self.mangle and 200 <= response.status_code < 300:
                fault = entry.fault = "mangle"
                mangled = self.mangle[template](json.loads(response.content))
                response = _json(response.status_code, mangled)
        entry.status = response.status_code
        entry.template = template_of(request.method, url.path)
        # Bodies off the contract on purpose are not recorded as the API's answers.
        off_contract = ("truncated", "wrongtype", "empty", "mangle", "deep", "gzip-bomb", "big")
        if fault not in off_contract and "json" in response.headers.get("Content-Type", ""):
            with contextlib.suppress(ValueError):
                entry.response_json = json.loads(response.content)
        return response

    def _pick_fault(self, method: str, path: str) -> str | None:
        for scripted in self.scripted:
            if (
                scripted.times > 0
                and re.search(scripted.path, path)
                and scripted.method in (None, method)
            ):
                scripted.times -= 1
                return scripted.kind
        if self.fault_rate and self._rng.random() < self.fault_rate:
            return self._rng.choice(self.fault_kinds)
        return None

    def _fault_response(
        self, kind: str, request: httpx.Request, entry: Logged
    ) -> httpx.Response | None:
        if kind == "429":
            return _error(
                429,
                "too.many.requests.retry.after",
                "Rate limit exceeded the maximum. Retry the request in [1] seconds",
                headers={"Retry-After": self.retry_after} if self.retry_after is not None else None,
            )
        if kind == "5xx":
            status = self._rng.choice((500, 502, 503, 504))
            return _error(
                status,
                "internal.server.error" if status == 500 else "service.unavailable",
                "The service is temporarily unavailable.",
            )
        if kind == "html":
            return httpx.Response(
                502,
                headers={"Content-Type": "text/html"},
                content=b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
            )
        if kind == "empty":
            return httpx.Response(200, headers={"Content-Type": "application/json"}, content=b"")
        if kind == "login-throttle":
            return httpx.Response(
                400,
                json={
                    "error": "invalid_request",
                    "description": "rate limit exceeded; try again later",
                    "error_description": "rate limit exceeded; try again later",
                },
            )
        if kind == "echo-auth":
            # A gateway that quotes the request back: the Basic credential or the bearer token.
            auth = request.headers.get("Authorization", "")
            if request.url.path == "/oauth/token":
                return httpx.Response(
                    401,
                    json={
                        "error": "invalid_client",
                        "description": f"cannot parse header 'Authorization: {auth}'",
                    },
                )
            return _error(400, "bad.request", f"Malformed request header Authorization: {auth}")
        if kind == "hostile-error":
            return _error(400, "bad.request\x1b[5m", HOSTILE_TEXT)
        if kind == "deep":
            n = self.deep_levels
            return httpx.Response(
                200, headers={"Content-Type": "application/json"}, content=b"[" * n + b"]" * n
            )
        if kind in ("gzip-bomb", "big"):
            # Valid JSON, mostly whitespace: it compresses about a thousand to one.
            body = b'{"total": 0, "pageCount": 0, "entities": [' + b" " * self.bomb_bytes + b"]}"
            if kind == "big":
                return httpx.Response(
                    200, headers={"Content-Type": "application/json"}, content=body
                )
            return httpx.Response(
                200,
                headers={"Content-Type": "application/json", "X-Fake-Encoded": "gzip"},
                content=gzip.compress(body, compresslevel=9),
            )
        real = self._route(request, entry, entry.body)
        if kind == "drip":
            return httpx.Response(
                real.status_code,
                headers={**dict(real.headers), "X-Fake-Drip": "1"},
                content=real.content,
            )
        if kind == "truncated":
            return httpx.Response(
                real.status_code,
                headers={
                    **dict(real.headers),
                    "X-Fake-Truncate": str(max(1, len(real.content) // 2)),
                },
                content=real.content,
            )
        if kind == "wrongtype":
            data = json.loads(real.content)
            if isinstance(data, dict) and "entities" in data:
                data["entities"] = {"unexpected": "object"}
            elif isinstance(data, dict):
                data = ["not", "an", "object"]
            return httpx.Response(real.status_code, json=data)
        raise AssertionError(kind)

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, request: httpx.Request, entry: Logged, body: Any) -> httpx.Response:
        path = request.url.path
        method = request.method
        if path == "/oauth/token" and method == "POST":
            return self._token(request, body)
        if not path.startswith("/api/v2/"):
            return _error(404, "not.found", "The requested resource was not found.")
        token = request.headers.get("Authorization", "")[len("Bearer ") :]
        expires = self.tokens.get(token)
        if expires is None or self.clock() >= expires:
            return _error(401, "bad.credentials", "Invalid login credentials.")
        for route_method, pattern, _template, name in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return getattr(self, name)(request, body, **match.groupdict())  # type: ignore[no-any-return]
        return _error(404, "not.found", "The requested resource was not found.")

    def _require(self, permission: str) -> httpx.Response | None:
        if permission in self.permissions:
            return None
        return _error(
            403,
            "missing.permissions",
            f"Unable to perform the requested action. You are missing the following permission(s): [{permission}]",
            params={"perms": permission},
        )

    def _token(self, request: httpx.Request, body: Any) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        client_id = secret = None
        if auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not body or body.get("grant_type") != "client_credentials":
            return httpx.Response(
                400,
                json={
                    "error": "unsupported_grant_type",
                    "description": "grant type is not supported",
                },
            )
        if client_id is None or self.credentials.get(client_id) != secret:
            return httpx.Response(
                401,
                json={
                    "error": "invalid_client",
                    "description": "authentication failed",
                    "error_description": "authentication failed",
                },
            )
        token = f"fake-token-{uuid.UUID(int=self._rng.getrandbits(128))}"
        self.tokens[token] = self.clock() + self.token_lifetime
        self.issued_tokens.append(token)
        return httpx.Response(
            200,
            json={
                "access_token": token + self.token_suffix,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
            },
        )

    def _page(
        self,
        items: list[dict[str, Any]],
        page_number: int,
        page_size: int,
        base: str,
        extra: str = "",
    ) -> dict[str, Any]:
        total = len(items)
        page_count = max(1, -(-total // page_size))
        start = (page_number - 1) * page_size
        listing: dict[str, Any] = {
            "entities": items[start : start + page_size],
            "pageSize": page_size,
            "pageNumber": page_number,
            "total": total,
            "pageCount": page_count,
            "firstUri": f"{base}?{extra}pageNumber=1",
            "lastUri": f"{base}?{extra}pageNumber={page_count}",
            "selfUri": f"{base}?{extra}pageNumber={page_number}",
        }
        if page_number < page_count:
            listing["nextUri"] = f"{base}?{extra}pageNumber={page_number + 1}"
        if page_number > 1:
            listing["previousUri"] = f"{base}?{extra}pageNumber={page_number - 1}"
        return listing

    def _fresh_entities(self, page_number: int) -> list[dict[str, Any]]:
        """A page of clients never seen before (the broken listings serve these)."""
        assert self.client_page_size is not None
        return [
            {**c, "id": f"{c['id']}-p{page_number}"} for c in self.clients[: self.client_page_size]
        ]

    def _clients(self, request: httpx.Request, body: Any) -> httpx.Response:
        denied = self._require("oauth:client:view")
        if denied:
            return denied
        page_number = int(request.url.params.get("pageNumber", "1"))
        if self.client_page_size is None:
            n = len(self.clients)
            listing: dict[str, Any] = {
                "entities": self.clients,
                "pageSize": n,
                "pageNumber": 1,
                "total": n,
                "pageCount": 1,
                "firstUri": "/api/v2/oauth/clients",
                "selfUri": "/api/v2/oauth/clients",
                "lastUri": "/api/v2/oauth/clients",
            }
        else:
            bug = self.paging_bug
            shown = 1 if bug == "repeat" else page_number
            if bug == "loop" and page_number > 2:
                shown = 1
            listing = self._page(
                self.clients, shown, self.client_page_size, "/api/v2/oauth/clients"
            )
            listing["pageNumber"] = page_number
            if bug == "loop" and "nextUri" not in listing:
                listing["nextUri"] = "/api/v2/oauth/clients?pageNumber=1"
            if bug == "repeat":
                listing["nextUri"] = f"/api/v2/oauth/clients?pageNumber={page_number + 1}"
            if bug == "endless":
                fresh = self._fresh_entities(page_number)
                listing = {
                    "entities": fresh,
                    "pageSize": self.client_page_size,
                    "pageNumber": page_number,
                    "nextUri": f"/api/v2/oauth/clients?pageNumber={page_number + 1}",
                    "selfUri": f"/api/v2/oauth/clients?pageNumber={page_number}",
                }
            if bug == "overrun" and page_number >= 4:
                # pageCount says 4, but nextUri keeps coming with fresh entities
                fresh = self._fresh_entities(page_number)
                listing = {
                    **listing,
                    "entities": fresh,
                    "pageNumber": page_number,
                    "nextUri": f"/api/v2/oauth/clients?pageNumber={page_number + 1}",
                }
            if bug == "short-total":
                listing["total"] = len(self.clients) + 5
            if bug == "growing":
                # Every page declares one page more and a larger total, with a fresh nextUri and
                # fresh entities: followed naively, it never ends.
                fresh = self._fresh_entities(page_number)
                listing = {
                    "entities": fresh,
                    "pageSize": self.client_page_size,
                    "pageNumber": page_number,
                    "pageCount": page_number + 1,
                    "total": (page_number + 1) * self.client_page_size,
                    "nextUri": f"/api/v2/oauth/clients?pageNumber={page_number + 1}",
                    "selfUri": f"/api/v2/oauth/clients?pageNumber={page_number}",
                }
            if bug == "foreign-next" and "nextUri" in listing:
                listing["nextUri"] = "https://evil.example.com" + listing["nextUri"]
        return _json(200, listing)

    def _scopes(self, request: httpx.Request, body: Any) -> httpx.Response:
        entities = [
            {"id": s, "description": f"Scope {s}", "selfUri": f"/api/v2/oauth/scopes/{s}"}
            for s in self.scopes
        ]
        return _json(
            200, {"total": len(entities), "entities": entities, "selfUri": "/api/v2/oauth/scopes"}
        )

    def _org(self, request: httpx.Request, body: Any) -> httpx.Response:
        return _json(
            200,
            {"version": 3, "state": "active", "selfUri": "/api/v2/organizations/me", **self.org},
        )

    def _roles(self, request: httpx.Request, body: Any) -> httpx.Response:
        denied = self._require("authorization:role:view")
        if denied:
            return denied
        params = request.url.params
        page_size = min(int(params.get("pageSize", "25")), self.role_page_cap)
        page_number = int(params.get("pageNumber", "1"))
        with_count = params.get("userCount", "true") != "false"
        roles = [
            dict(r, userCount=r.get("userCount", 0))
            if with_count
            else {k: v for k, v in r.items() if k != "userCount"}
            for r in self.roles
        ]
        extra = f"pageSize={page_size}&userCount={'true' if with_count else 'false'}&"
        return _json(
            200, self._page(roles, page_number, page_size, "/api/v2/authorization/roles", extra)
        )

    def _usage_query(self, request: httpx.Request, body: Any) -> httpx.Response:
        denied = self._require("oauth:client:view")
        if denied:
            return denied
        if not isinstance(body, dict) or "interval" not in body:
            return _error(
                400,
                "bad.request",
                "The request could not be understood by the server due to malformed syntax.",
            )
        execution_id = self.execution_id or str(uuid.UUID(int=self._rng.getrandbits(128)))
        self.executions[execution_id] = {"query": body, "polls": 0}
        return _json(
            202,
            {
                "executionId": execution_id,
                "resultsUri": f"/api/v2/usage/query/{execution_id}/results",
            },
        )

    def _usage_results(self, request: httpx.Request, body: Any, eid: str) -> httpx.Response:
        execution = self.executions.get(eid)
        if execution is None:
            return _error(404, "not.found", "The requested resource was not found.")
        execution["polls"] += 1
        if execution["polls"] <= self.usage_running_polls:
            return _json(200, {"queryStatus": "Running"})
        if self.usage_final_status != "Complete":
            return _json(200, {"queryStatus": self.usage_final_status})
        start, _, end = execution["query"]["interval"].partition("/")
        rows = []
        names = {c["id"]: c.get("name", "") for c in self.clients}
        for client_id, days in sorted(self.usage.items()):
            for day, requests in sorted(days.items()):
                stamp = f"{day}T00:00:00.000Z"
                if start <= stamp < end:
                    rows.append(
                        {
                            "clientId": client_id,
                            "clientName": names.get(client_id, ""),
                            "organizationId": self.org["id"],
                            "requests": requests,
                            "date": stamp,
                        }
                    )
        return _json(200, {"results": rows, "queryStatus": "Complete"})

    # -- the newer usage service: aggregates query jobs ----------------------------------------

    def usage_records(self) -> list[dict[str, Any]]:
        """Every (client, day, operation) with its request and status counts: each day's requests
        of ``usage`` split over the client's profile by weight (the remainder to the first)."""
        names = {c["id"]: c.get("name", "") for c in self.clients}
        records = []
        for client_id, days in sorted(self.usage.items()):
            profile = self.operation_profiles.get(client_id, list(DEFAULT_PROFILE))
            total_weight = sum(w for _, _, w, _ in profile) or 1
            for day, requests in sorted(days.items()):
                shares = [requests * w // total_weight for _, _, w, _ in profile]
                shares[0] += requests - sum(shares)
                for (method, template, _, outcome), n in zip(profile, shares, strict=True):
                    if n <= 0:
                        continue
                    counts = {k: int(n * f) for k, f in OUTCOMES[outcome].items()}
                    if outcome in ("denied", "redirected"):
                        counts = {k: n for k in counts}
                    status400 = counts.get("status400", 0) + counts.get("status429", 0)
                    bad = status400 + counts.get("status300", 0) + counts.get("status500", 0)
                    records.append(
                        {
                            "client_id": client_id,
                            "client_name": names.get(client_id, ""),
                            "date": day,
                            "httpMethod": method,
                            "templateUri": template,
                            "requestCount": n,
                            "status200": n - bad,
                            "status300": counts.get("status300", 0),
                            "status400": status400,
                            "status429": counts.get("status429", 0),
                            "status500": counts.get("status500", 0),
                        }
                    )
        return records

    def _job_running_polls(self) -> int:
        if self.job_running_polls is None:
            return self.usage_running_polls
        return self.job_running_polls

    def _usage_job_submit(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.usage_jobs_status is not None:
            return _error(
                self.usage_jobs_status, "not.found", "The requested resource was not found."
            )
        denied = self._require("usage:organization:view")
        if denied:
            return denied
        problem = _job_query_problem(body, self.today)
        if problem:
            return _error(400, problem[0], problem[1])
        job_id = self.job_id or str(uuid.UUID(int=self._rng.getrandbits(128)))
        self.jobs[job_id] = {"query": body, "polls": 0, "rows": None}
        return _json(
            200 if self._job_running_polls() == 0 else 202,
            {
                "id": job_id,
                "selfUri": f"/api/v2/usage/aggregates/query/jobs/{job_id}",
                "resultsUri": f"/api/v2/usage/aggregates/query/jobs/{job_id}",
            },
        )

    def _usage_job_results(self, request: httpx.Request, body: Any, job_id: str) -> httpx.Response:
        denied = self._require("usage:organization:view")
        if denied:
            return denied
        job = self.jobs.get(job_id)
        if job is None:
            return _error(404, "not.found", "The requested resource was not found.")
        job["polls"] += 1
        if job["polls"] <= self._job_running_polls():
            return _json(202, {"queryStatus": "Queued" if job["polls"] == 1 else "Running"})
        if self.job_final_status != "Succeeded":
            answer: dict[str, Any] = {"queryStatus": self.job_final_status}
            if self.job_final_status == "Failed":
                answer["errorBody"] = {
                    "message": "The query failed.",
                    "code": "internal.server.error",
                    "status": 500,
                }
            return _json(202, answer)
        if job["rows"] is None:
            job["rows"] = _aggregate(self.usage_records(), job["query"])
        rows: list[dict[str, Any]] = job["rows"]
        params = request.url.params
        try:
            size = max(1, min(int(params.get("pageSize", "100")), 1000, self.job_page_size))
        except ValueError:
            return _error(400, "invalid.value", "pageSize is not a number")
        after = params.get("after")
        offset = _cursor_offset(job_id, after) if after is not None else 0
        if offset is None:
            return _error(400, "bad.request", "The cursor is not valid.")
        bug = self.job_paging_bug
        base = f"/api/v2/usage/aggregates/query/jobs/{job_id}"
        page: dict[str, Any] = {
            "queryStatus": "Succeeded",
            "entities": rows[offset : offset + size],
            "selfUri": f"{base}?pageSize={size}" + (f"&after={after}" if after else ""),
        }
        if offset + size < len(rows) or bug in ("empty-page", "repeat-next", "stuck-after"):
            following = offset + size
            page["nextUri"] = f"{base}?pageSize={size}&after={_cursor(job_id, following)}"
            if bug == "stuck-after":
                # The cursor stays put while the rest of the address changes on every page.
                page["nextUri"] = (
                    f"{base}?after={_cursor(job_id, 0)}&pageSize={size}&poll={job['polls']}"
                )
            if bug == "empty-page" and offset + size >= len(rows):
                page["entities"] = []
            if bug == "foreign-next":
                page["nextUri"] = "https://evil.example.com" + page["nextUri"]
            if bug == "other-job":
                page["nextUri"] = (
                    f"/api/v2/oauth/clients?pageSize={size}&after={_cursor(job_id, 0)}"
                )
            if bug == "no-after":
                page["nextUri"] = f"{base}?pageSize={size}"
        if bug == "repeat-next" and after is not None:
            page["nextUri"] = f"{base}?pageSize={size}&after={after}"
        if bug == "no-entities":
            del page["entities"]
        if bug == "status-changes" and after is not None:
            page["queryStatus"] = "Running"
        return _json(200, page)


def _job_query_problem(body: Any, today: str | None) -> tuple[str, str] | None:
    """What the service refuses in an ``OrganizationPublicApiUsageQueryRequest``."""
    if not isinstance(body, dict) or not isinstance(body.get("interval"), str):
        return ("bad.request", "The request could not be understood by the server.")
    start, _, end = body["interval"].partition("/")
    try:
        first = _stamp(start)
        last = _stamp(end)
    except ValueError:
        return ("invalid.date", "Dates must be specified as ISO-8601 strings.")
    if last <= first:
        return ("bad.request", "The interval ends before it starts.")
    if (last - first).total_seconds() > 90 * 86400:
        return ("bad.request", "End date cannot be more than 90 days after the start.")
    if today is not None and (_stamp(today + "T00:00:00Z") - first).days > 365:
        return ("bad.request", "Start date cannot be more than a year ago.")
    for key, allowed in (("groupBy", JOB_GROUP_BY), ("metrics", JOB_METRICS)):
        for value in body.get(key) or []:
            if value not in allowed:
                return ("invalid.value", f"Value [{value}] is not valid for field type [{key}].")
    for value in body.get("httpMethods") or []:
        if value not in JOB_METHODS:
            return ("invalid.value", f"Value [{value}] is not valid for field type [httpMethods].")
    if body.get("granularity") not in (None, "Day", "Week", "Month"):
        return ("invalid.value", "granularity must be Day, Week or Month.")
    return None


def _stamp(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _bucket(day: str, granularity: str | None) -> str | None:
    from datetime import date, timedelta

    if granularity is None:
        return None
    d = date.fromisoformat(day)
    if granularity == "Week":
        d -= timedelta(days=d.weekday())
    elif granularity == "Month":
        d = d.replace(day=1)
    return d.isoformat()


def _aggregate(records: list[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a job: records in its interval and filters, summed per group (and per bucket
    with a granularity); only the dimensions grouped by and the metrics asked for are present."""
    start, _, end = query["interval"].partition("/")
    first, last = _stamp(start), _stamp(end)
    group_by = query.get("groupBy") or []
    metrics = query.get("metrics") or list(JOB_METRICS)
    granularity = query.get("granularity")
    wanted_clients = set(query.get("oauthClientIds") or [])
    wanted_templates = set(query.get("templateUris") or [])
    wanted_methods = set(query.get("httpMethods") or [])
    fields = {
        "Requests": "requestCount",
        "Status200": "status200",
        "Status300": "status300",
        "Status400": "status400",
        "Status429": "status429",
        "Status500": "status500",
    }
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        if not first <= _stamp(r["date"] + "T00:00:00Z") < last:
            continue
        if wanted_clients and r["client_id"] not in wanted_clients:
            continue
        if wanted_templates and r["templateUri"] not in wanted_templates:
            continue
        if wanted_methods and r["httpMethod"] not in wanted_methods:
            continue
        bucket = _bucket(r["date"], granularity)
        key = (
            bucket,
            r["client_id"] if "OauthClientId" in group_by else None,
            r["client_name"] if "OauthClientName" in group_by else None,
            r["templateUri"] if "TemplateUri" in group_by else None,
            r["httpMethod"] if "HttpMethod" in group_by else None,
        )
        row = groups.get(key)
        if row is None:
            row = groups[key] = {}
            if bucket is not None:
                row["date"] = bucket
            if "OauthClientId" in group_by or "OauthClientName" in group_by:
                ref: dict[str, Any] = {}
                if "OauthClientId" in group_by:
                    ref["id"] = r["client_id"]
                    ref["selfUri"] = f"/api/v2/oauth/clients/{r['client_id']}"
                if "OauthClientName" in group_by:
                    ref["name"] = r["client_name"]
                row["oauthClient"] = ref
            if "TemplateUri" in group_by:
                row["templateUri"] = r["templateUri"]
            if "HttpMethod" in group_by:
                row["httpMethod"] = r["httpMethod"]
            for metric in metrics:
                row[fields[metric]] = 0
        for metric in metrics:
            row[fields[metric]] += r[fields[metric]]
    return [groups[k] for k in sorted(groups, key=lambda k: tuple(str(p) for p in k))]


def _cursor(job_id: str, offset: int) -> str:
    """An opaque cursor, as the service's are: which job, and where in its rows."""
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode().rstrip("=")


def _cursor_offset(job_id: str, cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    owner, _, number = text.rpartition(":")
    return int(number) if owner == job_id and number.isdigit() else None


class _Drip(httpx.SyncByteStream):
    """A body that arrives one byte at a time, ``interval`` seconds apart (by ``sleep``)."""

    def __init__(self, content: bytes, interval: float, sleep: Callable[[float], None]) -> None:
        self._content = content
        self._interval = interval
        self._sleep = sleep

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self._content)):
            self._sleep(self._interval)
            yield self._content[i : i + 1]


def _wire_headers(response: httpx.Response) -> dict[str, str]:
    """The headers to send: the fake's markers dropped, an already-encoded body labelled."""
    headers = {}
    for key, value in response.headers.items():
        lower = key.lower()
        if lower in ("content-length", "x-fake-truncate", "content-encoding", "x-fake-drip"):
            continue
        if lower == "x-fake-encoded":
            headers["Content-Encoding"] = value
            continue
        headers[key] = value
    return headers


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"Content-Type": "application/json", **(headers or {})},
        content=json.dumps(data).encode(),
    )


def _error(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "message": message,
        "code": code,
        "status": status,
        "contextId": str(uuid.uuid4()),
        "details": [],
        "errors": [],
    }
    if params:
        body["messageParams"] = params
    return _json(status, body, headers)
