"""The benchmark scripts run (at a small scale here) and report what they claim."""

from __future__ import annotations

import pytest

from benchmarks.bench_audit import run


@pytest.mark.socket
def test_bench_audit_small() -> None:
    result = run(clients=120, roles=150, latency=0.0)
    assert (
        result["requests"] == 1 + 1 + 1 + 2 + 1 + 2 + 1
    )  # token, clients, scopes, 2 role pages, usage + 2 polls, org
    assert result["rolePages"] == 2
    assert (
        result["perClientUsageRequests"] > 2 * 120
    )  # a usage query and a poll per client, and more
    assert result["findings"] > 0
