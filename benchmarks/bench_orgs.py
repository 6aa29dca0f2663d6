"""Benchmark: many orgs in one process (``check --orgs``) against the slowest org audited alone,
and one throttled org among them.

Usage:
    python benchmarks/bench_orgs.py                          # 20 orgs of 500 clients, as in the README
    python benchmarks/bench_orgs.py --orgs 5 --clients 100   # smaller
    python benchmarks/bench_orgs.py --json benchmarks/results-orgs.json

Every org is a synthetic org (``tests/fake``) served over its own real loopback socket, with
``--latency`` seconds in every request and its usage query answering after one poll, as the
live-audit benchmark serves one (bench_audit.py). The tool runs as a subprocess, so the wall
time and the peak memory (``/usr/bin/time``) are its own:

1. each org alone (``check -p builtin:baseline``): the slowest of them is the yardstick;
2. every org in one run (``check --orgs FILE --jobs N``): its wall time as a ratio to the
   yardstick (the target is at most 1.5x), and its peak memory; then with every org at once
   (``--jobs`` the number of orgs);
3. the ``--jobs N`` run with the first org throttled: its client listing answers 429 with
   ``Retry-After`` twice. The other orgs' last requests are timed by their servers: they are
   done about as soon as in run 2, while the throttled org waits out its Retry-Afters.

Each run's report is checked too: every org audited, each with the findings it has alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from benchmarks.bench_audit import _tool  # noqa: E402
from tests.fake.orgdata import synthetic_fake  # noqa: E402
from tests.fake.server import FakeGenesys  # noqa: E402

TARGET = 1.5
POLICY = "builtin:baseline"


@dataclass
class TimedFake(FakeGenesys):
    """A fake org that notes when it answered each request (``time.monotonic()``)."""

    answered: list[float] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = super().handle(request)
        self.answered.append(time.monotonic())
        return response


def _org(i: int, clients: int, roles: int, latency: float, polls: int = 1) -> TimedFake:
    base = synthetic_fake(
        clients,
        n_roles=roles,
        seed=100 + i,
        latency=latency,
        usage_running_polls=polls,
        credentials={f"org-{i:02d}-id": f"org-{i:02d}-secret-{i * 7919:08d}"},
    )
    fake = TimedFake(**{f.name: getattr(base, f.name) for f in fields(FakeGenesys) if f.init})
    fake.org = {"id": f"bench-org-{i:02d}", "name": f"Bench org {i:02d}"}
    return fake


def _env(fakes: list[TimedFake]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    for i, fake in enumerate(fakes):
        [(client_id, secret)] = fake.credentials.items()
        env[f"ORG_{i:02d}_CLIENT_ID"] = client_id
        env[f"ORG_{i:02d}_CLIENT_SECRET"] = secret
    return env


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) so far of the tool's processes (the children waited for) and
    of this process, whose threads serve every fake org."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime, own.ru_utime + own.ru_stime


def _findings(report: dict[str, Any]) -> int:
    return sum(report["summary"]["counts"].values())


@dataclass
class ManyRun:
    """One run over every org."""

    wall: float  # seconds
    peak: float  # MiB
    report: dict[str, Any]
    done: list[float]  # when each org's server answered its last request (after the start)
    cpu: float  # the tool's CPU seconds
    servers_cpu: float  # the fake orgs' CPU seconds meanwhile (this process)


def _many(orgs_file: Path, env: dict[str, str], jobs: int, fakes: list[TimedFake]) -> ManyRun:
    for fake in fakes:
        fake.answered.clear()
    started = time.monotonic()
    tool_before, own_before = _cpu()
    wall, peak, proc = _tool(
        ["check", "--orgs", str(orgs_file), "-p", POLICY, "--jobs", str(jobs), "--format", "json"],
        env,
    )
    tool_after, own_after = _cpu()
    report = json.loads(proc.stdout)
    done = [max(f.answered) - started for f in fakes]
    return ManyRun(wall, peak, report, done, tool_after - tool_before, own_after - own_before)


def run(
    orgs: int,
    clients: int,
    roles: int,
    latency: float,
    jobs: int,
    retry_after: int,
    *,
    usage_polls: int = 1,
) -> dict[str, Any]:
    fakes = [_org(i, clients, roles, latency, usage_polls) for i in range(orgs)]
    env = _env(fakes)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        urls = [stack.enter_context(fake.serve()) for fake in fakes]
        lines = ["apiVersion: genesys-oauth-audit/v1", "kind: Orgs", "orgs:"]
        for i, url in enumerate(urls):
            lines.append(
                f'  - {{name: org-{i:02d}, region: "{url}", clientIdEnv: ORG_{i:02d}_CLIENT_ID, '
                f"clientSecretEnv: ORG_{i:02d}_CLIENT_SECRET}}"
            )
        orgs_file = Path(folder) / "orgs.yaml"
        orgs_file.write_text("\n".join(lines) + "\n")

        alone: list[dict[str, Any]] = []
        for i, (fake, url) in enumerate(zip(fakes, urls, strict=True)):
            [(client_id, secret)] = fake.credentials.items()
            single = {
                **env,
                "GENESYSCLOUD_REGION": url,
                "GENESYSCLOUD_OAUTHCLIENT_ID": client_id,
                "GENESYSCLOUD_OAUTHCLIENT_SECRET": secret,
            }
            fake.log.clear()
            before = _cpu()[0]
            wall, peak, proc = _tool(["check", "-p", POLICY, "--format", "json"], single)
            alone.append(
                {
                    "org": f"org-{i:02d}",
                    "wallSeconds": round(wall, 2),
                    "cpuSeconds": round(_cpu()[0] - before, 2),
                    "peakRssMiB": round(peak, 1),
                    "requests": len(fake.log),
                    "findings": _findings(json.loads(proc.stdout)),
                }
            )
        slowest = max(alone, key=lambda a: a["wallSeconds"])

        many = _many(orgs_file, env, jobs, fakes)
        _check(many.report, alone)
        together = {
            "wallSeconds": round(many.wall, 2),
            "peakRssMiB": round(many.peak, 1),
            "ratioToSlowestAlone": round(many.wall / slowest["wallSeconds"], 2),
            "lastOrgDoneSeconds": round(max(many.done), 2),
            # The run's own CPU time, in one interpreter: however well its waits overlap, its
            # wall time cannot be less (the fake orgs are served by this process meanwhile).
            "cpuSeconds": round(many.cpu, 2),
            "cpuToSlowestAlone": round(many.cpu / slowest["wallSeconds"], 2),
            "serversCpuSeconds": round(many.servers_cpu, 2),
        }

        many = _many(orgs_file, env, orgs, fakes)
        _check(many.report, alone)
        at_once = {
            "jobs": orgs,
            "wallSeconds": round(many.wall, 2),
            "peakRssMiB": round(many.peak, 1),
            "ratioToSlowestAlone": round(many.wall / slowest["wallSeconds"], 2),
            "cpuSeconds": round(many.cpu, 2),
        }

        fakes[0].fail(r"^/api/v2/oauth/clients$", "429", times=2)
        fakes[0].retry_after = str(retry_after)
        many = _many(orgs_file, env, jobs, fakes)
        _check(many.report, alone)
        done = many.done
        throttled = {
            "wallSeconds": round(many.wall, 2),
            "peakRssMiB": round(many.peak, 1),
            "retryAfterSeconds": retry_after,
            "throttled429s": sum(1 for r in fakes[0].log if r.status == 429),
            "throttledOrgDoneSeconds": round(done[0], 2),
            "otherOrgsDoneSeconds": round(max(done[1:]), 2) if len(done) > 1 else None,
            "otherOrgsDoneSecondsUnthrottled": together["lastOrgDoneSeconds"],
        }
    return {
        "orgs": orgs,
        "clientsPerOrg": clients,
        "rolesPerOrg": roles,
        "latencySeconds": latency,
        "jobs": jobs,
        "alone": alone,
        "slowestAlone": slowest,
        "together": together,
        "atOnce": at_once,
        "throttled": throttled,
    }


def _check(report: dict[str, Any], alone: list[dict[str, Any]]) -> None:
    """Every org audited, each with exactly the findings it has alone."""
    got = [
        (o["name"], o["verdict"], _findings(o["report"] or {"summary": {"counts": {}}}))
        for o in report["orgs"]
    ]
    want = [(a["org"], "fail" if a["findings"] else "pass", a["findings"]) for a in alone]
    if got != want:
        raise SystemExit(f"the run over every org differs from the orgs alone: {got} != {want}")


def table(result: dict[str, Any]) -> str:
    slowest, together, throttled = result["slowestAlone"], result["together"], result["throttled"]
    n = result["orgs"]
    size = f"{n} orgs of {result['clientsPerOrg']:,} clients, {int(result['latencySeconds'] * 1000)} ms/request"
    rows = [
        "| run | wall | the tool's CPU | peak memory |",
        "|---|---|---|---|",
        f"| the slowest of the {n} orgs alone ({slowest['org']}) | {slowest['wallSeconds']} s | {slowest['cpuSeconds']} s | {slowest['peakRssMiB']} MiB |",
        f"| all {n} orgs in one run, `--jobs {result['jobs']}` | {together['wallSeconds']} s "
        f"(**{together['ratioToSlowestAlone']}×** the slowest alone; target ≤ {TARGET}×) "
        f"| {together['cpuSeconds']} s ({together['cpuToSlowestAlone']}× the slowest alone's wall) | {together['peakRssMiB']} MiB |",
        f"| all {n} orgs in one run, `--jobs {n}` (every org at once) | {result['atOnce']['wallSeconds']} s "
        f"({result['atOnce']['ratioToSlowestAlone']}×) | {result['atOnce']['cpuSeconds']} s | {result['atOnce']['peakRssMiB']} MiB |",
        f"| all {n} orgs, `--jobs {result['jobs']}`, one org answering 429 (Retry-After {throttled['retryAfterSeconds']} s) twice "
        f"| {throttled['wallSeconds']} s; the other {n - 1} orgs done after {throttled['otherOrgsDoneSeconds']} s "
        f"(unthrottled: {throttled['otherOrgsDoneSecondsUnthrottled']} s), the throttled one after "
        f"{throttled['throttledOrgDoneSeconds']} s | | {throttled['peakRssMiB']} MiB |",
    ]
    note = (
        f"The fake orgs' servers (this benchmark's process) used {together['serversCpuSeconds']} s "
        f"of CPU during the `--jobs {result['jobs']}` run, on the same {os.cpu_count()} cores."
    )
    return f"{size}:\n\n" + "\n".join(rows) + "\n\n" + note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--roles", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--retry-after", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when the ratio is over {TARGET}x"
    )
    args = parser.parse_args(argv)
    result = run(args.orgs, args.clients, args.roles, args.latency, args.jobs, args.retry_after)
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    over = result["together"]["ratioToSlowestAlone"] > TARGET
    return 1 if args.check and over else 0


if __name__ == "__main__":
    raise SystemExit(main())
