"""The package imports in one direction, as the pipeline runs: no cycle, no upward import.

Planted bugs it catches: ``from scatgen.pipeline import ...`` inside ``scatgen/config.py`` (a
cycle, as before the redesign), or ``scatgen/data`` importing ``scatgen.encoding`` (upward)."""

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "scatgen"
# lower rank = lower layer; a module may import its own layer or lower ones
LAYERS = {
    "scatgen": 0, "scatgen.errors": 0, "scatgen.devices": 0, "scatgen.storage": 0,
    "scatgen.data": 1, "scatgen.viz": 2, "scatgen.scattering": 3, "scatgen.encoding": 3.5, "scatgen.models": 4, "scatgen.metrics": 5,
    "scatgen.studies": 6, "scatgen.synthesis": 6,
    "scatgen.config": 7, "scatgen.schemas": 7, "scatgen.training": 7, "scatgen.factory": 8, "scatgen.cli": 8, "scatgen.pipeline": 9,
    "scatgen.evaluate": 9,
    "scatgen.compare": 10,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best = max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len)
    return LAYERS[best]


def imports_of(path: Path) -> set[str]:
    """Every scatgen module imported anywhere in the file (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("scatgen")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scatgen"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if (PACKAGE.parent / f"{node.module}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in imports_of(p) if i in modules and i != m} for m, p in modules.items()}


def test_every_module_has_a_layer():
    assert all(layer_of(m) is not None for m in graph())


def test_no_upward_import():
    upward = [(m, i) for m, deps in graph().items() for i in deps if layer_of(i) > layer_of(m)]
    assert not upward, upward


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
