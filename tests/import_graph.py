"""The project's import graph as grimp builds it (every import, function-local ones and those
under TYPE_CHECKING included), with the two top-level single-file modules added: grimp and
import-linter read packages only (python-grimp/grimp#300), and worker.py and settings.py are
modules beside the packages. Used by tests/test_imports.py and, as the contract type
`layers_with_top_modules`, by `lint-imports` (pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import ContractCheck

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workflows", "activities", "starter", "store")
TOP_MODULES = ("worker", "settings")


def _imports_of(path: Path) -> list[tuple[list[str], int, str]]:
    """Each import statement of a module: the names it may import (most specific first), its
    line and its text."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[tuple[list[str], int, str]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(([alias.name], node.lineno, lines[node.lineno - 1].strip()))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                names = [f"{node.module}.{alias.name}", node.module]
                found.append((names, node.lineno, lines[node.lineno - 1].strip()))
    return found


def add_top_modules(graph: grimp.ImportGraph, root: Path = ROOT) -> grimp.ImportGraph:
    """`graph` with the imports of worker.py and settings.py that reach the project."""
    project = set(PACKAGES) | set(TOP_MODULES)
    for name in TOP_MODULES:
        if name not in graph.modules:
            graph.add_module(name)
        for names, line, text in _imports_of(root / f"{name}.py"):
            target = next((n for n in names if n in graph.modules), None)
            if target is not None and target.split(".")[0] in project and target != name:
                graph.add_import(importer=name, imported=target, line_number=line,
                                 line_contents=text)  # fmt: skip
    return graph


def project_graph() -> grimp.ImportGraph:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)
    return add_top_modules(graph)


def project_modules(graph: grimp.ImportGraph) -> set[str]:
    """The modules of the project in `graph` (not the external packages)."""
    return {m for m in graph.modules if m.split(".")[0] in PACKAGES or m in TOP_MODULES}


class LayersWithTopModules(LayersContract):
    """A layers contract whose graph also holds worker.py's and settings.py's imports."""

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        return super().check(add_top_modules(graph), verbose)
