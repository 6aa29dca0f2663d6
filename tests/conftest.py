"""Shared fixtures: a network guard, a fake clock, the fake Genesys Cloud, and a CLI runner."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from genesys_oauth_audit.cli import cli
from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.settings import connection_settings
from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_SNAPSHOT = ROOT / "examples" / "sample-snapshot.json"
TUTORIAL = str(ROOT / "policies" / "tutorial.yaml")
CLIENT_ID = "auditor-id"


# -- never the internet ----------------------------------------------------------------------------


def _loopback(address: Any) -> bool:
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


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host that is not loopback."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    """Each test is its own run: the secrets one registers (redact.py) do not outlive it."""
    from genesys_oauth_audit import redact

    redact.forget_all()
    yield
    redact.forget_all()


# -- time --------------------------------------------------------------------------------------------


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeGenesys:
    return sample_fake(clock=clock)


def env_for(fake: FakeGenesys, region: str = "us-east-1") -> dict[str, str]:
    return {
        "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
        "GENESYSCLOUD_REGION": region,
    }


@pytest.fixture
def make_client(fake: FakeGenesys, clock: FakeClock) -> Iterator[Callable[..., GenesysClient]]:
    """A GenesysClient wired to the fake through MockTransport, with the fake clock."""
    made: list[GenesysClient] = []

    def make(env: dict[str, str] | None = None, **kwargs: Any) -> GenesysClient:
        settings = connection_settings(
            region=None, client_id=None, login_url=None, environ=env or env_for(fake)
        )
        kwargs.setdefault("retry", RetryPolicy(max_retries=8, budget_seconds=600))
        client = GenesysClient(
            settings, transport=fake.transport(), sleep=clock.sleep, clock=clock, **kwargs
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- the command line -----------------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Run the CLI in-process with a given environment; stdout and stderr kept apart."""

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        for var in (
            "GENESYSCLOUD_REGION",
            "GENESYSCLOUD_API_REGION",
            "GENESYSCLOUD_OAUTHCLIENT_ID",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET",
            "GENESYSCLOUD_ACCESS_TOKEN",
            "GENESYSCLOUD_LOGIN_URL",
            "NO_COLOR",
        ):
            monkeypatch.delenv(var, raising=False)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run
