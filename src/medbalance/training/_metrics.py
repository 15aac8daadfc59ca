"""Validation metrics computed every epoch (scikit-learn), robust to imbalance.

Names and definitions are evaluation's (``medbalance.contract.METRIC_DEFINITIONS``),
so ``history.csv`` and ``evaluation/metrics.json`` agree.

Undefined values (AUC with a class missing, MCC with an empty margin) are NaN,
never 0: checkpoint selection ranks NaN below every number.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    f1_score,
    log_loss,
    matthews_corrcoef,
    roc_auc_score,
)

__all__ = ["compute_collapse", "compute_validation_metrics"]


def _auc(targets: np.ndarray, probs: np.ndarray, num_classes: int) -> float:
    present = np.unique(targets)
    if len(present) < 2:
        return math.nan
    if num_classes == 2:
        return float(roc_auc_score(targets, probs[:, 1]))
    if len(present) < num_classes:
        return math.nan  # macro OvR needs every class; report undefined rather than a partial mean
    return float(roc_auc_score(targets, probs, multi_class="ovr", average="macro", labels=range(num_classes)))


def _mcc(targets: np.ndarray, predicted: np.ndarray) -> float:
    if len(np.unique(targets)) < 2 or len(np.unique(predicted)) < 2:
        return math.nan  # scikit-learn returns 0 here; the value is undefined
    return float(matthews_corrcoef(targets, predicted))


def compute_validation_metrics(
    probs: np.ndarray, targets: np.ndarray, *, ordinal: bool = False, positive_index: int | None = None
) -> dict[str, float]:
    """Metrics of one validation pass.

    Args:
        probs: (N, K) class probabilities (rows sum to 1).
        targets: (N,) true class indices.
        ordinal: add quadratic-weighted kappa (ordered grades).
        positive_index: for binary tasks, the positive class (sensitivity is its recall).

    Returns:
        ``loss`` (negative log-likelihood), ``auc_roc`` (binary, or macro one-vs-rest),
        ``balanced_accuracy`` (mean per-class recall, unadjusted: 1/K is chance),
        ``macro_f1``, ``mcc``, ``kappa`` (ordinal only, else NaN), and for binary
        tasks ``sensitivity`` and ``specificity`` at the argmax decision.
    """
    probs = np.asarray(probs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    num_classes = probs.shape[1]
    labels = list(range(num_classes))
    predicted = probs.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = {
            "loss": float(log_loss(targets, np.clip(probs, 1e-12, 1.0), labels=labels)),
            "auc_roc": _auc(targets, probs, num_classes),
            "balanced_accuracy": float(balanced_accuracy_score(targets, predicted, adjusted=False)),
            "macro_f1": float(f1_score(targets, predicted, labels=labels, average="macro", zero_division=0)),
            "mcc": _mcc(targets, predicted),
            "kappa": math.nan,
        }
        if ordinal:
            metrics["kappa"] = float(
                cohen_kappa_score(targets, predicted, labels=labels, weights="quadratic")
            )
    if num_classes == 2:
        pos = 1 if positive_index is None else positive_index
        is_pos, said_pos = targets == pos, predicted == pos
        metrics["sensitivity"] = float(said_pos[is_pos].mean()) if is_pos.any() else math.nan
        metrics["specificity"] = float((~said_pos[~is_pos]).mean()) if (~is_pos).any() else math.nan
    return metrics


def compute_collapse(predicted: np.ndarray, class_names: tuple[str, ...], share: float) -> str | None:
    """Why predictions collapsed (one class above ``share``, or a class never predicted), else None."""
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=len(class_names))
    total = int(counts.sum())
    if total == 0:
        return None
    top = int(counts.argmax())
    reasons = []
    if counts[top] / total > share:
        reasons.append(
            f"{counts[top] / total:.1%} of {total} validation predictions are {class_names[top]!r} "
            f"(more than {share:.0%})"
        )
    missing = [class_names[c] for c in np.flatnonzero(counts == 0)]
    if missing:
        reasons.append(f"no image predicted as {', '.join(repr(m) for m in missing)}")
    return "; ".join(reasons) or None
