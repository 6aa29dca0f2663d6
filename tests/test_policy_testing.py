"""The policy test runner (SPEC §6), the shipped packs' own tests, and `explain`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DATA, ROOT, Run

PACK_TESTS = sorted((ROOT / "policies" / "tests").glob("*.test.yaml"))
HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: PolicyTest\n"
INVENTORY = """
inventory:
  scopes: [users, users:readonly]
  clients:
    - {name: App One, grantType: CODE, scopes: ["admin:x", users]}
    - {name: App Two, grantType: CODE, scopes: [users:readonly]}
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.test.yaml"
    path.write_text(HEADER + f"policies: [builtin:tutorial]\ntoday: 2026-11-20\n{INVENTORY}" + body)
    return path


@pytest.mark.parametrize("path", PACK_TESTS, ids=lambda p: p.name)
def test_shipped_packs_pass_their_own_tests(run_cli: Run, path: Path) -> None:
    ran = run_cli("test", str(path))
    assert ran.code == 0, ran.stdout + ran.stderr
    assert ran.stdout.rstrip().endswith(" failed") and " 0 failed" in ran.stdout


def test_every_pack_has_tests() -> None:
    names = {p.name.removesuffix(".test.yaml") for p in PACK_TESTS}
    packs = {p.stem for p in (ROOT / "policies").glob("*.yaml")}
    assert packs <= names
    # more test files of a pack are named after it (baseline-cis: the baseline under CIS only)
    assert all(any(name == p or name.startswith(p + "-") for p in packs) for name in names)


def test_every_check_type_and_selector_give_the_spec_findings(run_cli: Run) -> None:
    ran = run_cli("test", str(DATA / "policy-tests"))
    assert ran.code == 0, ran.stdout + ran.stderr
    assert "12 passed, 0 failed" in ran.stdout


def test_a_failing_case_shows_what_differed_and_exits_1(run_cli: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """cases:
  - name: wrong expectation
    client: App One
    expect: [{rule: GOA-TUT-001, subject: "admin:y"}]
  - {name: right expectation, client: App Two, expect: []}
""",
    )
    ran = run_cli("test", str(path))
    assert ran.code == 1
    lines = ran.stdout.splitlines()
    assert "  FAIL  wrong expectation" in lines and "  PASS  right expectation" in lines
    assert any(
        line.strip().startswith("unexpected: GOA-TUT-001 subject='admin:x'") for line in lines
    )
    assert any(
        line.strip().startswith("unexpected: GOA-TUT-002 subject='admin:x'") for line in lines
    )
    assert "        missing:    GOA-TUT-001 subject='admin:y'" in lines
    assert lines[-1] == "1 passed, 1 failed"


def test_not_evaluated_expectation(run_cli: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path, "notEvaluated: [GOA-TUT-002]\ncases: [{name: c, client: App Two, expect: []}]\n"
    )
    ran = run_cli("test", str(path))
    assert ran.code == 1 and "rules not evaluated: expected ['GOA-TUT-002'], got []" in ran.stdout


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "cases: [{name: c, client: App Three, expect: []}]\n",
            "names client 'App Three', which is not in the inventory; did you mean 'App Two'?",
        ),
        (
            "cases: [{name: c, client: App One, expect: [{rule: GOA-TUT-003}]}]\n",
            "rule 'GOA-TUT-003' is not in the policies under test; did you mean",
        ),
        (
            "cases: [{name: c, client: App One, rules: [X], expect: []}]\n",
            "rule 'X' is not in the policies under test",
        ),
        (
            "cases: [{name: c, client: App One, expct: []}]\n",
            "unknown key 'expct' in cases[0]; did you mean 'expect'?",
        ),
        (
            "inventoryFile: x.json\ncases: [{name: c, client: App One, expect: []}]\n",
            "give exactly one of inventory (inline) or inventoryFile",
        ),
        ("cases: []\n", "cases: must not be empty"),
    ],
)
def test_bad_test_files_exit_2_with_a_location(
    run_cli: Run, tmp_path: Path, body: str, message: str
) -> None:
    ran = run_cli("test", str(write(tmp_path, body)))
    assert ran.code == 2, ran.stdout
    assert message in ran.stderr
    assert f"{tmp_path / 't.test.yaml'}:" in ran.stderr


