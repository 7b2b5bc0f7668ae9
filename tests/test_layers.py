"""The packages import each other one way: cli/app -> server -> gateway -> platforms,
and the gateway's parts never import the gateway itself (they get narrow Protocols,
hermes/gateway/ports.py). Read from the source, including imports made only for
type checking: a cycle there is a cycle a reader has to hold in their head."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "hermes"

# package -> packages it must never import
FORBIDDEN = {
    "hermes.gateway": ("hermes.server", "hermes.app", "hermes.cli"),
    "hermes.platforms": ("hermes.server", "hermes.app", "hermes.cli"),
    "hermes.server": ("hermes.app", "hermes.cli"),
    "hermes.agent": ("hermes.gateway", "hermes.server", "hermes.app", "hermes.cli"),
    "hermes.store": ("hermes.gateway", "hermes.server", "hermes.app", "hermes.cli"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_gateways_parts_form_no_import_cycle() -> None:
    cycles = [c for c in _cycles(_graph()) if any(m.startswith("hermes.gateway") for m in c)]
    assert cycles == []


def test_no_part_of_the_gateway_imports_the_gateway_class() -> None:
    graph = _graph()
    users = sorted(
        m
        for m, deps in graph.items()
        if "hermes.gateway.core" in deps and m.startswith("hermes.gateway")
    )
    assert users == ["hermes.gateway.reload"]  # reloading changes the whole gateway


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = []
    for module, deps in _graph().items():
        for package, forbidden in FORBIDDEN.items():
            if module == package or module.startswith(package + "."):
                wrong += [
                    f"{module} -> {d}"
                    for d in deps
                    if any(d == f or d.startswith(f + ".") for f in forbidden)
                ]
    assert wrong == []


def test_the_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_code_waits_with_asyncio_wait_for() -> None:
    """Python 3.11's wait_for can lose a cancellation (a Matrix adapter that never
    stopped): hermes.aio.within and wait_event are the way to wait with a limit."""
    calls = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "asyncio"
            ):
                calls.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert calls == [], f"use hermes.aio.within instead of asyncio.wait_for: {calls}"
