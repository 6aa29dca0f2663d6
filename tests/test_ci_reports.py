"""CI-grade reports: golden files per format, SARIF as GitHub ingests it, JUnit as the XSDs and a real
JUnit reader see it, Markdown that cannot be injected, thresholds and baselines."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from genesys_oauth_audit import app
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Evaluation, Location, Severity, Subject
from genesys_oauth_audit.inventory import Client, Inventory, Org, Scope
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import REPORTERS, renderer
from genesys_oauth_audit.report.base import RunInfo, SourceInfo
from tests.helpers import DATA, SAMPLE_SNAPSHOT, TUTORIAL, Run

GOLDEN = DATA / "golden"
EXTERNAL = DATA / "schemas-external"
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
HOSTILE = {
    "h-1": "<script>alert(1)</script> | **bold** @octocat",
    "h-2": "Ops \x1b[31mRED\x1b[0m ]]> & <![CDATA[x]]> \x00\x07 Console",
    "h-3": "line one\nline two\r\n\ttabbed  spaced",
    "h-4": "[link](https://evil.example.com) `code` # heading",
    "h-5": "bidi \u202eevil\u202c " + "x" * 300,
}
POLICY = """apiVersion: genesys-oauth-audit/v1
kind: Policy
metadata: {name: canonical}
rules:
  - id: C-1
    title: No admin scopes
    severity: critical
    description: Admin scopes give the client's users' full power.
    remediation: Remove the scope.
    tags: [scopes]
    check: {type: forbidden-scope-prefixes, prefixes: ["admin:"]}
  - {id: H-1, title: No orphaned scopes, severity: high, check: {type: orphan-scopes}}
  - {id: M-1, title: Few scopes, severity: medium, check: {type: max-scopes, max: 1}}
  - {id: L-1, title: Described, severity: low, check: {type: field, path: description, op: not-empty}}
  - {id: I-1, title: Read-only scopes, severity: info, check: {type: allowed-scopes, scopes: ["*:readonly"]}}
  - {id: N-1, title: No orphaned roles, severity: high, check: {type: orphan-roles}}
exceptions:
  - {rule: C-1, clients: ["Waived*"], reason: "Approved <by> security & co", expires: 2027-01-31, ticket: SEC-9}
  - {rule: M-1, clients: [nobody], reason: Expired one, expires: 2026-01-01}
