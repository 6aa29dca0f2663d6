"""The entry point: Ctrl-C at any moment and a closed pipe end as the exit codes promise.

Ctrl-C while the modules load or while click parses the flags used to print a
traceback or click's "Aborted!" with exit 1, which a CI gate reads as
"findings"; a reader that closed the pipe (``| head``) used to print an
"internal error".
"""

from __future__ import annotations

import builtins
import subprocess
import sys
from typing import Any

import click
import pytest

from genesys_oauth_audit import __main__ as entry
from genesys_oauth_audit import cli
from tests.helpers import ROOT, SAMPLE_SNAPSHOT


def test_ctrl_c_while_click_parses_is_an_interrupted_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise click.exceptions.Abort

    monkeypatch.setattr(cli.cli, "main", interrupted)
    assert cli.main(["rules"]) == 3
    assert capsys.readouterr().err == "genesys-oauth-audit: interrupted; no report was written\n"


def test_ctrl_c_while_the_modules_load_is_an_interrupted_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def interrupted(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "genesys_oauth_audit.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert entry.run() == 3
    assert "interrupted; no report was written" in capsys.readouterr().err


def test_usage_errors_still_exit_2_with_clicks_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--no-such-flag"]) == 2
    assert "No such option '--no-such-flag'" in capsys.readouterr().err


def test_help_and_version_exit_0() -> None:
    assert cli.main(["--help"]) == 0
    assert cli.main(["--version"]) == 0


def test_a_closed_pipe_ends_quietly_with_exit_3() -> None:
    """The reader goes away before the report is written: no traceback, no "internal error"."""
    tool = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genesys_oauth_audit",
            "check",
            "-p",
            "builtin:strict",
            "--inventory",
            str(SAMPLE_SNAPSHOT),
            "--format",
            "html",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert tool.stdout is not None and tool.stderr is not None
    tool.stdout.close()  # the reader is gone before the first byte
    with tool.stderr:
        err = tool.stderr.read().decode()
    assert tool.wait(timeout=120) == 3
    assert err == ""
