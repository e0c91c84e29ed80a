"""The import graph of posegcn: no cycle, and every layer imports only the layers below it.

From the top: the commands and what only they use (``cli``, ``convert``, ``callbacks``,
``lift/``, ``analysis/``) over the library (``lit/``, ``metrics/``, ``data/``, ``synthetic/``,
``models/``, ``nn/`` and the shared modules).  The data layer depends on neither the metrics
nor the synthetic data; the networks know nothing of Lightning modules or commands.

Every ``import`` statement of every module counts, also those inside functions (a lazy import
hides a cycle from the interpreter, not from a reader).  Edges are read with :mod:`ast`, so the
test imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import posegcn

PACKAGE = Path(posegcn.__file__).parent

#: The top layer: the commands, their callbacks, ``posegcn lift`` and the analysis of trained models.
TOP = ("posegcn.cli", "posegcn.convert", "posegcn.callbacks", "posegcn.lift", "posegcn.analysis")


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    """Whether module ``name`` is one of ``prefixes`` or inside one of those packages."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


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
    assert "posegcn.lift.formats" in graph["posegcn.lift.lifting"]
    assert "posegcn.analysis.figures" in graph["posegcn.lift.lifting"]  # lazy, inside a function
    assert "posegcn.analysis.tables" in graph["posegcn.callbacks"]
    assert "posegcn.checkpointing" in graph["posegcn.lit.module"]


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


def test_library_imports_nothing_of_the_top_layer():
    # lift/ and analysis/ may use models, data and metrics; nothing below them may use lift/,
    # analysis/, the callbacks or the commands (the run folder lives in checkpointing, not callbacks)
    graph = _graph()
    library = [name for name in graph if not _in(name, TOP)]
    assert {"posegcn.nn", "posegcn.models", "posegcn.data", "posegcn.metrics", "posegcn.lit"} <= set(library)
    for name in library:
        bad = sorted(m for m in _reachable(graph, name) if _in(m, TOP))
        assert not bad, f"{name} imports {bad}"


def test_networks_import_neither_lightning_modules_nor_commands():
    graph = _graph()
    for name in graph:
        if _in(name, ("posegcn.nn", "posegcn.models")):
            bad = sorted(m for m in _reachable(graph, name) if _in(m, ("posegcn.lit", *TOP)))
            assert not bad, f"{name} imports {bad}"