def test_inline_clients_are_checked_by_the_inventory_model(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "t.test.yaml"
    path.write_text(
        HEADER
        + "policies: [builtin:tutorial]\ninventory:\n  clients:\n    - {name: A, grantType: CODE, scops: [x]}\ncases: [{name: c, client: A, expect: []}]\n"
    )
    ran = run_cli("test", str(path))
    assert (
        ran.code == 2
        and f"{path}:6:34: error: inventory.clients.0.scops: unknown key" in ran.stderr
    )


def test_no_test_files(run_cli: Run, tmp_path: Path) -> None:
    ran = run_cli("test", str(tmp_path))
    assert ran.code == 2 and "no policy test files" in ran.stderr


def test_explain_shows_the_whole_rule(run_cli: Run) -> None:
    ran = run_cli("explain", "GOA-BL-011")
    assert ran.code == 0
    out = ran.stdout
    for expected in (
        "GOA-BL-011: No stale clients",
        "severity   medium",
        "defined at builtin:baseline:",
        "check      max-days-unused",
        "applies to clients whose state is one of active",
        "needs      usage",
        "What it checks:",
        "Why:",
        "What to do:",
        "PASS  {",
        "FAIL  {",
    ):
        assert expected in out, expected


def test_explain_lists_exceptions_and_suggests(run_cli: Run) -> None:
    path = str(DATA / "policies" / "valid" / "every-check.yaml")
    ran = run_cli("explain", "V-011", "-p", path)
    assert (
        ran.code == 0
        and "Exceptions:" in ran.stdout
        and "The deployer must manage clients" in ran.stdout
    )
    ran = run_cli("explain", "GOA-BL-01")
    assert ran.code == 2 and "did you mean" in ran.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("cases:\n  - {name: c, client: App One, expect: 1}\n", "cases[0].expect: expected a list"),
        (
            "cases:\n  - {name: c, client: App One, expect: true}\n",
            "cases[0].expect: expected a list",
        ),
        (
            "cases:\n  - {name: c, client: App One, expect: [{rule: GOA-TUT-001, subject: [x]}]}\n",
            "cases[0].expect[0].subject: expected a string or null, got a list",
        ),
        (
            "cases:\n  - {name: c, client: App One, expect: [{rule: GOA-TUT-001, subject: {a: 1}}]}\n",
            "cases[0].expect[0].subject: expected a string or null",
        ),
    ],
)
def test_an_expectation_of_the_wrong_shape_is_a_schema_error(
    run_cli: Run, tmp_path: Path, body: str, message: str
) -> None:
    """Not an internal error: the cases are not built from values the schema refused."""
    ran = run_cli("test", str(write(tmp_path, body)))
    assert ran.code == 2 and "internal error" not in ran.stderr, ran.stderr
    assert message in ran.stderr


@pytest.mark.parametrize(
    ("today", "usage", "message"),
    [
        ("2026-11-20", "  usage: {days: 740000}\n", "inventory.usage.days: 740000 days before"),
        (
            "2026-11-20",
            "  operationUsage: {days: 100000000000000000000}\n",
            "inventory.operationUsage.days: 100000000000000000000 days before",
        ),
        ("0001-01-01", "  usage: {days: 2}\n", "today: 0001-01-01 is not between 1900-01-01"),
    ],
)
def test_a_window_or_day_the_checks_cannot_count_with_is_refused(
    run_cli: Run, tmp_path: Path, today: str, usage: str, message: str
) -> None:
    path = tmp_path / "t.test.yaml"
    path.write_text(
        HEADER
        + f"policies: [builtin:tutorial]\ntoday: {today}\n"
        + INVENTORY.replace("inventory:\n", "inventory:\n" + usage)
        + "cases:\n  - {name: c, client: App One, expect: []}\n"
    )
    ran = run_cli("test", str(path))
    assert ran.code == 2 and "internal error" not in ran.stderr, ran.stderr
    assert message in ran.stderr
