"""Yardstick: the fewest reads of an org, as a minimal script makes them (httpx and threads).

Usage:
    python benchmarks/yardstick_live.py BASE_URL --full     # the reads of a full audit
    python benchmarks/yardstick_live.py BASE_URL            # clients and scopes, one by one

Credentials come from GENESYSCLOUD_OAUTHCLIENT_ID / GENESYSCLOUD_OAUTHCLIENT_SECRET.

``--full`` makes the reads of ``check -p builtin:baseline`` on a live org: a token; the last-use
job of the usage service (``--operations`` adds the operations job), submitted first; then, side
by side on threads, the client listing, the scope catalog, the roles (500 a page, following the
answer's ``pageCount``), the org, and the job polled on the tool's own schedule (a first look
after ``FIRST_POLL_DELAY``, doubling) until it has succeeded, with every page of its rows. Each
answer is parsed with ``json.loads``. Without ``--full``: the token, the client listing and the
scope catalog, one after another, as a scopes-only audit needs them.

No checks, no retries, no paging safety, no normalisation, no report: what is left is the
network's share of an audit (and the interpreter's start-up), the floor the tool is measured
against. It prints the number of requests it made and the clients it read, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# The tool's polling schedule: the yardstick waits for the job as the tool does, so the ratio
# measures the tool, not the choice of how often to ask.
from genesys_oauth_audit.genesys.usage import FIRST_POLL_DELAY, MAX_POLL_DELAY  # noqa: E402

JOBS = "/api/v2/usage/aggregates/query/jobs"


class Reader:
    """One httpx client and a request counter shared by the threads."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=60)
        self.requests = 0
        self._lock = threading.Lock()
        self.headers: dict[str, str] = {}

    def send(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._lock:
            self.requests += 1
        response = self.http.request(method, path, headers=self.headers, **kwargs)
        response.raise_for_status()
        return json.loads(response.content)

    def login(self) -> None:
        pair = (
            os.environ["GENESYSCLOUD_OAUTHCLIENT_ID"],
            os.environ["GENESYSCLOUD_OAUTHCLIENT_SECRET"],
        )
        token = self.send(
            "POST", "/oauth/token", data={"grant_type": "client_credentials"}, auth=pair
        )
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def pages(self, path: str, page_size: int) -> list[Any]:
        first = self.send("GET", path, params={"pageSize": page_size, "pageNumber": 1})
        entities = list(first["entities"])
        for number in range(2, (first.get("pageCount") or 1) + 1):
            page = self.send("GET", path, params={"pageSize": page_size, "pageNumber": number})
            entities += page["entities"]
        return entities

    def job_rows(self, job_id: str) -> list[Any]:
        delay = FIRST_POLL_DELAY
        while True:
            time.sleep(delay)
            delay = min(delay * 2, MAX_POLL_DELAY)
            page = self.send("GET", f"{JOBS}/{job_id}", params={"pageSize": 1000})
            if page["queryStatus"] == "Succeeded":
                break
        rows = list(page["entities"])
        while page.get("nextUri"):
            page = self.send("GET", page["nextUri"])
            rows += page["entities"]
        return rows


def full(reader: Reader, today: date, operations: bool) -> int:
    end = today + timedelta(days=1)
    interval = f"{end - timedelta(days=90)}T00:00:00.000Z/{end}T00:00:00.000Z"
    bodies = [
        {
            "interval": interval,
            "granularity": "Day",
            "groupBy": ["OauthClientId"],
            "metrics": ["Requests"],
        }
    ]
    if operations:
        bodies.append(
            {"interval": interval, "groupBy": ["OauthClientId", "TemplateUri", "HttpMethod"]}
        )
    jobs = [reader.send("POST", JOBS, json=body)["id"] for body in bodies]
    with ThreadPoolExecutor(max_workers=4 + len(jobs)) as pool:
        clients = pool.submit(reader.send, "GET", "/api/v2/oauth/clients")
        reads = [
            pool.submit(reader.send, "GET", "/api/v2/oauth/scopes"),
            pool.submit(reader.pages, "/api/v2/authorization/roles", 500),
            pool.submit(reader.send, "GET", "/api/v2/organizations/me"),
            *[pool.submit(reader.job_rows, job) for job in jobs],
        ]
        for read in reads:
            read.result()
        return len(clients.result()["entities"])


def scopes_only(reader: Reader) -> int:
    clients = reader.send("GET", "/api/v2/oauth/clients")
    reader.send("GET", "/api/v2/oauth/scopes")
    return len(clients["entities"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--operations", action="store_true")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    args = parser.parse_args(argv)
    reader = Reader(args.base)
    reader.login()
    clients = full(reader, args.today, args.operations) if args.full else scopes_only(reader)
    print(json.dumps({"requests": reader.requests, "clients": clients}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
