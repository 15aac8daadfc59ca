"""Binary classification metrics as pure functions plus a thin class.

Conventions:
    * ``y_true`` holds 0/1 labels (1 = the positive class, e.g. malignant);
      ``score`` is the predicted probability of the positive class (any real
      score works for the ranking metrics AUC-ROC and AUC-PR).
    * A case is predicted positive when ``score >= threshold`` (0.5 by default).
    * Every function returns a :class:`~medbalance.evaluation.undefined.MetricValue`:
      undefined with the reason when a denominator is zero, never 0 or NaN.
    * AUC-ROC counts tied scores as one half (Mann-Whitney with midranks);
      AUC-PR is average precision as in ``sklearn.metrics.average_precision_score``.
    * F1 is 2TP / (2TP + FP + FN), defined whenever a positive case exists (a
      model that never predicts positive gets 0). MCC is undefined when any
      margin (positives, negatives, predicted positives, predicted negatives) is
      empty, where scikit-learn returns 0.
    * Log loss clips probabilities to [eps, 1 - eps] with eps the float64
      machine epsilon, as scikit-learn does. Brier score and log loss are
      undefined when scores fall outside [0, 1].

Example:
    >>> m = compute_binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> m["auc_roc"].value, m["sensitivity"].value
    (0.75, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medbalance.evaluation._checks import check_binary, check_threshold
from medbalance.evaluation._counts import COUNT_METRICS, count_reason
from medbalance.evaluation._weighted import BINARY_METRIC_NAMES, WeightedBinary
from medbalance.evaluation.undefined import MetricValue
from medbalance.registry import look_up_option

__all__ = [
    "BINARY_METRIC_NAMES",
    "BinaryMetrics",
    "compute_auc_pr",
    "compute_auc_roc",
    "compute_balanced_accuracy",
    "compute_binary_metric",
    "compute_binary_metrics",
    "compute_brier_score",
    "compute_f1",
    "compute_g_mean",
    "compute_log_loss",
    "compute_mcc",
    "compute_npv",
    "compute_ppv",
    "compute_sensitivity",
    "compute_specificity",
]


def _metric(engine: WeightedBinary, name: str) -> MetricValue:
    value = float(engine.compute(name, np.ones((1, engine.y.size)))[0])
    return MetricValue.from_float(value, _reason(engine, name))


def _reason(engine: WeightedBinary, name: str) -> str:
    if name in COUNT_METRICS:
        tp, fp, tn, fn = (float(c[0]) for c in engine.counts(np.ones((1, engine.y.size))))
        return count_reason(name, tp, fp, tn, fn, engine.threshold)
    if name in ("brier", "log_loss"):
        return f"{name} needs probabilities in [0, 1]; scores range {engine.score.min():g}..{engine.score.max():g}"
    n_pos = int(engine.y.sum())
    if name == "auc_pr" or n_pos == 0:
        return f"{name} is undefined: no positive cases"
    return f"{name} is undefined: no negative cases"


def compute_binary_metric(y_true: object, score: object, name: str, *, threshold: float = 0.5) -> MetricValue:
    """One binary metric by name (one of :data:`BINARY_METRIC_NAMES`).

    Raises:
        ConfigError: unknown metric name (with "did you mean").
        ValueError: labels not 0/1, non-finite scores, or length mismatch.
    """
    name = look_up_option(name, BINARY_METRIC_NAMES, what="binary metric")
    y, s = check_binary(y_true, score)
    return _metric(WeightedBinary(y, s, check_threshold(threshold)), name)


def compute_binary_metrics(
    y_true: object, score: object, *, threshold: float = 0.5
) -> dict[str, MetricValue]:
    """Every binary metric at ``threshold`` (positive when score >= threshold).

    Args:
        y_true: 0/1 labels, 1 = positive class.
        score: probability of the positive class per case.
        threshold: the operating point for the count-based metrics.

    Returns:
        Metric name -> value, in the order of :data:`BINARY_METRIC_NAMES`.
    """
    y, s = check_binary(y_true, score)
    engine = WeightedBinary(y, s, check_threshold(threshold))
    return {name: _metric(engine, name) for name in BINARY_METRIC_NAMES}


def compute_auc_roc(y_true: object, score: object) -> MetricValue:
    """Area under the ROC curve (ties count one half); undefined if a class is absent."""
    return compute_binary_metric(y_true, score, "auc_roc")


def compute_auc_pr(y_true: object, score: object) -> MetricValue:
    """Average precision (scikit-learn's definition); undefined without positives."""
    return compute_binary_metric(y_true, score, "auc_pr")


def compute_sensitivity(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """TP / (TP + FN), the recall of the positive class."""
    return compute_binary_metric(y_true, score, "sensitivity", threshold=threshold)


def compute_specificity(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """TN / (TN + FP), the recall of the negative class."""
    return compute_binary_metric(y_true, score, "specificity", threshold=threshold)


def compute_ppv(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """TP / (TP + FP), the precision; undefined when nothing is predicted positive."""
    return compute_binary_metric(y_true, score, "ppv", threshold=threshold)


def compute_npv(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """TN / (TN + FN); undefined when nothing is predicted negative."""
    return compute_binary_metric(y_true, score, "npv", threshold=threshold)


def compute_f1(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """2TP / (2TP + FP + FN); undefined without positive cases."""
    return compute_binary_metric(y_true, score, "f1", threshold=threshold)


def compute_mcc(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """Matthews correlation coefficient; undefined when a confusion margin is empty."""
    return compute_binary_metric(y_true, score, "mcc", threshold=threshold)


def compute_balanced_accuracy(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """(sensitivity + specificity) / 2; undefined unless both classes are present."""
    return compute_binary_metric(y_true, score, "balanced_accuracy", threshold=threshold)


def compute_g_mean(y_true: object, score: object, *, threshold: float = 0.5) -> MetricValue:
    """sqrt(sensitivity x specificity); undefined unless both classes are present."""
    return compute_binary_metric(y_true, score, "g_mean", threshold=threshold)


def compute_brier_score(y_true: object, score: object) -> MetricValue:
    """Mean squared error of the probability; undefined for scores outside [0, 1]."""
    return compute_binary_metric(y_true, score, "brier")


def compute_log_loss(y_true: object, score: object) -> MetricValue:
    """Mean negative log-likelihood with probabilities clipped to [eps, 1 - eps]."""
    return compute_binary_metric(y_true, score, "log_loss")


@dataclass(frozen=True)
class BinaryMetrics:
    """Callable holding the operating threshold, for code that passes metrics around.

    Example:
        >>> BinaryMetrics(threshold=0.3)([0, 1], [0.2, 0.4])["sensitivity"].value
        1.0
    """

    threshold: float = 0.5

    def __call__(self, y_true: object, score: object) -> dict[str, MetricValue]:
        return compute_binary_metrics(y_true, score, threshold=self.threshold)
