"""Hostile input files end in exit 2 with the file and a location, never "internal error": nesting
200,000 levels deep, ``/dev/zero``, an 8 GB sparse file, an endless FIFO, a lone surrogate."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, SAMPLE_SNAPSHOT, Ran

Run = Callable[..., Ran]
DEEP = 200_000
MINIMAL_POLICY = (
    "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
    "  - {id: R-1, title: t, check: {type: max-scopes, max: 1}}\n"
)


def refused(ran: Ran, message: str) -> None:
    """Exit 2, the message on one line of stderr, no traceback, no result on stdout (``test``
    prints its empty tally)."""
    assert ran.code == 2, (ran.code, ran.stderr)
    assert message in ran.stderr, ran.stderr
    assert "internal error" not in ran.stderr and "Traceback" not in ran.stderr
    assert ran.stdout in ("", "0 passed, 0 failed\n")


def deep_json(key: str = "x") -> str:
    return '{"' + key + '": ' + "[" * DEEP + "]" * DEEP + "}"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL_POLICY)
    return path


# -- nesting -------------------------------------------------------------------------------------


def test_a_deeply_nested_policy_is_refused_where_it_goes_too_deep(
    run_cli: Run, tmp_path: Path
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules: " + "[" * DEEP)
    assert path.stat().st_size < 2 * 1024 * 1024
    refused(run_cli("validate", str(path)), f"{path}:3:107: error: nested deeper than 100 levels")


def test_a_deeply_nested_block_yaml_policy_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("".join(" " * i + f"k{i}:\n" for i in range(400)))
    refused(run_cli("validate", str(path)), f"{path}:101:101: error: nested deeper than 100 levels")


def test_aliases_cannot_stack_nesting_past_the_limit(run_cli: Run, tmp_path: Path) -> None:
    lines = ["a0: &a0 " + "[" * 60 + "]" * 60]
    lines += [f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]" for i in range(1, 12)]
    path = tmp_path / "aliases.yaml"
    path.write_text("\n".join(lines) + "\n")
    refused(
        run_cli("validate", str(path)),
        f"{path}:1:1: error: nested deeper than 100 levels through aliases",
    )


def test_a_deeply_nested_policy_test_file_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "deep.test.yaml"
    path.write_text("apiVersion: genesys-oauth-audit/v1\nkind: PolicyTest\ncases: " + "[" * DEEP)
    refused(run_cli("test", str(path)), f"{path}:3:107: error: nested deeper than 100 levels")


def test_a_deeply_nested_snapshot_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(
        '{"kind": "genesys-oauth-audit/inventory", "schemaVersion": 1, "org": '
        + "[" * DEEP
        + "]" * DEEP
        + ', "clients": []}'
    )
    out = tmp_path / "r.json"
    ran = run_cli(
        "check", "-p", "builtin:tutorial", "--inventory", str(path), "--json-output", str(out)
    )
    refused(ran, f"{path}:1:169: error: nested deeper than 100 levels")
    assert not out.exists()


@pytest.mark.parametrize("depth", [150, 900])
def test_a_snapshot_nested_deeper_than_the_limit_but_parseable_is_refused(
    run_cli: Run, tmp_path: Path, depth: int
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(
        '{"kind": "genesys-oauth-audit/inventory", "schemaVersion": 1, "org": '
        + "[" * depth
        + "]" * depth
        + ', "clients": []}'
    )
    refused(
        run_cli("check", "-p", "builtin:tutorial", "--inventory", str(path)),
        "nested deeper than 100 levels",
    )


def test_a_deeply_nested_baseline_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(deep_json("findings"))
    ran = run_cli(
        "check",
        "-p",
        "builtin:tutorial",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--baseline",
        str(path),
    )
    refused(ran, f"{path}:1:113: error: nested deeper than 100 levels")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_deeply_nested_proposal_is_refused(run_cli: Run, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text(deep_json("name") if suffix == ".json" else "name: " + "[" * DEEP)
    column = 109 if suffix == ".json" else 106
    refused(
        run_cli("check", "-p", "builtin:baseline", "--proposed", str(path)),
        f"{path}:1:{column}: error: nested deeper than 100 levels",
    )


def test_a_deeply_nested_plan_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(
        '{"format_version": "1.2", "resource_changes": [{"change": {"after_unknown": '
        + "[" * 150
        + "]" * 150
        + "}}]}"
    )
    refused(
        run_cli("check", "-p", "builtin:baseline", "--proposed", str(path)),
        "nested deeper than 100 levels",
    )


def test_a_deeply_nested_diff_input_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(deep_json())
    refused(run_cli("diff", str(path), str(SAMPLE_SNAPSHOT)), f"{path}:1:106: error: nested deeper")


def test_nan_and_infinity_are_not_json(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text('{"kind": "genesys-oauth-audit/baseline", "version": 1,\n "findings": NaN}')
    ran = run_cli(
        "check",
        "-p",
        "builtin:tutorial",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--baseline",
        str(path),
    )
    refused(ran, f"{path}:2:14: error: not valid JSON: NaN is not a JSON number")


# -- sizes: /dev/zero, sparse files, FIFOs -------------------------------------------------------


def _inputs(tmp_path: Path, policy: Path, hostile: str) -> dict[str, list[str]]:
    return {
        "policy": ["validate", hostile],
        "snapshot": ["check", "-p", str(policy), "--inventory", hostile],
        "baseline": [
            "check",
            "-p",
            str(policy),
            "--inventory",
            str(SAMPLE_SNAPSHOT),
            "--baseline",
            hostile,
        ],
        "proposal": ["check", "-p", str(policy), "--proposed", hostile],
        "diff": ["diff", hostile, str(SAMPLE_SNAPSHOT)],
        "policy test": ["test", hostile],
    }


KINDS = ["policy", "snapshot", "baseline", "proposal", "diff", "policy test"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("kind", KINDS)
def test_dev_zero_as_any_input_is_refused_at_once(
    run_cli: Run, tmp_path: Path, policy: Path, kind: str
) -> None:
    args = _inputs(tmp_path, policy, "/dev/zero")[kind]
    if kind == "policy test":
        test_file = tmp_path / "z.test.yaml"
        test_file.write_text(
            f"apiVersion: genesys-oauth-audit/v1\nkind: PolicyTest\npolicies: [{policy}]\n"
            "inventoryFile: /dev/zero\ncases: [{name: n, client: x, expect: []}]\n"
        )
        args = ["test", str(test_file)]
    refused(run_cli(*args), "/dev/zero: error: not a text file: a NUL byte at offset 0")


@pytest.mark.parametrize("kind", KINDS[:5])
def test_an_8_gb_sparse_file_is_refused_by_its_size(
    run_cli: Run, tmp_path: Path, policy: Path, kind: str
) -> None:
    sparse = tmp_path / "sparse.json"
    with sparse.open("wb") as handle:
        handle.truncate(8 * 1024**3)
    refused(
        run_cli(*_inputs(tmp_path, policy, str(sparse))[kind]),
        f"{sparse}: error: file is {8 * 1024**3} bytes; a ",
    )


@contextlib.contextmanager
def fifo_fed(path: Path, chunk: bytes, *, endless: bool) -> Iterator[threading.Thread]:
    """A FIFO at ``path`` with a writer thread: ``chunk`` once, or forever until the reader
    closes (the writer then gets EPIPE and stops)."""
    os.mkfifo(path)

    def write() -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            fd = os.open(path, os.O_WRONLY)
            try:
                while True:
                    os.write(fd, chunk)
                    if not endless:
                        break
            finally:
                os.close(fd)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield writer
    writer.join(timeout=30)
    assert not writer.is_alive(), "the tool kept the FIFO open"


def test_an_endless_fifo_as_a_policy_is_read_up_to_the_cap(run_cli: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "policy.fifo"
    with fifo_fed(fifo, b"# " + b"a" * 65534, endless=True):
        ran = run_cli("validate", str(fifo))
    refused(ran, f"{fifo}: error: more than {2 * 1024 * 1024} bytes; a policy file may be at most")


@pytest.mark.parametrize("kind", KINDS[1:5])
def test_an_endless_fifo_of_zeros_as_any_input_is_refused(
    run_cli: Run, tmp_path: Path, policy: Path, kind: str
) -> None:
    fifo = tmp_path / "input.fifo"
    with fifo_fed(fifo, b"\0" * 65536, endless=True):
        ran = run_cli(*_inputs(tmp_path, policy, str(fifo))[kind])
    refused(ran, f"{fifo}: error: not a text file: a NUL byte at offset 0")


def test_a_fifo_holding_a_good_policy_is_read(run_cli: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "policy.fifo"
    with fifo_fed(fifo, MINIMAL_POLICY.encode(), endless=False):
        ran = run_cli("validate", str(fifo))
    assert ran.code == 0 and "ok (1 rules" in ran.stdout


def test_a_directory_as_an_input_is_refused(run_cli: Run, tmp_path: Path) -> None:
    refused(
        run_cli("check", "-p", str(tmp_path), "--inventory", str(SAMPLE_SNAPSHOT)),
        f"cannot read policy file {tmp_path}: is a directory",
    )
    # validate and test take a directory for the files under it; here there are none
    refused(run_cli("validate", str(tmp_path)), "no policy files")
    refused(run_cli("test", str(tmp_path)), "no policy test files")


# -- snapshots that are not a complete audit -----------------------------------------------------


def test_a_snapshot_without_clients_is_refused(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"kind": "genesys-oauth-audit/inventory", "schemaVersion": 1}')
    sarif = tmp_path / "r.sarif"
    ran = run_cli(
        "check", "-p", "builtin:baseline", "--inventory", str(path), "--sarif-output", str(sarif)
    )
    refused(ran, f'{path}:1:1: error: not a complete snapshot: the "clients" list is missing')
    assert not sarif.exists()
    refused(run_cli("diff", str(path), str(SAMPLE_SNAPSHOT)), 'the "clients" list is missing')


def test_duplicate_client_ids_in_a_snapshot_are_refused_naming_both_lines(
    run_cli: Run, tmp_path: Path
) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["clients"].append(dict(data["clients"][0], name="Impostor"))
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, indent=2))
    client_id = data["clients"][0]["id"]
    lines = [
        i
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip() == f'"id": "{client_id}",'
    ]
    assert len(lines) == 2
    out = tmp_path / "r.json"
    ran = run_cli(
        "check", "-p", "builtin:tutorial", "--inventory", str(path), "--json-output", str(out)
    )
    refused(
        ran,
        f"{path}:{lines[1]}:7: error: duplicate client id '{client_id}' (first at line {lines[0]})",
    )
    assert not out.exists()


@pytest.mark.parametrize("kind", ["snapshot", "diff", "baseline", "plan", "merge"])
def test_a_key_named_twice_is_refused_where_it_is_named_again(
    run_cli: Run, tmp_path: Path, policy: Path, kind: str
) -> None:
    """JSON readers keep one value of a key named twice (Python's the last): a second
    ``"clients": []`` would empty the org and pass the gate, a second ``resource_changes`` hide
    a plan's clients. Every JSON input refuses it, at the second name (snapshots too, whose fast
    reader keeps the last value)."""
    path = tmp_path / "input.json"
    if kind in ("snapshot", "diff"):
        text = SAMPLE_SNAPSHOT.read_text().rstrip()
        assert text.endswith("}")
        path.write_text(text[:-1] + ',\n  "clients": []\n}\n')
        dup = "clients"
    elif kind == "baseline":
        path.write_text(
            '{"kind": "genesys-oauth-audit/baseline", "version": 1, "findings": [],\n'
            ' "findings": []}\n'
        )
        dup = "findings"
    elif kind == "plan":
        text = (ROOT / "examples" / "terraform" / "plan.json").read_text().rstrip()
        path.write_text(text[:-1] + ',\n  "resource_changes": []\n}\n')
        dup = "resource_changes"
    else:
        path.write_text('{"tool": {"name": "genesys-oauth-audit"},\n "tool": {}}\n')
        dup = "tool"
    line = max(i for i, text in enumerate(path.read_text().splitlines(), 1) if f'"{dup}"' in text)
    commands = {
        "snapshot": ["check", "-p", str(policy), "--inventory", str(path)],
        "diff": ["diff", str(SAMPLE_SNAPSHOT), str(path)],
        "baseline": _inputs(tmp_path, policy, str(path))["baseline"],
        "plan": ["check", "-p", str(policy), "--proposed", str(path)],
        "merge": ["merge", str(path)],
    }
    ran = run_cli(*commands[kind])
    refused(ran, f"{path}:{line}:")
    assert f"duplicate key {dup!r} (first at line" in ran.stderr, ran.stderr


# -- text that is not valid Unicode --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown", "html"])
def test_a_lone_surrogate_in_a_client_id_crashes_no_format(
    run_cli: Run, tmp_path: Path, fmt: str
) -> None:
    """A finding's fingerprint hashes the client id: an id with a lone surrogate is hashed as it
    came (not "internal error"), and its findings reach every format and the baseline."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["clients"][0]["id"] = "id-\ud800"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    out = tmp_path / f"r.{fmt}"
    baseline = tmp_path / "baseline.json"
    args = ["check", "-p", "builtin:baseline", "--inventory", str(path), "--format", fmt]
    ran = run_cli(*args, f"--{fmt}-output", str(out), "--write-baseline", str(baseline))
    assert "internal error" not in ran.stderr and ran.code in (0, 1), ran.stderr
    kept = json.loads(baseline.read_text())["findings"]
    assert any(f["clientId"] == "id-\ud800" for f in kept)
    again = run_cli(*args, "--baseline", str(baseline))
    assert again.code == 0, again.stderr  # every finding is known: the fingerprints are stable


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown", "html"])
def test_a_lone_surrogate_in_a_snapshot_crashes_no_format(
    run_cli: Run, tmp_path: Path, fmt: str
) -> None:
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["clients"][0]["name"] = "Bad \ud800 name"
    data["clients"][0]["description"] = ""
    data["org"]["name"] = "Org \udfff"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))  # ensure_ascii: the file holds the \\ud800 escape
    out = tmp_path / f"r.{fmt}"
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(path),
        "--format",
        fmt,
        f"--{fmt}-output",
        str(out),
    )
    assert ran.code == 1, ran.stderr
    assert "internal error" not in ran.stderr
    written = out.read_text(encoding="utf-8")
    assert "\ud800" not in ran.stdout and "\ud800" not in written
    if fmt in ("json", "sarif"):
        names = json.dumps(json.loads(written))
        assert "\\ud800" in names  # JSON carries the name exactly, as an escape
    else:
        assert "\\ud800" in written  # shown as a visible escape
    diff = run_cli("diff", str(SAMPLE_SNAPSHOT), str(path))
    assert diff.code == 1 and "\\ud800" in diff.stdout


