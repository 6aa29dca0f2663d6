"""App-level pieces that the CLI tests do not reach directly."""

from __future__ import annotations

import io

from genesys_oauth_audit.app import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal() -> None:
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress(stream)
        progress("GET /api/v2/oauth/clients")
        progress("GET /api/v2/oauth/scopes")
        progress.done()
    assert pipe.getvalue() == ""
    out = tty.getvalue()
    assert "\r\x1b[Kfetching: 2 requests, now GET /api/v2/oauth/scopes" in out
    assert out.endswith("\r\x1b[K")  # the line is cleared at the end


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    from genesys_oauth_audit.cli import want_color

    assert want_color(None, "text", Tty(), {}) is True
    assert want_color(None, "text", Tty(), {"NO_COLOR": ""}) is False
    assert want_color(None, "text", io.StringIO(), {}) is False
    assert want_color(None, "json", Tty(), {}) is False
    assert want_color(True, "text", io.StringIO(), {"NO_COLOR": "1"}) is True
    assert want_color(False, "text", Tty(), {}) is False
    assert want_color(True, "sarif", Tty(), {}) is False
