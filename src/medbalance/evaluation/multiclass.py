"""Multi-class metrics, kept apart from the binary entry point.

Predictions are the arg-max of ``proba`` (ties go to the lower class index).
Per class: precision, recall, F1 (2TP / (2TP + FP + FN), defined when the class
has cases) and one-vs-rest AUC. Overall: macro one-vs-rest AUC, macro-F1,
balanced accuracy (mean recall) and its chance-adjusted form
(BA - 1/K) / (1 - 1/K), Cohen's kappa, quadratic-weighted kappa for ordinal
classes (e.g. breast density A-D), and the confusion matrix (rows = true
class, columns = predicted class).

A class absent from ``y_true`` makes its recall, F1 and AUC undefined, and
every macro mean over them undefined with a reason naming the class;
scikit-learn instead warns and either counts it as 0 or drops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medbalance.evaluation._checks import check_multiclass
from medbalance.evaluation._weighted import WeightedBinary
from medbalance.evaluation.undefined import MetricValue, compute_macro_mean, metric_values_to_dict

__all__ = ["MulticlassReport", "compute_cohen_kappa", "compute_multiclass_metrics"]


@dataclass(frozen=True)
class MulticlassReport:
    """Every multi-class metric of one prediction set.

    Attributes:
        class_names: class names in index order.
        metrics: auc_ovr_macro, macro_f1, balanced_accuracy, balanced_accuracy_adjusted,
            kappa, kappa_quadratic (undefined unless ``ordinal``).
        per_class: class name -> precision, recall, f1, auc_ovr.
        confusion_matrix: (K, K) counts, rows true class, columns predicted class.
        ordinal: whether the classes are ordered.
    """

    class_names: tuple[str, ...]
    metrics: dict[str, MetricValue]
    per_class: dict[str, dict[str, MetricValue]]
    confusion_matrix: np.ndarray
    ordinal: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "class_names": list(self.class_names),
            "ordinal": self.ordinal,
            "metrics": metric_values_to_dict(self.metrics),
            "per_class": {name: metric_values_to_dict(m) for name, m in self.per_class.items()},
            "confusion_matrix": self.confusion_matrix.tolist(),
        }


def compute_cohen_kappa(confusion: np.ndarray, *, quadratic: bool = False) -> MetricValue:
    """Cohen's kappa from a confusion matrix: 1 - sum(w * observed) / sum(w * expected).

    Weights are 0/1 disagreement, or (i - j)^2 / (K - 1)^2 when ``quadratic``.
    Undefined when the expected disagreement is 0 (one class everywhere).
    """
    observed = np.asarray(confusion, dtype=np.float64)
    k = observed.shape[0]
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / (k - 1) ** 2 if quadratic else (i != j).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    chance = float(np.sum(weights * expected))
    if chance <= 0.0:
        return MetricValue.undefined(
            "kappa is undefined: expected disagreement is 0 (true labels and predictions all in one class)"
        )
    return MetricValue.of(1.0 - float(np.sum(weights * observed)) / chance)


def _check_names(class_names: Sequence[str], k: int) -> tuple[str, ...]:
    names = tuple(str(n) for n in class_names)
    if len(names) != k or len(set(names)) != k:
        raise ValueError(f"class_names must be {k} distinct names, one per proba column; got {list(names)}.")
    if k < 2:
        raise ValueError(f"multi-class metrics need at least 2 classes, got {k}.")
    return names


def _per_class(
    name: str, index: int, y: np.ndarray, proba: np.ndarray, confusion: np.ndarray
) -> dict[str, MetricValue]:
    tp = float(confusion[index, index])
    fp = float(confusion[:, index].sum() - tp)
    fn = float(confusion[index, :].sum() - tp)
    cases = tp + fn
    absent = f"class {name!r} has no cases in y_true"
    is_k = (y == index).astype(np.int8)
    auc = float(WeightedBinary(is_k, proba[:, index], 0.5).auc_roc(np.ones((1, y.size)))[0])
    auc_reason = absent if cases == 0 else f"every case is class {name!r}, so there is no 'rest'"
    return {
        "precision": MetricValue.from_float(
            tp / (tp + fp) if tp + fp > 0 else np.nan, f"class {name!r} is never predicted"
        ),
        "recall": MetricValue.from_float(tp / cases if cases > 0 else np.nan, absent),
        "f1": MetricValue.from_float(2 * tp / (2 * tp + fp + fn) if cases > 0 else np.nan, absent),
        "auc_ovr": MetricValue.from_float(auc, auc_reason),
    }


def compute_multiclass_metrics(
    y_true: object, proba: object, *, class_names: Sequence[str], ordinal: bool = False
) -> MulticlassReport:
    """All multi-class metrics for integer labels and (N, K) class probabilities.

    Args:
        y_true: class indices 0..K-1.
        proba: class probabilities (or any per-class scores; AUC only ranks them).
        class_names: names in index order (from the manifest).
        ordinal: the classes are ordered; adds quadratic-weighted kappa.

    Example:
        >>> r = compute_multiclass_metrics([0, 1, 2], np.eye(3), class_names=["A", "B", "C"])
        >>> r.metrics["macro_f1"].value
        1.0
    """
    proba_array = np.asarray(proba)
    names = _check_names(class_names, proba_array.shape[-1] if proba_array.ndim == 2 else 0)
    k = len(names)
    y, p = check_multiclass(y_true, proba_array, k)
    pred = p.argmax(axis=1)
    confusion = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    per_class = {name: _per_class(name, i, y, p, confusion) for i, name in enumerate(names)}
    balanced = compute_macro_mean(
        {n: m["recall"] for n, m in per_class.items()}, what="recall (balanced accuracy)"
    )
    adjusted = MetricValue.of((float(balanced) - 1.0 / k) / (1.0 - 1.0 / k)) if balanced.defined else balanced
    quadratic = (
        compute_cohen_kappa(confusion, quadratic=True)
        if ordinal
        else MetricValue.undefined("quadratic kappa needs ordered classes; pass ordinal=True")
    )
    metrics = {
        "auc_ovr_macro": compute_macro_mean(
            {n: m["auc_ovr"] for n, m in per_class.items()}, what="one-vs-rest AUC"
        ),
        "macro_f1": compute_macro_mean({n: m["f1"] for n, m in per_class.items()}, what="F1"),
        "balanced_accuracy": balanced,
        "balanced_accuracy_adjusted": adjusted,
        "kappa": compute_cohen_kappa(confusion),
        "kappa_quadratic": quadratic,
    }
    return MulticlassReport(names, metrics, per_class, confusion, bool(ordinal))
