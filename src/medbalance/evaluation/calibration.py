"""Calibration: reliability diagram data, ECE, calibration slope and intercept.

Can the probabilities be trusted? A model whose cases scored 0.8 are malignant
80% of the time is calibrated. Re-sampling and re-weighting for class
imbalance distort this on purpose (the model learns a balanced prior), so the
report measures it and :mod:`~medbalance.evaluation.recalibration` repairs it.

* Reliability data: cases binned by score; per bin the mean score and the
  observed share of positives. Bins are the same as
  ``sklearn.calibration.calibration_curve``: ``"uniform"`` (equal width on
  [0, 1]) or ``"quantile"`` (equal mass: edges at score percentiles); a case
  with score equal to an inner edge goes to the lower bin. Empty bins are kept
  here with count 0 (scikit-learn drops them).
* ECE (expected calibration error) = sum over bins of (n_b / N) * |observed_b -
  mean score_b|, with the same bins. For multi-class,
  :func:`compute_top_label_ece` bins the top-class probability and compares it
  with the accuracy of the arg-max prediction.
* Calibration slope and intercept (Cox 1958): logistic regression of the
  outcome on logit(p), scikit-learn ``LogisticRegression`` without penalty;
  slope 1 and intercept 0 are perfect, slope < 1 means over-confident scores
  (too extreme), slope > 1 under-confident. The intercept is that of the same
  two-parameter fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medbalance.evaluation._checks import check_binary, check_multiclass
from medbalance.evaluation._fits import fit_logistic
from medbalance.evaluation.undefined import MetricValue
from medbalance.registry import look_up_option

__all__ = [
    "BinStrategy",
    "CalibrationLine",
    "ReliabilityData",
    "compute_calibration_line",
    "compute_ece",
    "compute_multiclass_brier",
    "compute_reliability",
    "compute_top_label_ece",
    "logit",
]

BinStrategy = Literal["uniform", "quantile"]
_STRATEGIES = ("uniform", "quantile")
_EPS = 1e-12  # probabilities are clipped to [eps, 1 - eps] before taking logits


def logit(p: object) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-12, 1 - 1e-12], so 0 and 1 stay finite."""
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(q) - np.log1p(-q)


def _check_probabilities(score: np.ndarray, name: str) -> None:
    if score.min() < 0.0 or score.max() > 1.0:
        raise ValueError(
            f"{name} must be probabilities in [0, 1], got values in [{score.min():.4g}, {score.max():.4g}]; "
            "pass prob_<class> columns, not logits."
        )


def _check_bins(n_bins: int) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1 (10 or 15 are usual), got {n_bins!r}.")
    return int(n_bins)


