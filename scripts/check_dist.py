"""Check built distributions before they are published: one sdist and one wheel of one version,
that version equal to the release tag, and the wheel carrying every policy pack, schema and data
file the installed tool reads.

Used by .github/workflows/release.yml (``python scripts/check_dist.py --tag "$TAG" dist/``) after
``twine check --strict``; tests/test_release.py runs it on distributions built from the checkout.
The packs and schemas expected in the wheel are read from the sdist, not from the checkout, so the
check holds for exactly the files being published.
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

PACKAGE = "genesys_oauth_audit"
# Where the wheel carries the top-level policies/ and schemas/ (pyproject's force-include).
DATA = f"{PACKAGE}/_data"
# Files the installed tool reads besides its modules (the permission catalog validates policies,
# the risk catalog rates grants).
PACKAGE_DATA = (f"{PACKAGE}/data/permissions.txt", f"{PACKAGE}/data/risk-catalog.json")


def _one(directory: Path, pattern: str, what: str, problems: list[str]) -> Path | None:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        problems.append(f"{directory}: expected exactly one {what}, found {names}")
        return None
    return found[0]


def _sdist_data(sdist: Path) -> tuple[str | None, set[str]]:
    """The sdist's metadata version and its policies/*.yaml and schemas/*.json, relative paths."""
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        root = names[0].split("/", 1)[0]
        member = archive.extractfile(f"{root}/PKG-INFO")
        version = HeaderParser().parsestr(member.read().decode()).get("Version") if member else None
    data = set()
    for name in names:
        path = PurePosixPath(name)
        rel = PurePosixPath(*path.parts[1:])
        if len(rel.parts) == 2 and (
            (rel.parts[0] == "policies" and rel.suffix == ".yaml")
            or (rel.parts[0] == "schemas" and rel.suffix == ".json")
        ):
            data.add(str(rel))
    return version, data


def check(dist: Path, tag: str | None) -> list[str]:
    """Every problem found with the distributions in ``dist`` (empty: ready to publish)."""
    problems: list[str] = []
    wheel = _one(dist, "*.whl", "wheel", problems)
    sdist = _one(dist, "*.tar.gz", "sdist", problems)
    if wheel is None or sdist is None:
        return problems
    sdist_version, data = _sdist_data(sdist)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata_name] = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        metadata = HeaderParser().parsestr(archive.read(metadata_name).decode())
    version = metadata.get("Version")
    if sdist_version != version:
        problems.append(f"the sdist is version {sdist_version}, the wheel {version}")
    if tag is not None and tag.removeprefix("v") != version:
        problems.append(
            f"tag {tag} does not match the package version {version}: set __version__ in "
            f"src/{PACKAGE}/__init__.py to {tag.removeprefix('v')} or tag v{version}"
        )
    if not any(path.startswith("policies/") for path in data):
        problems.append(f"{sdist.name} carries no policy pack (policies/*.yaml)")
    if not any(path.startswith("schemas/") for path in data):
        problems.append(f"{sdist.name} carries no schema (schemas/*.json)")
    for path in sorted(data):
        if f"{DATA}/{path}" not in names:
            problems.append(f"{wheel.name} lacks {DATA}/{path}")
    for path in PACKAGE_DATA:
        if path not in names:
            problems.append(f"{wheel.name} lacks {path}")
    if not any(re.fullmatch(r"[^/]+\.dist-info/licenses/LICENSE", n) for n in names):
        problems.append(f"{wheel.name} carries no LICENSE")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path, help="the directory holding the built sdist and wheel")
    parser.add_argument("--tag", help="the release tag (vX.Y.Z) the version must equal")
    args = parser.parse_args(argv)
    problems = check(args.dist, args.tag)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.dist}: one sdist and one wheel, ready to publish")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
