"""No secret ever leaves: not the auditor's secret, not a token, not a client's ``secret`` field.

Every test here runs the real commands at the highest verbosity, with faults
that exercise the retry and error paths, and greps everything they produced:
stdout, stderr (logs included), snapshots and reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import CLIENT_ID, TUTORIAL, Ran, Run

NOW = "2026-11-20T06:00:00Z"


def everything(ran: list[Ran], folder: Path) -> str:
    texts = [r.stdout + r.stderr for r in ran]
    texts += [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]
    return "\n".join(texts)


def assert_clean(text: str, fake: FakeGenesys, extra: tuple[str, ...] = ()) -> None:
    secrets = [*fake.secrets(), *extra]
    assert len(secrets) >= 3  # the auditor's secret, at least one token, a client's secret field
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {secret[:6]}…"
    assert '"secret"' not in text


@pytest.mark.socket
def test_fetch_and_check_at_full_verbosity_leak_nothing(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(
        usage_running_polls=0,
        fault_rate=0.3,
        fault_kinds=("429", "5xx", "reset"),
        retry_after="0",
        seed=3,
    )
    fake.fail("/api/v2/oauth/clients", "429")
    out = tmp_path / "out"
    out.mkdir()
    with fake.serve() as base:
        env = {
            "GENESYSCLOUD_REGION": base,
            "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
        }
        runs = [
            run_cli(
                "-vv",
                "fetch",
                "-o",
                str(out / "snap.json"),
                "--now",
                NOW,
                "--retry-budget",
                "30",
                env=env,
            ),
            run_cli(
                "-vv",
                "check",
                "-p",
                TUTORIAL,
                "--json-output",
                str(out / "r.json"),
                "--retry-budget",
                "30",
                env=env,
            ),
            run_cli(
                "-vv",
                "check",
                "-p",
                TUTORIAL,
                "--inventory",
                str(out / "snap.json"),
                "--format",
                "json",
                env=env,
            ),
        ]
    assert [r.code for r in runs] == [0, 1, 1], [r.stderr for r in runs]
    text = everything(runs, out)
    assert "retrying in" in text and "GET /api/v2/oauth/clients" in text  # the logs did speak
    assert_clean(text, fake)


@pytest.mark.socket
def test_error_paths_leak_nothing(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake()
    runs = []
    with fake.serve() as base:
        good = {
            "GENESYSCLOUD_REGION": base,
            "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials[CLIENT_ID],
        }
        runs.append(
            run_cli(
                "-vv",
                "check",
                "-p",
                TUTORIAL,
                env={**good, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong-secret-value-123"},
            )
        )
        fake.tokens["static-token-value-456"] = 10**12
        runs.append(
            run_cli(
                "-vv",
                "check",
                "-p",
                TUTORIAL,
                env={
                    "GENESYSCLOUD_REGION": base,
                    "GENESYSCLOUD_ACCESS_TOKEN": "static-token-value-456",
                },
            )
        )
        fake.tokens.clear()
        runs.append(
            run_cli(
                "-vv",
                "check",
                "-p",
                TUTORIAL,
                env={
                    "GENESYSCLOUD_REGION": base,
                    "GENESYSCLOUD_ACCESS_TOKEN": "static-token-value-456",
                },
            )
        )
        fake.permissions.clear()
        runs.append(run_cli("-vv", "fetch", "-o", str(tmp_path / "s.json"), env=good))
    assert [r.code for r in runs] == [3, 1, 3, 3]
    assert_clean(
        everything(runs, tmp_path), fake, ("wrong-secret-value-123", "static-token-value-456")
    )