"""


@pytest.fixture
def canon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Evaluation, RunInfo]:
    """Every severity, a waiver, a rule not evaluated, an expired exception, live and proposed
    clients, and hostile names, evaluated at a fixed time, in a fixed folder."""
    monkeypatch.chdir(tmp_path)
    return canonical(tmp_path)


def canonical(tmp_path: Path) -> tuple[Evaluation, RunInfo]:
    policy = Path("canonical.yaml")
    policy.write_text(POLICY)
    policies = load_policies((str(policy),))
    scopes = ("admin:x", "ghost", "users")
    live = [
        Client(id=cid, name=name, grant_type="CODE", scopes=scopes) for cid, name in HOSTILE.items()
    ]
    live.append(
        Client(id="w-1", name="Waived Client", grant_type="CODE", scopes=scopes, description="ok")
    )
    proposed = Client(id="", name="New Portal", grant_type="CODE", scopes=("admin:p",))
    inventory = Inventory(
        org=Org(id="org-1", name="Org <b>1</b>"),
        region="eu-west-1",
        fetched_at=NOW,
        scopes=(Scope(id="users"), Scope(id="admin:x")),
        clients=tuple(live),
    )
    pending = Client(id="", name="Pending Portal", grant_type="CODE", scopes=())
    subjects = [Subject(c) for c in live] + [
        Subject(proposed, Location("proposals/new-portal.json", 7)),
        Subject(
            pending,
            Location("proposals/new-portal.json", 19),
            {"scopes": "is known only after apply"},
        ),
    ]
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20), subjects=subjects)
    source = SourceInfo(
        kind="live",
        org_id="org-1",
        org_name="Org <b>1</b>",
        region="eu-west-1",
        fetched_at=NOW,
        proposals=("proposals/new-portal.json",),
    )
    opts = app.CheckOptions(policies=(str(policy),), fail_on=Severity.HIGH)
    return evaluation, app.run_info(policies, source, opts, NOW, color=False)


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [
        ("text", "txt"),
        ("json", "json"),
        ("sarif", "sarif"),
        ("junit", "xml"),
        ("markdown", "md"),
        ("html", "html"),
    ],
)
def test_golden_files(canon: tuple[Evaluation, RunInfo], fmt: str, suffix: str) -> None:
    evaluation, info = canon
    out = renderer(fmt)(evaluation, info)
    golden = GOLDEN / f"canonical.{suffix}"
    if os.environ.get("GOA_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8"), (
        f"{golden} differs (GOA_UPDATE_GOLDEN=1 regenerates it; review the diff)"
    )


def test_every_format_has_a_golden_file_and_a_cli_choice() -> None:
    from genesys_oauth_audit.cli import FORMAT_CHOICES

    assert tuple(REPORTERS) == FORMAT_CHOICES
    assert {p.name for p in GOLDEN.glob("canonical.*")} == {
        "canonical.txt",
        "canonical.json",
        "canonical.sarif",
        "canonical.xml",
        "canonical.md",
        "canonical.html",
    }


# -- SARIF ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def sarif_validator() -> Draft4Validator:
    return Draft4Validator(json.loads((EXTERNAL / "sarif-schema-2.1.0.json").read_text()))


def markdown_tables_keep_their_columns(md: str) -> int:
    """Assert every table row has its header's number of cells (a pipe in org text must not add a
    column); return how many tables there are."""
    lines = md.splitlines()
    tables = 0
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.fullmatch(r"\|(-{3}:?\|)+", lines[i + 1]):
            tables += 1
            width = len(re.split(r"(?<!\\)\|", line.strip())) - 2
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                assert len(re.split(r"(?<!\\)\|", row.strip())[1:-1]) == width, row
    return tables


def github_problems(log: dict[str, Any]) -> list[str]:
    """GitHub code scanning's ingestion rules, as they bite: each broken one rejects the upload."""
    problems = []
    for run in log["runs"]:
        results = run.get("results", [])
        if len(results) > 25_000:
            problems.append(f"{len(results)} results > 25,000")
        rules = run["tool"]["driver"].get("rules", [])
        for rule in rules:
            sev = rule.get("properties", {}).get("security-severity")
            if not isinstance(sev, str) or not re.fullmatch(r"\d+(\.\d+)?", sev):
                problems.append(
                    f"rule {rule['id']}: security-severity must be a numeric string, got {sev!r}"
                )
            if "security" not in rule.get("properties", {}).get("tags", []):
                problems.append(f"rule {rule['id']}: no 'security' tag")
            # GitHub's documented limits on a reportingDescriptor (report/sarif.py cites them)
            if len(rule.get("properties", {}).get("tags", [])) > 20:
                problems.append(f"rule {rule['id']}: more than 20 tags")
            if len(rule.get("name", "").encode("utf-16-le")) // 2 > 255:
                problems.append(f"rule {rule['id']}: name longer than 255")
            for text in ("shortDescription", "fullDescription"):
                if len(rule[text]["text"].encode("utf-16-le")) // 2 > 1024:
                    problems.append(f"rule {rule['id']}: {text} longer than 1024")
            severity = rule.get("properties", {}).get("problem.severity")
            if severity not in (None, "error", "warning", "recommendation"):
                problems.append(f"rule {rule['id']}: problem.severity {severity!r}")
        # SARIF §3.27.23: suppressions on every result of a run, or on none
        if len({"suppressions" in r for r in results}) > 1:
            problems.append("suppressions on some results but not all")
        for r in results:
            locs = r.get("locations", [])
            if len(locs) != 1 or "physicalLocation" not in locs[0]:
                problems.append(f"{r['ruleId']}: needs exactly one physical location")
                continue
            uri = locs[0]["physicalLocation"]["artifactLocation"]["uri"]
            scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", uri)
            if scheme and scheme.group(1) != "file":
                problems.append(f"{r['ruleId']}: URI scheme {scheme.group(1)!r} is not file")
            if locs[0]["physicalLocation"].get("region", {}).get("startLine", 0) < 1:
                problems.append(f"{r['ruleId']}: startLine must be >= 1")
            if not r.get("partialFingerprints", {}).get("primaryLocationLineHash"):
                problems.append(f"{r['ruleId']}: no primaryLocationLineHash")
            if rules and rules[r["ruleIndex"]]["id"] != r["ruleId"]:
                problems.append(f"{r['ruleId']}: ruleIndex points at another rule")
        if "automationDetails" not in run or not run["automationDetails"]["id"].endswith("/"):
            problems.append("automationDetails.id must name a category ending in /")
    return problems


