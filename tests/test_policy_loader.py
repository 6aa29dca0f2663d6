"""Policy loading: data-driven valid/invalid folders, includes, limits, and the shipped packs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genesys_oauth_audit.checks.params import glob_problem
from genesys_oauth_audit.data import pack_names
from genesys_oauth_audit.errors import PolicyError
from genesys_oauth_audit.files import yamldoc
from genesys_oauth_audit.files.yamldoc import MAX_NODES
from genesys_oauth_audit.policy.loader import MAX_POLICY_BYTES, load_policies
from tests.helpers import DATA

POLICIES = DATA / "policies"
VALID = sorted((POLICIES / "valid").glob("*.yaml"))
INVALID = sorted((POLICIES / "invalid").glob("*.yaml"))
HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\n"


@pytest.fixture(autouse=True)
def _in_policies_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(POLICIES)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_policies_load(path: Path) -> None:
    load_policies((f"valid/{path.name}",))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_policies_fail_with_the_expected_messages(path: Path) -> None:
    expected = path.with_suffix(".expected.txt").read_text().splitlines()
    with pytest.raises(PolicyError) as err:
        load_policies((f"invalid/{path.name}",))
    assert [str(d) for d in err.value.diagnostics] == expected
    for d in err.value.diagnostics:  # every error names file, line and column
        assert d.path and d.line is not None and d.column is not None


def test_every_invalid_file_has_expectations() -> None:
    assert INVALID and all(p.with_suffix(".expected.txt").exists() for p in INVALID)


def test_includes_are_loaded_once_in_order() -> None:
    policies = load_policies(("valid/every-check.yaml",))
    ids = [r.id for r in policies.rules]
    assert ids[:3] == ["GOA-TUT-001", "GOA-TUT-002", "V-INC-001"]
    assert [f.path for f in policies.files] == [
        "valid/every-check.yaml",
        "builtin:tutorial",
        "valid/included.yaml",
    ]
    assert all(len(f.sha256) == 64 for f in policies.files)
    # the same file reached twice (a diamond) is loaded once, not reported as a duplicate
    twice = load_policies(("valid/every-check.yaml", "valid/included.yaml"))
    assert [r.id for r in twice.rules] == ids


def test_rule_ids_are_unique_across_files(tmp_path: Path) -> None:
    from genesys_oauth_audit.data import pack_path

    copy = tmp_path / "copy.yaml"
    copy.write_text(pack_path("tutorial").read_text())
    with pytest.raises(PolicyError, match="'GOA-TUT-001' is already defined at builtin:tutorial:"):
        load_policies(("valid/every-check.yaml", str(copy)))


def test_all_errors_of_several_files_at_once() -> None:
    with pytest.raises(PolicyError) as err:
        load_policies(("invalid/type-error.yaml", "invalid/unknown-key.yaml"))
    files = {d.path for d in err.value.diagnostics}
    assert files == {"invalid/type-error.yaml", "invalid/unknown-key.yaml"}


def test_missing_top_level_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"cannot read policy file .*No such file"):
        load_policies((str(tmp_path / "nope.yaml"),))


def test_no_policy_given() -> None:
    with pytest.raises(PolicyError, match="no policy given"):
        load_policies(())


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = [HEADER, 'a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 10) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    # Refused by the node budget, so after building MAX_NODES nodes, not the 10**9 of the
    # expansion (benchmarks/bench_audit.py times the refusal against loading a pack).
    with pytest.raises(PolicyError, match=f"more than {MAX_NODES} YAML nodes .an alias bomb"):
        load_policies((str(bomb),))


def test_oversized_policy_is_refused_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(HEADER + "# " + "x" * MAX_POLICY_BYTES + "\n")
    composed: list[str] = []
    real_compose = yamldoc.compose_text

    def spy(text: str) -> yaml.Node | None:
        composed.append(text)
        return real_compose(text)

    monkeypatch.setattr(yamldoc, "compose_text", spy)
    with pytest.raises(PolicyError, match="a policy file may be at most"):
        load_policies((str(big),))
    assert composed == []  # not parsed at all
    load_policies(("builtin:baseline",))
    assert composed, "the spy sees the parser when it does run"


def test_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(HEADER.encode() + "metadata: {name: caf\xe9}\n".encode("latin-1"))
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policies((str(bad),))


def test_nothing_in_a_policy_is_executed(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text(HEADER + "metadata: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PolicyError) as err:
        load_policies((str(evil),))
    assert "metadata" in str(err.value)


@pytest.mark.parametrize("name", pack_names())
def test_shipped_packs_load(name: str) -> None:
    policies = load_policies((f"builtin:{name}",))
    assert policies.rules
    for rule in policies.rules:
        assert rule.description and rule.remediation, (
            f"{rule.id} needs a description and a remediation"
        )


def test_shipped_packs_carry_the_schema_modeline() -> None:
    from genesys_oauth_audit.data import pack_path

    for name in pack_names():
        first = pack_path(name).read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        target = (pack_path(name).parent / first.split("$schema=", 1)[1]).resolve()
        assert target.name == "policy.schema.json" and target.is_file()


@pytest.mark.parametrize(
    ("glob", "ok"),
    [
        ("svc-*", True),
        ("[abc]x", True),
        ("[!a]", True),
        ("[]]", True),
        ("x[", False),
        ("a[b", False),
        ("[!", False),
    ],
)
def test_glob_problems(glob: str, ok: bool) -> None:
    assert (glob_problem(glob) is None) == ok
