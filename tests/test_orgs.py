"""Many orgs in one run (``check --orgs``, ``fetch --orgs``), each over its own real loopback
socket: one healthy, one slow, one rate-limited, one whose credentials are refused. Each org is
isolated (its reports are complete and equal to a run of that org alone; its 429s never hold
up another org's requests), the exit code is the worst of the orgs, ``merge`` of the per-org
runs equals the one run, and no org's secret reaches any output.

Counts and the order of requests are asserted, never durations.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from genesys_oauth_audit.errors import ExitCode
from genesys_oauth_audit.report import REPORTERS
from tests.fake.orgdata import SAMPLE_CLIENTS, SAMPLE_ROLES, SCOPES, sample_usage, uid
from tests.fake.server import FakeGenesys, template_of
from tests.helpers import Run, record_calls
from tests.test_ci_reports import EXTERNAL, github_problems, sarif_validator

NOW = "2026-11-20T06:00:00Z"
SUFFIX = {
    "text": "txt",
    "json": "json",
    "sarif": "sarif",
    "junit": "xml",
    "markdown": "md",
    "html": "html",
}


@dataclass
class Served:
    """The request log of every org of a test, in the order the fakes answered."""

    order: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: Counter[str] = field(default_factory=Counter)  # requests being answered, by org
    most_in_flight: int = 0  # the most orgs with a request being answered at the same time
    most_of_one_org: int = 0  # the most requests of one org being answered at the same time


MEETING = ("/api/v2/oauth/scopes", "/api/v2/organizations/me")


@dataclass
class OrgFake(FakeGenesys):
    """The sample org under another name and id, recording into a log shared by the test's orgs
    (and how many orgs are being answered at once)."""

    label: str = ""
    served: Served = field(default_factory=Served)
    # When set: the scope catalog and the org's own request are each answered only once the
    # other has arrived too (or after 10 s), and ``met`` says whether they were in flight together.
    meet: threading.Barrier | None = None
    met: bool = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        served = self.served
        with served.lock:
            served.in_flight[self.label] += 1
            orgs = sum(1 for n in served.in_flight.values() if n)
            served.most_in_flight = max(served.most_in_flight, orgs)
            served.most_of_one_org = max(served.most_of_one_org, served.in_flight[self.label])
        try:
            if self.meet is not None and request.url.path in MEETING:
                try:
                    self.meet.wait(10)
                    self.met = True
                except threading.BrokenBarrierError:
                    self.met = False
            response = super().handle(request)
        finally:
            with served.lock:
                served.in_flight[self.label] -= 1
        # Paths as their API operation (a usage execution id differs from run to run).
        path = template_of(request.method, request.url.path) or request.url.path
        with self.served.lock:
            self.served.order.append((self.label, path, response.status_code))
        return response


def org_fake(label: str, served: Served, **kwargs: Any) -> OrgFake:
    kwargs.setdefault("usage_running_polls", 0)  # the usage query answers at once: no polling
    return OrgFake(
        clients=[dict(c) for c in SAMPLE_CLIENTS],
        scopes=list(SCOPES),
        roles=[dict(r) for r in SAMPLE_ROLES],
        org={"id": uid(f"org:{label}"), "name": f"Org {label}"},
        usage=sample_usage(),
        credentials={f"{label}-id": secret_of(label)},
        label=label,
        served=served,
        **kwargs,
    )


def secret_of(label: str) -> str:
    return f"{label}-secret-{uid(label)[:12]}"


def env_name(label: str) -> str:
    return label.upper().replace("-", "_")


@dataclass
class Fleet:
    """Orgs served over loopback, their orgs file and the environment with every org's secret."""

    fakes: dict[str, OrgFake]
    urls: dict[str, str]
    file: Path
    env: dict[str, str]
    served: Served

    def requests(self, label: str) -> list[tuple[str, int]]:
        return [(path, status) for org, path, status in self.served.order if org == label]


@contextlib.contextmanager
def fleet(folder: Path, fakes: dict[str, OrgFake], served: Served) -> Iterator[Fleet]:
    with contextlib.ExitStack() as stack:
        urls = {label: stack.enter_context(fake.serve()) for label, fake in fakes.items()}
        lines = ["apiVersion: genesys-oauth-audit/v1", "kind: Orgs", "orgs:"]
        env = {}
        for label in fakes:
            lines += [
                f"  - name: {label}",
                f'    region: "{urls[label]}"',
                f"    clientIdEnv: {env_name(label)}_CLIENT_ID",
                f"    clientSecretEnv: {env_name(label)}_CLIENT_SECRET",
            ]
            env[f"{env_name(label)}_CLIENT_ID"] = f"{label}-id"
            env[f"{env_name(label)}_CLIENT_SECRET"] = secret_of(label)
        path = folder / "orgs.yaml"
        path.write_text("\n".join(lines) + "\n")
        yield Fleet(fakes, urls, path, env, served)


