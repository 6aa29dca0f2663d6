"""Every policy snippet in the documentation is real: each ```yaml block of docs/ and the README that
is a policy, a list of rules, a policy test or an orgs file is extracted and validated as the tool would, and the
cookbook's blocks are exactly the files CI runs. No example can drift from what the tool accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from genesys_oauth_audit.errors import PolicyError
from genesys_oauth_audit.policy.loader import BUILTIN_PREFIX, load_policies
from genesys_oauth_audit.policy.orgsfile import load_orgs_file
from genesys_oauth_audit.policy.schema import (
    API_VERSION,
    KIND,
    ORGS_KIND,
    TEST_KIND,
    policy_test_schema,
)
from tests.helpers import ROOT, Ran

DOCS = ROOT / "docs"
COOKBOOK = DOCS / "cookbook"
BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every YAML block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def documents() -> list[Path]:
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def kind_of(data: Any) -> str | None:
    """What a block is: a policy, a rule list (or a policy without its header), a policy test, or
    something else (a client in a check's example, a CI workflow)."""
    if isinstance(data, dict):
        if data.get("kind") == KIND:
            return "policy"
        if data.get("kind") == TEST_KIND:
            return "test"
        if data.get("kind") == ORGS_KIND:
            return "orgs"
        if "kind" not in data and ({"rules", "overrides", "exceptions"} & set(data)):
            return "fragment"
    if (
        isinstance(data, list)
        and data
        and all(isinstance(item, dict) and {"id", "check"} <= set(item) for item in data)
    ):
        return "rules"
    return None


SNIPPETS = [
    (doc, line, text)
    for doc in documents()
    for line, text in blocks(doc)
    if kind_of(yaml.safe_load(text)) is not None
]


def _as_policy(doc: Path, data: Any) -> dict[str, Any]:
    kind = kind_of(data)
    policy: dict[str, Any]
    if kind == "rules":
        policy = {"apiVersion": API_VERSION, "kind": KIND, "rules": data}
    elif kind == "fragment":
        policy = {"apiVersion": API_VERSION, "kind": KIND, **data}
    else:
        policy = dict(data)
    if kind != "policy" and "include" not in policy:
        # A fragment (a rule list, a lone exception) is read with the shipped packs, whose rules
        # it may name.
        policy["include"] = [BUILTIN_PREFIX + "strict", BUILTIN_PREFIX + "tutorial"]
    # Includes in a document are relative to it (docs/cookbook/… from docs/writing-policies.md).
    policy["include"] = [
        ref if ref.startswith(BUILTIN_PREFIX) else str((doc.parent / ref).resolve())
        for ref in policy.get("include", [])
    ]
    if not policy["include"]:
        del policy["include"]
    return policy


def _shown_file(text: str) -> Path | None:
    """The example policy file a block reproduces exactly, if it is one."""
    for candidate in (ROOT / "examples" / "policies").glob("*.yaml"):
        if candidate.read_text(encoding="utf-8") == text:
            return candidate
    return None


@pytest.mark.parametrize(
    ("doc", "line", "text"),
    SNIPPETS,
    ids=[f"{doc.relative_to(ROOT)}:{line}" for doc, line, _ in SNIPPETS],
)
def test_every_policy_snippet_is_valid(doc: Path, line: int, text: str, tmp_path: Path) -> None:
    data = yaml.safe_load(text)
    shown = _shown_file(text)
    if shown is not None:
        # The page shows a file of the repository byte for byte: validate that file where it
        # lives, so its relative includes resolve as they do for the reader who runs it.
        load_policies((str(shown),))
        return
    if kind_of(data) == "orgs":
        # An orgs file (many orgs): read as the tool reads one.
        path = tmp_path / "orgs.yaml"
        path.write_text(text, encoding="utf-8")
        load_orgs_file(path)
        return
    if kind_of(data) == "test":
        # A test names policies relative to where it would live: its shape is what can be checked
        # (PyYAML reads a date as a date; the tool reads it as text).
        if "today" in data:
            data["today"] = str(data["today"])
        validator = Draft202012Validator(policy_test_schema(), format_checker=FormatChecker())
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], f"{doc}:{line}: {errors}"
        return
    path = tmp_path / "snippet.yaml"
    path.write_text(yaml.safe_dump(_as_policy(doc, data), sort_keys=False), encoding="utf-8")
    try:
        load_policies((str(path),))
    except PolicyError as exc:
        pytest.fail(f"the policy snippet at {doc.relative_to(ROOT)}:{line} is invalid:\n{exc}")


def test_the_snippets_are_found() -> None:
    """The extraction sees the examples it is meant to guard (a renamed fence must not hide them)."""
    found = {doc.relative_to(ROOT).as_posix() for doc, _, _ in SNIPPETS}
    assert {
        "README.md",
        "docs/writing-policies.md",
        "docs/check-types.md",
        "docs/policy-cookbook.md",
        "docs/exceptions-and-baselines.md",
    } <= found, found
    writing = [t for d, _, t in SNIPPETS if d.name == "writing-policies.md"]
    assert any("overrides:" in t for t in writing) and any("any:" in t for t in writing)
    assert any("controls:" in t for t in writing)


def test_no_block_that_looks_like_a_policy_is_skipped() -> None:
    for doc in documents():
        for line, text in blocks(doc):
            data = yaml.safe_load(text)
            if kind_of(data) is None:
                assert "apiVersion: genesys-oauth-audit" not in text, f"{doc}:{line}"
                assert not re.search(r"^\s*-?\s*check:", text, re.MULTILINE), f"{doc}:{line}"


# -- the cookbook --------------------------------------------------------------------------------

RECIPES = sorted(p for p in COOKBOOK.glob("*.yaml") if not p.name.endswith(".test.yaml"))


def test_the_cookbook_has_at_least_fifteen_tested_recipes() -> None:
    assert len(RECIPES) >= 15
    for recipe in RECIPES:
        tests = list(COOKBOOK.glob(recipe.name.removesuffix(".yaml") + "*.test.yaml"))
        assert tests, f"{recipe.name} has no policy test"


def test_every_cookbook_block_is_a_file_that_runs() -> None:
    """The page shows each recipe exactly as the file CI tests, and every recipe is on the page."""
    shown = [text for _, text in blocks(DOCS / "policy-cookbook.md")]
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(COOKBOOK.glob("*.yaml"))}
    for text in shown:
        assert text in files.values(), f"a block of policy-cookbook.md matches no file:\n{text}"
    for recipe in RECIPES:
        assert files[recipe.name] in shown, f"{recipe.name} is not shown in policy-cookbook.md"


def test_the_cookbook_tests_pass(run_cli: Any) -> None:
    ran: Ran = run_cli("test", str(COOKBOOK))
    assert ran.code == 0, ran.stdout + ran.stderr
    assert re.search(r"^\d+ passed, 0 failed$", ran.stdout, re.MULTILINE), ran.stdout
