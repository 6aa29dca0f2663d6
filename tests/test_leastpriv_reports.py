"""The least-privilege view in every report format: per client granted / exercised / unused (JSON
with the lists, described by the report schema; HTML sortable by unused share; text, Markdown and
JUnit bounded), computed once per run, hostile names neutralised."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from lxml import etree
from lxml import html as lxml_html

from genesys_oauth_audit.leastpriv import org as leastpriv_org
from genesys_oauth_audit.report.html import SCRIPT
from genesys_oauth_audit.report.leastpriv import TOP
from tests.helpers import DATA, ROOT, SAMPLE_SNAPSHOT, Run
from tests.test_ci_reports import markdown_tables_keep_their_columns, sarif_validator
from tests.test_html import nodes, texts

FORMATS = ("json", "sarif", "junit", "markdown", "html")
WIDE = "Master Admin Integration"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One run over the sample snapshot with the least-privilege pack, every format written."""
    from click.testing import CliRunner

    from genesys_oauth_audit.cli import cli

    folder = tmp_path_factory.mktemp("lp")
    outputs = {fmt: folder / f"r.{fmt}" for fmt in FORMATS}
    flags = [part for fmt, path in outputs.items() for part in (f"--{fmt}-output", str(path))]
    result = CliRunner().invoke(
        cli,
        ["check", "-p", "builtin:least-privilege", "--inventory", str(SAMPLE_SNAPSHOT), *flags],
    )
    assert result.exit_code == 1, result.stderr
    return {"text": result.stdout, **{fmt: path.read_text() for fmt, path in outputs.items()}}


def test_json_carries_every_client_with_its_lists(reports: dict[str, str]) -> None:
    report = json.loads(reports["json"])
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    Draft202012Validator(schema).validate(report)
    view = report["leastPrivilege"]
    clients = view["clients"]
    assert len(clients) == 36  # every client of the sample has operation data
    shares = [c["unusedShare"] for c in clients]
    assert shares == sorted(shares, reverse=True)
    for c in clients:
        n = c["counts"]
        extra = n.get("unobservable", 0)
        assert n["granted"] == n["exercised"] + n["ambiguous"] + n["unused"] + extra
    by_name = {c["clientName"]: c for c in clients}
    wide = by_name[WIDE]
    assert wide["kind"] == "permissions" and wide["counts"]["exercised"] == 3
    # An ambiguous ANY: Recording Archive Export holds two of the candidates of recordings.
    recordings = by_name["Recording Archive Export"]
    [choice] = recordings["ambiguousOperations"]
    assert choice["operation"] == "GET /api/v2/conversations/{conversationId}/recordings"
    assert set(recordings["ambiguous"]) == set(choice["candidates"])
    assert recordings["deniedOperations"] == ["POST /api/v2/recording/jobs"]
    # A user-facing client: scopes assigned, needed, unused, read-only-only.
    console = by_name["Legacy Admin Console"]
    assert console["kind"] == "scopes"
    assert console["needed"] == ["authorization:readonly", "users:readonly"]
    assert console["unused"] == ["admin:organization"]
    assert console["narrowable"] == ["authorization", "users"]
    # An unknown template is kept and reported, never dropped.
    assert by_name["Dev Sandbox Client"]["unknownOperations"] == ["GET /api/v2/sandbox/experiments"]
    # What observed use cannot show, apart from what this run left out (nothing: it has roles);
    # the scope limit is stated, since some clients are judged by their scopes.
    assert view["notes"] == []
    assert any("notification (WebSocket)" in n for n in view["limits"])
    assert any("enforces OAuth scopes" in n for n in view["limits"])


def test_text_shows_a_bounded_block_by_unused_share(reports: dict[str, str]) -> None:
    text = reports["text"]
    block = text.split("\nLeast privilege: ", 1)[1].split("\n\n", 1)[0]
    assert block.startswith("36 clients analysed; 32 hold permissions or scopes they did not")
    listed = [line for line in block.splitlines() if line.startswith("  - ")]
    assert len(listed) == TOP
    assert "… and 22 more (the JSON and HTML reports list every client)" in block
    assert "1465 permissions granted, 3 exercised, 1462 unused (100%)" in " ".join(block.split())
    assert all(len(line) <= 80 for line in block.splitlines())
    assert "\x1b" not in text  # the client with an escape sequence in its name is neutralised


