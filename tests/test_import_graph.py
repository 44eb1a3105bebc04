"""palsy_core's own import graph (docs/ARCHITECTURE.md, "Inside palsy_core"): no circle,
and the lower layers never import the upper ones. A static scan of every import of the
library's own modules, at the top of a module or inside a function alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import palsy_core

PACKAGE = Path(palsy_core.__file__).resolve().parent

#: Shared by every layer: words, errors, logging, version, typed results, text and tables.
BASE = {"palsy_core.vocabulary", "palsy_core.errors", "palsy_core._native_log",
        "palsy_core._threads", "palsy_core._version", "palsy_core.predictions",
        "palsy_core.safe_text", "palsy_core.flatten", "palsy_core.imageio"}
#: Pictures and model inputs made from one face (what models/ may read besides face/).
FACE_PRODUCTS = {"palsy_core.drawing", "palsy_core.modalities", "palsy_core.segmentation"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def own_target(name: str) -> str | None:
    """The palsy_core module an imported name lives in (``a.b.C`` -> ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every palsy_core module ``module`` imports, relative imports resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        found |= {target for target in map(own_target, names) if target and target != module}
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_the_library():
    assert {"palsy_core.analysis", "palsy_core.face.landmarks", "palsy_core.models._registry"} <= set(MODULES)
    assert "palsy_core.face.measurements" in GRAPH["palsy_core.analysis"]
    assert "palsy_core.models" in GRAPH["palsy_core.analysis"]  # imported inside a function


def test_palsy_core_has_no_import_circle():
    assert circles(GRAPH) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("palsy_core.face")))
def test_face_imports_only_face_and_the_base(module):
    above = {target for target in GRAPH[module]
             if not target.startswith("palsy_core.face") and target not in BASE}
    assert above == set()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("palsy_core.models")))
def test_models_import_only_face_its_products_and_the_base(module):
    allowed = BASE | FACE_PRODUCTS
    above = {target for target in GRAPH[module]
             if not target.startswith(("palsy_core.face", "palsy_core.models")) and target not in allowed}
    assert above == set()