def _bin_ids(score: np.ndarray, n_bins: int, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges and the bin of each case, exactly as scikit-learn's calibration_curve."""
    if strategy == "quantile":
        edges = np.percentile(score, np.linspace(0.0, 100.0, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    return edges, np.searchsorted(edges[1:-1], score)


@dataclass(frozen=True)
class ReliabilityData:
    """Per-bin calibration of positive-class probabilities.

    Attributes:
        edges: n_bins + 1 bin edges.
        mean_score: mean predicted probability per bin (NaN for an empty bin).
        observed: share of positives per bin (NaN for an empty bin).
        counts: cases per bin.
        strategy: "uniform" or "quantile".
    """

    edges: np.ndarray
    mean_score: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    strategy: str

    @property
    def nonempty(self) -> np.ndarray:
        """Boolean mask of bins holding at least one case."""
        return self.counts > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; empty bins hold None."""

        def clean(values: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in values]

        return {
            "strategy": self.strategy,
            "edges": [float(e) for e in self.edges],
            "mean_score": clean(self.mean_score),
            "observed": clean(self.observed),
            "counts": [int(c) for c in self.counts],
        }


def compute_reliability(
    y_true: object, score: object, *, n_bins: int = 10, strategy: BinStrategy = "uniform"
) -> ReliabilityData:
    """Reliability diagram data (observed share of positives vs mean score per bin).

    Args:
        y_true: 0/1 labels (1 = positive class).
        score: probabilities of the positive class.
        n_bins: number of bins.
        strategy: "uniform" (equal width) or "quantile" (equal mass).
    """
    y, s = check_binary(y_true, score)
    _check_probabilities(s, "score")
    strategy = look_up_option(strategy, _STRATEGIES, what="bin strategy")  # type: ignore[assignment]
    n_bins = _check_bins(n_bins)
    edges, ids = _bin_ids(s, n_bins, strategy)
    counts = np.bincount(ids, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.bincount(ids, weights=s, minlength=n_bins) / counts
        observed = np.bincount(ids, weights=y.astype(np.float64), minlength=n_bins) / counts
    return ReliabilityData(edges, mean_score, observed, counts, strategy)


def _ece_from(correct: np.ndarray, confidence: np.ndarray, n_bins: int, strategy: str) -> float:
    _, ids = _bin_ids(confidence, n_bins, strategy)
    counts = np.bincount(ids, minlength=n_bins)
    gap = np.abs(
        np.bincount(ids, weights=correct, minlength=n_bins)
        - np.bincount(ids, weights=confidence, minlength=n_bins)
    )
    # sum_b (n_b / N) * |mean_correct_b - mean_conf_b| = sum_b |sum_correct_b - sum_conf_b| / N
    return float(gap[counts > 0].sum() / confidence.size)


def compute_ece(
    y_true: object, score: object, *, n_bins: int = 15, strategy: BinStrategy = "uniform"
) -> MetricValue:
    """Expected calibration error of positive-class probabilities (defined for any non-empty input)."""
    y, s = check_binary(y_true, score)
    _check_probabilities(s, "score")
    strategy = look_up_option(strategy, _STRATEGIES, what="bin strategy")  # type: ignore[assignment]
    return MetricValue.of(_ece_from(y.astype(np.float64), s, _check_bins(n_bins), strategy))


def compute_top_label_ece(
    y_true: object, proba: object, *, n_bins: int = 15, strategy: BinStrategy = "uniform"
) -> MetricValue:
    """Multi-class ECE: top-class probability vs accuracy of the arg-max prediction."""
    p_array = np.asarray(proba)
    if p_array.ndim != 2:
        raise ValueError(f"proba must have shape (N, K), got {p_array.shape}.")
    y, p = check_multiclass(y_true, p_array, p_array.shape[1])
    _check_probabilities(p, "proba")
    strategy = look_up_option(strategy, _STRATEGIES, what="bin strategy")  # type: ignore[assignment]
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    return MetricValue.of(_ece_from(correct, p.max(axis=1), _check_bins(n_bins), strategy))


@dataclass(frozen=True)
class CalibrationLine:
    """Calibration slope and intercept (logistic recalibration of logit(p))."""

    slope: MetricValue
    intercept: MetricValue

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"slope": self.slope.to_dict(), "intercept": self.intercept.to_dict()}


def _line_undefined_reason(y: np.ndarray, x: np.ndarray) -> str:
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        return f"is undefined: it needs both classes, but every case is {'negative' if n_pos == 0 else 'positive'}"
    if np.ptp(x) == 0.0:
        return "is undefined: all scores are equal, so logit(p) has no spread to regress on"
    # Complete or quasi-complete separation (ties allowed at the boundary), in either
    # direction: the likelihood keeps rising as |slope| grows, so no finite fit exists
    # and the solver would just report where it stopped.
    if x[y == 0].max() <= x[y == 1].min():
        return "is undefined: the scores separate the classes perfectly, so the fitted slope is +infinity"
    if x[y == 1].max() <= x[y == 0].min():
        return (
            "is undefined: the scores separate the classes perfectly in reverse (every positive scores at "
            "or below every negative), so the fitted slope is -infinity"
        )
    return ""


def compute_calibration_line(y_true: object, score: object) -> CalibrationLine:
    """Calibration slope and intercept; undefined (with the reason) for one class,
    constant scores or perfect separation in either direction (ties at the boundary
    included), where the maximum-likelihood fit does not exist."""
    y, s = check_binary(y_true, score)
    _check_probabilities(s, "score")
    x = logit(s)
    reason = _line_undefined_reason(y, x)
    if reason:
        return CalibrationLine(
            MetricValue.undefined(f"calibration slope {reason}"),
            MetricValue.undefined(f"calibration intercept {reason}"),
        )
    slope, intercept = fit_logistic(y, x)
    return CalibrationLine(MetricValue.of(slope), MetricValue.of(intercept))


def compute_multiclass_brier(y_true: object, proba: object) -> MetricValue:
    """Multi-class Brier score: mean over cases of sum_k (p_k - [y = k])^2 (0 is perfect, 2 the worst)."""
    p_array = np.asarray(proba)
    if p_array.ndim != 2:
        raise ValueError(f"proba must have shape (N, K), got {p_array.shape}.")
    y, p = check_multiclass(y_true, p_array, p_array.shape[1])
    _check_probabilities(p, "proba")
    onehot = np.eye(p.shape[1])[y]
    return MetricValue.of(float(np.mean(np.sum((p - onehot) ** 2, axis=1))))
