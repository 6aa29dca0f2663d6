"""Benchmark: a full live audit (roles and usage included) of a large org against the fake Genesys Cloud.

Usage:
    python benchmarks/bench_audit.py [--clients 5000] [--roles 400] [--latency 0.1] [--json OUT]

The fake serves a synthetic org over a real loopback socket, sleeping
``--latency`` seconds in every request (a realistic round trip to a Genesys
region). The tool runs as a subprocess (``check -p builtin:baseline``, whose
rules need roles and usage), so its wall time and peak memory are its own. The
table compares it with the per-client usage approach (one usage query and at
least one poll per client) at the documented limit of 300 requests per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake.orgdata import synthetic_fake  # noqa: E402

RATE_LIMIT_PER_MINUTE = 300


def run(clients: int, roles: int, latency: float) -> dict[str, object]:
    fake = synthetic_fake(clients, n_roles=roles, latency=latency, usage_running_polls=1)
    with fake.serve() as base:
        env = {
            **os.environ,
            "GENESYSCLOUD_REGION": base,
            "GENESYSCLOUD_OAUTHCLIENT_ID": "auditor-id",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials["auditor-id"],
            "PYTHONPATH": str(ROOT / "src"),
        }
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "genesys_oauth_audit",
                "check",
                "-p",
                "builtin:baseline",
                "--format",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        raise SystemExit(f"the audit failed ({proc.returncode}): {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    requests = len(fake.log)
    role_pages = len([r for r in fake.log if r.path == "/api/v2/authorization/roles"])
    # One usage query per client needs a POST and at least one results poll: 2 requests a client.
    per_client_requests = (
        requests - 1 + 2 * clients - len([r for r in fake.log if "usage" in r.path])
    )
    per_client_minutes = per_client_requests / RATE_LIMIT_PER_MINUTE
    return {
        "clients": clients,
        "roles": roles,
        "latencySeconds": latency,
        "wallSeconds": round(wall, 2),
        "requests": requests,
        "rolePages": role_pages,
        "peakRssMiB": round(max(peak_kib, before) / 1024, 1),
        "findings": sum(report["summary"]["counts"].values()),
        "perClientUsageRequests": per_client_requests,
        "perClientUsageMinutesAtRateLimit": round(per_client_minutes, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--roles", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run(args.clients, args.roles, args.latency)
    print(
        f"| {result['clients']} clients, {result['roles']} roles, {int(args.latency * 1000)} ms/request "
        f"| {result['wallSeconds']} s | {result['requests']} requests ({result['rolePages']} role pages) "
        f"| {result['peakRssMiB']} MiB | per-client usage: {result['perClientUsageRequests']} requests, "
        f"≥ {result['perClientUsageMinutesAtRateLimit']} min at {RATE_LIMIT_PER_MINUTE}/min |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
