"""Compliance frameworks (SPEC §10): the per-framework view in every format, disabled rules and
lapsed overrides in every format, SARIF tags within GitHub's limit, ``check --framework``, and
the shipped packs' mappings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from genesys_oauth_audit import app
from genesys_oauth_audit.data import pack_names
from genesys_oauth_audit.engine.evaluate import evaluate
from genesys_oauth_audit.findings import Evaluation, Severity, apply_baseline
from genesys_oauth_audit.inventory import Client, Inventory, Org
from genesys_oauth_audit.policy.frameworks import FRAMEWORKS, control_sort_key, control_warning
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import renderer
from genesys_oauth_audit.report.base import RuleInfo, RunInfo, SourceInfo
from genesys_oauth_audit.report.frameworks import framework_views
from genesys_oauth_audit.report.sarif import MAX_TAGS, rule_tags
from tests.helpers import ROOT, SAMPLE_SNAPSHOT, Ran
from tests.test_ci_reports import (
    EXTERNAL,
    github_problems,
    markdown_tables_keep_their_columns,
    sarif_validator,
)

Run = Callable[..., Ran]
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Policy\n"
BASE = (
    HEADER
    + """rules:
  - {id: G-OFF, title: No implicit grant, severity: high, controls: {nist-800-53: [SC-23]},
     check: {type: field, path: grantType, op: ne, value: TOKEN}}
  - {id: G-LAPSED, title: One scope, controls: {nist-800-53: [AC-6]}, check: {type: max-scopes, max: 1}}
  - {id: G-SEV, title: Only users, severity: high, controls: {iso-27001-2022: [A.8.2]},
     check: {type: allowed-scopes, scopes: [users]}}
  - {id: G-NE, title: No orphaned roles, controls: {nist-800-53: [AC-6(7)]}, check: {type: orphan-roles}}
  - {id: G-WAIVED, title: No admin scopes, controls: {cis-controls-v8: ["6.8"]},
     check: {type: forbidden-scope-prefixes, prefixes: ["admin:"]}}
"""
)
GOVERNED = (
    HEADER
    + """include: [./base.yaml]
overrides:
  - {rule: G-OFF, enabled: false, reason: "Retired <b>soon</b> & gone", owner: platform-team,
     ticket: SEC-88, expires: 2027-03-31}
  - {rule: G-LAPSED, enabled: false, reason: Lapsed override, expires: 2026-01-01}
  - {rule: G-SEV, severity: low}
rules:
  - id: G-TREE
    title: Implicit clients say what they are for
    controls: {nist-800-53: [IA-5], soc2: [CC6.1]}
    check:
      type: field
      any:
        - not: {path: grantType, op: eq, value: TOKEN}
        - {path: description, op: not-empty}
exceptions:
  - {rule: G-WAIVED, clients: ["*"], reason: Approved}