# -- times the checks cannot count with --------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("fetchedAt", "0001-01-01T00:00:00+14:00"),
        ("fetchedAt", "9999-12-31T23:59:59-23:59"),
        ("dateCreated", "0001-01-01T00:00:00+14:00"),
        ("dateToDelete", "9999-12-31T23:59:59-23:59"),
        ("lastUsed", "0001-01-01"),
    ],
)
def test_a_time_the_checks_cannot_count_from_is_refused_where_it_is(
    run_cli: Run, tmp_path: Path, where: str, value: str
) -> None:
    """Converting a year-1 time to UTC, or counting days back from it, overflows: such a value is
    refused at its place (exit 2), not an internal error."""
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    if where == "fetchedAt":
        data["fetchedAt"] = value
    else:
        data["clients"][0][where] = value
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, indent=2))
    ran = run_cli("check", "-p", "builtin:strict", "--inventory", str(path))
    refused(ran, f"{where}: Input should be ")
    assert f'(got "{value}")' in ran.stderr


@pytest.mark.parametrize(
    "flag", ["--as-of 0001-01-01", "--as-of 9999-12-31", "--now 0001-01-01T00:00:00Z", "--now soon"]
)
def test_a_day_the_checks_cannot_count_from_is_a_usage_error(run_cli: Run, flag: str) -> None:
    ran = run_cli(
        "check", "-p", "builtin:strict", "--inventory", str(SAMPLE_SNAPSHOT), *flag.split()
    )
    assert ran.code == 2, ran.stderr
    assert f"Invalid value for {flag.split()[0]}" in ran.stderr
    assert "internal error" not in ran.stderr


