"""Output files behave like every other CLI's (SPEC §10): ``-`` is standard output, devices and FIFOs
are written directly, symlinks keep pointing where they did, new files follow the umask, every
path is checked before the audit, and the set is committed together, even under SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.files.output import OutputSet, write_atomically
from tests.fake.orgdata import sample_fake
from tests.helpers import SAMPLE_SNAPSHOT, TUTORIAL, Ran, env_for
from tests.test_cli import FAST, NOW

Run = Callable[..., Ran]
FORMATS = {
    "json": "r.json",
    "sarif": "r.sarif",
    "junit": "r.xml",
    "markdown": "r.md",
    "html": "r.html",
}


def check_args(*extra: str) -> list[str]:
    return ["check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--now", NOW, *extra]


def every_format(folder: Path) -> list[str]:
    return [a for fmt, name in FORMATS.items() for a in (f"--{fmt}-output", str(folder / name))]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# -- "-" is standard output ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown"])
def test_dash_puts_that_report_on_stdout_instead_of_the_text_one(run_cli: Run, fmt: str) -> None:
    ran = run_cli(*check_args(f"--{fmt}-output", "-"))
    assert ran.code == 1, ran.stderr
    assert "Result: FAIL" not in ran.stdout  # the default text report gave way
    if fmt != "markdown":
        json.loads(ran.stdout)
    else:
        assert ran.stdout.startswith("## genesys-oauth-audit: ❌ **FAIL**")
    assert not Path("-").exists()


def test_dash_for_the_baseline(run_cli: Run, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    ran = run_cli(*check_args("--write-baseline", "-", "--json-output", str(report)))
    assert ran.code == 1
    baseline = json.loads(ran.stdout)
    assert baseline["kind"] == "genesys-oauth-audit/baseline" and baseline["findings"]
    assert json.loads(report.read_text())["findings"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "text", "--json-output", "-"), "--json-output and --format text both write"),
        (
            ("--json-output", "-", "--write-baseline", "-"),
            "--json-output and --write-baseline both",
        ),
        (("--sarif-output", "/dev/stdout", "--json-output", "-"), "both write standard output"),
    ],
)
def test_two_outputs_on_stdout_are_refused(
    run_cli: Run, args: tuple[str, ...], message: str
) -> None:
    ran = run_cli(*check_args(*args))
    assert ran.code == 2 and ran.stdout == ""
    assert message in ran.stderr and "give each its own path" in ran.stderr


@pytest.mark.socket
def test_fetch_dash_writes_the_snapshot_to_stdout(run_cli: Run) -> None:
    fake = sample_fake(usage_running_polls=0)
    with fake.serve() as base:
        ran = run_cli("fetch", "-o", "-", "--now", NOW, *FAST, env=env_for(fake, base))
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["kind"] == "genesys-oauth-audit/inventory"
    assert "wrote the snapshot to standard output: 36 clients" in ran.stderr


def test_stdout_and_stderr_aliases_are_the_streams_not_files() -> None:
    out, err = io.StringIO(), io.StringIO()
    outputs = OutputSet(stdout=out, stderr=err)
    assert outputs.add("/dev/stdout", "a").kind == "stdout"
    assert outputs.add("/dev/stderr", "b").kind == "stderr"
    with pytest.raises(BadInputError, match="a and c both write standard output"):
        outputs.add("-", "c")
    assert outputs.add("/dev/null", "d").kind == "direct"


def test_markdown_to_dev_stdout_writes_stdout(run_cli: Run) -> None:
    ran = run_cli(*check_args("--markdown-output", "/dev/stdout"))
    assert ran.code == 1 and ran.stdout.startswith("## genesys-oauth-audit")
    assert os.path.islink("/dev/stdout") or not os.path.exists("/dev/stdout")


# -- devices, FIFOs, symlinks --------------------------------------------------------------------


def test_dev_null_is_written_directly(run_cli: Run, tmp_path: Path) -> None:
    ran = run_cli(*check_args("--markdown-output", "/dev/null", "--json-output", "/dev/null"))
    assert ran.code == 1, ran.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_written_directly_to_its_reader(run_cli: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ran = run_cli(*check_args("--json-output", str(fifo)))
    # The reader may still be finishing after the tool closed its end: wait for it first. Only
    # a reader still blocked in open() then (the tool never opened the FIFO) is unblocked, and
    # without blocking this test: an open for writing with no reader left would wait forever.
    reader.join(timeout=30)
    if reader.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=5)
    assert ran.code == 1, ran.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not replaced by a file
    assert json.loads(received[0])["findings"]


def test_a_symlink_to_a_pipe_is_written_through_not_replaced(tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to("/dev/stdout")
    script = (
        "import sys; from genesys_oauth_audit.cli import main; "
        f"sys.exit(main({check_args('--markdown-output', str(link))!r}))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 1, ran.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    assert "## genesys-oauth-audit: ❌ **FAIL**" in ran.stdout  # the markdown reached the pipe
    assert "Result: FAIL" in ran.stdout  # and so did the text report


def test_a_symlinked_report_replaces_its_target_atomically_and_keeps_the_link(
    run_cli: Run, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "report.json"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "report.json"
    link.symlink_to(target)
    dangling = tmp_path / "new.sarif"
    dangling.symlink_to(real / "new.sarif")
    ran = run_cli(*check_args("--json-output", str(link), "--sarif-output", str(dangling)))
    assert ran.code == 1, ran.stderr
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text())["findings"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert dangling.is_symlink() and json.loads((real / "new.sarif").read_text())["runs"]
    assert leftovers(real) == [] and leftovers(tmp_path) == []


# -- modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_follow_the_umask(run_cli: Run, tmp_path: Path, mask: int, mode: int) -> None:
    with umask(mask):
        ran = run_cli(*check_args(*every_format(tmp_path), "--write-baseline", str(tmp_path / "b")))
    assert ran.code == 1, ran.stderr
    for name in [*FORMATS.values(), "b"]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_an_existing_file_keeps_its_mode(run_cli: Run, tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    report.write_text("old")
    report.chmod(0o604)
    with umask(0o077):
        assert run_cli(*check_args("--html-output", str(report))).code == 1
    assert stat.S_IMODE(report.stat().st_mode) == 0o604
    assert report.read_text().startswith("<!DOCTYPE html>")


# -- checked before the audit --------------------------------------------------------------------


def test_a_bad_second_path_leaves_the_first_unwritten(run_cli: Run, tmp_path: Path) -> None:
    first = tmp_path / "r.json"
    bad = tmp_path / "missing" / "r.sarif"
    ran = run_cli(*check_args("--json-output", str(first), "--sarif-output", str(bad)))
    assert ran.code == 2 and ran.stdout == ""
    assert f"cannot write --sarif-output {bad}: directory {bad.parent} does not exist" in (
        ran.stderr
    )
    assert not first.exists() and leftovers(tmp_path) == []


@pytest.mark.socket
def test_output_paths_are_checked_before_the_org_is_read(run_cli: Run, tmp_path: Path) -> None:
    fake = sample_fake(usage_running_polls=0)
    bad = tmp_path / "missing" / "baseline.json"
    with fake.serve() as base:
        env = env_for(fake, base)
        checked = run_cli("check", "-p", TUTORIAL, "--write-baseline", str(bad), *FAST, env=env)
        fetched = run_cli("fetch", "-o", str(bad), *FAST, env=env)
    for ran, flag in ((checked, "--write-baseline"), (fetched, "-o")):
        assert ran.code == 2 and f"cannot write {flag} {bad}: directory" in ran.stderr
    assert fake.log == []  # not one request: not even a token


def test_a_directory_or_two_outputs_naming_one_file_are_refused(
    run_cli: Run, tmp_path: Path
) -> None:
    same = tmp_path / "r.out"
    ran = run_cli(*check_args("--json-output", str(same), "--write-baseline", str(same)))
    assert ran.code == 2 and "--json-output and --write-baseline both write" in ran.stderr
    assert not same.exists()
    ran = run_cli(*check_args("--write-baseline", str(tmp_path)))
    assert ran.code == 2 and "is a directory" in ran.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_directory_is_refused_before_the_audit(run_cli: Run, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    ran = run_cli(*check_args("--json-output", str(locked / "r.json")))
    assert ran.code == 2 and f"directory {locked} is not writable" in ran.stderr


# -- committed together --------------------------------------------------------------------------


def test_a_failed_rename_says_what_was_and_was_not_written(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in FORMATS.values():
        (tmp_path / name).write_text("old")
    real_replace = os.replace
    calls: list[str] = []

    def failing(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    ran = run_cli(*check_args(*every_format(tmp_path)))
    assert ran.code == 2 and ran.stdout == ""  # the text report was not printed either
    assert (
        f"cannot write {tmp_path / 'r.xml'}: No space left on device; "
        f"{tmp_path / 'r.json'}, {tmp_path / 'r.sarif'} were written; "
        f"{tmp_path / 'r.xml'}, {tmp_path / 'r.md'}, {tmp_path / 'r.html'}, standard output "
        "were not (temporary files removed)"
    ) in ran.stderr
    assert [(tmp_path / n).read_text() == "old" for n in FORMATS.values()] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert leftovers(tmp_path) == []


def test_a_failing_renderer_writes_nothing(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genesys_oauth_audit.report import html

    def broken(*args: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(html, "render", broken)
    ran = run_cli(*check_args(*every_format(tmp_path)))
    assert ran.code == 3 and "internal error: RuntimeError: renderer bug" in ran.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_write_atomically_alone_behaves_the_same(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    with umask(0o022):
        write_atomically(target, "one")
    assert target.read_text() == "one" and stat.S_IMODE(target.stat().st_mode) == 0o644
    write_atomically("/dev/null", "nothing")
    with pytest.raises(BadInputError, match="is a directory"):
        write_atomically(tmp_path, "x")


# -- signals: a child paused at a known point, then signalled ------------------------------------

CHILD = r"""
import os, signal, sys
from genesys_oauth_audit.cli import main

