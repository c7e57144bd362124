"""The package imports in one direction, as the pipeline runs: no cycle, no upward import.

Planted bugs it catches: ``from scatgen.pipeline import ...`` inside ``scatgen/config.py`` (a
cycle, as before the redesign), ``scatgen/data`` importing ``scatgen.encoding`` (upward; planted in a
copy of the tree below), or a new top-level module given no layer."""

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "scatgen"
# lower rank = lower layer; a module may import its own layer or lower ones
# The package's own ``__init__`` is the facade on top: importing ``scatgen`` registers the config
# schemas (``scatgen.config``); every other module takes the layer of its longest prefix here.
TOP = "scatgen"
LAYERS = {
    TOP: 11, "scatgen.errors": 0, "scatgen.devices": 0, "scatgen.storage": 0,
    "scatgen.data": 1, "scatgen.viz": 2, "scatgen.scattering": 3, "scatgen.encoding": 3.5, "scatgen.models": 4, "scatgen.metrics": 5,
    "scatgen.studies": 6, "scatgen.synthesis": 6,
    "scatgen.config": 7, "scatgen.schemas": 7, "scatgen.training": 7, "scatgen.factory": 8, "scatgen.cli": 8, "scatgen.pipeline": 9,
    "scatgen.evaluate": 9,
    "scatgen.compare": 10, "scatgen.long_run": 10, "scatgen.learning_curve": 10, "scatgen.toolbox": 10,
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> float | None:
    """The layer of ``module``: its longest prefix in ``LAYERS`` (the package's facade only by its own
    name), or ``None`` when none fits."""
    if module == TOP:
        return LAYERS[TOP]
    found = [k for k in LAYERS if k != TOP and (module == k or module.startswith(k + "."))]
    return LAYERS[max(found, key=len)] if found else None


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every scatgen module imported anywhere in the file (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("scatgen")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scatgen"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if (root / f"{node.module}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    root = package.parent
    modules = {module_name(p, root): p for p in package.rglob("*.py")}
    return {m: {i for i in imports_of(p, root) if i in modules and i != m} for m, p in modules.items()}


def upward_imports(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [(m, i) for m, deps in g.items() for i in deps if layer_of(i) > layer_of(m)]


def test_every_module_has_a_layer():
    unplaced = [m for m in graph() if layer_of(m) is None]
    assert not unplaced, f"modules with no layer in LAYERS: {unplaced}"
    assert layer_of("scatgen.brand_new_module") is None  # the facade is no catch-all


def test_no_upward_import():
    upward = upward_imports(graph())
    assert not upward, upward


def test_a_planted_upward_import_is_found(tmp_path):
    """A copy of the package in which ``scatgen/data/polygons.py`` imports the encoding stage (a higher
    layer): the check must name that pair."""
    import shutil

    copy = tmp_path / "scatgen"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pt"))
    target = copy / "data" / "polygons.py"
    target.write_text("from scatgen.encoding.whitening import PCAWhitening\n" + target.read_text())
    assert upward_imports(graph(copy)) == [("scatgen.data.polygons", "scatgen.encoding.whitening")]


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for dep in g[node]:
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in g:
        if node not in state:
            visit(node, [node])
