"""The package's layout rules, read from the source: no import circle, benchmark folders import only
`evalscope.api`, and the top of `evalscope/` holds no module that only the arena or one kind of benchmark uses."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import networkx as nx
import pytest

from tests.conftest import REPO

PACKAGE = REPO / "evalscope"


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in PACKAGE.rglob("*.py")}


def _imported(path: Path) -> set[str]:
    """The evalscope modules a file imports anywhere in it (function-level imports included: they hide circles)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `evalscope.schema.Sample` -> `evalscope.schema`
                name = name.rpartition(".")[0]
            if name.startswith("evalscope"):
                found.add(name)
    return found - {module}


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        # Importing any submodule runs the package root first: an edge to it is no circle of the code's making.
        graph.add_edges_from((module, dep) for dep in _imported(path) if dep != "evalscope")
    return graph


def test_no_import_circle() -> None:
    circles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert circles == []


def test_benchmark_folders_import_only_the_api() -> None:
    for path in sorted((REPO / "benchmarks").glob("*/*.py")):
        # a backend's suite (benchmarks/opencompass) fronts its own backend module, and no other
        allowed = {"evalscope.api", f"evalscope.backends.{path.parent.name}"}
        assert _imported(path) <= allowed, f"{path}: imports {sorted(_imported(path))}"


def test_the_top_holds_no_module_of_only_the_arena_or_one_kind() -> None:
    graph = _graph()
    for module, path in MODULES.items():
        if path.parent != PACKAGE or path.name == "__init__.py":
            continue
        users = set(graph.predecessors(module))
        only_arena = bool(users) and all(u.startswith("evalscope.arena") for u in users)
        one_kind = len(users) == 1 and next(iter(users)).startswith("evalscope.kinds.")
        assert not (only_arena or one_kind), f"{module} is used only by {sorted(users)}: it belongs with them"


@pytest.mark.parametrize("package", ["evalscope.api", "evalscope.kinds"])
def test_public_names_are_listed_and_resolve(package: str) -> None:
    module = importlib.import_module(package)
    imported = {a.asname or a.name for node in ast.parse(Path(module.__file__).read_text()).body  # type: ignore[arg-type]
                if isinstance(node, ast.ImportFrom) for a in node.names}
    assert set(module.__all__) == imported
    assert all(getattr(module, name) is not None for name in module.__all__)