@pytest.fixture
def troubled(tmp_path: Path) -> Iterator[Fleet]:
    """Four orgs: healthy, slow (every answer takes a while, well within the deadline),
    rate-limited (its client listing answers 429 with Retry-After twice) and refused (its
    secret is wrong)."""
    served = Served()
    fakes = {
        "healthy": org_fake("healthy", served),
        "slow": org_fake("slow", served, latency=0.05),
        "throttled": org_fake("throttled", served),
        "refused": org_fake("refused", served),
    }
    fakes["throttled"].fail(r"^/api/v2/oauth/clients$", "429", times=2)
    with fleet(tmp_path, fakes, served) as f:
        f.env[f"{env_name('refused')}_CLIENT_SECRET"] = "not-the-secret-of-refused"
        yield f


def every_secret(f: Fleet) -> list[str]:
    out = [v for k, v in f.env.items() if k.endswith("_SECRET")]
    for fake in f.fakes.values():
        out += fake.secrets()
    return out


def assert_no_secret(f: Fleet, *texts: str) -> None:
    for secret in every_secret(f):
        for text in texts:
            assert secret not in text


def solo(run_cli: Run, f: Fleet, label: str) -> dict[str, Any]:
    """What ``check`` reports for one of the orgs alone, over its socket."""
    ran = run_cli(
        "check",
        "-p",
        "builtin:baseline",
        "--format",
        "json",
        "--now",
        NOW,
        env={
            "GENESYSCLOUD_REGION": f.urls[label],
            "GENESYSCLOUD_OAUTHCLIENT_ID": f"{label}-id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": secret_of(label),
        },
    )
    assert ran.code == ExitCode.FINDINGS, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)
    return report


def without_org(report: dict[str, Any]) -> dict[str, Any]:
    for finding in report["findings"]:
        del finding["org"]
    return report


@pytest.mark.socket
def test_one_org_in_trouble_neither_slows_nor_fails_the_others(
    run_cli: Run, troubled: Fleet, tmp_path: Path
) -> None:
    f = troubled
    ran = run_cli(
        "-vv",  # every request logged: no secret there either, and each line names its org
        "check",
        "--orgs",
        str(f.file),
        "-p",
        "builtin:baseline",
        "--format",
        "json",
        "--now",
        NOW,
        "--jobs",
        "4",
        "--max-retries",
        "3",
        env=f.env,
    )
    # The worst of the orgs: one could not be audited.
    assert ran.code == ExitCode.INCOMPLETE, ran.stderr
    report = json.loads(ran.stdout)
    by_name = {o["name"]: o for o in report["orgs"]}
    assert [o["name"] for o in report["orgs"]] == ["healthy", "slow", "throttled", "refused"]
    refused = by_name["refused"]
    assert (refused["verdict"], refused["exitCode"], refused["report"], refused["detail"]) == (
        "error",
        3,
        None,
        None,
    )
    assert "401" in refused["error"] or "authentication" in refused["error"].lower()
    assert report["summary"] == {
        **report["summary"],
        "orgs": 4,
        "verdicts": {"pass": 0, "fail": 3, "error": 1},
        "exitCode": 3,
    }
    # Every other org's report is complete, and exactly what a run of that org alone reports.
    served_together = {label: f.requests(label) for label in f.fakes}
    for label in ("healthy", "slow", "throttled"):
        entry = by_name[label]
        assert entry["verdict"] == "fail"
        assert all(x["org"] == label for x in entry["report"]["findings"])
        assert without_org(entry["report"]) == solo(run_cli, f, label)
    # The requests the orgs made: the healthy and the slow one exactly those of a run alone,
    # with no 429 and no retry; the throttled one the same plus its two 429s.
    alone = {label: f.requests(label)[len(served_together[label]) :] for label in f.fakes}
    # (as multisets: a run of one org reads side by side, a run of many reads each org in order)
    for label in ("healthy", "slow"):
        assert sorted(served_together[label]) == sorted(alone[label])
        assert all(status != 429 for _, status in served_together[label])
    throttled = served_together["throttled"]
    assert [s for _, s in throttled].count(429) == 2
    assert sorted(r for r in throttled if r[1] != 429) == sorted(alone["throttled"])
    # While the throttled org waited out its Retry-After, the others' requests went on: every
    # request of the healthy org was answered before the throttled org's listing was.
    order = f.served.order[: sum(len(v) for v in served_together.values())]
    first_429 = order.index(("throttled", "/api/v2/oauth/clients", 429))
    listed = order.index(("throttled", "/api/v2/oauth/clients", 200))
    between = {org for org, _, _ in order[first_429:listed] if org != "throttled"}
    assert "slow" in between
    last_healthy = max(i for i, (org, _, _) in enumerate(order) if org == "healthy")
    assert last_healthy < listed
    # The refused org stopped at its login, once.
    assert served_together["refused"] == [("/oauth/token", 401)]
    # Each org said how it went on stderr, one line each; nothing secret anywhere.
    lines = ran.stderr.splitlines()
    for label in f.fakes:
        assert sum(line.startswith(f"org {label}: ") for line in lines) == 1
    retries = [line for line in lines if "retrying in" in line]
    assert len(retries) == 2
    assert all(line.startswith("genesys-oauth-audit: org throttled: ") for line in retries)
    assert_no_secret(f, ran.stdout, ran.stderr)