# -- paths that lead nowhere ---------------------------------------------------------------------

INCLUDING = (
    "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nmetadata: {name: p}\n"
    "include: [%s]\nrules:\n  - {id: P-001, title: t, check: {type: orphan-scopes}}\n"
)


def test_an_include_through_a_symlink_loop_is_refused_where_it_is_named(
    run_cli: Run, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    policy = tmp_path / "p.yaml"
    policy.write_text(INCLUDING % "a.yaml")
    refused(
        run_cli("validate", str(policy)),
        f"{policy}:4:11: error: cannot read policy file {tmp_path / 'a.yaml'}: a symbolic link "
        "that leads nowhere",
    )
    refused(run_cli("validate", str(tmp_path / "a.yaml")), "a symbolic link that leads nowhere")


def test_a_path_with_a_nul_character_is_refused_where_it_is_named(
    run_cli: Run, tmp_path: Path
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(INCLUDING % '"a\\0b.yaml"')
    refused(run_cli("validate", str(policy)), f"{policy}:4:11: error: cannot read policy file")
    test = tmp_path / "t.test.yaml"
    test.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: PolicyTest\npolicies: [builtin:tutorial]\n"
        'inventoryFile: "x\\0"\ncases:\n  - {name: c, client: A, expect: []}\n'
    )
    ran = run_cli("test", str(test))
    refused(ran, "a file name holds no NUL character")