def test_sarif_is_valid_and_github_would_accept_it(canon: tuple[Evaluation, RunInfo]) -> None:
    evaluation, info = canon
    log = json.loads(renderer("sarif")(evaluation, info))
    sarif_validator().validate(log)
    assert github_problems(log) == []
    run = log["runs"][0]
    # proposed clients judged against a live org: the proposals' own category, never the org's
    assert run["automationDetails"]["id"] == "genesys-oauth-audit/proposals/org-org-1/"
    assert run["invocations"][0]["executionSuccessful"] is True
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert any("N-1 was not evaluated" in n for n in notes) and any(
        "expired on 2026-01-01" in n for n in notes
    )
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {
        "C-1": "error",
        "H-1": "error",
        "M-1": "warning",
        "L-1": "note",
        "I-1": "note",
    }
    sev = {r["id"]: r["properties"]["security-severity"] for r in run["tool"]["driver"]["rules"]}
    assert sev == {
        "C-1": "9.5",
        "H-1": "8.0",
        "M-1": "5.5",
        "L-1": "3.0",
        "I-1": "0.1",
        "N-1": "8.0",
    }
    by_uri = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert "genesys-cloud/eu-west-1/org-1/oauth-clients/h-1" in by_uri
    assert "proposals/new-portal.json" in by_uri  # a proposal points at its file
    proposal = next(
        r
        for r in run["results"]
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("proposals/")
    )
    assert proposal["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    assert all(
        r["locations"][0]["logicalLocations"][0]["kind"] == "resource" for r in run["results"]
    )
    # what GitHub shows a person carries no terminal escapes, bidi controls or line breaks
    for r in run["results"]:
        assert not any(c in r["message"]["text"] for c in ("\x1b", "\u202e", "\n", "\x00")), r[
            "message"
        ]


def test_waived_findings_are_left_out_of_sarif_unless_asked(
    canon: tuple[Evaluation, RunInfo],
) -> None:
    evaluation, info = canon
    default = json.loads(renderer("sarif")(evaluation, info))["runs"][0]["results"]
    assert not any("suppressions" in r for r in default)
    assert not any(
        r["properties"]["clientName"] == "Waived Client" and r["ruleId"] == "C-1" for r in default
    )
    included = json.loads(
        renderer("sarif")(evaluation, RunInfo(**{**info.__dict__, "sarif_include_waived": True}))
    )
    # SARIF §3.27.23: on every result or none; an empty list says "not suppressed"
    assert all("suppressions" in r for r in included["runs"][0]["results"])
    waived = [r for r in included["runs"][0]["results"] if r["suppressions"]]
    assert len(waived) == 1 and waived[0]["suppressions"][0]["status"] == "accepted"
    sarif_validator().validate(included)


def test_sarif_fingerprints_are_stable_and_distinct(canon: tuple[Evaluation, RunInfo]) -> None:
    evaluation, info = canon
    one = json.loads(renderer("sarif")(evaluation, info))["runs"][0]["results"]
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in one]
    assert len(set(hashes)) == len(hashes)
    again = json.loads(renderer("sarif")(*canonical(Path.cwd())))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in again] == [r["partialFingerprints"] for r in one]


def test_sarif_stays_within_githubs_result_limit(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Policy\nrules:\n"
        "  - {id: R, title: t, severity: low, check: {type: allowed-scopes, scopes: [none]}}\n"
    )
    policies = load_policies((str(policy),))
    clients = tuple(
        Client(id=f"c{i}", name=f"c{i}", grant_type="CODE", scopes=("a", "b", "c"))
        for i in range(8400)
    )
    evaluation = evaluate(policies, Inventory(clients=clients), today=date(2026, 11, 20))
    assert len(evaluation.findings) == 25_200
    info = app.run_info(
        policies,
        SourceInfo(kind="live", org_id="o", org_name="o", region="r", fetched_at=NOW),
        app.CheckOptions(policies=()),
        NOW,
        color=False,
    )
    log = json.loads(renderer("sarif")(evaluation, info))
    assert len(log["runs"][0]["results"]) == 25_000
    assert github_problems(log) == []
    assert any(
        "200 less severe results were left out" in n["message"]["text"]
        for n in log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    )


