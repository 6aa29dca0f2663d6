"""The import graph of ``src/``: every import points down the pipeline, and nothing imports in a circle.

The layers, bottom to top (a module may import its own layer or any layer below):

    errors, redact                    the error tree; the secrets of this run, redacted everywhere
    data, files                       shipped catalogs; documents in, outputs out
    inventory                         the normalised inventory and snapshots
    findings, evidence, severity      the records an evaluation produces, why each holds, severities
    settings, genesys, proposals      the input stages: a live org, proposed clients
    leastpriv                         granted versus exercised; the least-privilege role
    checks                            the check types and their registry
    policy                            policy files: model, loader, schema
    engine                            evaluation, baselines, drift, policy tests
    report                            every renderer
    app, orgs                         each command's pipeline; the many-orgs pipelines
    cli, __main__                     click
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = "genesys_oauth_audit"
SRC = ROOT / "src" / PACKAGE

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "redact"),
    ("data", "files"),
    ("inventory",),
    ("findings", "evidence", "severity"),
    ("settings", "genesys", "proposals"),
    ("leastpriv",),
    ("checks",),
    ("policy",),
    ("engine",),
    ("report",),
    ("app", "orgs"),
    ("cli", "__main__"),
)
RANK = {component: rank for rank, layer in enumerate(LAYERS) for component in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every first-party module ``path`` imports, wherever the import statement is (inside
    functions and TYPE_CHECKING blocks too: a lazy import is still a dependency)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return {m for m in found if m != PACKAGE}


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, name, known) for name, path in known.items()}


def test_every_module_has_a_layer() -> None:
    components = {_component(m) for m in _modules()} - {""}
    assert components <= set(RANK), f"place these in LAYERS: {sorted(components - set(RANK))}"


def test_imports_point_down() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in _graph().items()
        for target in targets
        if _component(source) in RANK
        and _component(target) in RANK
        and RANK[_component(target)] > RANK[_component(source)]
    ]
    assert not upward, "imports that point up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = _graph()
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                cycles.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The walker itself works: an engine -> report import is an edge it reports as upward."""
    module = tmp_path / "m.py"
    module.write_text("from genesys_oauth_audit.report import renderer\n", encoding="utf-8")
    edges = _imports(module, f"{PACKAGE}.engine.m", _modules())
    assert edges == {f"{PACKAGE}.report"}
    assert RANK[_component(f"{PACKAGE}.report")] > RANK["engine"]