@pytest.mark.socket
def test_exit_codes_are_the_worst_of_the_orgs(run_cli: Run, tmp_path: Path) -> None:
    served = Served()
    fakes = {"north": org_fake("north", served), "south": org_fake("south", served)}
    with fleet(tmp_path, fakes, served) as f:
        base = ["check", "--orgs", str(f.file), "-p", "builtin:baseline", "--now", NOW]
        assert run_cli(*base, env=f.env).code == ExitCode.FINDINGS
        assert run_cli(*base, "--fail-on", "never", env=f.env).code == ExitCode.OK
        # One org with findings at or above --fail-on high, the other with none.
        fakes["south"].clients = [
            c for c in fakes["south"].clients if c["name"] in ("CRM Data Sync", "HR Directory Sync")
        ]
        ran = run_cli(*base, "--fail-on", "high", "--format", "json", env=f.env)
        verdicts = {o["name"]: o["verdict"] for o in json.loads(ran.stdout)["orgs"]}
        assert (ran.code, verdicts) == (ExitCode.FINDINGS, {"north": "fail", "south": "pass"})
        fakes["north"].fail(r"/api/v2/oauth/clients", "5xx", times=50)
        ran = run_cli(*base, "--fail-on", "high", "--max-retries", "1", env=f.env)
        assert ran.code == ExitCode.INCOMPLETE
        assert "Result: INCOMPLETE (2 orgs: 1 pass, 0 fail, 1 not audited)" in ran.stdout


@pytest.mark.socket
def test_merging_the_matrix_jobs_reports_equals_one_run_in_every_format(
    run_cli: Run, tmp_path: Path
) -> None:
    served = Served()
    fakes = {label: org_fake(label, served) for label in ("emea-prod", "apac-test", "broken")}
    with fleet(tmp_path, fakes, served) as f:
        f.env[f"{env_name('broken')}_CLIENT_SECRET"] = "wrong-secret-value"
        # The least-privilege pack: the view of every client (operations read over real HTTP)
        # goes through the JSON reports too; a SARIF category is the audit's own (each job's).
        flags = ["-p", "builtin:baseline", "-p", "builtin:least-privilege", "--now", NOW]
        flags += ["--fail-on", "high", "--sarif-category", "oauth-clients/orgs"]
        # What only draws a format is the merge's to say (--riskiest, --group-by, ...).
        drawing = ["--riskiest", "2", "--group-by", "client"]
        outputs = [
            arg
            for fmt in REPORTERS
            for arg in (f"--{fmt}-output", str(tmp_path / f"one.{SUFFIX[fmt]}"))
        ]
        one = run_cli("check", "--orgs", str(f.file), *flags, *drawing, *outputs, env=f.env)
        assert one.code == ExitCode.INCOMPLETE, one.stderr
        parts = []
        for label in fakes:
            part = tmp_path / f"part-{label}.json"
            ran = run_cli(
                "check",
                "--orgs",
                str(f.file),
                "--org",
                label,
                *flags,
                "--json-output",
                str(part),
                env=f.env,
            )
            assert ran.code == (ExitCode.INCOMPLETE if label == "broken" else ExitCode.FINDINGS)
            parts.append(str(part))
        merged_outputs = [
            arg
            for fmt in REPORTERS
            for arg in (f"--{fmt}-output", str(tmp_path / f"merged.{SUFFIX[fmt]}"))
        ]
        # In another order than the file's: the merged report follows the file.
        merged = run_cli("merge", *reversed(parts), "--now", NOW, *drawing, *merged_outputs)
        assert merged.code == ExitCode.INCOMPLETE, merged.stderr
        for fmt in REPORTERS:
            want = (tmp_path / f"one.{SUFFIX[fmt]}").read_text()
            got = (tmp_path / f"merged.{SUFFIX[fmt]}").read_text()
            assert got == want, f"merge differs from one run in {fmt}"
        report = json.loads((tmp_path / "merged.json").read_text())
        audited = [o for o in report["orgs"] if o["report"] is not None]
        assert len(audited) == 2
        assert all(o["report"]["leastPrivilege"]["clients"] for o in audited)
        assert all(o["detail"]["sarifCategory"] == "oauth-clients/orgs" for o in audited)
        sarif = json.loads((tmp_path / "merged.sarif").read_text())
        assert [r["automationDetails"]["id"] for r in sarif["runs"]] == [
            "oauth-clients/orgs/emea-prod/",
            "oauth-clients/orgs/apac-test/",
        ]
        assert "Riskiest clients" in (tmp_path / "merged.txt").read_text()
        assert_no_secret(f, *(p.read_text() for p in tmp_path.iterdir() if p.is_file()))


