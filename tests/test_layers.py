"""Layers only look down: no module under src/medbalance imports from a layer above its own.

The order follows the data flow (docs/architecture.md). An edge that still runs upward is
listed in KNOWN_UPWARD with the reason; the test fails on any new one, and on a listed
edge that has gone (so the list cannot go stale).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "medbalance"

# Lower number = lower layer. Modules at the package root are the base (errors, io,
# registry, contract, config, the version), except the entry points named here.
LAYERS: dict[str, int] = {
    "": 0, "errors": 0, "io": 0, "registry": 0, "contract": 0, "config": 0, "constraints": 0, "defaults": 0,
    "outputs": 0, "progress": 0,
    "data": 1, "figures": 1.5, "synth": 2, "strategies": 3, "training": 4, "evaluation": 5,
    "inference": 6, "benchmark": 7, "report": 8, "demo": 9, "api": 9, "cli": 10, "__main__": 11,
}  # fmt: skip

# The figures layer of report/ (matplotlib and Pillow only, no numbers computed): the
# drawing primitives, and evaluation_figures, which decides the curves, markers and files
# of evaluate_run's figures from the data evaluation hands it. Its own layer just above
# data, so evaluation and synth draw through it while the HTML report, which reads the
# benchmark, stays at the top.
FIGURE_MODULES = {
    "medbalance.report.plots": "report/plots.py",
    "medbalance.report.contact_sheet": "report/contact_sheet.py",
    "medbalance.report.evaluation_figures": "report/evaluation_figures.py",
}

# (importing file, imported layer): why it is still there.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}

def _layer(module: str) -> str:
    if module in FIGURE_MODULES:
        return "figures"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``: annotations only, never imported at run time."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
        ):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def _imports(path: Path) -> set[str]:
    """Modules imported at run time; ``from a import b`` also yields ``a.b`` (b may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            figure = submodules & set(FIGURE_MODULES)
            names.update(figure or {node.module})
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _edges() -> dict[tuple[str, str], str]:
    """(file relative to src/medbalance, imported layer) -> own layer, for every medbalance import."""
    edges = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        own = (
            "figures"
            if rel in FIGURE_MODULES.values()
            else rel.split("/")[0].removesuffix(".py").replace("__init__", "")
        )
        for module in _imports(path):
            if module.startswith("medbalance"):
                edges[(rel, _layer(module))] = own
    return edges


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(LAYERS), sorted((packages | modules) - set(LAYERS))


def test_drawing_modules_compute_nothing() -> None:
    """The figures layer imports only the base, data (to read images) and itself."""
    for rel in FIGURE_MODULES.values():
        layers = {target for (source, target) in _edges() if source == rel}
        assert layers <= {"", "errors", "io", "data", "figures"}, (rel, sorted(layers))


def test_no_module_imports_from_a_layer_above() -> None:
    upward = {
        (rel, target)
        for (rel, target), own in _edges().items()
        if own in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[own]
    }
    new = sorted(upward - set(KNOWN_UPWARD))
    assert not new, f"imports from a layer above (move the code down or invert the call): {new}"
    gone = sorted(set(KNOWN_UPWARD) - upward)
    assert not gone, f"fixed upward imports still listed in KNOWN_UPWARD: {gone}"


def test_evaluation_never_reads_training_or_strategy_code() -> None:
    """Evaluation reads prediction files and summary.json only (the run contract)."""
    offending = sorted(rel for (rel, target) in _edges() if rel.startswith("evaluation/")
                       and target in ("training", "strategies"))  # fmt: skip
    assert not offending, offending


def test_evaluation_hands_figure_data_to_the_figures_layer() -> None:
    """Evaluation computes curves and points; report.evaluation_figures decides and draws the figures."""
    drawing = {
        path.relative_to(SRC).as_posix()
        for path in (SRC / "evaluation").rglob("*.py")
        if {"medbalance.report.plots", "matplotlib"} & {m.split(".pyplot")[0] for m in _imports(path)}
    }
    assert not drawing, f"evaluation modules that draw (hand the data to report.evaluation_figures): {sorted(drawing)}"


def test_terminal_output_lives_in_cli() -> None:
    """The library reports progress through (done, total) callbacks (medbalance.progress); cli/ draws."""
    users = {
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if any(m == "rich" or m.startswith("rich.") for m in _imports(path))
    }
    users |= {
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if "RichProgressBar" in path.read_text(encoding="utf-8")
    }
    outside = sorted(u for u in users if not u.startswith("cli/"))
    assert not outside, f"Rich used outside cli/ (report progress through a callback instead): {outside}"
