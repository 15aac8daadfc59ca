"""Input checks shared by the evaluation functions (private).

Every public evaluation function runs its arrays through these once, so a bad
label, a NaN score or a length mismatch fails with one clear message.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "check_binary",
    "check_groups",
    "check_labels01",
    "check_level",
    "check_multiclass",
    "check_predictions",
    "check_threshold",
]


def _as_1d(values: object, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty; evaluation needs at least one case.")
    return array


def check_labels01(y_true: object, name: str = "y_true") -> np.ndarray:
    y = _as_1d(y_true, name)
    if y.dtype == bool:
        return y.astype(np.int8)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(
            f"{name} must hold 0/1 labels (1 = positive class), got dtype {y.dtype}; "
            "map class names to 0/1 first (e.g. label == positive_class)."
        )
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must hold only 0 and 1 (1 = positive class); found {int(bad.sum())} other "
            f"value(s), first {y[first]!r} at index {first}."
        )
    return y.astype(np.int8)


def _check_finite(values: np.ndarray, name: str) -> np.ndarray:
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {values.dtype}.")
    out = values.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"{name} holds {int(bad.sum())} non-finite value(s) (NaN or inf), first at flat index "
            f"{first}; fix or drop those predictions before evaluating."
        )
    return out


def check_binary(
    y_true: object, score: object, *, score_name: str = "score"
) -> tuple[np.ndarray, np.ndarray]:
    """Return (int8 labels in {0,1}, float64 finite scores) of equal length."""
    y = check_labels01(y_true)
    s = _check_finite(_as_1d(score, score_name), score_name)
    if s.shape != y.shape:
        raise ValueError(f"y_true has {y.size} cases but {score_name} has {s.size}; they must match.")
    return y, s


def check_predictions(y: np.ndarray, pred: object, name: str) -> np.ndarray:
    """Return 0/1 predictions of the same length as ``y``."""
    p = check_labels01(pred, name)
    if p.shape != y.shape:
        raise ValueError(f"y_true has {y.size} cases but {name} has {p.size}; they must match.")
    return p


def check_multiclass(y_true: object, proba: object, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (int64 labels in [0, K), float64 (N, K) finite scores)."""
    y = _as_1d(y_true, "y_true")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y_true must hold integer class indices 0..{n_classes - 1}, got dtype {y.dtype}; "
            "map class names with Manifest.label_indices() first."
        )
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"y_true must hold class indices 0..{n_classes - 1}; found {y[first]!r} at index {first}."
        )
    p = np.asarray(proba)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise ValueError(f"proba must have shape (N, {n_classes}) for {n_classes} classes, got {p.shape}.")
    if p.shape[0] != y.size:
        raise ValueError(f"y_true has {y.size} cases but proba has {p.shape[0]} rows; they must match.")
    return y.astype(np.int64), _check_finite(p, "proba")


def check_groups(groups: object, n: int) -> np.ndarray:
    """Return integer cluster codes 0..C-1 for each case."""
    g = _as_1d(groups, "groups")
    if g.size != n:
        raise ValueError(f"groups has {g.size} entries but there are {n} cases; give one group id per case.")
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise ValueError("groups holds NaN; every case needs a patient/cluster id.")
    if g.dtype.kind in "OUS":
        blank = np.array(
            [v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "" for v in g]
        )
        if blank.any():
            raise ValueError(
                f"groups holds {int(blank.sum())} empty patient/cluster id(s), first at index "
                f"{int(np.flatnonzero(blank)[0])}; fill the ids, or pass groups=None to resample cases."
            )
        g = g.astype(str)
    _, codes = np.unique(g, return_inverse=True)
    return codes.astype(np.int64)


def check_level(level: float) -> float:
    """Return ``level`` if it lies strictly between 0 and 1."""
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise ValueError(
            f"level must be a confidence level strictly between 0 and 1 (e.g. 0.95), got {level!r}."
        )
    return float(level)


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float if it is a number (±inf allowed, NaN not)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating | np.integer):
        raise ValueError(f"threshold must be a number, got {threshold!r}.")
    if math.isnan(float(threshold)):
        raise ValueError("threshold is NaN; give a number such as 0.5.")
    return float(threshold)