"""
)


def governed(tmp_path: Path, frameworks: tuple[str, ...] = ()) -> tuple[Evaluation, RunInfo]:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "governed.yaml").write_text(GOVERNED)
    policies = load_policies((str(tmp_path / "governed.yaml"),))
    if frameworks:
        policies = app.only_frameworks(policies, frameworks)
    inventory = Inventory(
        org=Org(id="org-1", name="Org 1"),
        region="eu-west-1",
        fetched_at=NOW,
        scopes=(),
        clients=(
            Client(id="c-1", name="Chat <Widget>", grant_type="TOKEN", scopes=("admin:x", "users")),
            Client(id="c-2", name="Portal", grant_type="CODE", scopes=("users",)),
        ),
    )
    evaluation = evaluate(policies, inventory, today=date(2026, 11, 20))
    source = SourceInfo(kind="live", org_id="org-1", org_name="Org 1", region="eu-west-1")
    opts = app.CheckOptions(policies=("governed.yaml",), frameworks=frameworks)
    return evaluation, app.run_info(policies, source, opts, NOW, color=False)


def view_of(evaluation: Evaluation, info: RunInfo) -> dict[str, dict[str, tuple[str, list[str]]]]:
    return {
        v.id: {c.id: (c.status, [f"{r.rule_id}:{r.status}" for r in c.rules]) for c in v.controls}
        for v in framework_views(evaluation, info)
    }


def test_the_framework_view(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path)
    assert view_of(evaluation, info) == {
        "cis-controls-v8": {"6.8": ("pass", ["G-WAIVED:pass"])},  # its findings are all waived
        "iso-27001-2022": {"A.8.2": ("fail", ["G-SEV:fail"])},
        "nist-800-53": {
            "AC-6": ("fail", ["G-LAPSED:fail"]),  # the override lapsed: evaluated again
            "AC-6(7)": ("not-evaluated", ["G-NE:not-evaluated"]),  # no roles in the inventory
            "IA-5": ("fail", ["G-TREE:fail"]),
            "SC-23": ("disabled", ["G-OFF:disabled"]),
        },
        "soc2": {"CC6.1": ("fail", ["G-TREE:fail"])},
    }
    # a finding known in the baseline still fails its control: the baseline gates, it does not comply
    known = frozenset(f.fingerprint for f in evaluation.findings)
    again = view_of(apply_baseline(evaluation, known), info)
    assert again["iso-27001-2022"]["A.8.2"][0] == "fail"


@pytest.mark.parametrize(
    ("framework", "control"),
    [
        ("soc2", "CC6.1"),
        ("nist-800-53", "AC-6(5)"),
        ("iso-27001-2022", "A.8.2"),
        ("cis-controls-v8", "6.8"),
    ],
)
def test_a_control_id_with_a_final_newline_does_not_look_like_one(
    framework: str, control: str
) -> None:
    """``id: |`` in YAML keeps a final newline, which ``re.match`` with ``$`` would let by."""
    assert control_warning(framework, control) is None
    assert control_warning(framework, control + "\n") is not None


def test_controls_sort_as_people_number_them() -> None:
    ids = ["AC-12", "AC-2(3)", "AC-6", "AC-2", "IA-2(2)", "IA-2(1)"]
    assert sorted(ids, key=control_sort_key) == [
        "AC-2",
        "AC-2(3)",
        "AC-6",
        "AC-12",
        "IA-2(1)",
        "IA-2(2)",
    ]
    assert sorted(["A.8.2", "A.5.15", "A.5.9"], key=control_sort_key) == [
        "A.5.9",
        "A.5.15",
        "A.8.2",
    ]


def test_json_carries_disabled_rules_lapsed_overrides_and_frameworks(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path)
    data = json.loads(renderer("json")(evaluation, info))
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(data)
    (off,) = data["disabledRules"]
    assert off == {
        "ruleId": "G-OFF",
        "title": "No implicit grant",
        "severity": "high",
        "reason": "Retired <b>soon</b> & gone",
        "owner": "platform-team",
        "ticket": "SEC-88",
        "expires": "2027-03-31",
        "source": off["source"],
    }
    assert off["source"].endswith("governed.yaml:5")
    assert [d["ruleId"] for d in data["expiredOverrides"]] == ["G-LAPSED"]
    nist = next(f for f in data["frameworks"] if f["id"] == "nist-800-53")
    assert nist["name"] == "NIST SP 800-53 Rev. 5" and nist["rules"] == 4
    assert nist["counts"] == {"fail": 2, "pass": 0, "notEvaluated": 1, "disabled": 1}
    ia5 = next(c for c in nist["controls"] if c["id"] == "IA-5")
    assert ia5["title"] == "Authenticator Management"
    assert ia5["rules"] == [
        {
            "ruleId": "G-TREE",
            "title": "Implicit clients say what they are for",
            "status": "fail",
            "findings": 1,
            "waived": 0,
        }
    ]
    cis = next(f for f in data["frameworks"] if f["id"] == "cis-controls-v8")
    assert cis["controls"][0]["rules"][0]["waived"] == 1
    # the retuned severity is what findings carry
    assert {f["severity"] for f in data["findings"] if f["ruleId"] == "G-SEV"} == {"low"}


def test_text_lists_disabled_rules_lapsed_overrides_and_frameworks(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path)
    text = renderer("text")(evaluation, info)
    assert all(len(line) <= 80 for line in text.splitlines())
    flat = " ".join(text.split())
    assert "Disabled by overrides (1):" in text
    assert (
        "- G-OFF No implicit grant: until 2027-03-31, owner platform-team, ticket SEC-88 (" in flat
    )
    assert "): Retired <b>soon</b> & gone" in flat
    assert "Expired overrides (their rules are evaluated again) (1):" in text
    assert "- G-LAPSED One scope: expired 2026-01-01 (" in flat
    assert "Frameworks (the JSON, HTML and Markdown reports show each control's rules):" in text
    assert "- NIST SP 800-53 Rev. 5: 4 controls: 2 fail, 1 not evaluated, 1 disabled" in text
    assert "- CIS Critical Security Controls v8: 1 control: 1 pass" in text
    assert "failing: AC-6, IA-5" in text


def test_markdown_tables_for_disabled_rules_and_frameworks(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path)
    md = renderer("markdown")(evaluation, info)
    assert markdown_tables_keep_their_columns(md) >= 6  # counts, findings, disabled, 4 frameworks
    assert "<details><summary>1 rule disabled by overrides</summary>" in md
    assert "Retired &lt;b&gt;soon&lt;/b&gt; &amp; gone" in md and "<b>soon" not in md
    assert "the override disabling `G-OFF`" not in md
    assert "the override disabling `G-LAPSED`" in md and "**expired** 2026-01-01" in md
    assert "### Frameworks" in md
    assert "| `IA-5` Authenticator Management | ❌ fail | ❌ `G-TREE` fail (1) |" in md
    assert "| `SC-23` Session Authenticity | 🔕 disabled | 🔕 `G-OFF` disabled |" in md


def test_html_tables_for_disabled_rules_and_frameworks(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path)
    html = renderer("html")(evaluation, info)
    assert "<h2>Rules disabled by overrides (1)</h2>" in html
    assert "Retired &lt;b&gt;soon&lt;/b&gt; &amp; gone" in html
    assert "<h2>Compliance frameworks</h2>" in html
    assert "<h3>NIST SP 800-53 Rev. 5 <code>nist-800-53</code></h3>" in html
    assert '<td><code>IA-5</code><div class="small">Authenticator Management</div></td>' in html
    assert "The override disabling <code>G-LAPSED</code>" in html
    assert html.count("<script>") == 1  # the report's own filter script, nothing injected


def test_sarif_notes_disabled_rules_and_stays_valid(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path)
    log = json.loads(renderer("sarif")(evaluation, info))
    sarif_validator().validate(log)
    assert github_problems(log) == []
    run = log["runs"][0]
    notes = {n["message"]["text"]: n for n in run["invocations"][0]["toolExecutionNotifications"]}
    disabled = next(t for t in notes if t.startswith("Rule G-OFF is disabled by an override"))
    assert "until 2027-03-31, owner platform-team: Retired <b>soon</b> & gone" in disabled
    assert notes[disabled]["level"] == "note"
    assert any(t.startswith("The override disabling rule G-LAPSED") for t in notes)
    assert [d["ruleId"] for d in run["properties"]["disabledRules"]] == ["G-OFF", "G-LAPSED"]
    assert not [r for r in run["results"] if r["ruleId"] == "G-OFF"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["G-TREE"]["properties"]["tags"] == ["security", "nist-800-53/IA-5", "soc2/CC6.1"]
    assert rules["G-TREE"]["properties"]["controls"] == {"nist-800-53": ["IA-5"], "soc2": ["CC6.1"]}


def test_sarif_tags_stay_within_githubs_limit() -> None:
    def info(tags: tuple[str, ...], controls: int) -> RuleInfo:
        return RuleInfo(
            id="R",
            title="t",
            severity=Severity.LOW,
            check_type="max-scopes",
            description=None,
            remediation=None,
            help_uri=None,
            tags=tags,
            source="p.yaml:3",
            controls=(("nist-800-53", tuple(f"AC-{i}" for i in range(1, controls + 1))),),
        )

    few = rule_tags(info(("scopes",), 30))
    assert len(few) == MAX_TAGS and few[:2] == ["scopes", "security"]
    assert few[2:] == [f"nist-800-53/AC-{i}" for i in range(1, 19)]
    many = rule_tags(info(tuple(f"t{i:02}" for i in range(25)), 3))
    assert len(many) == MAX_TAGS and many[0] == "security"
    assert not [t for t in many if t.startswith("nist")]  # own tags come first


@pytest.mark.parametrize(
    "xsd",
    ["junit-windyroad-ant.xsd", "junit-jenkins-xunit-10.xsd", "junit-jenkins-junit4-dtkit.xsd"],
)
def test_junit_skips_a_disabled_rules_pairs_and_stays_valid(tmp_path: Path, xsd: str) -> None:
    from lxml import etree

    evaluation, info = governed(tmp_path)
    xml = renderer("junit")(evaluation, info)
    doc = etree.fromstring(xml.encode())
    assert etree.XMLSchema(etree.parse(str(EXTERNAL / xsd))).validate(doc)
    suite = next(s for s in doc.iter("testsuite") if s.get("name", "").startswith("G-OFF:"))
    assert (suite.get("tests"), suite.get("skipped"), suite.get("failures")) == ("2", "2", "0")
    skipped = [c.find("skipped").text for c in suite.iter("testcase")]  # type: ignore[union-attr]
    assert skipped[0] == (
        "disabled by an override: Retired <b>soon</b> & gone (at "
        + evaluation.disabled[0].source
        + ", until 2027-03-31, owner platform-team, ticket SEC-88)"
    )
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["disabled"].startswith("Retired <b>soon</b> & gone (at ")  # type: ignore[union-attr]
    lapsed = next(s for s in doc.iter("testsuite") if s.get("name", "").startswith("G-LAPSED:"))
    assert lapsed.get("failures") == "1"
    assert "override-expired" in {p.get("name") for p in lapsed.iter("property")}


def test_a_run_limited_to_a_framework(tmp_path: Path) -> None:
    evaluation, info = governed(tmp_path, ("soc2",))
    assert [r.id for r in info.rules] == ["G-TREE"]
    assert {f.rule_id for f in evaluation.findings} == {"G-TREE"}
    data = json.loads(renderer("json")(evaluation, info))
    assert [f["id"] for f in data["frameworks"]] == ["soc2"]
    assert data["disabledRules"] == []  # the disabled rule maps no SOC 2 control
    assert "Rules: only those mapped to soc2" in renderer("text")(evaluation, info)
    assert "only rules mapped to `soc2` were run" in renderer("markdown")(evaluation, info)


# -- the command line ----------------------------------------------------------------------------


def test_check_framework_end_to_end(run_cli: Run) -> None:
    args = (
        "check",
        "-p",
        "builtin:strict",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--now",
        "2026-11-20T06:00:00Z",
        "--format",
        "json",
    )
    everything = json.loads(run_cli(*args).stdout)
    cis = run_cli(*args, "--framework", "cis-controls-v8")
    assert cis.code == 1, cis.stderr
    data = json.loads(cis.stdout)
    cis_rules = {
        r.id for r in load_policies(("builtin:strict",)).rules if "cis-controls-v8" in r.frameworks
    }
    assert {f["ruleId"] for f in data["findings"]} <= cis_rules
    assert (
        data["summary"]["rulesEvaluated"]
        == len(cis_rules)
        < everything["summary"]["rulesEvaluated"]
    )
    assert "GOA-BL-003" not in cis_rules  # token lifetime maps no CIS safeguard
    assert [f["id"] for f in data["frameworks"]] == ["cis-controls-v8"]
    both = json.loads(
        run_cli(*args, "--framework", "cis-controls-v8", "--framework", "soc2").stdout
    )
    assert [f["id"] for f in both["frameworks"]] == ["cis-controls-v8", "soc2"]


def test_an_unknown_framework_is_exit_2_with_a_suggestion(run_cli: Run) -> None:
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--inventory",
        str(SAMPLE_SNAPSHOT),
        "--framework",
        "nist",
    )
    assert ran.code == 2 and ran.stdout == ""
    assert (
        "--framework nist: no rule of builtin:baseline maps to it; did you mean 'nist-800-53'? "
        "(the policies map: cis-controls-v8, iso-27001-2022, nist-800-53, soc2)" in ran.stderr
    )


def test_a_framework_with_policies_that_map_none(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + "rules:\n  - {id: R, title: t, check: {type: max-scopes, max: 3}}\n")
    ran = run_cli(
        "check", "-p", str(path), "--inventory", str(SAMPLE_SNAPSHOT), "--framework", "soc2"
    )
    assert ran.code == 2 and "maps to a framework (rules name the controls" in ran.stderr


# -- the shipped packs ---------------------------------------------------------------------------


@pytest.mark.parametrize("pack", pack_names())
def test_every_pack_rule_maps_to_controls_the_tool_knows(pack: str) -> None:
    """Every rule maps to NIST, ISO and SOC 2 controls (CIS where a safeguard fits); every control
    id is one whose title the tool ships (each was checked against the framework's own text), and
    the description gives the reasoning, naming each control."""
    policies = load_policies((f"builtin:{pack}",))
    assert policies.warnings == ()
    for rule in policies.rules:
        frameworks = dict(rule.controls)
        assert {"nist-800-53", "iso-27001-2022", "soc2"} <= set(frameworks), rule.id
        description = " ".join((rule.description or "").split())
        assert "Controls: " in description, rule.id
        for framework, ids in frameworks.items():
            for control in ids:
                assert FRAMEWORKS[framework].title(control), (rule.id, control)
                assert re.search(rf"(?<![\w.-]){re.escape(control)}(?![\w(])", description), (
                    rule.id,
                    control,
                )


def test_pack_controls_read_well_in_sarif(tmp_path: Path) -> None:
    policies = load_policies(("builtin:strict",))
    info = app.run_info(
        policies,
        SourceInfo(kind="snapshot", path="s.json"),
        app.CheckOptions(policies=("builtin:strict",)),
        NOW,
        color=False,
    )
    for rule in info.rules:
        tags = rule_tags(rule)
        assert len(tags) <= MAX_TAGS and "security" in tags and set(rule.tags) <= set(tags)
        assert len(" ".join((rule.description or "").split())) <= 1024  # GitHub's fullDescription
