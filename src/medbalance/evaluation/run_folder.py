"""Reading a training run folder: ``summary.json`` and the two predictions files.

The contract (written by training, read here): ``predictions_val.csv`` and
``predictions_test.csv`` with columns image_id, patient_id, study_id,
breast_id, lesion_id, domain, split, label (the true class name),
``prob_<class>`` and ``logit_<class>`` for every class in order; and
``summary.json`` with at least classes, positive_class, task, strategy and
training_class_counts. Everything is checked once, here, so a broken file is
named with the row and the fix instead of failing deep inside a metric.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medbalance.contract import PREDICTION_COLUMNS, prob_column
from medbalance.data.manifest import read_csv_as_strings
from medbalance.errors import DataError

__all__ = ["RunPredictions", "load_run_predictions", "resolve_training_prior"]


@dataclass(frozen=True)
class RunPredictions:
    """A run's summary and its validation and test predictions (prob/logit columns as floats).

    Attributes:
        run_dir: the run folder.
        summary: the parsed ``summary.json``.
        classes: class names in order.
        positive_class: the positive class of a binary task, else None.
        val: validation predictions, one row per image.
        test: test predictions, one row per image.
    """

    run_dir: Path
    summary: dict[str, Any]
    classes: tuple[str, ...]
    positive_class: str | None
    val: pd.DataFrame
    test: pd.DataFrame

    @property
    def is_binary(self) -> bool:
        """Two classes with a declared positive class."""
        return len(self.classes) == 2 and self.positive_class is not None

    @property
    def training_class_counts(self) -> dict[str, int] | None:
        """Training images per class from the summary, when recorded."""
        counts = self.summary.get("training_class_counts")
        if not isinstance(counts, Mapping) or set(counts) != set(self.classes):
            return None
        return {c: int(counts[c]) for c in self.classes}


def _load_summary(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; a run folder written by 'medbalance train' holds summary.json. "
            "Check RUN_DIR."
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); the run may have been interrupted.") from exc
    if not isinstance(summary, dict):
        raise DataError(f"{path} must hold a JSON object, got {type(summary).__name__}.")
    if summary.get("status") == "failed":
        raise DataError(
            f"run {path.parent} has status 'failed' in summary.json; its predictions are not trustworthy. "
            "See train.log and re-run training."
        )
    classes = summary.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or len(set(map(str, classes))) != len(classes):
        raise DataError(f"{path}: 'classes' must list at least two distinct class names, got {classes!r}.")
    positive = summary.get("positive_class")
    if positive not in (None, "") and positive not in classes:
        raise DataError(f"{path}: positive_class {positive!r} is not one of the classes {classes}.")
    return summary


def _load_predictions(path: Path, classes: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; the run folder must hold {path.name} written by training."
        )
    table = read_csv_as_strings(path)
    score_cols = [f"{kind}_{c}" for kind in ("prob", "logit") for c in classes]
    missing = [c for c in (*PREDICTION_COLUMNS, *score_cols) if c not in table.columns]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {missing}; a predictions file has {list(PREDICTION_COLUMNS)} and prob_<class>, "
            f"logit_<class> for the classes {list(classes)}."
        )
    if table.empty:
        raise DataError(f"{path} has no rows; evaluation needs predictions.")
    unknown = sorted(set(table["label"]) - set(classes))
    if unknown:
        raise DataError(
            f"{path}: label(s) {unknown} are not among the classes {list(classes)} of summary.json."
        )
    for column in score_cols:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}: column {column} holds {int(bad.sum())} non-numeric or non-finite value(s), first "
                f"{table[column].iloc[row]!r} at data row {row + 1} (image {table['image_id'].iloc[row]!r})."
            )
        table[column] = values
    probs = table[[prob_column(c) for c in classes]].to_numpy()
    if probs.min() < 0 or probs.max() > 1 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise DataError(f"{path}: prob_<class> columns must be probabilities in [0, 1] summing to 1 per row.")
    return table


def load_run_predictions(run_dir: str | Path) -> RunPredictions:
    """Read and check ``summary.json``, ``predictions_val.csv`` and ``predictions_test.csv``.

    Raises:
        FileNotFoundError: the folder or a file is missing.
        DataError: a failed run, missing columns, unknown labels, non-numeric scores.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist or is not a folder.")
    summary = _load_summary(run_dir / "summary.json")
    classes = tuple(str(c) for c in summary["classes"])
    positive = summary.get("positive_class") or None
    return RunPredictions(
        run_dir=run_dir,
        summary=summary,
        classes=classes,
        positive_class=str(positive) if positive is not None else None,
        val=_load_predictions(run_dir / "predictions_val.csv", classes),
        test=_load_predictions(run_dir / "predictions_test.csv", classes),
    )


def _strategy_balances(summary: Mapping[str, Any]) -> bool | None:
    """Whether the run's strategy rebalanced (sampling or loss), as ``summary.json`` records it.

    Read from the summary (``rebalances``, or the strategy's ``balances`` hooks), never by
    re-creating the strategy: evaluation does not depend on training code. None when the
    summary does not say (a hand-made or very old run folder).
    """
    if "rebalances" in summary and summary["rebalances"] is not None:
        return bool(summary["rebalances"])
    strategy = summary.get("strategy")
    if isinstance(strategy, Mapping) and "balances" in strategy:
        return bool(strategy["balances"])
    return None


def resolve_training_prior(run: RunPredictions, choice: str) -> tuple[np.ndarray | None, str]:
    """The class prior the model's probabilities were learned under, and why.

    ``choice`` "balanced" gives equal shares, "counts" the training class shares,
    "auto" balanced when the run's strategy rebalances (sampling or loss) and the
    training shares otherwise. Returns (None, reason) when it cannot be resolved.
    """
    counts = run.training_class_counts
    k = len(run.classes)
    shares = (
        None
        if counts is None or sum(counts.values()) == 0
        else np.array(list(counts.values())) / sum(counts.values())
    )
    if choice == "balanced":
        return np.full(k, 1.0 / k), "balanced (stated)"
    if choice == "counts":
        return (shares, "training class shares (stated)") if shares is not None and np.all(shares > 0) else (
            None, "summary.json has no usable training_class_counts"
        )  # fmt: skip
    balances = _strategy_balances(run.summary)
    if balances:
        return np.full(k, 1.0 / k), f"balanced: strategy {run.summary.get('strategy')!r} rebalances"
    if balances is None:
        return (
            None,
            f"unknown whether strategy {run.summary.get('strategy')!r} rebalances; pass the training prior",
        )
    if shares is None or not np.all(shares > 0) or math.isclose(float(shares.sum()), 0.0):
        return None, "summary.json has no usable training_class_counts"
    return shares, "training class shares: the strategy does not rebalance"
