"""ROC and precision-recall curves, and a bootstrap band for the ROC curve.

Curve points come from scikit-learn (``roc_curve``, ``precision_recall_curve``).
The ROC band is pointwise: for each false-positive rate on a fixed grid, the
percentile interval of the true-positive rate over bootstrap resamples (the
same stratified, optionally patient-clustered resampling as the metric
intervals). All resamples are computed at once from weighted cumulative counts
on the cases sorted once by score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medbalance.evaluation._checks import check_binary, check_groups, check_level
from medbalance.evaluation._resampling import ResamplingPlan

__all__ = ["CurveBand", "RocCurve", "compute_pr_curve", "compute_roc_curve"]


@dataclass(frozen=True)
class CurveBand:
    """Pointwise band of a curve on a fixed x grid."""

    x: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    n_resamples: int
    clustered: bool


@dataclass(frozen=True)
class RocCurve:
    """ROC curve points (scikit-learn's, all thresholds kept) and an optional band."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    band: CurveBand | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the band only; points are many)."""
        if self.band is None:
            return {"band": None}
        return {
            "band": {
                "fpr": [float(v) for v in self.band.x],
                "tpr_low": [float(v) for v in self.band.low],
                "tpr_high": [float(v) for v in self.band.high],
                "level": self.band.level,
                "n_resamples": self.band.n_resamples,
                "clustered": self.band.clustered,
            }
        }


def _tpr_on_grid(weights: np.ndarray, y: np.ndarray, ends: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """TPR interpolated at ``grid`` FPRs for each row of case weights (cases sorted by score, descending)."""
    tp = np.cumsum(weights * y[None, :], axis=1)[:, ends]
    fp = np.cumsum(weights * (1 - y)[None, :], axis=1)[:, ends]
    zeros = np.zeros((weights.shape[0], 1))
    tpr = np.hstack([zeros, tp / tp[:, -1:]])
    fpr = np.hstack([zeros, fp / fp[:, -1:]])
    return np.vstack([np.interp(grid, f, t) for f, t in zip(fpr, tpr, strict=True)])


def compute_roc_curve(
    y_true: object,
    score: object,
    *,
    groups: object = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    grid_size: int = 101,
) -> RocCurve:
    """ROC points and a pointwise bootstrap band of TPR at fixed FPRs.

    Args:
        y_true: 0/1 labels, both classes present.
        score: scores of the positive class.
        groups: patient ids; whole patients are resampled when given.
        n_resamples: resamples for the band (0 for none).
        level: band level.
        seed: int seed or numpy Generator.
        grid_size: FPR grid points on [0, 1].

    Raises:
        ValueError: a class is absent (the ROC curve is undefined).
    """
    from sklearn.metrics import roc_curve

    y, s = check_binary(y_true, score)
    if y.min() == y.max():
        raise ValueError("the ROC curve needs both classes among the cases; one class is absent.")
    level = check_level(level)
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    band = None
    if n_resamples > 0:
        codes = None if groups is None else check_groups(groups, y.size)
        order = np.argsort(-s, kind="stable")
        y_sorted, s_sorted = y[order].astype(np.float64), s[order]
        ends = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1]  # last case of each tied run
        plan = ResamplingPlan(y[order], None if codes is None else codes[order], stratify=True)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        grid = np.linspace(0.0, 1.0, grid_size)
        with np.errstate(invalid="ignore", divide="ignore"):
            curves = np.vstack(
                [_tpr_on_grid(w, y_sorted, ends, grid) for w in plan.resample_weights(n_resamples, rng)]
            )
        curves = curves[np.all(np.isfinite(curves), axis=1)]  # a resample without one class has no curve
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(curves, [alpha, 1.0 - alpha], axis=0)
        band = CurveBand(grid, low, high, level, n_resamples, codes is not None)
    return RocCurve(fpr, tpr, thresholds, band)


def compute_pr_curve(y_true: object, score: object) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) points from scikit-learn; needs at least one positive."""
    from sklearn.metrics import precision_recall_curve

    y, s = check_binary(y_true, score)
    if y.max() == 0:
        raise ValueError("the precision-recall curve needs at least one positive case.")
    precision, recall, _ = precision_recall_curve(y, s)
    return recall, precision
