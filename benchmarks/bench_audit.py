"""Benchmarks: live audits, snapshot audits, evaluation at scale, and start-up time.

Usage:
    python benchmarks/bench_audit.py                       # the whole suite, as in the README
    python benchmarks/bench_audit.py --sizes 100 5000      # fewer org sizes
    python benchmarks/bench_audit.py --json benchmarks/results.json

The fake Genesys Cloud of the tests serves a synthetic org (400 roles, every
grant type and state) over a real loopback socket and sleeps ``--latency``
seconds in every request, a realistic round trip to a Genesys region. The
tool runs as a subprocess (``check -p builtin:baseline``, whose rules need
roles and usage), so the wall time and peak memory are its own.

"The tutorial's way" is the same audit done as the original tutorial and
naive scripts do it: the client listing, then per client a usage query and a
poll of its results (``POST /api/v2/oauth/clients/{id}/usage/query`` + results),
and per role referenced a ``GET /api/v2/authorization/roles/{id}``. Its time is
computed from its request count at the documented limit of 300 requests per
minute per token (what bounds it long before latency does), not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fake.orgdata import synthetic_fake  # noqa: E402

RATE_LIMIT_PER_MINUTE = 300
TIME = shutil.which("time") or "/usr/bin/time"


def _tool(
    args: list[str], env: dict[str, str]
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run the tool; its wall time (s) and peak RSS (MiB), measured by /usr/bin/time when present."""
    command = [sys.executable, "-m", "genesys_oauth_audit", *args]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if Path(TIME).exists():
            command = [TIME, "-f", "%M", "-o", rss.name, *command]
        started = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        text = Path(rss.name).read_text().strip().splitlines()
    peak = (
        int(text[-1]) / 1024
        if text and text[-1].isdigit()
        else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return wall, peak, proc


def _tutorial_requests(fake: Any) -> int:
    roles = {g["roleId"] for c in fake.clients for g in c.get("roleDivisions", [])}
    return (
        1 + 1 + 2 * len(fake.clients) + len(roles)
    )  # token, listing, usage query + poll per client, a GET per role


def run(clients: int, roles: int, latency: float, *, snapshot: bool = False) -> dict[str, Any]:
    """One org size: the live audit, and (with ``snapshot``) fetch then audit the snapshot."""
    fake = synthetic_fake(clients, n_roles=roles, latency=latency, usage_running_polls=1)
    with fake.serve() as base:
        env = {
            **os.environ,
            "GENESYSCLOUD_REGION": base,
            "GENESYSCLOUD_OAUTHCLIENT_ID": "auditor-id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials["auditor-id"],
            "PYTHONPATH": str(ROOT / "src"),
        }
        wall, peak, proc = _tool(["check", "-p", "builtin:baseline", "--format", "json"], env)
        requests = len(fake.log)
        role_pages = len([r for r in fake.log if r.path == "/api/v2/authorization/roles"])
        result: dict[str, Any] = {
            "clients": clients,
            "roles": roles,
            "latencySeconds": latency,
            "wallSeconds": round(wall, 2),
            "requests": requests,
            "rolePages": role_pages,
            "peakRssMiB": round(peak, 1),
            "findings": sum(json.loads(proc.stdout)["summary"]["counts"].values()),
        }
        if snapshot:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "org.json"
                fake.log.clear()
                fetch_wall, fetch_peak, _ = _tool(["fetch", "-o", str(path)], env)
                check_wall, check_peak, _ = _tool(
                    [
                        "check",
                        "-p",
                        "builtin:baseline",
                        "--inventory",
                        str(path),
                        "--format",
                        "json",
                    ],
                    env,
                )
                result.update(
                    fetchSeconds=round(fetch_wall, 2),
                    fetchPeakRssMiB=round(fetch_peak, 1),
                    snapshotMiB=round(path.stat().st_size / 2**20, 1),
                    snapshotCheckSeconds=round(check_wall, 2),
                    snapshotCheckPeakRssMiB=round(check_peak, 1),
                )
    tutorial = _tutorial_requests(fake)
    result["perClientUsageRequests"] = tutorial
    result["perClientUsageMinutesAtRateLimit"] = round(tutorial / RATE_LIMIT_PER_MINUTE, 1)
    return result


def evaluation(clients: int) -> dict[str, Any]:
    """Evaluate the baseline pack on a synthetic org already in memory (no I/O)."""
    from datetime import date, datetime, timezone

    from genesys_oauth_audit.engine.evaluate import evaluate
    from genesys_oauth_audit.genesys.client import GenesysClient
    from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
    from genesys_oauth_audit.policy.loader import load_policies
    from genesys_oauth_audit.settings import connection_settings

    fake = synthetic_fake(clients, n_roles=400, usage_running_polls=0)
    env = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "auditor-id",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials["auditor-id"],
    }
    settings = connection_settings(region=None, client_id=None, login_url=None, environ=env)
    with GenesysClient(settings, transport=fake.transport(), requests_per_minute=0) as api:
        inventory = fetch_inventory(
            api,
            FetchPlan(roles=True, usage_days=90),
            region="bench",
            now=datetime(2026, 11, 20, tzinfo=timezone.utc),
        )
    policies = load_policies(("builtin:baseline",))
    started = time.perf_counter()
    result = evaluate(policies, inventory, today=date(2026, 11, 20))
    return {
        "clients": clients,
        "evaluateSeconds": round(time.perf_counter() - started, 2),
        "findings": len(result.findings),
    }


def startup(runs: int = 10) -> dict[str, Any]:
    """``--help``: the best and the median of ``runs`` fresh processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "genesys_oauth_audit", "--help"],
            env=env,
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "helpBestSeconds": round(times[0], 3),
        "helpMedianSeconds": round(times[len(times) // 2], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 5000, 50000])
    parser.add_argument("--roles", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument(
        "--evaluate",
        type=int,
        default=100_000,
        help="clients for the evaluation benchmark (0: skip)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "orgs": [],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    print(
        f"| org | live audit | requests | peak memory | fetch → snapshot | audit of the snapshot | the tutorial's way ({RATE_LIMIT_PER_MINUTE}/min) |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        r = run(size, args.roles, args.latency, snapshot=True)
        results["orgs"].append(r)
        print(
            f"| {size:,} clients, {args.roles} roles, {int(args.latency * 1000)} ms/request | {r['wallSeconds']} s "
            f"| {r['requests']} ({r['rolePages']} role pages) | {r['peakRssMiB']} MiB "
            f"| {r['fetchSeconds']} s, {r['snapshotMiB']} MiB | {r['snapshotCheckSeconds']} s, {r['snapshotCheckPeakRssMiB']} MiB "
            f"| {r['perClientUsageRequests']:,} requests: ≥ {r['perClientUsageMinutesAtRateLimit']} min |"
        )
    if args.evaluate:
        results["evaluation"] = evaluation(args.evaluate)
        e = results["evaluation"]
        print(
            f"\nEvaluation of the baseline pack on {e['clients']:,} clients: {e['evaluateSeconds']} s ({e['findings']:,} findings)"
        )
    results["startup"] = startup()
    s = results["startup"]
    print(
        f"`--help`: {s['helpBestSeconds']} s best, {s['helpMedianSeconds']} s median of 10 fresh processes"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
