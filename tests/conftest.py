"""Shared fixtures: a network guard, a fake clock, the fake Genesys Cloud, and a CLI runner.

Plain helpers and constants live in ``tests/helpers.py``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from genesys_oauth_audit.cli import cli
from genesys_oauth_audit.genesys.client import GenesysClient, RetryPolicy
from genesys_oauth_audit.settings import connection_settings
from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import TOOL_ENVIRONMENT, FakeClock, Ran, Run, env_for, loopback

# -- never the internet ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host that is not loopback."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if not loopback(address):
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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeGenesys:
    return sample_fake(clock=clock)


@pytest.fixture
def make_client(fake: FakeGenesys, clock: FakeClock) -> Iterator[Callable[..., GenesysClient]]:
    """A GenesysClient wired to the fake through MockTransport (or the given transport), with
    the fake clock."""
    made: list[GenesysClient] = []

    def make(env: dict[str, str] | None = None, **kwargs: Any) -> GenesysClient:
        settings = connection_settings(
            region=None, client_id=None, login_url=None, environ=env or env_for(fake)
        )
        kwargs.setdefault("retry", RetryPolicy(max_retries=8, budget_seconds=600))
        kwargs.setdefault("transport", fake.transport())
        client = GenesysClient(settings, sleep=clock.sleep, clock=clock, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the CLI in-process with a given environment; stdout and stderr kept apart."""

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        for var in TOOL_ENVIRONMENT:
            monkeypatch.delenv(var, raising=False)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run
