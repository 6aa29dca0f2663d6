"""Regenerate the published JSON Schemas under schemas/ (and docs/check-types.md) from the code.

Usage: python scripts/gen_schemas.py [--check]
- policy.schema.json from the check registry (policy/schema.py);
- inventory.schema.json from the inventory models (inventory.py);
- policy-test.schema.json (policy/schema.py);
- orgs.schema.json, the orgs file of check/fetch --orgs (policy/orgsfile.py);
- docs/check-types.md from the check registry (policy/docs.py).
With --check, exit 1 if a file differs instead of writing it (tests/test_schemas.py does the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from genesys_oauth_audit.policy.docs import check_types_markdown  # noqa: E402
from genesys_oauth_audit.policy.schema import published_schemas  # noqa: E402


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    outputs = {ROOT / "schemas" / name: text for name, text in published_schemas().items()}
    outputs[ROOT / "docs" / "check-types.md"] = check_types_markdown()
    for target, text in outputs.items():
        name = target.name
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python scripts/gen_schemas.py)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
