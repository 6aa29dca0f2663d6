"""Reports that a large org would make too large to open stay bounded, and say so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genesys_oauth_audit.report import html, renderer
from tests.helpers import SAMPLE_SNAPSHOT
from tests.test_ci_reports import canonical


def test_the_html_page_lists_at_most_its_cap_and_says_where_the_rest_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, info = canonical(tmp_path)
    reported = info.reported(evaluation)
    full = renderer("html")(evaluation, info)
    assert len(re.findall(r"<tr data-severity=", full)) == len(reported) > 3
    assert "This page lists" not in full

    monkeypatch.setattr(html, "MAX_FINDING_ROWS", 3)
    capped = renderer("html")(evaluation, info)
    rows = re.findall(r'<tr data-severity="(\w+)"', capped)
    assert rows == [f.severity.value for f in reported[:3]]  # the most severe first
    assert f"This page lists 3 of the {len(reported)} findings, the most severe first" in capped
    assert "<code>--json-output</code>" in capped
    # the counts still count every finding, and the rule filter offers every rule
    for rule in {f.rule_id for f in reported}:
        assert f'<option value="{rule}">' in capped


def test_the_text_block_says_which_reports_list_every_client() -> None:
    from dataclasses import replace

    from genesys_oauth_audit.inventory import read_snapshot
    from genesys_oauth_audit.leastpriv.org import analyse_inventory
    from genesys_oauth_audit.report import leastpriv

    org = analyse_inventory(read_snapshot(SAMPLE_SNAPSHOT)[0])
    assert org is not None  # the sample snapshot holds the operations clients called
    view = leastpriv.build_view(org)
    small = leastpriv.where_every_client(view)
    assert small == "the JSON and HTML reports list every client"
    many = replace(
        view, clients=view.clients * (leastpriv.HTML_CLIENT_ROWS // len(view.clients) + 1)
    )
    assert leastpriv.where_every_client(many) == (
        "the JSON report lists every client, the HTML report the first 2,000"
    )
