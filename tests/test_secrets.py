"""No secret ever leaves: not the auditor's secret, not a token, not a client's ``secret`` field.

Every test here runs the real commands at the highest verbosity, with faults
that exercise the retry and error paths, and greps everything they produced:
stdout, stderr (logs included), snapshots and reports.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fake.orgdata import sample_fake
from tests.fake.server import FakeGenesys
from tests.helpers import CLIENT_ID, TUTORIAL, Ran, Run, env_for

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
        retry_after="0.05",  # a positive wait; "0" means the normal backoff
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


# -- issue 11: tokens a header cannot carry, credentials echoed back, hostile server text ---------

BAD_TOKENS = {
    "trailing newline": "static-token-value-456\n",
    "trailing space": "static-token-value-456 ",
    "header injection": "static-token-value-456\r\nX-Injected: yes",
    "non-ASCII": "static-tökén-value-456",
    "undecodable byte": "static-token-value-456\udcff",
}


def one_error_line(ran: Ran, message: str) -> str:
    """Exit 3 and one error line (after the -vv log lines) that says ``message``."""
    assert ran.code == 3, (ran.code, ran.stderr)
    lines = [x for x in ran.stderr.splitlines() if x.startswith("genesys-oauth-audit: error:")]
    assert len(lines) == 1 and message in lines[0], ran.stderr
    assert ran.stderr.strip().splitlines()[-1] == lines[0]
    assert "Traceback" not in ran.stderr and ran.stdout == ""
    return lines[0]


@pytest.mark.socket
@pytest.mark.parametrize("token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_a_given_token_a_header_cannot_carry_is_refused_before_sending(
    run_cli: Run, tmp_path: Path, token: str
) -> None:
    fake = sample_fake()
    fake.tokens[token] = 10**12
    with fake.serve() as base:
        ran = run_cli(
            "-vv",
            "fetch",
            "-o",
            str(tmp_path / "s.json"),
            env={"GENESYSCLOUD_REGION": base, "GENESYSCLOUD_ACCESS_TOKEN": token},
        )
    # A variable that cannot work is bad input (exit 2), refused before anything is sent.
    assert ran.code == 2, (ran.code, ran.stderr)
    lines = [x for x in ran.stderr.splitlines() if x.startswith("genesys-oauth-audit: error:")]
    assert len(lines) == 1, ran.stderr
    assert "GENESYSCLOUD_ACCESS_TOKEN: the access token contains characters not allowed" in lines[0]
    assert "Traceback" not in ran.stderr and ran.stdout == ""
    assert fake.log == []  # nothing was sent, so nothing was retried
    assert "static-t" not in ran.stderr and not list(tmp_path.iterdir())


@pytest.mark.socket
def test_a_token_from_the_login_host_a_header_cannot_carry_is_refused(
    run_cli: Run, tmp_path: Path
) -> None:
    fake = sample_fake(token_suffix="\r\nX-Injected: yes")
    with fake.serve() as base:
        ran = run_cli("-vv", "fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
    one_error_line(ran, "the access token contains characters not allowed in an HTTP header")
    assert [r.path for r in fake.log] == ["/oauth/token"]  # one login, no API request, no retry
    assert_clean(ran.stderr, fake, ("X-Injected",))
    assert not list(tmp_path.iterdir())


@pytest.mark.socket
@pytest.mark.parametrize("where", ["^/oauth/token$", "/api/v2/oauth/scopes"])
def test_an_error_that_echoes_the_authorization_header_is_redacted(
    run_cli: Run, tmp_path: Path, where: str
) -> None:
    fake = sample_fake(usage_running_polls=0)
    fake.fail(where, "echo-auth", times=10)
    with fake.serve() as base:
        ran = run_cli("-vv", "fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
    line = one_error_line(ran, "[REDACTED]")
    basic = base64.b64encode(f"{CLIENT_ID}:{fake.credentials[CLIENT_ID]}".encode()).decode()
    assert basic[:12] not in ran.stderr
    assert_clean(ran.stderr, fake, (basic,))
    assert "Authorization: [REDACTED]" in line  # the whole header value, scheme and all
    assert not list(tmp_path.iterdir())


@pytest.mark.socket
def test_server_text_is_neutralised_on_stderr(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0)
    fake.fail("/api/v2/oauth/scopes", "hostile-error")
    with fake.serve() as base:
        ran = run_cli("-vv", "fetch", "-o", str(tmp_path / "s.json"), env=env_for(fake, base))
    line = one_error_line(ran, "HTTP 400")
    assert "denied" in line and "\\x1b[31m RED" in line and "\\u202egnp.exe" in line
    unsafe = [c for c in ran.stderr if c != "\n" and not c.isprintable()]
    assert unsafe == [], [hex(ord(c)) for c in unsafe]
    assert "\x1b" not in ran.stderr and "\u2028" not in ran.stderr and "\x9b" not in ran.stderr


def test_log_lines_are_redacted_and_escaped_at_every_verbosity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from genesys_oauth_audit import redact
    from genesys_oauth_audit.cli import _setup_logging

    redact.register("a-secret-token-value")
    _setup_logging(2)
    log = logging.getLogger("genesys_oauth_audit.http")
    log.debug("sent %s", "Authorization: Bearer a-secret-token-value\x1b]0;t\x07\u202e")
    log.warning("quoted %r", b"Bearer a-secret-token-value")
    err = capsys.readouterr().err
    assert "a-secret-token-value" not in err and err.count("[REDACTED]") == 2
    assert "\x1b" not in err and "\u202e" not in err and "\\x1b]0;t\\x07\\u202e" in err


@pytest.mark.socket
def test_a_secret_that_reaches_the_data_is_redacted_from_every_report(
    run_cli: Run, tmp_path: Path
) -> None:
    """A server (or a snapshot) that puts a credential of this run into a client's text."""
    fake = sample_fake(usage_running_polls=0)
    secret = fake.credentials[CLIENT_ID]
    fake.clients[0]["description"] = f"leaked: {secret} / Basic x"
    fake.clients[1]["name"] = f"svc {secret}"
    out = tmp_path / "out"
    out.mkdir()
    formats = ("json", "sarif", "junit", "markdown", "html")
    with fake.serve() as base:
        runs = [
            run_cli(
                "fetch", "-o", str(out / "snap.json"), "--usage-days", "0", env=env_for(fake, base)
            ),
            run_cli(
                "check",
                "-p",
                TUTORIAL,
                "--group-by",
                "client",
                *[a for f in formats for a in (f"--{f}-output", str(out / f"live.{f}"))],
                env=env_for(fake, base),
            ),
        ]
    snapshot = tmp_path / "given.json"  # a snapshot written elsewhere, with the secret in it
    data = json.loads((out / "snap.json").read_text())
    data["clients"][0]["description"] = f"leaked: {secret}"
    snapshot.write_text(json.dumps(data))
    for fmt in ("text", *formats):
        runs.append(
            run_cli(
                "check",
                "-p",
                TUTORIAL,
                "--inventory",
                str(snapshot),
                "--format",
                fmt,
                env={"GENESYSCLOUD_OAUTHCLIENT_SECRET": secret},
            )
        )
    assert [r.code for r in runs] == [0] + [1] * (1 + 1 + len(formats)), [r.stderr for r in runs]
    text = everything(runs, out)
    assert secret not in text and "[REDACTED]" in text
    assert "auditor\\-secret\\-value" not in text  # Markdown's escaped form too