def test_sarif_for_a_snapshot_points_at_the_clients_line(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    ran = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--sarif-output", str(out)
    )
    assert ran.code == 1
    log = json.loads(out.read_text())
    sarif_validator().validate(log)
    assert github_problems(log) == []
    lines = SAMPLE_SNAPSHOT.read_text().splitlines()
    for r in log["runs"][0]["results"]:
        loc = r["locations"][0]["physicalLocation"]
        assert (
            loc["artifactLocation"]["uri"] == "examples/sample-snapshot.json"
        )  # relative to the checkout
        assert f'"id": "{r["properties"]["clientId"]}"' in lines[loc["region"]["startLine"] - 1]


# -- JUnit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xsd",
    ["junit-windyroad-ant.xsd", "junit-jenkins-xunit-10.xsd", "junit-jenkins-junit4-dtkit.xsd"],
)
def test_junit_validates_against_every_xsd(canon: tuple[Evaluation, RunInfo], xsd: str) -> None:
    from lxml import etree

    evaluation, info = canon
    xml = renderer("junit")(evaluation, info).encode()
    schema = etree.XMLSchema(etree.parse(str(EXTERNAL / xsd)))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log


def test_junit_counts_read_back_by_an_independent_parser(
    canon: tuple[Evaluation, RunInfo], tmp_path: Path
) -> None:
    from junitparser import Failure, JUnitXml, Skipped

    evaluation, info = canon
    path = tmp_path / "junit.xml"
    path.write_text(renderer("junit")(evaluation, info), encoding="utf-8")
    suites = {s.name.split(":")[0]: s for s in JUnitXml.fromfile(str(path))}
    assert set(suites) == {"C-1", "H-1", "M-1", "L-1", "I-1", "N-1"}
    # 8 subjects: 5 hostile, 1 waived, 2 proposed; every rule selects all of them
    for suite in suites.values():
        assert suite.tests == 8 and len(list(suite)) == 8
    c1 = suites["C-1"]
    assert (c1.failures, c1.skipped, c1.errors) == (6, 1, 1)  # one waived; one with scopes unknown
    assert suites["N-1"].skipped == 8  # not evaluated: every pair skipped with the reason
    assert suites["L-1"].failures == 7 and suites["L-1"].errors == 0  # L-1 reads the description
    names = [case.name for case in suites["C-1"]]
    assert len(set(names)) == len(names)  # unique, so GitLab keeps every one
    for case in suites["C-1"]:
        assert case.classname == "C-1"
        for result in case.result:
            if isinstance(result, Failure):
                assert result.type == "critical" and "\n" not in (result.message or "")
            if isinstance(result, Skipped):
                assert "waived until 2027-01-31: Approved <by> security & co" in (result.text or "")


def test_junit_neutralises_hostile_text(canon: tuple[Evaluation, RunInfo]) -> None:
    from lxml import etree

    evaluation, info = canon
    xml = renderer("junit")(evaluation, info)
    doc = etree.fromstring(xml.encode())  # well-formed despite ]]>, NUL, BEL, CR
    names = [c.get("name", "") for c in doc.iter("testcase")]
    assert all(names)  # every case has a name
    assert any("]]> &" in n for n in names)
    assert all("\n" not in n and "  " not in n for n in names)  # xs:token
    assert "\x00" not in xml and "\x07" not in xml and "\u202e" not in xml


# -- Markdown ------------------------------------------------------------------------------------


def test_markdown_cannot_be_injected(canon: tuple[Evaluation, RunInfo]) -> None:
    evaluation, info = canon
    md = renderer("markdown")(evaluation, info)
    assert "<script>" not in md and "<b>" not in md and "<![CDATA" not in md
    assert "@octocat" not in md and "https://evil" not in md and "](https" not in md
    assert "\x1b" not in md and "\u202e" not in md
    assert markdown_tables_keep_their_columns(md) >= 3  # counts, findings, riskiest clients
    assert md.startswith("## genesys-oauth-audit: ❌ **FAIL**")


# -- the command line ----------------------------------------------------------------------------


