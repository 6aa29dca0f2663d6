"""The Genesys operations catalog (data/operations.json): the permissions each Platform API operation
requires and the OAuth scopes it accepts, and the mapping of a usage row's method and template URI to it.

The catalog is built by ``scripts/build_operations_catalog.py`` from an extract of the Platform
API's operations with their permission requirements (the script says where it comes from).
It is read once, lazily: ``--help`` and checks that do not need it never pay for it.

Usage rows name an operation by HTTP method and *template* URI
(``api/v2/users/{userId}``, no leading slash in the rows seen so far). ``resolve``
is tolerant where the data may vary (leading slash, trailing slash, case of the
method and of literal segments, parameter names) and strict where a guess would
be wrong: a concrete id is never matched to a ``{param}``, and a template that
matches nothing stays *unknown*, with what was given, so reports can list it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator

CATALOG_PATH = Path(__file__).resolve().parent / "operations.json"
CATALOG_KIND = "genesys-oauth-audit/operations-catalog"

RequirementKind = Literal["ANY", "ALL", "NONE", "UNKNOWN"]
MatchKind = Literal["exact", "shape", "unknown"]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

# resolve() remembers what it answered; usage data can carry garbage templates, so the memory is bounded.
_RESOLVE_CACHE_LIMIT = 65536


@dataclass(frozen=True, slots=True)
class Requirement:
    """What an operation requires of the caller's permissions.

    ``ANY``: one of ``ids`` is enough; ``ALL``: every one is needed; ``NONE``: the
    documentation says no permission is required; ``UNKNOWN``: no public source
    documents the operation's permissions. ``non_standard`` holds strings the
    source lists that are not ``domain:entity:action`` (``admin``,
    ``content_management_user``); when they are all there is, ``ids`` is empty
    and the requirement says nothing usable about permissions.
    """

    kind: RequirementKind
    ids: tuple[str, ...] = ()
    non_standard: tuple[str, ...] = ()
    # Whether the requirement names permissions a call can prove were needed (asked per call).
    usable: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "usable", self.kind in ("ANY", "ALL") and bool(self.ids))


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the public API, keyed ``METHOD /path`` (the swagger path key).

    ``scopes`` are the OAuth scopes that allow the call: None when no public
    source gives them, () when the operation takes no PureCloud OAuth scope.
    """

    method: str
    path: str
    permissions: Requirement
    scopes: tuple[str, ...] | None = None
    deprecated: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a usage row's (method, template URI) is: the catalog operation, or unknown.

    ``method`` and ``path`` are the normalised input (upper-case method, one
    leading slash) when the template is unknown, and the catalog's own key when
    it resolved, so an unknown template is reported as it was seen.
    """

    method: str
    path: str
    operation: Operation | None
    match: MatchKind
    key: str = field(init=False)  # METHOD /path, kept: every usage record asks for it

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.method} {self.path}")

    @property
    def known(self) -> bool:
        return self.operation is not None


class CalledOperation(BaseModel):
    """One operation a client called in the usage window, as the inventory stores it.

    ``path`` is the swagger path key (leading slash) when the usage row resolved
    to a catalog operation (``Resolution.path``), else the template URI as seen,
    with a leading slash.
    Status counts are the usage service's buckets; ``status429`` is a subset of
    ``status4xx`` (``ApiUsageRow.status429``: "a subset of the count returned with status400").
    """

    # The field names are the JSON names already: no alias generator (``to_camel`` would write
    # ``status2Xx``), so the snapshot says status2xx like the usage service's status200.
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str = Field(description="HTTP method, upper case.")
    path: str = Field(description="Swagger path key, e.g. /api/v2/users/{userId}.")
    requests: NonNegativeInt = Field(description="Requests in the window.")
    status2xx: NonNegativeInt = 0
    status3xx: NonNegativeInt = 0
    status4xx: NonNegativeInt = Field(default=0, description="4xx responses, 429 included.")
    status429: NonNegativeInt = 0
    status5xx: NonNegativeInt = 0

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return normalise_method(value) if isinstance(value, str) else value

    @field_validator("path", mode="before")
    @classmethod
    def _slash(cls, value: object) -> object:
        return normalise_path(value) if isinstance(value, str) else value

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def succeeded(self) -> bool:
        """Some call got a 2xx: the caller was allowed to run the operation."""
        return self.status2xx > 0

    @property
    def denied(self) -> bool:
        """No call succeeded and some failed with a 4xx other than 429 ("attempted, denied")."""
        return self.status2xx == 0 and self.status4xx > self.status429


def merge_calls(calls: Iterable[CalledOperation]) -> tuple[CalledOperation, ...]:
    """One record per operation, counts summed (usage rows come per day, platform and user),
    sorted by path then method as the catalog is."""
    merged: dict[tuple[str, str], list[int]] = {}
    for c in calls:
        counts = merged.setdefault((c.path, c.method), [0, 0, 0, 0, 0, 0])
        for i, n in enumerate(
            (c.requests, c.status2xx, c.status3xx, c.status4xx, c.status429, c.status5xx)
        ):
            counts[i] += n
    return tuple(
        CalledOperation(
            method=method,
            path=path,
            requests=n[0],
            status2xx=n[1],
            status3xx=n[2],
            status4xx=n[3],
            status429=n[4],
            status5xx=n[5],
        )
        for (path, method), n in sorted(merged.items())
    )


@dataclass(frozen=True)
class CatalogSource:
    """Where the shipped catalog came from (its header), for reports that state their evidence."""

    generated: str
    primary: tuple[dict[str, str], ...]
    counts: dict[str, int]


def normalise_method(method: str) -> str:
    return method.strip().upper()


def normalise_path(template_uri: str) -> str:
    """A template URI as a path key: surrounding space and trailing slashes dropped, one leading slash."""
    stripped = template_uri.strip().strip("/")
    return "/" + stripped


def _shape(path: str) -> str | None:
    """The path with every ``{param}`` as ``{}`` and literal segments lower-cased (every literal in
    the catalog is lower case); None for a segment only partly templated, which no operation has."""
    parts = []
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}") and len(segment) > 2:
            parts.append("{}")
        elif "{" in segment or "}" in segment:
            return None
        else:
            parts.append(segment.lower())
    return "/".join(parts)


class OperationsCatalog:
    """Every operation by key and by shape; ``resolve`` answers from a bounded memory."""

    def __init__(self, operations: tuple[Operation, ...], source: CatalogSource) -> None:
        self.operations = operations
        self.source = source
        self._by_key = {op.key: op for op in operations}
        self._by_shape: dict[tuple[str, str], Operation | None] = {}
        for op in operations:
            shape = _shape(op.path)
            if shape is not None:
                # Two operations of one shape (none today) would make shape matching a guess:
                # the shape then matches nothing, and only exact keys resolve.
                seen = (op.method, shape) in self._by_shape
                self._by_shape[(op.method, shape)] = None if seen else op
        self._resolved: dict[tuple[str, str], Resolution] = {}
        self._permission_ids: frozenset[str] | None = None

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def get(self, key: str) -> Operation | None:
        """The operation keyed exactly ``METHOD /path``."""
        return self._by_key.get(key)

    @property
    def permission_ids(self) -> frozenset[str]:
        """Every permission id some operation requires: what API usage can ever prove."""
        if self._permission_ids is None:
            self._permission_ids = frozenset(
                p for op in self.operations for p in op.permissions.ids
            )
        return self._permission_ids

    def resolve(self, method: str, template_uri: str) -> Resolution:
        """The catalog operation a usage row names, matched exactly, else by shape, else unknown."""
        memo = (method, template_uri)
        hit = self._resolved.get(memo)
        if hit is not None:
            return hit
        verb = normalise_method(method)
        path = normalise_path(template_uri)
        op = self._by_key.get(f"{verb} {path}")
        resolution: Resolution
        if op is not None:
            resolution = Resolution(op.method, op.path, op, "exact")
        else:
            shape = _shape(path)
            op = self._by_shape.get((verb, shape)) if shape is not None else None
            if op is not None:
                resolution = Resolution(op.method, op.path, op, "shape")
            else:
                resolution = Resolution(verb, path, None, "unknown")
        if len(self._resolved) < _RESOLVE_CACHE_LIMIT:
            self._resolved[memo] = resolution
        return resolution


def parse_catalog(text: str) -> OperationsCatalog:
    """The catalog from the shipped file's text (see ``fields`` in its header)."""
    data = json.loads(text)
    if data.get("kind") != CATALOG_KIND:
        raise ValueError(f"not an operations catalog: kind {data.get('kind')!r}")
    operations = []
    for row in data["operations"]:
        method, path, kind, ids, scopes, deprecated = row[:6]
        non_standard = tuple(row[6]) if len(row) > 6 else ()
        if kind not in ("ANY", "ALL", "NONE", "UNKNOWN"):
            raise ValueError(f"{method} {path}: unknown permission kind {kind!r}")
        operations.append(
            Operation(
                method=method,
                path=path,
                permissions=Requirement(kind, tuple(ids), non_standard),
                scopes=None if scopes is None else tuple(scopes),
                deprecated=bool(deprecated),
            )
        )
    source = data["source"]
    return OperationsCatalog(
        tuple(operations),
        CatalogSource(
            generated=source["generated"],
            primary=tuple(source["primary"]),
            counts=dict(data["counts"]),
        ),
    )


@lru_cache(maxsize=1)
def operations_catalog() -> OperationsCatalog:
    """The shipped catalog, read on first use and kept."""
    return parse_catalog(CATALOG_PATH.read_text(encoding="utf-8"))


def resolve(method: str, template_uri: str) -> Resolution:
    """Resolve against the shipped catalog (see ``OperationsCatalog.resolve``)."""
    return operations_catalog().resolve(method, template_uri)