@pytest.mark.socket
def test_many_orgs_reports_are_valid_in_every_format(run_cli: Run, tmp_path: Path) -> None:
    from lxml import etree

    served = Served()
    fakes = {label: org_fake(label, served) for label in ("emea-prod", "apac-test", "gone")}
    with fleet(tmp_path, fakes, served) as f:
        f.env[f"{env_name('gone')}_CLIENT_SECRET"] = "wrong-secret-value"
        outputs = [
            arg
            for fmt in REPORTERS
            for arg in (f"--{fmt}-output", str(tmp_path / f"r.{SUFFIX[fmt]}"))
        ]
        ran = run_cli("check", "--orgs", str(f.file), "-p", "builtin:baseline", *outputs, env=f.env)
        assert ran.code == ExitCode.INCOMPLETE
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert not list(sarif_validator().iter_errors(sarif))
    assert github_problems(sarif) == []
    # One run per audited org, each its own category; the org that failed has none.
    categories = [r["automationDetails"]["id"] for r in sarif["runs"]]
    assert len(categories) == len(set(categories)) == 2
    assert [r["properties"]["org"] for r in sarif["runs"]] == ["emea-prod", "apac-test"]
    assert all(
        res["properties"]["org"] == run["properties"]["org"]
        for run in sarif["runs"]
        for res in run["results"]
    )
    xml = (tmp_path / "r.xml").read_bytes()
    for xsd in (
        "junit-windyroad-ant.xsd",
        "junit-jenkins-xunit-10.xsd",
        "junit-jenkins-junit4-dtkit.xsd",
    ):
        schema = etree.XMLSchema(etree.parse(str(EXTERNAL / xsd)))
        doc = etree.fromstring(xml)
        assert schema.validate(doc), (xsd, schema.error_log)
    suites = etree.fromstring(xml).findall("testsuite")
    names = [s.get("name", "") for s in suites]
    assert len(names) == len(set(names))
    assert names[-1] == "gone: not audited"
    assert all(n.startswith(("emea-prod: ", "apac-test: ", "gone: ")) for n in names)
    cases = [
        (c.get("classname", ""), c.get("name", "")) for s in suites for c in s.findall("testcase")
    ]
    assert len(cases) == len(set(cases)), "testcase names must be unique (GitLab keeps the first)"
    assert {c.split(".")[0] for c, _ in cases} == {"emea-prod", "apac-test", "gone"}
    text = (tmp_path / "r.txt").read_text()
    assert text.splitlines()[0].endswith("INCOMPLETE (3 orgs: 0 pass, 2 fail, 1 not audited)")
    assert "==== org emea-prod (" in text and "==== org gone (" in text
    md = (tmp_path / "r.md").read_text()
    from tests.test_ci_reports import markdown_tables_keep_their_columns

    assert markdown_tables_keep_their_columns(md) >= 3
    assert "| `gone` |" in md and "### org `apac-test`: ❌ FAIL" in md
    page = (tmp_path / "r.html").read_text()
    assert page.count('<table id="org-0-findings">') == 1
    assert page.count('<table id="org-1-findings">') == 1
    assert "not audited" in page
    report = json.loads((tmp_path / "r.json").read_text())
    from tests.test_orgs_file import orgs_report_validator

    assert not list(orgs_report_validator().iter_errors(report))


@pytest.mark.socket
def test_fetch_orgs_writes_a_snapshot_per_org_and_none_for_one_that_failed(
    run_cli: Run, tmp_path: Path
) -> None:
    served = Served()
    fakes = {label: org_fake(label, served) for label in ("emea-prod", "apac-test", "gone")}
    out = tmp_path / "snapshots"
    with fleet(tmp_path, fakes, served) as f:
        f.env[f"{env_name('gone')}_CLIENT_SECRET"] = "wrong-secret-value"
        ran = run_cli("fetch", "--orgs", str(f.file), "-o", str(out), "--now", NOW, env=f.env)
    assert ran.code == ExitCode.INCOMPLETE
    assert sorted(p.name for p in out.iterdir()) == ["apac-test.json", "emea-prod.json"]
    snapshot = json.loads((out / "emea-prod.json").read_text())
    assert snapshot["org"]["name"] == "Org emea-prod"
    assert len(snapshot["clients"]) == len(SAMPLE_CLIENTS)
    assert "not read: gone" in ran.stderr
    assert_no_secret(f, ran.stdout, ran.stderr, *(p.read_text() for p in out.iterdir()))
    # The snapshot a run of many orgs writes audits as the org would alone.
    ran = run_cli("check", "-p", "builtin:baseline", "--inventory", str(out / "apac-test.json"))
    assert ran.code == ExitCode.FINDINGS


