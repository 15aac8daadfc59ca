"""The main job on the embedded data: ``medbalance demo`` (and ``make demo``) is a benchmark preset.

Phantom mammograms at 19:1 from three vendors: models train on vendors a and b
(patient-grouped split) and are tested on their own test split and on vendor c,
never seen in training (out of distribution). Several strategies x 2 seeds run
through the benchmark engine (:func:`medbalance.benchmark.run.run_benchmark`,
the same code path as ``medbalance benchmark``), then the report
(:func:`medbalance.report.html.write_report`) writes the leaderboard, the paired
tests, the recommendation and ``report.html``. Threshold moving is part of every
result: each model's operating points are chosen on validation, and "train
normally and move the threshold" is one of the recommendation's candidates.

``DEMO_PRESET`` is the one definition of the preset; ``configs/demo.yaml`` is the
same settings as a file for ``medbalance benchmark --config`` (a test keeps them equal).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from medbalance.constraints import check_constraints, option
from medbalance.errors import MedbalanceError

if TYPE_CHECKING:
    from medbalance.benchmark.config import BenchmarkConfig
    from medbalance.benchmark.run import BenchmarkEvent, BenchmarkResult

__all__ = ["DEMO_PRESET", "DemoConfig", "DemoResult", "demo_benchmark_config", "run_demo"]

_PHANTOMS: dict[str, Any] = {
    "n_patients": 2000, "prevalence": 0.05, "size": 80, "lesion_contrast": 4.0, "benign_finding_rate": 0.1,
    "domains": ["vendor-a", "vendor-b", "vendor-c"], "seed": 0,
}  # fmt: skip

DEMO_PRESET: dict[str, Any] = {
    "data": [
        {"name": "phantoms-ab", "source": "phantoms", "phantoms": _PHANTOMS, "domains": ["vendor-a", "vendor-b"],
         "fractions": [0.5, 0.15, 0.35]},
        {"name": "vendor-c", "source": "phantoms", "phantoms": _PHANTOMS, "domains": ["vendor-c"], "role": "test"},
    ],
    "strategies": ["none", "undersample", "synthetic-lesions"],
    "seeds": 2,
    "train": {"model": "small-cnn", "epochs": 4, "image_size": 80, "batch_size": 32, "lr": 0.002},
    "evaluation": {"level": "breast", "rules": ["fixed:0.5", "youden", "target-sensitivity:0.9"],
                   "n_bootstrap": 1000, "deployment_prevalences": [0.01]},
    "constraint": "sensitivity>=0.9",
}  # fmt: skip
"""The ``make demo`` preset (measured in docs/demo.md; searched with benchmarks/demo_preset.py)."""


@dataclass(frozen=True)
class DemoConfig:
    """The demo folder and the preset settings a user may change (None keeps the preset's).

    Attributes:
        out: the benchmark folder (refused if not empty unless ``overwrite`` or ``resume``).
        n_patients: phantom patients (4 images each; a third are vendor c, the out-of-distribution test set).
        prevalence: share of malignant breasts (0.05 = 19:1).
        image_size: phantom and network input size in pixels.
        epochs: training epochs per cell.
        seeds: seeds per strategy.
        strategies: strategy names (``none`` is the baseline every other is compared with).
        n_bootstrap: bootstrap resamples of every interval.
        overwrite: replace an existing ``out``.
        resume: keep the finished cells of an interrupted demo with the same settings.
    """

    out: Path
    n_patients: int | None = option(None, ge=1)
    prevalence: float | None = option(None, gt=0.0, lt=1.0)
    image_size: int | None = option(None, ge=32)
    epochs: int | None = option(None, ge=1)
    seeds: int | None = option(None, ge=1)
    strategies: tuple[str, ...] | None = None
    n_bootstrap: int | None = option(None, ge=10)
    overwrite: bool = False
    resume: bool = False

    def __post_init__(self) -> None:
        check_constraints(self)


@dataclass(frozen=True)
class DemoResult:
    """What the demo wrote.

    Attributes:
        out: the benchmark folder.
        report: ``report.html``.
        leaderboard: the leaderboard table (also leaderboard.csv / leaderboard.md).
        recommendation: the content of recommendation.json (the preset's constraint).
        benchmark: the engine's result (cells run, kept, failed).
    """

    out: Path
    report: Path
    leaderboard: pd.DataFrame
    recommendation: dict[str, Any]
    benchmark: BenchmarkResult


def demo_benchmark_config(config: DemoConfig) -> BenchmarkConfig:
    """The preset with the user's changes, as a checked ``BenchmarkConfig``.

    Raises:
        ConfigError: a bad value (checked by the benchmark's strict config parser).
    """
    from medbalance.benchmark.config import BenchmarkConfig
    from medbalance.config import parse_config

    preset = copy.deepcopy(DEMO_PRESET)
    phantoms = {k: v for k, v in (("n_patients", config.n_patients), ("prevalence", config.prevalence),
                                  ("size", config.image_size)) if v is not None}  # fmt: skip
    for entry in preset["data"]:
        entry["phantoms"].update(phantoms)
    if config.image_size is not None:
        preset["train"]["image_size"] = config.image_size
    if config.epochs is not None:
        preset["train"]["epochs"] = config.epochs
    if config.seeds is not None:
        preset["seeds"] = config.seeds
    if config.strategies is not None:
        preset["strategies"] = list(config.strategies)
    if config.n_bootstrap is not None:
        preset["evaluation"]["n_bootstrap"] = config.n_bootstrap
    preset.update(out=str(config.out), overwrite=config.overwrite, resume=config.resume)
    return parse_config(BenchmarkConfig, preset, where="demo preset")


def run_demo(config: DemoConfig, on_event: Callable[[BenchmarkEvent], None] | None = None) -> DemoResult:
    """Run the preset benchmark (or resume it) and write the leaderboard, recommendation and report.

    Raises:
        ConfigError: a bad setting, before anything is written.
        MedbalanceError: ``out`` holds other results (without ``overwrite``), a resumed demo had other
            settings, or a cell failed (``--resume`` redoes it).
    """
    from medbalance.outputs import claim_output_dir

    settings = demo_benchmark_config(config)
    with claim_output_dir(settings.out):  # held until the report is written, not only the benchmark
        return _demo_claimed(settings, on_event)


def _demo_claimed(settings: BenchmarkConfig, on_event: Callable[[BenchmarkEvent], None] | None) -> DemoResult:
    from medbalance.benchmark.leaderboard import load_benchmark_frames, summarize_over_seeds, wide_leaderboard
    from medbalance.benchmark.run import run_benchmark
    from medbalance.report.html import ReportConfig, write_report

    result = run_benchmark(settings, on_event=on_event)
    if result.failed:
        raise MedbalanceError(
            f"{len(result.failed)} cell(s) failed ({', '.join(result.failed)}); see {settings.out}/cells/<id>/ "
            "and run the demo again with --resume."
        )
    n_bootstrap = settings.evaluation.n_bootstrap
    report = write_report(settings.out, ReportConfig(constraint=settings.constraint, n_bootstrap=n_bootstrap))
    _, metrics = load_benchmark_frames(settings.out)
    table = wide_leaderboard(summarize_over_seeds(metrics))
    rec = json.loads((Path(settings.out) / "recommendation.json").read_text(encoding="utf-8"))
    return DemoResult(Path(settings.out), report, table, rec, result)
