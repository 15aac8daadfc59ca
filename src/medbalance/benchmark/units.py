"""Evaluation units: a run-folder-like dir of predictions that ``evaluate_run`` evaluates.

One unit per (train set, test set, strategy, variant, seed) in ``BENCH/units/<unit_id>``:

- in distribution, one split: the cell's own predictions;
- out of distribution: ``predictions_val.csv`` of the training set's validation split
  (thresholds are chosen there) and the model's predictions on the other test set;
- ``folds`` K: the K fold cells pooled: out-of-fold test predictions (every case tested
  once) and each fold's validation predictions; out of distribution, the K fold models'
  probabilities (and logits) averaged per case.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from medbalance.benchmark._metric_rows import MetricRecord, metric_records_from_json
from medbalance.benchmark.store import UnitRecord
from medbalance.data.manifest import read_csv_as_strings
from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
from medbalance.io import atomic_write_text

__all__ = ["UnitSpec", "build_unit", "ood_predictions_path"]


@dataclass(frozen=True)
class UnitSpec:
    """What a unit pools: its identity and the run folders (one, or K folds) it is made of."""

    unit_id: str
    train_set: str
    test_set: str
    strategy: str
    variant: str
    seed: int
    in_distribution: bool
    cell_ids: tuple[str, ...]


def ood_predictions_path(run_dir: Path, test_set: str) -> Path:
    """Where a cell keeps its predictions on another data set's test cases."""
    return Path(run_dir) / "ood" / f"predictions_{test_set}.csv"


def _read(path: Path) -> pd.DataFrame:
    table = read_csv_as_strings(path)
    for column in table.columns:
        if column.startswith(("prob_", "logit_")):
            table[column] = pd.to_numeric(table[column])
    return table


def _average(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Per-case mean of several models' prob_/logit_ columns (rows aligned by image_id)."""
    first = frames[0].set_index("image_id", drop=False)
    scores = [c for c in first.columns if c.startswith(("prob_", "logit_"))]
    stacked = [f.set_index("image_id")[scores].loc[first.index] for f in frames]
    first[scores] = sum(s.to_numpy() for s in stacked) / len(stacked)
    return first.reset_index(drop=True)


def _write_unit(spec: UnitSpec, run_dirs: Sequence[Path], unit_dir: Path) -> None:
    val = pd.concat([_read(r / "predictions_val.csv") for r in run_dirs], ignore_index=True)
    if spec.in_distribution:
        test = pd.concat([_read(r / "predictions_test.csv") for r in run_dirs], ignore_index=True)
    else:
        test = _average([_read(ood_predictions_path(r, spec.test_set)) for r in run_dirs])
    summary: dict[str, Any] = json.loads((run_dirs[0] / "summary.json").read_text(encoding="utf-8"))
    summary["unit"] = {**dataclasses.asdict(spec), "run_dirs": [str(r) for r in run_dirs]}
    if unit_dir.exists():
        shutil.rmtree(unit_dir)
    unit_dir.mkdir(parents=True)
    atomic_write_text(unit_dir / "predictions_val.csv", val.to_csv(index=False, float_format="%.8g"))
    atomic_write_text(unit_dir / "predictions_test.csv", test.to_csv(index=False, float_format="%.8g"))
    atomic_write_text(unit_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


def build_unit(
    spec: UnitSpec, run_dirs: Sequence[Path], bench: Path, evaluation: EvaluateConfig
) -> tuple[UnitRecord, list[MetricRecord]]:
    """Write ``bench/units/<unit_id>``, evaluate it, and return its store records.

    Raises:
        FileNotFoundError: a predictions file of a cell is missing.
        DataError: evaluation failed on the predictions (e.g. no positive case at the level).
    """
    unit_dir = bench / "units" / spec.unit_id
    _write_unit(spec, run_dirs, unit_dir)
    result = evaluate_run(unit_dir, dataclasses.replace(evaluation, out_dir=None, overwrite=True))
    n_cases = int(result.metrics["evaluation"]["aggregation"]["test"]["n_units"])
    points = result.operating_points
    n_positive = int(points["n_test_positive"].iloc[0]) if "n_test_positive" in points and len(points) else -1
    record = UnitRecord(
        unit_id=spec.unit_id, train_set=spec.train_set, test_set=spec.test_set, strategy=spec.strategy,
        variant=spec.variant, seed=spec.seed, in_distribution=spec.in_distribution,
        unit_dir=unit_dir.relative_to(bench).as_posix(), cell_ids=spec.cell_ids, level=result.level,
        n_cases=n_cases, n_positive=n_positive,
    )  # fmt: skip
    return record, metric_records_from_json(result.metrics, level=result.level)