@pytest.mark.socket
def test_jobs_bounds_how_many_orgs_are_read_at_once(run_cli: Run, tmp_path: Path) -> None:
    served = Served()
    fakes = {f"org-{i}": org_fake(f"org-{i}", served, latency=0.02) for i in range(5)}
    with fleet(tmp_path, fakes, served) as f:
        ran = run_cli(
            "check", "--orgs", str(f.file), "-p", "builtin:tutorial", "--jobs", "2", env=f.env
        )
        assert ran.code == ExitCode.FINDINGS, ran.stderr
        assert served.most_in_flight <= 2
        served.most_in_flight = 0
        ran = run_cli(
            "check", "--orgs", str(f.file), "-p", "builtin:tutorial", "--org", "org-3", env=f.env
        )
        assert ran.code == ExitCode.FINDINGS
        assert {org for org, _, _ in served.order[-3:]} == {"org-3"}


@pytest.mark.socket
def test_only_an_org_alone_is_judged_while_its_usage_query_runs(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a run of many orgs an org's wait for its usage query is the others' time, so its rules
    are all judged at the end; a matrix job's one org (--org) judges the rules that read no
    usage while the query runs, as a single-org check does. The reports are the same."""
    from genesys_oauth_audit.engine import evaluate as engine

    judged_early = record_calls(monkeypatch, engine, "evaluate_early")
    served = Served()
    fakes = {label: org_fake(label, served, usage_running_polls=1) for label in ("a", "b")}
    with fleet(tmp_path, fakes, served) as f:
        check = ("check", "--orgs", str(f.file), "-p", "builtin:baseline", "--format", "json")
        both = run_cli(*check, "--now", "2026-11-20T06:00:00Z", env=f.env)
        assert both.code == ExitCode.FINDINGS, both.stderr
        assert judged_early == []
        one = run_cli(*check, "--now", "2026-11-20T06:00:00Z", "--org", "a", env=f.env)
        assert one.code == ExitCode.FINDINGS, one.stderr
        assert len(judged_early) == 1

    def findings(text: str) -> list[Any]:
        [org] = [o for o in json.loads(text)["orgs"] if o["name"] == "a"]
        found: list[Any] = org["report"]["findings"]
        return found

    assert findings(one.stdout) == findings(both.stdout) != []


@pytest.mark.socket
def test_an_orgs_reads_go_side_by_side_in_its_one_place(run_cli: Run, tmp_path: Path) -> None:
    """With one place (--jobs 1), each org is still read as an org alone is: its reads side by
    side (the fake answers its scope catalog and its org request only once both have arrived),
    and never two orgs at a time."""
    served = Served()
    fakes = {label: org_fake(label, served, meet=threading.Barrier(2)) for label in ("a", "b")}
    with fleet(tmp_path, fakes, served) as f:
        ran = run_cli(
            "check", "--orgs", str(f.file), "-p", "builtin:tutorial", "--jobs", "1", env=f.env
        )
        assert ran.code == ExitCode.FINDINGS, ran.stderr
    assert [fake.met for fake in fakes.values()] == [True, True]
    assert served.most_in_flight == 1 and served.most_of_one_org > 1


@pytest.mark.socket
def test_an_org_waiting_out_a_retry_after_gives_its_place_to_another(
    run_cli: Run, tmp_path: Path
) -> None:
    """With one place (--jobs 1) and the throttled org first in the file: while it waits for its
    Retry-After, the other org is read whole; then the throttled one goes on."""
    served = Served()
    fakes = {"throttled": org_fake("throttled", served), "healthy": org_fake("healthy", served)}
    fakes["throttled"].fail(r"^/api/v2/oauth/clients$", "429", times=1)
    with fleet(tmp_path, fakes, served) as f:
        ran = run_cli(
            "check", "--orgs", str(f.file), "-p", "builtin:tutorial", "--jobs", "1", env=f.env
        )
        assert ran.code == ExitCode.FINDINGS, ran.stderr
    order = [org for org, _, _ in served.order]
    throttled_429 = served.order.index(("throttled", "/api/v2/oauth/clients", 429))
    healthy = [i for i, org in enumerate(order) if org == "healthy"]
    retried = served.order.index(("throttled", "/api/v2/oauth/clients", 200))
    assert throttled_429 < healthy[0] and healthy[-1] < retried
    assert served.most_in_flight == 1


def test_a_baseline_per_org(run_cli: Run, tmp_path: Path) -> None:
    """--write-baseline and --baseline take a file per org ({org} in the path, or a directory);
    each org's findings are compared with its own."""
    served = Served()
    fakes = {label: org_fake(label, served) for label in ("emea-prod", "apac-test")}
    transports = {label: fake.transport() for label, fake in fakes.items()}
    from genesys_oauth_audit import app
    from genesys_oauth_audit.orgs import OrgsOptions, check_orgs

    lines = ["apiVersion: genesys-oauth-audit/v1", "kind: Orgs", "orgs:"]
    env = {}
    for label in fakes:
        lines.append(
            f"  - {{name: {label}, region: eu-west-1, clientIdEnv: {env_name(label)}_ID, "
            f"clientSecretEnv: {env_name(label)}_SECRET}}"
        )
        env[f"{env_name(label)}_ID"] = f"{label}-id"
        env[f"{env_name(label)}_SECRET"] = secret_of(label)
    orgs_file = tmp_path / "orgs.yaml"
    orgs_file.write_text("\n".join(lines) + "\n")
    (tmp_path / "baselines").mkdir()

    def check(**kw: Any) -> tuple[ExitCode, dict[str, Any]]:
        import io

        out = io.StringIO()
        opts = app.CheckOptions(policies=("builtin:baseline",), format="json", **kw)
        code = check_orgs(
            opts,
            OrgsOptions(file=orgs_file),
            environ=env,
            streams=app.Streams(stdout=out, stderr=io.StringIO()),
            transports=transports,
        )
        return code, json.loads(out.getvalue())

    code, first = check(write_baseline=tmp_path / "baselines" / "{org}.json")
    assert code == ExitCode.FINDINGS
    assert sorted(p.name for p in (tmp_path / "baselines").iterdir()) == [
        "apac-test.json",
        "emea-prod.json",
    ]
    # A new client in one org: only its findings are new, and only that org fails.
    fakes["apac-test"].clients.append(
        {
            **SAMPLE_CLIENTS[0],
            "id": uid("new"),
            "name": "Brand New Implicit",
            "authorizedGrantType": "TOKEN",
        }
    )
    code, second = check(baseline=tmp_path / "baselines")
    assert code == ExitCode.FINDINGS
    states = {
        o["name"]: {x["baselineState"] for x in o["report"]["findings"]} for o in second["orgs"]
    }
    assert states["emea-prod"] == {"unchanged"}
    assert "new" in states["apac-test"]
    assert {o["name"]: o["verdict"] for o in second["orgs"]} == {
        "emea-prod": "pass",
        "apac-test": "fail",
    }
    assert first["orgs"][0]["detail"]["baseline"] is None
    assert second["orgs"][1]["detail"]["baseline"] == str(tmp_path / "baselines" / "apac-test.json")


def test_unknown_org_names_and_single_org_flags_are_bad_input(run_cli: Run, tmp_path: Path) -> None:
    orgs_file = tmp_path / "orgs.yaml"
    orgs_file.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Orgs\norgs:\n"
        "  - {name: emea-prod, region: eu-west-1, clientIdEnv: EMEA_ID, clientSecretEnv: EMEA_SECRET}\n"
    )
    env = {"EMEA_ID": "id", "EMEA_SECRET": "secret-of-emea"}
    ran = run_cli(
        "check", "--orgs", str(orgs_file), "--org", "emea-prd", "-p", "builtin:tutorial", env=env
    )
    assert ran.code == ExitCode.BAD_INPUT
    assert "--org emea-prd: no org of that name" in ran.stderr
    assert "did you mean 'emea-prod'?" in ran.stderr
    ran = run_cli(
        "check",
        "--orgs",
        str(orgs_file),
        "--region",
        "us-east-1",
        "-p",
        "builtin:tutorial",
        env=env,
    )
    assert ran.code == ExitCode.BAD_INPUT
    assert "--orgs cannot be combined with --region" in ran.stderr
    ran = run_cli("check", "--org", "emea-prod", "-p", "builtin:tutorial", env=env)
    assert ran.code == ExitCode.BAD_INPUT
    assert "--org needs --orgs FILE" in ran.stderr
    ran = run_cli("check", "--orgs", str(orgs_file), env=env)
    assert ran.code == ExitCode.BAD_INPUT
    assert "org emea-prod has no policies: give -p POLICY" in ran.stderr
    ran = run_cli("check", env=env)
    assert ran.code == ExitCode.BAD_INPUT
    assert "Missing option '-p'" in ran.stderr
    # Credentials that are not set: every such org named at once, before any request.
    unset = tmp_path / "unset.yaml"
    unset.write_text(
        orgs_file.read_text().replace("EMEA_ID", "NOWHERE_ID").replace("EMEA_SECRET", "NOWHERE_S")
    )
    ran = run_cli("check", "--orgs", str(unset), "-p", "builtin:tutorial", env={"NOWHERE_ID": "id"})
    assert ran.code == ExitCode.BAD_INPUT
    assert "org emea-prod: NOWHERE_S is not set" in ran.stderr
    ran = run_cli(
        "check", "--orgs", str(orgs_file), "-p", "builtin:tutorial", "--baseline", "b.json", env=env
    )
    assert ran.code == ExitCode.BAD_INPUT
    assert "--baseline b.json: with --orgs, give a directory" in ran.stderr


