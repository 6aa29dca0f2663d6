"""JSON reports read back faithfully (report/load.py), and ``merge``: the reports of separate
runs (one per CI matrix job) give, in every format, exactly what one run over the same orgs
gives.

The round trip is the guard for later additions: a field added to a report, or to the records
behind it (``Evaluation``, ``RunInfo``), that the loader does not carry makes a format rendered
from the loaded records differ from the original, and these tests fail (CONTRIBUTING.md,
"Adding a field to a report").
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from genesys_oauth_audit import app
from genesys_oauth_audit.data import pack_names
from genesys_oauth_audit.errors import ExitCode, InputFileError
from genesys_oauth_audit.findings import BaselineEntry, Evaluation, Severity, apply_baseline
from genesys_oauth_audit.policy.loader import load_policies
from genesys_oauth_audit.report import REPORTERS, renderer
from genesys_oauth_audit.report.base import RunInfo
from genesys_oauth_audit.report.load import orgs_run, read_orgs_report
from genesys_oauth_audit.report.orgs import ORGS_REPORTERS, OrgReport, OrgsRun, render_json
from tests.helpers import SAMPLE_SNAPSHOT, Run
from tests.test_ci_reports import canonical
from tests.test_frameworks import governed

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def wrapped(evaluation: Evaluation, run: RunInfo, name: str = "acme-prod") -> OrgsRun:
    return OrgsRun(
        tool_name=run.tool_name,
        tool_version=run.tool_version,
        generated_at=run.generated_at,
        orgs_file="orgs.yaml",
        orgs_sha256="0" * 64,
        listed=((name, "eu-west-1"),),
        orgs=(OrgReport(name=name, region="eu-west-1", evaluation=evaluation, run=run),),
        min_severity=run.min_severity,
        fail_on=run.fail_on,
        color=run.color,
    )


def read_back(evaluation: Evaluation, run: RunInfo) -> tuple[Evaluation, RunInfo]:
    """The records as ``merge`` gets them: through the JSON report and back."""
    data = json.loads(render_json(wrapped(evaluation, run)))
    loaded = orgs_run(
        data,
        "report.json",
        color=run.color,
        group_by=run.group_by,
        sarif_include_waived=run.sarif_include_waived,
        riskiest=run.riskiest,
        width=run.width,
    )
    org = loaded.orgs[0]
    assert org.evaluation is not None
    assert org.run is not None
    return org.evaluation, org.run


def assert_every_format_survives(evaluation: Evaluation, run: RunInfo) -> None:
    again, run_again = read_back(evaluation, run)
    # The records themselves come back: a field the loader drops fails here even where no
    # format of these cases shows it. The report files a run writes are the writer's own.
    assert again == evaluation
    assert run_again == replace(run, outputs=())
    for fmt in REPORTERS:
        original = renderer(fmt)(evaluation, run)
        assert renderer(fmt)(again, run_again) == original, (
            f"{fmt}: a format rendered from the JSON report read back differs from the original "
            "(a field the loader, report/load.py, does not carry?)"
        )
    # Read back twice: nothing is lost or changed on the second pass either.
    assert read_back(again, run_again) == (again, run_again)


def test_the_canonical_evaluation_survives_the_json_report_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, run = canonical(tmp_path)
    assert_every_format_survives(evaluation, run)
    # The options that only draw: grouping by client, colour, waived results in SARIF.
    assert_every_format_survives(
        evaluation, replace(run, group_by="client", color=True, sarif_include_waived=True)
    )


def test_hidden_findings_a_baseline_and_absent_entries_survive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, run = canonical(tmp_path)
    known = [
        BaselineEntry(fingerprint=f.fingerprint, rule_id=f.rule_id, client_id=f.client_id)
        for f in evaluation.findings
        if f.rule_id == "H-1"
    ]
    gone = BaselineEntry(fingerprint="0" * 32, rule_id="C-1", client_id="x", client_name="Gone")
    evaluation = apply_baseline(evaluation, [*known, gone])
    run = replace(run, min_severity=Severity.HIGH, baseline="baselines/acme.json")
    assert run.counts(evaluation).hidden > 0
    assert_every_format_survives(evaluation, run)


def test_disabled_rules_lapsed_overrides_and_frameworks_survive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, run = governed(tmp_path)
    assert evaluation.disabled and evaluation.expired_overrides
    assert_every_format_survives(evaluation, run)
    evaluation, run = governed(tmp_path, frameworks=("nist-800-53",))
    assert_every_format_survives(evaluation, run)


def sample_audit(*refs: str, snapshot: Path = SAMPLE_SNAPSHOT) -> tuple[Evaluation, RunInfo]:
    policies = load_policies(refs)
    opts = app.CheckOptions(policies=refs, inventory=snapshot)
    return app.audit(
        policies,
        None,
        opts,
        NOW,
        environ={},
        streams=app.Streams(),
        transport=None,
        color=False,
    )


@pytest.mark.parametrize("pack", pack_names())
def test_the_sample_org_with_each_shipped_pack_survives(pack: str) -> None:
    evaluation, run = sample_audit(f"builtin:{pack}")
    assert evaluation.findings, "the sample org breaks every shipped pack somewhere"
    assert_every_format_survives(evaluation, run)


def test_every_kind_of_evidence_survives() -> None:
    evaluation, run = sample_audit(*(f"builtin:{pack}" for pack in pack_names()))
    kinds = {f.evidence.kind for f in evaluation.findings if f.evidence is not None}
    assert kinds == {"permission", "role", "usage", "value", "least-privilege"}
    assert_every_format_survives(evaluation, run)


def test_a_least_privilege_view_with_notes_and_scopes_first_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without roles, the client-credentials clients are not analysed (the view says so in its
    notes) and only user-facing clients are left: every row is about scopes."""
    monkeypatch.chdir(tmp_path)
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    data["roles"] = None
    snapshot = tmp_path / "no-roles.json"
    snapshot.write_text(json.dumps(data))
    evaluation, run = sample_audit("builtin:least-privilege", snapshot=snapshot)
    view = run.least_privilege
    assert view is not None and view.clients
    assert {r.kind for r in view.clients} == {"scopes"}
    assert view.notes and "were not analysed" in view.notes[0]
    assert any("enforces OAuth scopes" in n for n in view.limits)
    assert_every_format_survives(evaluation, run)


