"""A unit's validation and test scores at the benchmark's evaluation level (for paired tests and thresholds).

The store holds each unit's metrics; the per-case scores a paired test or a new
threshold needs live in the unit folder the store points to (``unit_dir``), as
``predictions_val.csv`` / ``predictions_test.csv``. They are aggregated here the
way ``evaluate_run`` aggregates them (mean of a breast's images at breast level).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from medbalance.errors import DataError
from medbalance.evaluation.aggregation import AggregatedPredictions, aggregate_predictions
from medbalance.evaluation.run_folder import load_run_predictions

__all__ = ["UnitScores", "align_cases", "load_unit_scores"]


@dataclass(frozen=True)
class UnitScores:
    """Binary scores of one evaluation unit, one entry per case at ``level``.

    Attributes:
        unit_dir: the unit folder.
        level: aggregation level.
        val_ids: validation case ids (breast ids at breast level).
        y_val: validation 0/1 labels.
        s_val: validation probabilities of the positive class.
        test_ids: test case ids.
        y_test: test 0/1 labels.
        s_test: test probabilities of the positive class.
        test_patients: patient id per test case (the bootstrap's clusters).
        test_domains: domain per test case.
    """

    unit_dir: Path
    level: str
    val_ids: np.ndarray
    y_val: np.ndarray
    s_val: np.ndarray
    test_ids: np.ndarray
    y_test: np.ndarray
    s_test: np.ndarray
    test_patients: np.ndarray
    test_domains: np.ndarray


def _binary(agg: AggregatedPredictions, positive: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = agg.classes.index(positive)
    ids = agg.table["unit_id"].astype(str).to_numpy()
    return ids, (agg.labels == pos).astype(np.int64), agg.proba[:, pos]


@lru_cache(maxsize=256)
def _load(unit_dir: Path, level: str, aggregate: str, mtime: float) -> UnitScores:
    run = load_run_predictions(unit_dir)
    if not run.is_binary or run.positive_class is None:
        raise DataError(
            f"{unit_dir}: the benchmark's paired tests and thresholds need a binary task with a positive "
            f"class; summary.json names classes {list(run.classes)} and positive_class {run.positive_class!r}."
        )
    positive = str(run.positive_class)
    aggregated = []
    for table in (run.val, run.test):
        aggregated.append(
            aggregate_predictions(
                table,
                classes=run.classes,
                level=level,  # type: ignore[arg-type]
                method=aggregate,  # type: ignore[arg-type]
                positive_class=positive,
                on_conflict="max",
            )
        )
    val_ids, y_val, s_val = _binary(aggregated[0], positive)
    test_ids, y_test, s_test = _binary(aggregated[1], positive)
    table = aggregated[1].table
    return UnitScores(
        unit_dir,
        aggregated[1].level,
        val_ids,
        y_val,
        s_val,
        test_ids,
        y_test,
        s_test,
        table["patient_id"].astype(str).to_numpy(),
        table["domain"].astype(str).to_numpy(),
    )


def load_unit_scores(unit_dir: str | Path, level: str = "breast", aggregate: str = "mean") -> UnitScores:
    """Read a unit folder's predictions and aggregate them to ``level``.

    Raises:
        FileNotFoundError: the folder or its predictions are missing.
        DataError: not a binary task, or unreadable predictions.
    """
    path = Path(unit_dir).resolve()
    test_file = path / "predictions_test.csv"
    mtime = test_file.stat().st_mtime if test_file.is_file() else 0.0
    return _load(path, level, aggregate, mtime)


def align_cases(a: UnitScores, b: UnitScores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and the two units' test scores on the test cases both scored, in one order.

    Raises:
        DataError: the units share no test case, or disagree on a shared case's label.
    """
    common, ia, ib = np.intersect1d(a.test_ids, b.test_ids, return_indices=True)
    if common.size == 0:
        raise DataError(
            f"{a.unit_dir} and {b.unit_dir} share no test case, so they cannot be compared case by case; "
            "were they evaluated on the same test set?"
        )
    if not np.array_equal(a.y_test[ia], b.y_test[ib]):
        bad = common[np.flatnonzero(a.y_test[ia] != b.y_test[ib])[0]]
        raise DataError(f"test case {bad!r} has different labels in {a.unit_dir} and {b.unit_dir}.")
    return a.y_test[ia], a.s_test[ia], b.s_test[ib]
