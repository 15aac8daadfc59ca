"""Operating points chosen on validation predictions and applied to test.

There is deliberately no function that chooses a threshold on the test set:
:func:`select_threshold` takes validation labels and scores and returns an
:class:`OperatingPoint`; :func:`apply_threshold` evaluates it on test, so the
report shows whether the target (e.g. sensitivity >= 0.90) held on new cases.

Rules (``list_threshold_rules()``):
    fixed (threshold=0.5), youden, max-f1, max-mcc,
    target-sensitivity (target=0.9): sensitivity >= target with the highest specificity,
    target-specificity (target=0.9): specificity >= target with the highest sensitivity,
    min-cost (cost_ratio=c_FN/c_FP, prevalence=pi): minimum
    c_FN * pi * (1 - sens) + c_FP * (1 - pi) * (1 - spec); pi defaults to the
    validation prevalence and the value used is recorded in ``params``.

Candidate thresholds are the distinct validation scores plus +inf and -inf; a
case is positive when score >= threshold, so tied scores are never split.
Ties on a rule's objective go to the largest threshold.

Example:
    >>> import numpy as np
    >>> y_val, p_val = np.array([0, 0, 0, 1, 1]), np.array([0.1, 0.4, 0.6, 0.5, 0.9])
    >>> op = select_threshold(y_val, p_val, "target-sensitivity", target=0.9)
    >>> float(op.threshold)  # chosen on validation: both positives reached
    0.5
    >>> y_test, p_test = np.array([0, 1, 1]), np.array([0.2, 0.55, 0.45])
    >>> test_metrics = apply_threshold(y_test, p_test, op)
    >>> test_metrics["sensitivity"].value  # did the target hold on test? (no: 1 of 2)
    0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from medbalance.errors import DataError
from medbalance.evaluation._checks import check_binary
from medbalance.evaluation._threshold_rules import THRESHOLD_RULES, ThresholdCurve, resolve_rule_params
from medbalance.evaluation.metrics import compute_binary_metrics
from medbalance.evaluation.undefined import MetricValue, metric_values_to_dict

__all__ = ["OperatingPoint", "apply_threshold", "list_threshold_rules", "select_threshold"]


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold chosen on validation, with how it was chosen and what it achieved there.

    Attributes:
        threshold: predict positive when score >= threshold (may be +inf or -inf).
        rule: the rule's name.
        params: the rule's parameters after defaults (e.g. target, cost_ratio, prevalence).
        metrics: every binary metric on the validation cases at this threshold.
        n_val: validation cases.
        n_val_positive: validation positives.
    """

    threshold: float
    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    n_val: int = 0
    n_val_positive: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; an infinite threshold is written as the string "inf" or "-inf"."""
        threshold: float | str = self.threshold if math.isfinite(self.threshold) else str(self.threshold)
        return {
            "threshold": threshold,
            "rule": self.rule,
            "params": dict(self.params),
            "chosen_on": "validation",
            "n_val": self.n_val,
            "n_val_positive": self.n_val_positive,
            "val_metrics": metric_values_to_dict(self.metrics),
        }


def list_threshold_rules() -> dict[str, str]:
    """Rule name -> one-line description."""
    return {entry.name: entry.description for entry in THRESHOLD_RULES.entries()}


def select_threshold(y_val: object, score_val: object, rule: str = "fixed", **params: Any) -> OperatingPoint:
    """Choose an operating threshold on VALIDATION predictions.

    Args:
        y_val: validation 0/1 labels (1 = positive class).
        score_val: validation probabilities of the positive class.
        rule: one of :func:`list_threshold_rules`.
        **params: the rule's parameters (``threshold`` for fixed, ``target`` for
            the target rules, ``cost_ratio`` and ``prevalence`` for min-cost).

    Raises:
        ConfigError: unknown rule or parameter (with "did you mean"), bad value,
            or min-cost without a cost ratio.
        DataError: a data-driven rule on validation data without both classes.
    """
    entry = THRESHOLD_RULES.entry(rule)
    y, s = check_binary(y_val, score_val, score_name="score_val")
    n_pos = int(y.sum())
    if entry.name != "fixed" and (n_pos == 0 or n_pos == y.size):
        missing = "positive" if n_pos == 0 else "negative"
        raise DataError(
            f"threshold rule {entry.name!r} needs both classes in the validation set, but it has no "
            f"{missing} case ({y.size} cases). Use a class-stratified split, or rule 'fixed'."
        )
    resolved = resolve_rule_params(entry.name, entry.obj, params, prevalence=n_pos / y.size)
    threshold = entry.obj.choose(ThresholdCurve.from_scores(y, s), resolved)
    return OperatingPoint(
        threshold=threshold,
        rule=entry.name,
        params=resolved,
        metrics=compute_binary_metrics(y, s, threshold=threshold),
        n_val=int(y.size),
        n_val_positive=n_pos,
    )


def apply_threshold(
    y_test: object, score_test: object, operating_point: OperatingPoint
) -> dict[str, MetricValue]:
    """Every binary metric on TEST cases at an operating point chosen on validation.

    For intervals at the same threshold use
    ``bootstrap_cis(y_test, score_test, threshold=operating_point.threshold)``.
    """
    if not isinstance(operating_point, OperatingPoint):
        raise TypeError(
            f"operating_point must be an OperatingPoint from select_threshold, got {type(operating_point).__name__}."
        )
    return compute_binary_metrics(y_test, score_test, threshold=operating_point.threshold)
