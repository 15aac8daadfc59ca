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
    "": 0, "errors": 0, "io": 0, "registry": 0, "contract": 0, "config": 0,
    "data": 1, "synth": 2, "strategies": 3, "training": 4, "evaluation": 5,
    "inference": 6, "benchmark": 7, "report": 8, "demo": 9, "cli": 10, "__main__": 11,
}  # fmt: skip

# (importing file, imported layer): why it is still there.
KNOWN_UPWARD: dict[tuple[str, str], str] = {
    ("evaluation/_evaluate_calibration.py", "report"): "evaluate_run draws its figures with report.plots",
    ("evaluation/_evaluate_multiclass.py", "report"): "evaluate_run draws its figures with report.plots",
    ("synth/gallery.py", "report"): "the lesion gallery is laid out with report.contact_sheet",
}

# Rich (terminal output) belongs to cli/; these library modules still draw a progress bar.
KNOWN_RICH = {"data/_cache_build.py", "inference/predict_files.py"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _edges() -> dict[tuple[str, str], str]:
    """(file relative to src/medbalance, imported layer) -> own layer, for every medbalance import."""
    edges = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        own = rel.split("/")[0].removesuffix(".py").replace("__init__", "")
        for module in _imports(path):
            if module.startswith("medbalance"):
                edges[(rel, _layer(module))] = own
    return edges


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(LAYERS), sorted((packages | modules) - set(LAYERS))


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


def test_terminal_output_lives_in_cli() -> None:
    users = {
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if any(m == "rich" or m.startswith("rich.") for m in _imports(path))
    }
    outside = {u for u in users if not u.startswith("cli/")}
    assert outside == KNOWN_RICH, f"Rich used outside cli/: {sorted(outside - KNOWN_RICH)}"
