"""Binary metrics for many case-weight vectors at once (private).

A bootstrap resample is a vector of integer counts (how often each case was
drawn); the point estimate is the all-ones vector. :class:`WeightedBinary`
evaluates any binary metric for a (B, n) weight matrix in a few array
operations, so 1,000 resamples cost about as much as a handful of
scikit-learn calls. AUC is the weighted Mann-Whitney statistic: cumulative
negative weight below each positive's score (found once by binary search),
ties counted one half (midranks). Average precision follows scikit-learn's
step-wise definition: each positive adds its weight times the precision at its
own score, which sums to delta-recall x precision over distinct scores.
"""

from __future__ import annotations

import numpy as np

from medbalance.evaluation._counts import COUNT_METRICS

__all__ = ["BINARY_METRIC_NAMES", "PROBABILITY_METRICS", "WeightedBinary", "canonical_order"]

RANK_METRICS = ("auc_roc", "auc_pr")
PROBABILITY_METRICS = ("brier", "log_loss")
BINARY_METRIC_NAMES: tuple[str, ...] = (*RANK_METRICS, *COUNT_METRICS, *PROBABILITY_METRICS)

_EPS = float(np.finfo(np.float64).eps)


def canonical_order(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Permutation putting negatives first, then positives, each by ascending score."""
    return np.lexsort((score, y))


class WeightedBinary:
    """Binary metrics of one (labels, scores, threshold) under many weightings.

    Cases are put in a canonical order once (negatives then positives, each by
    ascending score); weight matrices given in that order skip a gather, which
    is why the bootstrap sorts its data with :func:`canonical_order` first.

    Args:
        y: int8 labels in {0, 1}.
        score: float64 scores, higher meaning more likely positive.
        threshold: predict positive when ``score >= threshold``.
    """

    def __init__(self, y: np.ndarray, score: np.ndarray, threshold: float) -> None:
        self.y = y
        self.score = score
        self.threshold = threshold
        self._perm = canonical_order(y, score)
        self._needs_gather = not np.array_equal(self._perm, np.arange(y.size))
        self.n_neg = int(y.size - y.sum())
        neg = np.sort(score[y == 0])
        pos = np.sort(score[y == 1])
        # For each positive: how many negatives / positives score strictly below it, and how
        # many negatives score at most its value; ties between classes count one half.
        self._neg_lo = np.searchsorted(neg, pos, side="left")
        self._neg_hi = np.searchsorted(neg, pos, side="right")
        self._pos_lo = np.searchsorted(pos, pos, side="left")
        pred = score >= threshold
        yb = y.astype(bool)
        # Columns: TP, FP, TN, FN indicator per case; weighted counts = W @ indicators.
        self._indicators = np.stack([yb & pred, ~yb & pred, ~yb & ~pred, yb & ~pred], axis=1).astype(
            np.float64
        )
        self.is_probability = bool(score.min() >= 0.0 and score.max() <= 1.0)
        clipped = np.clip(score, _EPS, 1.0 - _EPS)
        self._losses = np.stack(
            [(score - y) ** 2, -(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))], axis=1
        )

    def counts(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Weighted TP, FP, TN, FN, each of shape (B,)."""
        c = weights @ self._indicators
        return c[:, 0], c[:, 1], c[:, 2], c[:, 3]

    def _blocks(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Weights of negatives and positives (canonical order) and their cumulative sums with a 0 column."""
        w = weights[:, self._perm] if self._needs_gather else weights
        neg, pos = w[:, : self.n_neg], w[:, self.n_neg :]
        zero = np.zeros((w.shape[0], 1))
        neg_cum = np.concatenate([zero, np.cumsum(neg, axis=1)], axis=1)
        pos_cum = np.concatenate([zero, np.cumsum(pos, axis=1)], axis=1)
        return neg, pos, neg_cum, pos_cum

    def auc_roc(self, weights: np.ndarray) -> np.ndarray:
        """Weighted Mann-Whitney AUC: P(score_pos > score_neg) + 0.5 P(tie)."""
        _, pos, neg_cum, pos_cum = self._blocks(weights)
        below = neg_cum[:, self._neg_lo]
        tied = neg_cum[:, self._neg_hi] - below
        num = np.einsum("bi,bi->b", pos, below + 0.5 * tied)
        return _divide(num, pos_cum[:, -1] * neg_cum[:, -1])

    def auc_pr(self, weights: np.ndarray) -> np.ndarray:
        """Weighted average precision: each positive adds its weight x precision at its score."""
        _, pos, neg_cum, pos_cum = self._blocks(weights)
        tp = pos_cum[:, -1:] - pos_cum[:, self._pos_lo]
        called = tp + neg_cum[:, -1:] - neg_cum[:, self._neg_lo]
        precision = np.zeros_like(tp)
        np.divide(tp, called, out=precision, where=called > 0)
        return _divide(np.einsum("bi,bi->b", pos, precision), pos_cum[:, -1])

    def compute(self, name: str, weights: np.ndarray) -> np.ndarray:
        """Metric ``name`` for every row of ``weights`` (B, n); NaN where undefined."""
        if name in COUNT_METRICS:
            return COUNT_METRICS[name](*self.counts(weights))
        if name == "auc_roc":
            return self.auc_roc(weights)
        if name == "auc_pr":
            return self.auc_pr(weights)
        if name in PROBABILITY_METRICS:
            if not self.is_probability:
                return np.full(weights.shape[0], np.nan)
            column = PROBABILITY_METRICS.index(name)
            return _divide(weights @ self._losses[:, column], weights.sum(axis=1))
        raise KeyError(name)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out
