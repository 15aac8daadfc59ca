"""Confusion-count metrics on arrays of counts (private).

Each formula takes TP, FP, TN, FN as arrays of any shape (a scalar for one
evaluation, a vector for all bootstrap resamples at once, possibly weighted)
and returns NaN exactly where the metric is undefined. :func:`count_reason`
says why, for the one-evaluation case.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["COUNT_METRICS", "count_reason"]

Counts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _sensitivity(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return _ratio(tp, tp + fn)


def _specificity(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return _ratio(tn, tn + fp)


def _ppv(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return _ratio(tp, tp + fp)


def _npv(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return _ratio(tn, tn + fn)


def _f1(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    # Defined whenever a positive case exists: a model that never predicts positive gets 0.
    value = _ratio(2 * tp, 2 * tp + fp + fn)
    return np.where(np.asarray(tp + fn) > 0, value, np.nan)


def _mcc(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    tp, fp, tn, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, tn, fn))
    # Square roots taken one by one, so the product of four large counts cannot overflow.
    den = np.sqrt(tp + fp) * np.sqrt(tp + fn) * np.sqrt(tn + fp) * np.sqrt(tn + fn)
    return _ratio(tp * tn - fp * fn, den)


def _balanced_accuracy(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return 0.5 * (_sensitivity(tp, fp, tn, fn) + _specificity(tp, fp, tn, fn))


def _g_mean(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return np.sqrt(_sensitivity(tp, fp, tn, fn) * _specificity(tp, fp, tn, fn))


COUNT_METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "sensitivity": _sensitivity,
    "specificity": _specificity,
    "ppv": _ppv,
    "npv": _npv,
    "f1": _f1,
    "mcc": _mcc,
    "balanced_accuracy": _balanced_accuracy,
    "g_mean": _g_mean,
}

_NEEDS = {
    "sensitivity": ("positives",),
    "specificity": ("negatives",),
    "ppv": ("predicted positives",),
    "npv": ("predicted negatives",),
    "f1": ("positives",),
    "mcc": ("positives", "negatives", "predicted positives", "predicted negatives"),
    "balanced_accuracy": ("positives", "negatives"),
    "g_mean": ("positives", "negatives"),
}


def count_reason(name: str, tp: float, fp: float, tn: float, fn: float, threshold: float) -> str:
    """Why ``name`` is undefined for these counts (names every empty margin)."""
    margins = {
        "positives": (tp + fn, "no positive cases (TP + FN = 0)"),
        "negatives": (tn + fp, "no negative cases (TN + FP = 0)"),
        "predicted positives": (tp + fp, f"no case scored >= threshold {threshold:g} (TP + FP = 0)"),
        "predicted negatives": (tn + fn, f"no case scored < threshold {threshold:g} (TN + FN = 0)"),
    }
    empty = [text for key in _NEEDS[name] for count, text in [margins[key]] if count == 0]
    return f"{name} is undefined: " + "; ".join(empty) if empty else f"{name} is undefined"
