"""The README and docs/ as a reader meets them: self-contained, with links that resolve and shell
examples that run as written.

Every ``genesys-oauth-audit`` command in a fenced ``sh``, ``bash`` or ``console`` block of README.md
and docs/*.md is run through a shell by the installed entry point, in document order, in one working
directory per document (so a snapshot one block fetches is there for the next), beside the
repository's examples/ and policies/. Commands that talk to an org reach the fake Genesys Cloud over
loopback, with the auditor's credentials in the environment as a reader would set them.

Conventions the docs follow (the reader sees them too):
- a command exits 0 unless its trailing comment says ``exit N`` or ``exits N``;
- in a ``console`` block, commands start with ``$ `` and the lines after them are output, each of
  which must appear in what the command printed (``...`` elides; the version may differ);
- ``<!-- not-run: REASON -->`` just before a block skips it, with the reason in the test report;
  ``<!-- run: offline -->`` runs it with no org credentials in the environment (as its prose says).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fake.orgdata import sample_fake
from tests.helpers import CLIENT_ID, ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
TOOL = shutil.which("genesys-oauth-audit", path=str(BIN)) or shutil.which("genesys-oauth-audit")

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[\w-]*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>.+?)\s*-->\s*$")
OFFLINE = re.compile(r"^\s*<!--\s*run:\s*offline\s*-->\s*$")
EXPECTED_EXIT = re.compile(r"#.*\bexits? (?P<code>\d)\b")
VERSION = re.compile(r"genesys-oauth-audit \d+\.\d+\.\d+\S*:")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass
class Command:
    line: int
    text: str  # as a shell reads it: continuations joined, trailing comment kept
    exit_code: int
    output: list[str] = field(default_factory=list)  # console blocks: the lines shown after it


@dataclass
class Block:
    document: Path
    line: int
    info: str
    skip: str | None
    offline: bool
    commands: list[Command]


def _command(first: int, text: str) -> Command:
    expected = EXPECTED_EXIT.search(text)
    return Command(first, text, int(expected["code"]) if expected else 0)


def blocks(document: Path) -> list[Block]:
    """The shell blocks of a Markdown file and the tool's commands in them."""
    lines = document.read_text().splitlines()
    found: list[Block] = []
    number = 0
    while number < len(lines):
        fence = FENCE.match(lines[number])
        if not fence:
            number += 1
            continue
        start, info = number, fence["info"]
        body: list[tuple[int, str]] = []
        number += 1
        while number < len(lines) and not FENCE.match(lines[number]):
            body.append((number + 1, lines[number].strip()))
            number += 1
        number += 1  # the closing fence
        if info not in ("sh", "bash", "console"):
            continue
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        skip = NOT_RUN.match(before)
        commands: list[Command] = []
        pending: tuple[int, str] | None = None
        for line_number, text in body:
            if pending is not None:  # a continuation of the previous command
                first, joined = pending[0], pending[1] + " " + text.removesuffix("\\").strip()
                pending = (first, joined) if text.endswith("\\") else None
                if pending is None:
                    commands.append(_command(first, joined))
                continue
            shown = text.removeprefix("$ ") if info == "console" else text
            if info == "console" and not text.startswith("$ "):
                if commands and text:
                    commands[-1].output.append(text)
                continue
            if not shown.startswith("genesys-oauth-audit"):
                continue
            if shown.endswith("\\"):
                pending = (line_number, shown[:-1].strip())
            else:
                commands.append(_command(line_number, shown))
        found.append(
            Block(
                document,
                start + 1,
                info,
                skip["reason"] if skip else None,
                bool(OFFLINE.match(before)),
                commands,
            )
        )
    return found


def test_the_examples_are_found() -> None:
    """The extraction itself: the blocks the docs are known to hold, with their conventions."""
    readme = blocks(ROOT / "README.md")
    commands = [c for b in readme for c in b.commands]
    assert len(commands) >= 8
    [transcript] = [c for c in commands if "policies/tutorial.yaml" in c.text]
    assert transcript.exit_code == 1
    assert any(line.startswith("Result: FAIL (--fail-on low)") for line in transcript.output)
    assert [b.offline for b in readme if any("--proposed" in c.text for c in b.commands)] == [True]
    [continued] = [c for c in commands if "--sarif-output results.sarif --junit-output" in c.text]
    assert continued.text.endswith("--fail-on high   # exit 1: critical and high findings")
    recipes = blocks(ROOT / "docs" / "ci-recipes.md")
    assert [b.skip for b in recipes if b.commands] == [
        "needs the snapshot an earlier scheduled run kept"
    ]
    every = [b for d in DOCUMENTS for b in blocks(d)]
    skipped = [b for b in every if b.skip and b.commands]
    assert len(skipped) <= 2, "keep skipped examples few"
    assert sum(len(b.commands) for b in every if not b.skip) >= 14