def test_a_merge_draws_its_standard_output_at_its_terminal_s_width(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The width is the merging machine's, as it is ``check``'s: a report carries none (files are
    80 columns wherever they are written)."""
    monkeypatch.chdir(tmp_path)
    evaluation, run = sample_audit("builtin:least-privilege")
    (tmp_path / "a.json").write_text(render_json(wrapped(evaluation, run)))
    flags = ("merge", "a.json", "--now", "2026-11-20T06:00:00Z", "--text-output", "m.txt")
    wide = run_cli(*flags, "--format", "text", env={"COLUMNS": "150"})
    assert wide.code == 1, wide.stderr
    widest = max(len(line) for line in wide.stdout.splitlines())
    assert 80 < widest <= 150
    assert max(len(line) for line in (tmp_path / "m.txt").read_text().splitlines()) <= 80
    narrow = run_cli(*flags, "--format", "text", env={"COLUMNS": "80"})
    assert narrow.stdout == (tmp_path / "m.txt").read_text()


def test_a_report_that_is_not_one_of_many_orgs_is_refused_with_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # canonical() writes its policy file here
    single = tmp_path / "single.json"
    evaluation, run = canonical(tmp_path)
    single.write_text(renderer("json")(evaluation, run))
    with pytest.raises(InputFileError, match="check --orgs FILE --org NAME"):
        read_orgs_report(single)
    data = json.loads(render_json(wrapped(evaluation, run)))
    del data["orgs"][0]["detail"]["selected"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(InputFileError) as info:
        read_orgs_report(broken)
    assert str(info.value) == f"{broken}: orgs[0].detail: missing key 'selected'"
    data = json.loads(render_json(wrapped(evaluation, run)))
    data["orgs"][0]["report"]["findings"][1]["severity"] = "severe"
    broken.write_text(json.dumps(data))
    with pytest.raises(InputFileError, match=r"orgs\[0\]\.report\.findings\[1\]\.severity"):
        read_orgs_report(broken)
    broken.write_text('{"kind": "orgs", "reportVersion": 1')
    with pytest.raises(InputFileError, match="not valid JSON"):
        read_orgs_report(broken)


def test_a_report_whose_records_name_a_rule_it_does_not_list_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Run
) -> None:
    """The formats look rules up by id (a SARIF result points at its rule): a report whose
    findings or rules not evaluated name a rule missing from its own list is refused (exit 2),
    in every format, not an internal error in SARIF."""
    monkeypatch.chdir(tmp_path)
    evaluation, run = canonical(tmp_path)
    data = json.loads(render_json(wrapped(evaluation, run)))
    rules = data["orgs"][0]["detail"]["rules"]
    named = data["orgs"][0]["report"]["findings"][0]["ruleId"]
    for rule in rules:
        if rule["id"] == named:
            rule["id"] = named + "-renamed"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    for fmt in ("sarif", "json", "text"):
        ran = run_cli("merge", str(broken), "--format", fmt)
        assert ran.code == 2, ran.stderr
        assert f"ruleId: rule {named!r} is not one of the report's rules" in ran.stderr


def test_every_format_has_a_many_orgs_renderer() -> None:
    assert tuple(ORGS_REPORTERS) == tuple(REPORTERS)


# -- merge over the CLI -------------------------------------------------------------------------


def _orgs_file(folder: Path) -> Path:
    path = folder / "orgs.yaml"
    path.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Orgs\norgs:\n"
        "  - {name: emea-prod, region: eu-west-1, clientIdEnv: EMEA_ID, clientSecretEnv: EMEA_SECRET}\n"
        "  - {name: apac-test, region: ap-southeast-2, clientIdEnv: APAC_ID, clientSecretEnv: APAC_SECRET}\n"
    )
    return path


def test_merge_refuses_what_one_run_could_not_have_written(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, run = canonical(tmp_path)
    one = wrapped(evaluation, run, "emea-prod")
    other = wrapped(evaluation, run, "apac-test")

    def save(name: str, orgs: OrgsRun) -> str:
        data = json.loads(render_json(orgs))
        data["orgsFile"]["orgs"] = [
            {"name": "emea-prod", "region": "eu-west-1"},
            {"name": "apac-test", "region": "eu-west-1"},
        ]
        (tmp_path / name).write_text(json.dumps(data))
        return name

    a, b = save("a.json", one), save("b.json", other)
    ran = run_cli("merge", a, a)
    assert ran.code == 2
    assert "two reports of org emea-prod: a.json and a.json" in ran.stderr
    # Another release wrote one of them.
    data = json.loads((tmp_path / b).read_text())
    data["tool"]["version"] = "9.9.9"
    (tmp_path / "c.json").write_text(json.dumps(data))
    ran = run_cli("merge", a, "c.json")
    assert ran.code == 2
    assert "differ in the tool version" in ran.stderr
    # Another version of a policy file.
    data = json.loads((tmp_path / b).read_text())
    data["orgs"][0]["report"]["policies"][0]["sha256"] = "f" * 64
    (tmp_path / "d.json").write_text(json.dumps(data))
    ran = run_cli("merge", a, "d.json")
    assert ran.code == 2
    assert "policy canonical.yaml differs between the reports" in ran.stderr
    # Another orgs file.
    data = json.loads((tmp_path / b).read_text())
    data["orgsFile"]["sha256"] = "1" * 64
    (tmp_path / "e.json").write_text(json.dumps(data))
    ran = run_cli("merge", a, "e.json")
    assert ran.code == 2
    assert "differ in the orgs file" in ran.stderr
    # The two reports of different orgs merge; every format is written.
    ran = run_cli("merge", a, b, "--format", "json", "--sarif-output", "m.sarif")
    assert ran.code == 1, ran.stderr
    merged = json.loads(ran.stdout)
    assert [o["name"] for o in merged["orgs"]] == ["emea-prod", "apac-test"]
    assert len(json.loads((tmp_path / "m.sarif").read_text())["runs"]) == 2


def test_merge_reports_an_org_no_report_covers_as_not_audited(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evaluation, run = canonical(tmp_path)
    data = json.loads(render_json(wrapped(evaluation, run, "emea-prod")))
    data["orgsFile"]["orgs"].append({"name": "apac-test", "region": "ap-southeast-2"})
    (tmp_path / "a.json").write_text(json.dumps(data))
    ran = run_cli("merge", "a.json", "--format", "json")
    assert ran.code == ExitCode.INCOMPLETE
    merged = json.loads(ran.stdout)
    lost = merged["orgs"][1]
    assert (lost["name"], lost["verdict"], lost["report"]) == ("apac-test", "error", None)
    assert "no report of this org was given to merge" in lost["error"]


def test_a_file_per_org_is_named_by_a_template_or_a_directory(tmp_path: Path) -> None:
    from genesys_oauth_audit.errors import BadInputError
    from genesys_oauth_audit.orgs import per_org_path

    assert per_org_path(Path("b/{org}.json"), "emea-prod", "--baseline") == Path("b/emea-prod.json")
    (tmp_path / "dir").mkdir()
    assert per_org_path(tmp_path / "dir", "x", "--baseline") == tmp_path / "dir" / "x.json"
    with pytest.raises(BadInputError, match="give a directory"):
        per_org_path(tmp_path / "one.json", "x", "--baseline")
