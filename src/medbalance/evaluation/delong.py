"""DeLong's variance, confidence interval and paired test for AUC.

Uses the fast algorithm of Sun & Xu (2014, IEEE Signal Processing Letters
21(11):1389-1393): the structural components of DeLong, DeLong &
Clarke-Pearson (1988) come from midranks, so the cost is O(n log n) instead
of O(n_pos x n_neg). Ties count one half. The midrank differences below are
computed from one sort per model (counts of each class at and below each
distinct score), which gives the same numbers as three rankings.

    V10[i] = (rank of positive i among all - its rank among positives) / n_neg
    V01[j] = 1 - (rank of negative j among all - its rank among negatives) / n_pos
    Var(AUC) = var(V10) / n_pos + var(V01) / n_neg            (sample variances)

The interval is AUC +- z * SE, clipped to [0, 1]. With perfect separation the
variance is 0 and the interval collapses to the point; prefer the bootstrap
there and for small samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from medbalance.evaluation._checks import check_binary, check_level
from medbalance.evaluation.intervals import ConfidenceInterval

__all__ = ["DeLongComparison", "compute_delong_components", "delong_auc_ci", "delong_test"]


def compute_delong_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and structural components for k models scored on the same cases.

    One sort per model (``np.unique``) gives, for every distinct score, how
    many positives and negatives hold it and how many lie below; the
    components are those counts (ties one half), which equal the three
    midrank differences of Sun & Xu.

    Args:
        y: 0/1 labels, shape (n,).
        scores: shape (k, n), one row per model.

    Returns:
        (auc (k,), v10 (k, n_pos), v01 (k, n_neg)).
    """
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    v10, v01 = np.empty((scores.shape[0], m)), np.empty((scores.shape[0], n))
    for row, score in enumerate(scores):
        _, level = np.unique(score, return_inverse=True)
        pos_at = np.bincount(level[positive], minlength=level.max() + 1)
        neg_at = np.bincount(level[~positive], minlength=level.max() + 1)
        neg_below = np.cumsum(neg_at) - neg_at
        pos_below = np.cumsum(pos_at) - pos_at
        v10[row] = (neg_below + 0.5 * neg_at)[level[positive]] / n
        v01[row] = 1.0 - (pos_below + 0.5 * pos_at)[level[~positive]] / m
    return v10.mean(axis=1), v10, v01


def _covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | str:
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos < 2 or n_neg < 2:
        return f"DeLong's variance needs at least 2 positive and 2 negative cases; got {n_pos} and {n_neg}"
    auc, v10, v01 = compute_delong_components(y, scores)
    cov = np.atleast_2d(np.cov(v10)) / n_pos + np.atleast_2d(np.cov(v01)) / n_neg
    return auc, cov


def delong_auc_ci(y_true: object, score: object, *, level: float = 0.95) -> ConfidenceInterval:
    """AUC with DeLong's standard error and normal-approximation interval.

    Returns:
        A ConfidenceInterval with method "delong"; undefined with the reason when
        a class has fewer than 2 cases.
    """
    level = check_level(level)
    y, s = check_binary(y_true, score)
    result = _covariance(y, s[None, :])
    if isinstance(result, str):
        return ConfidenceInterval("auc_roc", None, None, None, level, "delong", reason=result)
    auc, cov = result
    se = float(np.sqrt(max(cov[0, 0], 0.0)))
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    estimate = float(auc[0])
    return ConfidenceInterval(
        "auc_roc",
        estimate,
        max(0.0, estimate - half),
        min(1.0, estimate + half),
        level,
        "delong",
        std_error=se,
    )


@dataclass(frozen=True)
class DeLongComparison:
    """Paired DeLong test of AUC(a) - AUC(b) on the same cases.

    Attributes:
        auc_a: AUC of model a.
        auc_b: AUC of model b.
        difference: auc_a - auc_b.
        std_error: standard error of the difference (None when undefined).
        z: difference / std_error (None when undefined).
        p_value: two-sided p-value (None when undefined).
        low: lower bound of the difference's interval.
        high: upper bound of the difference's interval.
        level: confidence level of the interval.
        reason: why the test is undefined ("" when defined).
    """

    auc_a: float | None
    auc_b: float | None
    difference: float | None
    std_error: float | None
    z: float | None
    p_value: float | None
    low: float | None
    high: float | None
    level: float
    reason: str = ""

    @property
    def defined(self) -> bool:
        """True when the p-value exists."""
        return self.p_value is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every field plus ``defined``."""
        return {**asdict(self), "defined": self.defined}


def delong_test(y_true: object, score_a: object, score_b: object, *, level: float = 0.95) -> DeLongComparison:
    """Paired two-sided test that two models' AUCs on the same cases are equal.

    Args:
        y_true: 0/1 labels (1 = positive class).
        score_a: scores of model a.
        score_b: scores of model b, for the same cases in the same order.
        level: level of the interval for the AUC difference.
    """
    level = check_level(level)
    y, a = check_binary(y_true, score_a, score_name="score_a")
    _, b = check_binary(y, score_b, score_name="score_b")
    result = _covariance(y, np.stack([a, b]))
    if isinstance(result, str):
        return DeLongComparison(None, None, None, None, None, None, None, None, level, reason=result)
    auc, cov = result
    diff = float(auc[0] - auc[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    if var <= 1e-15:
        reason = (
            "the variance of the AUC difference is 0 (the two models rank every positive-negative pair alike)"
        )
        return DeLongComparison(
            float(auc[0]), float(auc[1]), diff, None, None, None, None, None, level, reason
        )
    se = float(np.sqrt(var))
    z = diff / se
    half = float(norm.ppf(0.5 + level / 2.0)) * se
    p = float(2.0 * norm.sf(abs(z)))
    return DeLongComparison(float(auc[0]), float(auc[1]), diff, se, z, p, diff - half, diff + half, level)
