"""Ctrl-C or SIGTERM while an org is being read (usage jobs still running, reads side by side or
one org after another): the run ends at once with exit 3 and one line, writes nothing, and sends
no request after it ended. A real process, signalled as a terminal or a CI runner would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.test_orgs import Served, fleet, org_fake

# A hang guard, not a measure: a run that ignored the signal would wait out its usage job.
HANG = 60.0


@pytest.mark.socket
@pytest.mark.parametrize("mode", ["one org", "many orgs"])
@pytest.mark.parametrize(
    ("signum", "word"), [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")]
)
def test_a_signal_while_reading_ends_the_run_at_once(
    tmp_path: Path, mode: str, signum: int, word: str
) -> None:
    served = Served()
    # Usage jobs that never finish: the run is polling them when the signal comes.
    fakes = {
        label: org_fake(label, served, job_running_polls=10_000, usage_running_polls=10_000)
        for label in ("a", "b")
    }
    with fleet(tmp_path, fakes, served) as f:
        env = {**os.environ, **f.env}
        if mode == "one org":
            env |= {
                "GENESYSCLOUD_REGION": f.urls["a"],
                "GENESYSCLOUD_OAUTHCLIENT_ID": "a-id",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": f.env["A_CLIENT_SECRET"],
            }
            command = ["fetch", "-o", str(tmp_path / "out.json")]
        else:
            command = ["fetch", "--orgs", str(f.file), "-o", str(tmp_path / "out")]
        process = subprocess.Popen(
            [sys.executable, "-m", "genesys_oauth_audit", *command],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Signal once every org read is under way: its usage job has been polled.
            labels = {"a"} if mode == "one org" else {"a", "b"}
            give_up = time.monotonic() + HANG
            while time.monotonic() < give_up:
                with served.lock:
                    polled = {o for o, path, _ in served.order if path.endswith("/jobs/{jobId}")}
                if polled >= labels:
                    break
                time.sleep(0.05)
            assert polled >= labels, "the usage jobs were never polled"
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=HANG)
        finally:
            process.kill()
        after_exit = len(served.order)
        time.sleep(0.5)  # any read left behind would go on polling
        assert len(served.order) == after_exit, served.order[after_exit:]
    assert process.returncode == 3
    assert stderr == f"genesys-oauth-audit: {word}; no report was written\n"
    assert stdout == ""
    assert not (tmp_path / "out.json").exists()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not list(tmp_path.rglob("*.tmp"))