def test_redaction_covers_the_usual_encodings() -> None:
    import html
    from urllib.parse import quote

    from genesys_oauth_audit import redact

    secret = 'se/cr+et"val<ue>&ü'
    redact.register(secret)
    basic = base64.b64encode(f"id:{secret}".encode()).decode()
    redact.register(basic)
    for form in (
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        quote(secret, safe=""),
        repr(secret.encode())[2:-1],
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        f"Basic {basic}",
    ):
        assert redact.redact(f"<<{form}>>") == "<<[REDACTED]>>" or "[REDACTED]" in redact.redact(
            form
        ), form
        assert form not in redact.redact(f"x {form} y")
    assert redact.redact_bytes(json.dumps({"m": secret}).encode()) == b'{"m": "[REDACTED]"}'
    assert redact.redact("short abc stays") == "short abc stays"


def test_terminal_escaping_covers_every_control_format_and_separator_character() -> None:
    import sys
    import unicodedata

    from genesys_oauth_audit.report.escape import terminal

    missed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        and terminal(chr(code)) == chr(code)
    ]
    assert missed == []
    assert terminal("ünïcödé 😀 日本") == "ünïcödé 😀 日本"  # printable text stays as it is


def _per_form(forms: tuple[str, ...], text: str) -> str:
    """The reference: one scan per form, longest form first (what ``redact`` does to short text)."""
    for form in sorted(forms, key=lambda f: (-len(f), f)):
        text = text.replace(form, "[REDACTED]")
    return text


def _leftmost_longest(forms: list[str], text: str) -> str:
    """The reference for the one-pass scan, a character at a time."""
    out, i = [], 0
    while i < len(text):
        hit = max((f for f in forms if text.startswith(f, i)), key=len, default="")
        out.append("[REDACTED]" if hit else text[i])
        i += len(hit) or 1
    return "".join(out)


