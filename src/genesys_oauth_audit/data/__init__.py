"""The data the tool ships (policy packs, published schemas, the Genesys permission catalog), found
whether installed from a wheel or run from a source checkout."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def data_dir(kind: str) -> Path:
    """``policies`` or ``schemas``: inside the wheel under ``_data/``, else the repository's top level."""
    installed = _PACKAGE / "_data" / kind
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"the {kind} shipped with genesys-oauth-audit are missing from {_PACKAGE}"
    )


def pack_path(name: str) -> Path:
    return data_dir("policies") / f"{name}.yaml"


def pack_names() -> list[str]:
    return sorted(p.stem for p in data_dir("policies").glob("*.yaml"))


@lru_cache(maxsize=1)
def permission_catalog() -> frozenset[str]:
    """Every ``domain:entity:action`` of the Genesys permission catalog (data/permissions.txt)."""
    text = (_PACKAGE / "data" / "permissions.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))