fd, where, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]

def pause():
    os.write(fd, b"paused\n")
    signal.pause()  # the signal's handler raises here

if where.startswith("rename:"):
    stop, real, count = int(where.split(":")[1]), os.replace, [0]
    def replace(src, dst):
        real(src, dst)
        count[0] += 1
        if count[0] == stop:
            pause()
    os.replace = replace
else:
    from genesys_oauth_audit.report import html
    def render(*a):
        pause()
    html.render = render
sys.exit(main(args))
"""


def run_paused(where: str, args: list[str], signum: int) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child that pauses at ``where``; signal it there; return how it ended."""
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(write_end), where, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 120)
        assert ready and os.read(read_end, 100) == b"paused\n", "the child never paused"
        child.send_signal(signum)
        out, err = child.communicate(timeout=120)
    finally:
        os.close(read_end)
        if child.poll() is None:
            child.kill()
            child.wait()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.mark.parametrize(
    ("signum", "word"), [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")]
)
def test_a_signal_between_renames_says_what_was_replaced(
    tmp_path: Path, signum: int, word: str
) -> None:
    for name in FORMATS.values():
        (tmp_path / name).write_text("old")
    ended = run_paused("rename:3", check_args(*every_format(tmp_path)), signum)
    assert ended.returncode == 3, ended.stderr
    names = [str(tmp_path / n) for n in FORMATS.values()]
    assert ended.stderr == (
        f"genesys-oauth-audit: {word}; {', '.join(names[:3])} were written; "
        f"{', '.join(names[3:])}, standard output were not (temporary files removed)\n"
    )
    assert [Path(n).read_text() == "old" for n in names] == [False, False, False, True, True]
    assert leftovers(tmp_path) == [] and ended.stdout == ""


@pytest.mark.parametrize(
    ("signum", "word"), [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")]
)
def test_a_signal_while_rendering_writes_nothing_and_leaves_no_temporary_file(
    tmp_path: Path, signum: int, word: str
) -> None:
    ended = run_paused("render", check_args(*every_format(tmp_path)), signum)
    assert ended.returncode == 3, ended.stderr
    assert ended.stderr == f"genesys-oauth-audit: {word}; no report was written\n"
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == []
    )  # four reports were staged, then removed


@pytest.mark.parametrize("flag", ["--json-output", "--sarif-output", "--write-baseline"])
def test_an_output_over_the_snapshot_it_reads_is_refused(
    run_cli: Run, tmp_path: Path, flag: str
) -> None:
    """A report written over the --inventory snapshot replaced the snapshot with a report."""
    snapshot = tmp_path / "s.json"
    snapshot.write_bytes(SAMPLE_SNAPSHOT.read_bytes())
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(snapshot), flag, str(snapshot))
    assert ran.code == 2
    assert f"{flag} {snapshot} would replace --inventory {snapshot}" in ran.stderr
    assert snapshot.read_bytes() == SAMPLE_SNAPSHOT.read_bytes()


def test_a_baseline_may_be_refreshed_in_place(run_cli: Run, tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    args = ["check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT)]
    assert run_cli(*args, "--write-baseline", str(baseline)).code in (0, 1)
    ran = run_cli(*args, "--baseline", str(baseline), "--write-baseline", str(baseline))
    assert ran.code == 0, ran.stderr
