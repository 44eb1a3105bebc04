"""palsy_core's own import graph (docs/ARCHITECTURE.md, "Inside palsy_core"): no circle,
and the lower layers never import the upper ones. A static scan of every import of the
library's own modules, at the top of a module or inside a function alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import palsy_core

PACKAGE = Path(palsy_core.__file__).resolve().parent

#: The layers, lowest first (docs/ARCHITECTURE.md): a module imports only its own layer
#: and the ones below. A package name covers every module under it.
LAYERS = [
    # the base: words, errors, typed results, image reading, text and tables, settings
    {"palsy_core.vocabulary", "palsy_core.errors", "palsy_core.predictions", "palsy_core.imageio",
     "palsy_core.flatten", "palsy_core.safe_text", "palsy_core._version", "palsy_core._native_log",
     "palsy_core._threads"},
    {"palsy_core.face"},                                    # one face
    {"palsy_core.drawing", "palsy_core.modalities", "palsy_core.segmentation"},  # its pictures
    {"palsy_core.models"},                                  # the trained models
    {"palsy_core.analysis", "palsy_core.assessment", "palsy_core.recommendations"},  # one photo
    {"palsy_core.visit", "palsy_core.comparison", "palsy_core.correction", "palsy_core.grading"},
    {"palsy_core.cli", "palsy_core.video", "palsy_core.report", "palsy_core.export_xlsx",
     "palsy_core.records", "palsy_core.accounts", "palsy_core.examples", "palsy_core.__main__"},
    {"palsy_core"},                                         # the public names
]


def layer_of(module: str) -> int | None:
    for level, members in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in members
               if name != "palsy_core" or module == "palsy_core"):
            return level
    return None


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


def test_every_module_has_a_layer():
    assert [module for module in MODULES if layer_of(module) is None] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_layer_and_those_below(module):
    above = {target for target in GRAPH[module] if (layer_of(target) or 0) > layer_of(module)}
    assert above == set(), f"{module} (layer {layer_of(module)}) imports a higher layer"


def test_the_layers_are_the_ones_the_docs_name():
    assert layer_of("palsy_core.face.frame") == 1 and layer_of("palsy_core.models._palsy") == 3
    assert layer_of("palsy_core") == len(LAYERS) - 1
    assert layer_of("palsy_core.analysis") > layer_of("palsy_core.models") > layer_of("palsy_core.modalities")