def test_a_matrix_job_may_take_its_org_credentials_from_the_standard_variables(
    tmp_path: Path,
) -> None:
    """With --org NAME (one org: a CI matrix job whose environment holds that org's secrets),
    GENESYSCLOUD_OAUTHCLIENT_ID/_SECRET stand in for the org's own variables; and orgId in the
    file catches credentials of another org."""
    import io

    from genesys_oauth_audit import app
    from genesys_oauth_audit.orgs import OrgsOptions, check_orgs

    served = Served()
    fake = org_fake("emea-prod", served)
    orgs_file = tmp_path / "orgs.yaml"
    orgs_file.write_text(
        "apiVersion: genesys-oauth-audit/v1\nkind: Orgs\norgs:\n"
        "  - {name: emea-prod, region: eu-west-1, clientIdEnv: EMEA_ID, clientSecretEnv: EMEA_SECRET,"
        f" orgId: {uid('org:emea-prod')}}}\n"
        "  - {name: apac-test, region: eu-west-1, clientIdEnv: APAC_ID, clientSecretEnv: APAC_SECRET,"
        " orgId: not-this-one}\n"
    )
    env = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emea-prod-id",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": secret_of("emea-prod"),
        "GENESYSCLOUD_ACCESS_TOKEN": "a-token-of-the-process-not-of-any-org",
    }

    def check(name: str) -> tuple[ExitCode, dict[str, Any]]:
        out = io.StringIO()
        code = check_orgs(
            app.CheckOptions(policies=("builtin:tutorial",), format="json"),
            OrgsOptions(file=orgs_file, names=(name,)),
            environ=env,
            streams=app.Streams(stdout=out, stderr=io.StringIO()),
            transports={name: fake.transport()},
        )
        return code, json.loads(out.getvalue())

    code, report = check("emea-prod")
    assert code == ExitCode.FINDINGS
    assert report["orgs"][0]["report"]["source"]["org"]["name"] == "Org emea-prod"
    # The process's access token is no org's: the org signed in with its client credentials.
    assert [r.path for r in fake.log[:1]] == ["/oauth/token"]
    code, report = check("apac-test")
    assert code == ExitCode.INCOMPLETE
    assert "not the orgId not-this-one the orgs file names" in report["orgs"][0]["error"]
    assert report["orgs"][0]["report"] is None