def test_markdown_shows_a_bounded_table(reports: dict[str, str]) -> None:
    md = reports["markdown"]
    section = md.split("<details><summary>Least privilege: ", 1)[1].split("</details>", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == TOP + 1  # the header and the top clients
    assert "… and 22 more" in section
    markdown_tables_keep_their_columns(md)
    assert "<script>" not in md


def test_html_shows_every_client_sortable_by_unused_share(reports: dict[str, str]) -> None:
    page = reports["html"]
    doc = lxml_html.fromstring(page)
    rows = nodes(doc, '//table[@id="least-privilege"]/tbody/tr')
    assert len(rows) == 36
    shares = [float(r.get("data-share") or "nan") for r in rows]
    assert shares == sorted(shares, reverse=True)  # by unused share to begin with
    keys = texts(doc, '//table[@id="least-privilege"]//th/button/@data-sort')
    assert keys == ["name", "granted", "exercised", "ambiguous", "unused", "share", "requests"]
    for key in keys:  # every column the script sorts by is on every row
        assert all(r.get(f"data-{key}") is not None for r in rows)
    [script] = nodes(doc, "//script")
    assert script.text == SCRIPT and "least-privilege" in SCRIPT
    assert 'style="' not in page  # the CSP allows no inline style: a meter shows the share
    meters = texts(doc, '//table[@id="least-privilege"]//meter/@value')
    assert [float(v) for v in meters] == shares
    wide = next(r for r in rows if WIDE in " ".join(texts(r, ".//text()")))
    assert wide.get("data-exercised") == "3" and wide.get("data-unused") == "1462"
    assert "<script>alert" not in page.split('id="least-privilege"', 1)[1]


def test_sarif_carries_the_counts_and_stays_valid(reports: dict[str, str]) -> None:
    log = json.loads(reports["sarif"])
    errors = list(sarif_validator().iter_errors(log))
    assert not errors, errors[0].message
    props = log["runs"][0]["properties"]
    assert "aggregates query jobs" in props["usage"]
    clients = props["leastPrivilege"]["clients"]
    assert len(clients) == 36
    [wide] = [c for c in clients if c["clientName"] == WIDE]
    assert (wide["granted"], wide["exercised"], wide["unused"]) == (1465, 3, 1462)


@pytest.mark.parametrize(
    "xsd",
    ["junit-windyroad-ant.xsd", "junit-jenkins-xunit-10.xsd", "junit-jenkins-junit4-dtkit.xsd"],
)
def test_junit_shows_the_block_where_ci_readers_look(reports: dict[str, str], xsd: str) -> None:
    doc = etree.fromstring(reports["junit"].encode())
    schema = etree.XMLSchema(etree.parse(str(DATA / "schemas-external" / xsd)))
    assert schema.validate(doc), schema.error_log
    outs = {
        s.get("name", "").split(":")[0]: s.findtext("system-out") or ""
        for s in doc.iter("testsuite")
    }
    for rule in ("GOA-LP-001", "GOA-LP-002", "GOA-LP-003"):
        assert outs[rule].startswith("Least privilege: 36 clients analysed")
        assert len(outs[rule].splitlines()) <= TOP + 3
    assert "\x1b" not in reports["junit"]
    usage = {p.get("value") or "" for p in doc.iter("property") if p.get("name") == "usage"}
    assert len(usage) == 1 and "aggregates query jobs" in usage.pop()


def test_without_a_least_privilege_rule_the_view_still_shows(run_cli: Run, tmp_path: Path) -> None:
    junit = tmp_path / "r.xml"
    ran = run_cli(
        "check", "-p", "builtin:tutorial", "--inventory", str(SAMPLE_SNAPSHOT),
        "--junit-output", str(junit), "--format", "markdown",
    )  # fmt: skip
    assert "Least privilege: 36 clients analysed" in ran.stdout
    suites = list(etree.fromstring(junit.read_bytes()).iter("testsuite"))
    assert (suites[0].findtext("system-out") or "").startswith("Least privilege:")
    assert all(not (s.findtext("system-out") or "") for s in suites[1:])


def test_the_analysis_is_computed_once_per_run(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    real = leastpriv_org.analyse_inventory

    def counted(inventory: Any) -> Any:
        calls.append(inventory)
        return real(inventory)

    monkeypatch.setattr(leastpriv_org, "analyse_inventory", counted)
    import genesys_oauth_audit.engine.evaluate as engine

    monkeypatch.setattr(engine, "analyse_inventory", counted)
    flags = [f"--{fmt}-output={tmp_path / fmt}" for fmt in FORMATS]
    ran = run_cli(
        "check", "-p", "builtin:least-privilege", "--inventory", str(SAMPLE_SNAPSHOT), *flags
    )
    assert ran.code == 1 and len(calls) == 1


def test_a_proposal_run_has_no_view(run_cli: Run) -> None:
    ran = run_cli(
        "check",
        "-p",
        "builtin:least-privilege",
        "--proposed",
        str(ROOT / "examples" / "terraform" / "plan.json"),
        "--format",
        "json",
    )
    report = json.loads(ran.stdout)
    assert report["leastPrivilege"] is None
    assert {n["ruleId"] for n in report["notEvaluated"]} >= {"GOA-LP-001", "GOA-LP-003"}
    assert re.search(r"no operation data", json.dumps(report["notEvaluated"]))


def test_in_a_browser_the_least_privilege_table_sorts(
    reports: dict[str, str], tmp_path: Path
) -> None:
    from tests.test_html import _dom

    page = tmp_path / "lp.html"
    page.write_text(reports["html"], encoding="utf-8")

    def order(fragment: str, key: str) -> list[str]:
        dom = lxml_html.fromstring(_dom(page, fragment, tmp_path))
        return [
            r.get(f"data-{key}") or ""
            for r in nodes(dom, '//table[@id="least-privilege"]/tbody/tr')
        ]

    unused = [int(v) for v in order("sort=unused", "unused")]
    assert unused == sorted(unused, reverse=True) and unused[0] == 1462
    names = order("sort=name", "name")
    assert names == sorted(names) and len(names) == 36
    granted = [int(v) for v in order("sort=granted:asc", "granted")]
    assert granted == sorted(granted)
    dom = lxml_html.fromstring(_dom(page, "sort=exercised", tmp_path))
    assert texts(dom, "//th[@aria-sort]/button/@data-sort") == ["exercised"]
    assert texts(dom, "//th[@aria-sort]/@aria-sort") == ["descending"]


def test_the_view_s_grant_states_are_the_analysis_own() -> None:
    """The view's lists (``grant_states``: one pass, no record per grant) say what the analysis'
    own ``granted`` says, on every client of the sample and on wildcard, ambiguous and
    unobservable grants; each row's counts and lists are the analysis'."""
    from genesys_oauth_audit.inventory import load_snapshot
    from genesys_oauth_audit.leastpriv.analysis import PermissionAnalysis
    from genesys_oauth_audit.leastpriv.org import analyse_inventory
    from genesys_oauth_audit.report.leastpriv import PermissionLists, build_view

    org = analyse_inventory(load_snapshot(SAMPLE_SNAPSHOT))
    assert org is not None
    view = build_view(org)
    assert len(view.clients) == len(org)
    checked = 0
    for row in view.clients:
        a = org.get(row.client_id)
        if not isinstance(a, PermissionAnalysis):
            continue
        lists = row.lists
        assert isinstance(lists, PermissionLists)
        assert lists.unused_grants == tuple(g.permission for g in a.unused)
        assert [(g.permission, g.covers, g.exercised) for g in lists.partly_used_grants] == [
            (g.permission, g.covers, g.exercised) for g in a.partly_used
        ]
        assert lists.unobservable_grants == tuple(
            g.permission for g in a.granted if g.state == "unobservable"
        )
        assert (lists.exercised, lists.ambiguous, lists.not_held) == (
            a.exercised,
            a.possibly,
            a.not_held,
        )
        assert (row.granted, row.exercised, row.unused, row.not_held) == (
            a.counts.granted,
            a.counts.exercised,
            a.counts.unused,
            a.counts.not_held,
        )
        checked += 1
    assert checked == 19  # every client-credentials client of the sample


def test_the_view_s_scope_lists_are_the_analysis_own() -> None:
    """A user-facing client's row lists what the analysis' own scope states say, both where
    nothing was used (the row's shortcut, which takes the assigned scopes as the unused ones)
    and where some scope was used, narrowable or possibly used (the pass over the states)."""
    from datetime import date

    from genesys_oauth_audit.data.operations import CalledOperation
    from genesys_oauth_audit.inventory import UsageWindow
    from genesys_oauth_audit.leastpriv.analysis import LeastPrivilege
    from genesys_oauth_audit.leastpriv.org import OrgLeastPrivilege
    from genesys_oauth_audit.report.leastpriv import ScopeLists, build_view

    window = UsageWindow(days=90, start=date(2026, 8, 23), end=date(2026, 11, 20))
    lp = LeastPrivilege()

    def ok(method: str, path: str, status2xx: int = 1, status4xx: int = 0) -> CalledOperation:
        return CalledOperation(
            method=method,
            path=path,
            requests=status2xx + status4xx,
            status2xx=status2xx,
            status4xx=status4xx,
        )

    cases = {
        "none": ([], []),
        "denied": ([ok("GET", "api/v2/routing/queues", 0, 1)], []),
        "used": ([ok("GET", "api/v2/routing/queues")], ["used"]),
        "narrowable": ([ok("GET", "api/v2/routing/queues")], ["narrowable"]),
        "possibly": ([ok("GET", "api/v2/locations/search")], ["possibly-used"]),
    }
    assigned = {
        "none": ["users", "routing"],
        "denied": ["routing", "analytics"],
        "used": ["routing:readonly", "users"],
        "narrowable": ["routing", "users"],
        "possibly": ["locations:readonly", "search:readonly", "users"],
    }
    analyses = {
        name: lp.scopes(
            client_id=name,
            client_name=name,
            grant_type="CODE",
            assigned=assigned[name],
            calls=calls,
            window=window,
        )
        for name, (calls, _) in cases.items()
    }
    for name, (_, states) in cases.items():
        assert set(states) <= {u.state for u in analyses[name].scopes}, name
    view = build_view(OrgLeastPrivilege(window=window, analyses=analyses, engine=lp))
    for row in view.clients:
        a = analyses[row.client_id]
        lists = row.lists
        assert isinstance(lists, ScopeLists)
        by_state = {u.scope: u.state for u in a.scopes}
        assert lists.assigned == a.assigned and lists.needed == a.needed
        assert lists.unused == a.unused
        assert lists.narrowable == tuple(s for s, v in by_state.items() if v == "narrowable")
        assert lists.possibly_used == tuple(s for s, v in by_state.items() if v == "possibly-used")
        assert lists.states() == list(by_state.items())
        assert row.denied_operations == tuple(e.key for e in a.denied)