def _document_id(document: Path) -> str:
    return _rel(document)


@pytest.mark.socket
@pytest.mark.skipif(
    TOOL is None, reason="the genesys-oauth-audit command is not installed in this environment"
)
@pytest.mark.parametrize(
    "document",
    [d for d in DOCUMENTS if any(b.commands for b in blocks(d))],
    ids=_document_id,
)
def test_shell_examples_run_as_documented(document: Path, tmp_path: Path) -> None:
    for name in ("examples", "policies", "schemas"):
        (tmp_path / name).symlink_to(ROOT / name)
    runnable = [b for b in blocks(document) if b.commands]
    for block in runnable:
        if block.skip:
            print(f"{_rel(document)}:{block.line}: not run: {block.skip}")
    fake = sample_fake(usage_running_polls=0)
    secret = fake.credentials[CLIENT_ID]
    failures: list[str] = []
    with fake.serve() as base:
        # COLUMNS would widen the text report past the transcripts' 80 columns.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GENESYSCLOUD_") and k != "COLUMNS"
        }
        env.update(
            {
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "GENESYSCLOUD_REGION": base,
                "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": secret,
                "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
                "NO_COLOR": "1",
            }
        )
        for block in runnable:
            if block.skip:
                continue
            for command in block.commands:
                ran = subprocess.run(
                    ["bash", "-c", command.text],
                    cwd=tmp_path,
                    env={k: v for k, v in env.items() if not k.startswith("GENESYSCLOUD_")}
                    if block.offline
                    else env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                where = f"{_rel(document)}:{command.line}: {command.text}"
                assert secret not in ran.stdout + ran.stderr, where
                if ran.returncode != command.exit_code:
                    failures.append(
                        f"{where}\n  exited {ran.returncode}, the docs say {command.exit_code}"
                        f"\n  {ran.stderr.strip()[:500]}"
                    )
                    continue
                # Compared without indentation: the Markdown block's lines are read stripped.
                printed = {
                    VERSION.sub("@", line.strip())
                    for line in (ran.stdout + "\n" + ran.stderr).splitlines()
                }
                missing = [
                    line
                    for line in command.output
                    if line != "..." and VERSION.sub("@", line) not in printed
                ]
                if missing:
                    failures.append(f"{where}\n  printed no line {missing[0]!r}")
    assert failures == [], "\n".join(failures)


# -- self-contained ---------------------------------------------------------------------------------

LINK = re.compile(r"\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


# Generated from src/genesys_oauth_audit/engine/checks.py, whose docstring of max-days-unused still
# cites the internal specification; the src side rewrites it (then this mark must go: strict).
def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = "".join(ch for ch in text if ch in " -" or unicodedata.category(ch)[0] in "LN")
    return text.replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", document.read_text(), flags=re.M)
    return {_slug(h) for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
def test_docs_reference_nothing_outside_the_repository(document: Path) -> None:
    text = document.read_text()
    assert "SPEC §" not in text, "the internal specification is not published"
    assert not re.search(r"(?<![\w.-])shared/", text), "shared/ is not in the repository"


@pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for match in LINK.finditer(document.read_text()):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, …
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


def test_link_checks_have_teeth(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A page\n\nSee [x](missing.md), [y](page.md#nowhere), [z](#a-page).\n")
    assert re.findall(LINK, page.read_text()) == ["missing.md", "page.md#nowhere", "#a-page"]
    assert _anchors(page) == {"a-page"}
    assert _slug("Installing in CI: a pinned release, never a bare name") == (
        "installing-in-ci-a-pinned-release-never-a-bare-name"
    )


def test_writing_policies_shows_the_example_file_itself() -> None:
    """The policy the guide shows is the file its commands run, byte for byte."""
    guide = (ROOT / "docs" / "writing-policies.md").read_text()
    example = (ROOT / "examples" / "policies" / "northwind.yaml").read_text()
    assert f"```yaml\n{example}```\n" in guide
    assert (ROOT / "examples" / "policies" / "team-rules.yaml").exists()