def test_verbose_lines_name_their_org(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from genesys_oauth_audit.orgs import _current, _OrgPrefix

    record = logging_record("retrying in 1.0s")
    token = _current.set("emea-prod")
    try:
        assert _OrgPrefix().filter(record)
        assert _OrgPrefix().filter(record)  # a second handler adds nothing
    finally:
        _current.reset(token)
    assert record.getMessage() == "org emea-prod: retrying in 1.0s"


def logging_record(message: str) -> Any:
    import logging

    return logging.LogRecord(
        "genesys_oauth_audit.http", logging.INFO, __file__, 1, message, (), None
    )


def test_run_bounded_keeps_order_and_raises_what_is_not_expected() -> None:
    from genesys_oauth_audit.orgs import run_bounded

    assert run_bounded([3, 1, 2], lambda n, _: n * 10, jobs=2) == [30, 10, 20]

    def boom(n: int, _: object) -> int:
        if n == 2:
            raise RuntimeError("a bug")
        return n

    with pytest.raises(RuntimeError, match="a bug"):
        run_bounded([1, 2, 3], boom, jobs=3)


def test_an_orgs_place_is_given_away_only_while_every_one_of_its_threads_waits() -> None:
    """One place, two orgs. The first org's place stays its own while any of its threads works
    (its reader goes on after its main thread waits), and goes to the second org once all wait;
    the first goes on once the second lets go."""
    from genesys_oauth_audit.orgs import Slots

    slots = Slots(1)
    first, second = slots.place(), slots.place()
    with pytest.raises(RuntimeError, match="without its place"):
        first.add()
    first.enter()
    first.add()  # a reading thread of the first org, started by its main thread
    entered = threading.Event()

    def take(place: Any, done: threading.Event) -> None:
        place.enter()
        done.set()

    waiting = threading.Thread(target=take, args=(second, entered), daemon=True)
    waiting.start()
    first.leave()  # the main thread waits for its reader: the reader still works
    assert not entered.wait(0.2)
    first.leave()  # the reader waits too (a Retry-After): the place is the second org's
    assert entered.wait(10)
    back = threading.Event()
    threading.Thread(target=take, args=(first, back), daemon=True).start()
    assert not back.wait(0.2)  # the second org works
    second.leave()
    assert back.wait(10)
    first.leave()


def _throttled_login_org(retry_after: int) -> tuple[Any, list[float]]:
    """A client whose first login answers 429 with ``Retry-After``; every other request 200."""
    import time

    from genesys_oauth_audit.settings import connection_settings

    logins: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            logins.append(time.monotonic())
            if len(logins) == 1:
                time.sleep(0.3)  # the other read meanwhile queues for the token
                return httpx.Response(
                    429, headers={"Retry-After": str(retry_after)}, json={"message": "slow down"}
                )
            return httpx.Response(
                200, json={"access_token": "t" * 40, "token_type": "bearer", "expires_in": 86400}
            )
        return httpx.Response(200, json={"id": "o", "name": "org"})

    settings = connection_settings(
        region=None,
        client_id=None,
        login_url=None,
        environ={
            "GENESYSCLOUD_OAUTHCLIENT_ID": "throttled-id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s" * 43,
            "GENESYSCLOUD_REGION": "us-east-1",
        },
    )
    return (settings, httpx.MockTransport(handler)), logins


def test_an_org_whose_reads_all_wait_for_a_throttled_login_gives_its_place_away() -> None:
    """One place. The first read of an org waits out a 429 on its login (holding the token); the
    second waits for that token. Both wait, so another org takes the place meanwhile, before the
    login is tried again."""
    from functools import partial

    from genesys_oauth_audit.genesys.client import GenesysClient
    from genesys_oauth_audit.genesys.fetch import _read_all
    from genesys_oauth_audit.orgs import Slots

    (settings, transport), logins = _throttled_login_org(retry_after=3)
    slots = Slots(1)
    first, second = slots.place(), slots.place()

    def org() -> None:
        first.enter()
        with GenesysClient(settings, transport=transport, place=first) as api:
            _read_all(
                api,
                [
                    partial(api._api, "GET", "/api/v2/organizations/me"),
                    partial(api._api, "GET", "/api/v2/oauth/scopes"),
                ],
            )
        first.leave()

    reading = threading.Thread(target=org, daemon=True)
    reading.start()
    second.enter()  # returns once every thread of the first org waits
    logins_then = len(logins)
    second.leave()
    reading.join(30)
    assert logins_then == 1 and len(logins) == 2


def test_a_read_that_cannot_get_a_thread_fails_its_org_and_leaves_the_place_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the machine refuses one more thread, that org's read fails as any failed read does
    (the reads under way stopped, an error that says what to do), and its place is free for the
    next org: the run ends instead of hanging."""
    from genesys_oauth_audit.errors import FetchError
    from genesys_oauth_audit.genesys.fetch import _read_all
    from genesys_oauth_audit.orgs import Slots

    started = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name.endswith("-read-1"):
            raise RuntimeError("can't start new thread")
        started(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    slots = Slots(1)
    first, second = slots.place(), slots.place()

    class Api:
        place = first

        def abort(self) -> None:
            pass

    first.enter()
    with pytest.raises(FetchError, match=r"would not start another thread.*lower --jobs"):
        _read_all(Api(), [lambda: 1, lambda: 2, lambda: 3])  # type: ignore[arg-type]
    first.leave()
    taken = threading.Event()

    def take() -> None:
        second.enter()
        taken.set()

    started(threading.Thread(target=take, daemon=True))
    assert taken.wait(10)


@pytest.mark.socket
def test_an_org_the_machine_gives_no_thread_is_reported_not_audited_beside_the_others(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first reading thread that cannot start fails its org alone: the run writes every
    other org's report and exits 3."""
    started = threading.Thread.start
    refused: list[str] = []

    def start(self: threading.Thread) -> None:
        if self.name.endswith("-read-1") and not refused:
            refused.append(self.name)
            raise RuntimeError("can't start new thread")
        started(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    served = Served()
    fakes = {label: org_fake(label, served) for label in ("first", "second")}
    with fleet(tmp_path, fakes, served) as f:
        ran = run_cli(
            "check", "--orgs", str(f.file), "-p", "builtin:tutorial", "--jobs", "1",
            "--format", "json", env=f.env,
        )  # fmt: skip
    assert ran.code == ExitCode.INCOMPLETE, ran.stderr
    assert "internal error" not in ran.stderr
    verdicts = sorted(o["verdict"] for o in json.loads(ran.stdout)["orgs"])
    assert verdicts == ["error", "fail"] and refused
