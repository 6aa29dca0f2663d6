"""What the tests share that is not a fixture: paths, the auditor's credentials, a fake clock and
the result of a CLI run. Import from here; ``conftest.py`` holds only fixtures."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fake.server import FakeGenesys

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_SNAPSHOT = ROOT / "examples" / "sample-snapshot.json"
TUTORIAL = str(ROOT / "policies" / "tutorial.yaml")
CLIENT_ID = "auditor-id"


def loopback(address: Any) -> bool:
    """Whether a socket address stays on this machine (the network guard lets only these by)."""
    if isinstance(address, tuple) and address:
        host = str(address[0])
    else:
        return True  # AF_UNIX and friends
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FakeClock:
    """A monotonic clock that only moves when someone sleeps; shared by the tool and the fake."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def request_clock() -> Callable[[], float]:
    """A fake server's clock that moves one second each time it is read (once per token it
    checks): a token of ``token_lifetime=N`` expires after about N requests, however fast or
    side by side the tool sends them (a wall clock made token expiry a race)."""
    ticks = itertools.count()
    return lambda: float(next(ticks))


def env_for(fake: FakeGenesys, region: str = "us-east-1") -> dict[str, str]:
    """The environment that points the tool at ``region`` (a region name or the fake's base URL)
    with the auditor's credentials."""
    return {
        "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
        "GENESYSCLOUD_REGION": region,
    }


# What the run_cli fixture clears before each run, so the machine's own settings never leak in.
TOOL_ENVIRONMENT = (
    "GENESYSCLOUD_REGION",
    "GENESYSCLOUD_API_REGION",
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_ACCESS_TOKEN",
    "GENESYSCLOUD_LOGIN_URL",
    "NO_COLOR",
    "COLUMNS",  # the text report's width follows it
)


@dataclass
class Ran:
    """One run of the CLI: its exit code, and stdout and stderr kept apart."""

    code: int
    stdout: str
    stderr: str


# The run_cli fixture: run_cli(*args, env={...}) -> Ran
Run = Callable[..., Ran]


def record_calls(
    monkeypatch: Any, owner: Any, name: str, note: Callable[[], Any] = lambda: None
) -> list[Any]:
    """Wrap ``owner.name`` (for the test's duration) so that each call first appends ``note()``
    to the list returned here, then does what it did."""
    calls: list[Any] = []
    original = getattr(owner, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(note())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls
