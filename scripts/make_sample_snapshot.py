"""Regenerate examples/sample-snapshot.json: the sample org fetched by the tool itself from the fake.

Usage: python scripts/make_sample_snapshot.py
The snapshot is real output of `fetch` (roles and 90 days of usage included),
taken from the fake Genesys Cloud of the tests over httpx.MockTransport, at a
fixed time so the file is reproducible.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from genesys_oauth_audit import app  # noqa: E402
from tests.fake.orgdata import sample_fake  # noqa: E402

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def main() -> int:
    fake = sample_fake()
    target = ROOT / "examples" / "sample-snapshot.json"
    env = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "auditor-id",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": fake.credentials["auditor-id"],
        "GENESYSCLOUD_REGION": "eu-west-1",
    }
    streams = app.Streams(stdout=io.StringIO(), stderr=sys.stderr)
    app.fetch(
        app.ConnectionOptions(),
        target,
        now=NOW,
        environ=env,
        streams=streams,
        transport=fake.transport(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
