"""The shipped operations catalog and the mapping of usage rows (method, template URI) to it."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from genesys_oauth_audit.data.operations import (
    CATALOG_PATH,
    CalledOperation,
    CatalogSource,
    Operation,
    OperationsCatalog,
    Requirement,
    merge_calls,
    operations_catalog,
    parse_catalog,
    resolve,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "genesys" / "operations.json"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_operations_catalog", ROOT / "scripts" / "build_operations_catalog.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the shipped file ----------------------------------------------------------------------------


def test_the_shipped_catalog_is_fresh() -> None:
    if not SHARED.exists():
        pytest.skip("shared/ is not beside this checkout")
    text = _builder().render(json.loads(SHARED.read_text(encoding="utf-8")))
    assert CATALOG_PATH.read_text(encoding="utf-8") == text, (
        "data/operations.json is stale: run python scripts/build_operations_catalog.py"
    )


def test_the_builder_refuses_counts_that_disagree_with_the_source() -> None:
    if not SHARED.exists():
        pytest.skip("shared/ is not beside this checkout")
    source = json.loads(SHARED.read_text(encoding="utf-8"))
    source["operations"].pop()
    with pytest.raises(SystemExit, match="counts differ"):
        _builder().render(source)


def test_the_catalog_keeps_its_provenance_and_counts() -> None:
    catalog = operations_catalog()
    header = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    assert len(catalog) == header["counts"]["operations"] == 3405
    assert catalog.source.generated == "2026-11-30"
    commits = {p.get("code"): p.get("commit") for p in catalog.source.primary}
    assert commits["swagger"] == "b692e3547aa91cdd9ab4b9519fb0bed08c09c878"
    kinds = [op.permissions.kind for op in catalog]
    assert kinds.count("ANY") == catalog.source.counts["permissionsANY"] == 2092
    assert kinds.count("ALL") == catalog.source.counts["permissionsALL"] == 857
    assert kinds.count("NONE") == 380
    assert kinds.count("UNKNOWN") == 76
    assert sum(op.scopes is None for op in catalog) == 225
    assert len(catalog.permission_ids) == catalog.source.counts["distinctPermissionIds"] == 1465


def test_the_catalog_is_small_and_one_operation_per_line() -> None:
    text = CATALOG_PATH.read_text(encoding="utf-8")
    assert len(text) < 600_000
    rows = [line for line in text.splitlines() if line.startswith('["')]
    assert len(rows) == 3405
    assert '"summary"' not in text and '"operationId"' not in text


def test_the_catalog_is_read_once() -> None:
    assert operations_catalog() is operations_catalog()


# --- what an operation carries -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind", "ids", "scopes"),
    [
        (
            "GET /api/v2/routing/queues/{queueId}",
            "ALL",
            ("routing:queue:view",),
            ("routing", "routing:readonly"),
        ),
        (
            "POST /api/v2/analytics/conversations/details/query",
            "ANY",
            ("analytics:conversationDetail:view", "analytics:agentConversationDetail:view"),
            ("analytics", "analytics:readonly"),
        ),
        (
            "POST /api/v2/authorization/divisions",
            "ALL",
            ("authorization:division:add", "authorization:grant:add"),
            ("authorization",),
        ),
        ("GET /api/v2/users/{userId}", "NONE", (), ("users", "users:readonly")),
        ("GET /api/v2/date", "NONE", (), ()),
        (
            "POST /api/v2/businessrules/decisiontables/{tableId}/versions/{tableVersion}/rollback",
            "UNKNOWN",
            (),
            None,
        ),
        ("GET /api/v2/agentic/virtualagents", "ALL", ("agentic:virtualAgent:view",), None),
    ],
)
def test_operations_carry_permissions_and_scopes(
    key: str, kind: str, ids: tuple[str, ...], scopes: tuple[str, ...] | None
) -> None:
    op = operations_catalog().get(key)
    assert op is not None and op.key == key
    assert op.permissions.kind == kind
    assert op.permissions.ids == ids
    assert op.scopes == scopes
    assert op.permissions.usable == (kind in ("ANY", "ALL"))


def test_non_standard_permission_strings_are_kept_and_not_usable() -> None:
    doc = operations_catalog().get("DELETE /api/v2/contentmanagement/documents/{documentId}")
    assert doc is not None
    assert doc.permissions == Requirement("ANY", (), ("content_management_user",))
    assert not doc.permissions.usable
    user = operations_catalog().get("DELETE /api/v2/users/{userId}")
    assert user is not None
    assert user.permissions.ids == ("directory:user:delete", "directory:organization:admin")
    assert user.permissions.non_standard == ("admin",)
    assert user.permissions.usable


def test_deprecated_flag() -> None:
    catalog = operations_catalog()
    old = catalog.get("GET /api/v2/analytics/botflows/{botFlowId}/reportingturns")
    new = catalog.get("GET /api/v2/routing/queues")
    assert old is not None and old.deprecated
    assert new is not None and not new.deprecated
    assert sum(op.deprecated for op in catalog) == catalog.source.counts["deprecated"]


# --- resolve -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "api/v2/routing/queues/{queueId}",  # as the usage rows spell it
        "/api/v2/routing/queues/{queueId}",
        "api/v2/routing/queues/{queueId}/",
        "  api/v2/routing/queues/{queueId}  ",
    ],
)
@pytest.mark.parametrize("method", ["GET", "get", "Get"])
def test_exact_match_with_or_without_slashes_and_any_method_case(
    template: str, method: str
) -> None:
    res = resolve(method, template)
    assert res.match == "exact"
    assert res.key == "GET /api/v2/routing/queues/{queueId}"
    assert res.operation is operations_catalog().get(res.key)


@pytest.mark.parametrize(
    "template",
    [
        "api/v2/routing/queues/{id}",  # another parameter name
        "API/v2/Routing/Queues/{QUEUE}",  # literal segments in another case
        "/api/v2/routing/queues/{queue_id}/",
    ],
)
def test_shape_match_when_the_exact_key_is_absent(template: str) -> None:
    res = resolve("get", template)
    assert res.match == "shape"
    assert res.key == "GET /api/v2/routing/queues/{queueId}"
    assert res.known


def test_shape_match_keeps_the_methods_apart() -> None:
    assert resolve("DELETE", "api/v2/routing/queues/{id}").key == (
        "DELETE /api/v2/routing/queues/{queueId}"
    )
    res = resolve("HEAD", "api/v2/routing/queues/{id}")
    assert res.match == "unknown"


def test_a_literal_segment_is_preferred_and_a_concrete_id_is_never_a_parameter() -> None:
    assert resolve("GET", "api/v2/users/me").key == "GET /api/v2/users/me"
    assert resolve("GET", "api/v2/users/{userId}").key == "GET /api/v2/users/{userId}"
    res = resolve("GET", "api/v2/users/3f2a9c1e-0000-4000-8000-000000000001")
    assert res.match == "unknown" and res.operation is None


@pytest.mark.parametrize(
    ("method", "template", "key"),
    [
        ("GET", "api/v2/not/a/thing/{id}", "GET /api/v2/not/a/thing/{id}"),
        ("post", "/api/v2/routing/queues/{id}/nope", "POST /api/v2/routing/queues/{id}/nope"),
        ("", "api/v2/routing/queues", " /api/v2/routing/queues"),  # old rows not grouped by method
        ("GET", "api/v2/routing/qu{eue}s", "GET /api/v2/routing/qu{eue}s"),
    ],
)
def test_unknown_templates_are_kept_as_seen(method: str, template: str, key: str) -> None:
    res = resolve(method, template)
    assert res.match == "unknown" and not res.known
    assert res.key == key


def test_every_catalog_operation_resolves_exactly_and_by_shape() -> None:
    catalog = operations_catalog()
    for op in catalog:
        assert catalog.resolve(op.method.lower(), op.path.lstrip("/")).operation is op
        renamed = re.sub(r"\{[^}]+\}", "{p}", op.path)
        res = catalog.resolve(op.method, renamed)
        assert res.operation is op, op.key
        assert res.match == ("exact" if renamed == op.path else "shape")


def test_resolve_answers_from_memory() -> None:
    catalog = operations_catalog()
    assert catalog.resolve("GET", "api/v2/routing/queues") is catalog.resolve(
        "GET", "api/v2/routing/queues"
    )


def _catalog(*operations: Operation) -> OperationsCatalog:
    return OperationsCatalog(operations, CatalogSource("test", (), {}))


def test_two_operations_of_one_shape_make_the_shape_match_nothing() -> None:
    a = Operation("GET", "/api/v2/things/{a}", Requirement("NONE"))
    b = Operation("GET", "/api/v2/things/{b}", Requirement("NONE"))
    catalog = _catalog(a, b)
    assert catalog.resolve("GET", "api/v2/things/{a}").operation is a
    assert catalog.resolve("GET", "api/v2/things/{b}").operation is b
    assert catalog.resolve("GET", "api/v2/things/{c}").match == "unknown"


def test_parse_catalog_rejects_what_is_not_a_catalog() -> None:
    with pytest.raises(ValueError, match="not an operations catalog"):
        parse_catalog(json.dumps({"kind": "something/else", "operations": []}))
    bad: dict[str, object] = {
        "kind": "genesys-oauth-audit/operations-catalog",
        "source": {"generated": "x", "primary": []},
        "counts": {},
        "operations": [["GET", "/x", "SOME", [], None, 0]],
    }
    with pytest.raises(ValueError, match="unknown permission kind"):
        parse_catalog(json.dumps(bad))


# --- CalledOperation -----------------------------------------------------------------------------


def test_called_operation_normalises_and_dumps_camel_case() -> None:
    call = CalledOperation(method="get", path="api/v2/routing/queues", requests=5, status2xx=5)
    assert call.key == "GET /api/v2/routing/queues"
    assert call.model_dump(by_alias=True) == {
        "method": "GET",
        "path": "/api/v2/routing/queues",
        "requests": 5,
        "status2xx": 5,
        "status3xx": 0,
        "status4xx": 0,
        "status429": 0,
        "status5xx": 0,
    }
    assert CalledOperation.model_validate(call.model_dump(by_alias=True)) == call


def test_called_operation_rejects_negative_counts_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        CalledOperation(method="GET", path="/x", requests=-1)
    with pytest.raises(ValidationError):
        CalledOperation.model_validate({"method": "GET", "path": "/x", "requests": 1, "extra": 1})


@pytest.mark.parametrize(
    ("counts", "succeeded", "denied"),
    [
        ({"status2xx": 1, "status4xx": 9}, True, False),
        ({"status4xx": 3}, False, True),
        ({"status4xx": 3, "status429": 3}, False, False),  # throttled only: not a denial
        ({"status4xx": 4, "status429": 3}, False, True),
        ({"status5xx": 2}, False, False),
        ({"status3xx": 2}, False, False),
    ],
)
def test_called_operation_outcome(counts: dict[str, int], succeeded: bool, denied: bool) -> None:
    call = CalledOperation(method="GET", path="/x", requests=sum(counts.values()), **counts)
    assert call.succeeded is succeeded
    assert call.denied is denied


def test_merge_calls_sums_rows_of_one_operation() -> None:
    rows = [
        CalledOperation(method="GET", path="/api/v2/b", requests=2, status2xx=2),
        CalledOperation(method="get", path="api/v2/b", requests=3, status4xx=3, status429=1),
        CalledOperation(method="GET", path="/api/v2/a", requests=1, status5xx=1),
    ]
    merged = merge_calls(rows)
    assert [c.key for c in merged] == ["GET /api/v2/a", "GET /api/v2/b"]
    assert merged[1] == CalledOperation(
        method="GET", path="/api/v2/b", requests=5, status2xx=2, status4xx=3, status429=1
    )
