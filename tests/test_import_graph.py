"""The import graph of posegcn: no cycle, and the data layer depends on neither the metrics nor the synthetic data.

Every ``import`` statement of every module counts, also those inside functions (a lazy import
hides a cycle from the interpreter, not from a reader).  Edges are read with :mod:`ast`, so the
test imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import posegcn

PACKAGE = Path(posegcn.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The posegcn modules ``name`` imports (``from a import b`` counts ``a.b`` when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_graph_sees_known_edges():
    graph = _graph()
    assert "posegcn.data.formats.h36m" in graph["posegcn.data.formats"]
    assert "posegcn.data.arrays" in graph["posegcn.data.formats.h36m"]
    assert "posegcn.data" in graph["posegcn.synthetic.datamodule"]


def test_import_graph_has_no_cycle():
    # every import counts, also the lazy ones inside functions (the command's dispatch to lift/convert)
    graph = _graph()
    cycles = sorted(f"{m} → … → {m}" for m in graph if m in _reachable(graph, m))
    assert not cycles, f"import cycles through: {cycles}"


def test_data_imports_neither_metrics_nor_synthetic():
    graph = _graph()
    for name in graph:
        if name == "posegcn.data" or name.startswith("posegcn.data."):
            bad = sorted(
                m for m in _reachable(graph, name) if m.startswith(("posegcn.metrics", "posegcn.synthetic"))
            )
            assert not bad, f"{name} imports {bad}"