@st.composite
def forms_and_text(draw: st.DrawFn) -> tuple[list[str], str]:
    """Forms over a small alphabet, some the beginnings of others (they overlap each other
    all the time), and a text made of them, of pieces of them and of other characters."""
    # é and a lone surrogate: forms whose UTF-8 is longer than their characters.
    longer = draw(st.lists(st.text("abcé\ud800", min_size=6, max_size=14), min_size=1, max_size=4))
    prefixes = [f[: draw(st.integers(6, len(f)))] for f in longer if draw(st.booleans())]
    forms = sorted(set(longer + prefixes))
    piece = st.one_of(
        st.sampled_from(forms),
        st.sampled_from(forms).map(lambda f: f[1:]),
        st.text("abcé\ud800", max_size=9),
    )
    return forms, "".join(draw(st.lists(piece, max_size=40)))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(forms_and_text(), st.integers(1, 64))
def test_the_one_pass_scan_leaves_no_form_whatever_the_window(
    drawn: tuple[list[str], str], window: int
) -> None:
    """Whatever the overlaps and wherever the windows' edges fall, the longest form that starts
    at the leftmost place is replaced, then the scan goes on after it: no whole form is left."""
    from genesys_oauth_audit.redact import _one_pass

    forms, text = drawn
    ordered = tuple(sorted(forms, key=lambda f: (-len(f), f)))
    out = _one_pass(ordered, text, window=window)
    assert out is not None
    assert not any(form in out for form in forms)
    assert out == _leftmost_longest(forms, text)


def test_a_large_report_is_redacted_in_one_pass_exactly_as_per_form() -> None:
    """A run of many orgs registers hundreds of forms and writes megabytes; the long text is
    scanned once for all of them (RE2), with the result of scanning once per form."""
    import secrets as random_secrets

    from genesys_oauth_audit import redact

    registry = redact.Secrets()
    values = [random_secrets.token_urlsafe(32) for _ in range(150)]
    for value in values:
        registry.add(value)
        registry.add(f"Bearer {value}")
    filler = "x" * 70_000
    text = (
        f"{values[0]}{filler}{values[1]}é\ud800{filler}Bearer {values[2]}{filler[:-3]}{values[3]}"
    )
    assert len(text) >= redact.ONE_PASS_CHARS
    assert redact._one_pass(registry._forms, text) is not None  # RE2 took every form
    out = registry.redact(text)
    assert out == _per_form(registry._forms, text)
    assert out.count("[REDACTED]") == 4 and not any(v in out for v in values[:4])
    clean = filler * 2
    assert registry.redact(clean) is clean  # nothing found: the very same text back


def test_a_large_answer_is_redacted_in_one_pass_exactly_as_per_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every answer of a run of many orgs is scanned for every org's secrets: a long body is
    scanned once for all of them, with the result of scanning once per form."""
    import secrets as random_secrets

    from genesys_oauth_audit import redact

    scans: list[int] = []
    scan = redact._scan

    def counted(forms: tuple[bytes, ...], data: bytes) -> bytes | None:
        scans.append(len(data))
        return scan(forms, data)

    monkeypatch.setattr(redact, "_scan", counted)

    registry = redact.Secrets()
    values = [random_secrets.token_urlsafe(32) + "/é" for _ in range(100)]
    for value in values:
        registry.add(value)
    body = json.dumps(
        {"entities": [{"description": f"{'x' * 900} {values[i % 3]}"} for i in range(200)]}
    ).encode()
    assert len(body) >= redact.ONE_PASS_CHARS
    assert redact._scan(registry._body_forms, body) is not None  # RE2 took every form
    expected = body
    for form in registry._body_forms:
        expected = expected.replace(form, b"[REDACTED]")
    scans.clear()
    out = registry.redact_bytes(body)
    assert out == expected and out.count(b"[REDACTED]") == 200
    assert scans == [len(body)]  # one scan, not one per form
    clean = b"y" * 100_000
    assert registry.redact_bytes(clean) is clean


def test_starting_a_run_forgets_the_scans_compiled_from_the_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compiled one-pass scan holds every secret form: a new run drops it, and RE2's own
    cache of compiled patterns too."""
    import re2

    from genesys_oauth_audit import redact

    redact.forget_all()
    purged: list[bool] = []
    monkeypatch.setattr(re2, "purge", lambda: purged.append(True))
    redact.register("a-secret-value-of-the-last-run")
    assert redact.redact("x" * redact.ONE_PASS_CHARS + "a-secret-value-of-the-last-run").endswith(
        "[REDACTED]"
    )
    assert redact._alternation.cache_info().currsize == 1
    redact.forget_all()
    assert redact._alternation.cache_info().currsize == 0 and purged == [True]
