"""Every third-party package imported by src/medbalance is declared in pyproject.toml:
a core dependency when imported at module level, an extra when imported lazily."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "medbalance"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = re.compile(r"^[A-Za-z0-9_.\-]+")
    core = {_normalise(name.match(d).group(0)) for d in project["dependencies"]}
    extras = {
        _normalise(name.match(d).group(0)) for deps in project["optional-dependencies"].values() for d in deps
    }
    return core, extras


def _imports() -> tuple[set[str], set[str]]:
    """(top-level names imported at module level, names imported inside functions)."""
    top, lazy = set(), set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                root = n.split(".")[0]
                if root == "medbalance" or root in sys.stdlib_module_names or root == "__future__":
                    continue
                (top if id(node) in module_level else lazy).add(root)
    return top, lazy


def _distributions(module: str) -> set[str]:
    """The distributions that provide ``module`` (mlflow-skinny provides mlflow), and its own name."""
    return {_normalise(d) for d in packages_distributions().get(module, [])} | {_normalise(module)}


def test_module_level_imports_are_core_dependencies() -> None:
    core, _ = _declared()
    top, _ = _imports()
    undeclared = sorted(m for m in top if not _distributions(m) & core)
    assert not undeclared, f"imported at module level but not in [project].dependencies: {undeclared}"


def test_lazy_imports_are_declared_somewhere() -> None:
    core, extras = _declared()
    _, lazy = _imports()
    undeclared = sorted(m for m in lazy if not _distributions(m) & (core | extras))
    assert not undeclared, (
        f"imported lazily but declared neither as a dependency nor in an extra: {undeclared}"
    )