def test_every_format_in_one_run(run_cli: Run, tmp_path: Path) -> None:
    outs = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit", "markdown")}
    args = [a for fmt, path in outs.items() for a in (f"--{fmt}-output", str(path))]
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        *args,
        "--now",
        "2026-11-20T06:00:00Z",
    )
    assert ran.code == 1 and ran.stdout.startswith("genesys-oauth-audit ")
    counts = json.loads(outs["json"].read_text())["summary"]["counts"]
    assert sum(counts.values()) == len(json.loads(outs["sarif"].read_text())["runs"][0]["results"])
    assert outs["junit"].read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "genesys-oauth-audit: ❌ **FAIL**" in outs["markdown"].read_text()


@pytest.mark.parametrize("fmt", ["sarif", "junit", "markdown"])
def test_format_to_stdout(run_cli: Run, fmt: str) -> None:
    ran = run_cli("check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--format", fmt)
    assert ran.code == 1 and ran.stderr == ""
    if fmt == "sarif":
        sarif_validator().validate(json.loads(ran.stdout))


def test_report_everything_fail_only_on_high(run_cli: Run) -> None:
    args = (
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--format",
        "json",
    )
    everything = json.loads(run_cli(*args, "--fail-on", "critical").stdout)
    assert {f["severity"] for f in everything["findings"]} >= {"critical", "high", "medium", "low"}
    only_medium_up = json.loads(run_cli(*args, "--min-severity", "medium").stdout)
    assert {f["severity"] for f in only_medium_up["findings"]} <= {"critical", "high", "medium"}
    low_only = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--fail-on", "critical"
    )
    assert low_only.code == 0  # the tutorial's worst is high


def test_group_by_client(run_cli: Run) -> None:
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--group-by",
        "client",
        "--now",
        "2026-11-20T06:00:00Z",
    )
    lines = ran.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CX as Code Deployer ("))
    assert lines[header + 1].startswith("  CRITICAL  GOA-BL-005")
    assert all(len(line) <= 80 for line in lines)


def test_baseline_makes_a_second_run_pass_and_a_new_violation_fail(
    run_cli: Run, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    first = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--write-baseline",
        str(baseline),
    )
    assert (
        first.code == 1
        and json.loads(baseline.read_text())["kind"] == "genesys-oauth-audit/baseline"
    )
    second = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--baseline",
        str(baseline),
        "--format",
        "json",
    )
    assert second.code == 0
    assert {f["baselineState"] for f in json.loads(second.stdout)["findings"]} == {"unchanged"}

    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    for client in data["clients"]:
        if client["name"] == "Agent Desktop SSO Bridge":
            client["scopes"].append("admin:users")  # a new violation
        if client["name"] == "Legacy Admin Console":
            client["name"] = "Renamed Console"  # a rename must not reopen its findings
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data, indent=2))
    third = run_cli(
        "check",
        "-p",
        TUTORIAL,
        "--inventory",
        str(changed),
        "--baseline",
        str(baseline),
        "--format",
        "json",
        "--sarif-output",
        str(tmp_path / "r.sarif"),
    )
    assert third.code == 1
    report = json.loads(third.stdout)
    new = [
        (f["clientName"], f["subject"]) for f in report["findings"] if f["baselineState"] == "new"
    ]
    assert sorted(new) == [
        ("Agent Desktop SSO Bridge", "admin:users"),
        ("Agent Desktop SSO Bridge", "admin:users"),
    ]
    assert report["summary"]["counts"]["high"] == 1 and report["summary"]["counts"]["medium"] == 1
    states = {
        r["baselineState"]
        for r in json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    }
    assert states == {"new", "unchanged"}


@pytest.mark.parametrize(
    "text",
    [
        '{"kind": "something-else"}',
        '{"kind": "genesys-oauth-audit/baseline", "version": true, "findings": []}',
        '{"kind": "genesys-oauth-audit/baseline", "version": 1.0, "findings": []}',
    ],
)
def test_bad_baseline_file_exits_2(run_cli: Run, tmp_path: Path, text: str) -> None:
    bad = tmp_path / "b.json"
    bad.write_text(text)
    ran = run_cli(
        "check", "-p", TUTORIAL, "--inventory", str(SAMPLE_SNAPSHOT), "--baseline", str(bad)
    )
    assert ran.code == 2 and "not a baseline" in ran.stderr
