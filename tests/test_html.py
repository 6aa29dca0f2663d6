"""The HTML report: self-contained, escaped, filterable, checked statically and in a real headless
Chromium (Debian's package; the browser tests are skipped, saying so, where it is not installed)."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from genesys_oauth_audit.findings import Evaluation
from genesys_oauth_audit.report import renderer
from genesys_oauth_audit.report.base import RunInfo
from genesys_oauth_audit.report.html import CSP, SCRIPT, STYLE
from tests.test_ci_reports import canonical

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
INJECTED = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'"><b id="injected">x</b>'


@pytest.fixture
def canon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Evaluation, RunInfo]:
    monkeypatch.chdir(tmp_path)
    return canonical(tmp_path)


@pytest.fixture
def page(canon: tuple[Evaluation, RunInfo], tmp_path: Path) -> Path:
    evaluation, info = canon
    out = tmp_path / "report.html"
    text = renderer("html")(evaluation, info)
    out.write_text(text, encoding="utf-8")
    return out


def nodes(doc: etree._Element, path: str) -> list[etree._Element]:
    """The elements an XPath selects (``xpath()`` may return anything; here it must be elements)."""
    found = doc.xpath(path)
    assert isinstance(found, list), found
    elements = [node for node in found if isinstance(node, etree._Element)]
    assert len(elements) == len(found), found
    return elements


def texts(doc: etree._Element, path: str) -> list[str]:
    """The strings an XPath selects (text nodes, attribute values)."""
    found = doc.xpath(path)
    assert isinstance(found, list), found
    strings = [node for node in found if isinstance(node, str)]
    assert len(strings) == len(found), found
    return strings


def sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_self_contained_with_a_strict_policy(page: Path) -> None:
    text = page.read_text()
    doc = lxml_html.fromstring(text)
    assert not nodes(doc, "//link | //iframe | //object | //embed | //img | //*[@src]")
    assert not re.search(r"(?i)(https?:)?//[a-z0-9]", " ".join(texts(doc, "//@href | //@action")))
    assert "@import" not in text and "url(" not in text
    [csp] = texts(doc, '//meta[@http-equiv="Content-Security-Policy"]/@content')
    assert csp == CSP and "default-src 'none'" in csp
    assert sha(SCRIPT) in csp and sha(STYLE) in csp
    [script] = nodes(doc, "//script")
    assert script.text == SCRIPT  # the only script, exactly the hashed one


def test_org_text_is_escaped(page: Path) -> None:
    doc = lxml_html.fromstring(page.read_text())
    assert len(nodes(doc, "//script")) == 1  # no script from a client name
    assert not nodes(doc, '//b[contains(., "bold")]')  # **bold** and <b> in names stay text
    cells = " ".join(texts(doc, "//td//text()"))
    assert "<script>alert(1)</script>" in cells  # shown as text
    assert "\x1b" not in page.read_text() and "\u202e" not in page.read_text()


def test_rows_carry_what_the_filters_need(page: Path, canon: tuple[Evaluation, RunInfo]) -> None:
    evaluation, info = canon
    doc = lxml_html.fromstring(page.read_text())
    rows = nodes(doc, '//table[@id="findings"]/tbody/tr')
    assert len(rows) == len(info.reported(evaluation))
    assert {r.get("data-severity") for r in rows} == {"critical", "high", "medium", "low", "info"}
    assert sum(r.get("data-waived") == "1" for r in rows) == 1
    assert texts(doc, '//select[@id="f-rule"]/option/@value')[1:] == sorted(
        {r.get("data-rule", "") for r in rows}
    )


def _dom(page: Path, fragment: str, tmp_path: Path) -> str:
    if CHROMIUM is None:
        pytest.skip(
            "no Chromium on this machine (apt-get install chromium): the browser checks did not run"
        )
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--dump-dom",
            f"{page.as_uri()}#{fragment}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def test_in_a_browser_the_filters_work(page: Path, tmp_path: Path) -> None:
    dom = lxml_html.fromstring(_dom(page, "severity=high&rule=C-1", tmp_path))
    rows = nodes(dom, '//table[@id="findings"]/tbody/tr')
    visible = [r for r in rows if r.get("hidden") is None]
    assert visible and all(
        r.get("data-rule") == "C-1" and r.get("data-waived") == "0" for r in visible
    )
    shown = texts(dom, '//*[@id="shown"]/text()')
    assert shown == [str(len(visible))]  # the script ran and counted
    everything = lxml_html.fromstring(_dom(page, "severity=info&waived=1", tmp_path))
    assert all(
        r.get("hidden") is None for r in nodes(everything, '//table[@id="findings"]/tbody/tr')
    )


def test_in_a_browser_no_injected_script_runs(
    canon: tuple[Evaluation, RunInfo], tmp_path: Path
) -> None:
    from genesys_oauth_audit.engine.evaluate import evaluate
    from genesys_oauth_audit.findings import Subject
    from genesys_oauth_audit.inventory import Client, Inventory
    from genesys_oauth_audit.policy.loader import load_policies

    _, info = canon
    policies = load_policies(("canonical.yaml",))
    client = Client(
        id="x-1",
        name=INJECTED,
        description=INJECTED,
        grant_type="CODE",
        scopes=("admin:" + INJECTED,),
    )
    evaluation = evaluate(
        policies,
        Inventory(clients=(client,)),
        today=info.generated_at.date(),
        subjects=[Subject(client)],
    )
    page = tmp_path / "hostile.html"
    page.write_text(renderer("html")(evaluation, info), encoding="utf-8")
    dom = _dom(page, "", tmp_path)
    doc = lxml_html.fromstring(dom)
    assert texts(doc, "//title/text()") == ["genesys-oauth-audit: FAIL"]  # not "pwned"
    assert not nodes(doc, '//*[@id="injected"]') and not nodes(doc, "//img")
    assert INJECTED in " ".join(texts(doc, '//table[@id="findings"]//td//text()'))
