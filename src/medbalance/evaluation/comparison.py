"""Paired comparisons at fixed thresholds (McNemar) and Holm's multiple-test correction.

McNemar compares two models' sensitivities (on the positive cases) or
specificities (on the negative cases) at fixed thresholds, using only the
discordant cases: b = cases model a gets right and model b wrong, c = the
reverse. With fewer than 25 discordant cases the exact two-sided binomial test
(b out of b + c at p = 0.5) is used, otherwise the chi-square statistic with
continuity correction, (|b - c| - 1)^2 / (b + c), on 1 degree of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import binomtest, chi2

from medbalance.evaluation._checks import check_labels01, check_predictions
from medbalance.registry import look_up_option

__all__ = ["EXACT_BELOW", "McNemarResult", "holm_correction", "mcnemar_test"]

EXACT_BELOW = 25


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's paired test on one class's cases.

    Attributes:
        on: "positives" (compares sensitivities) or "negatives" (specificities).
        metric_a: model a's sensitivity or specificity on those cases.
        metric_b: model b's.
        difference: metric_a - metric_b.
        only_a_correct: discordant cases model a gets right and b wrong.
        only_b_correct: discordant cases model b gets right and a wrong.
        method: "exact" (binomial) or "chi2" (with continuity correction).
        statistic: chi-square statistic, or b for the exact test.
        p_value: two-sided p-value (None when undefined).
        n_cases: cases of that class.
        reason: why the test is undefined, or a note ("" otherwise).
    """

    on: str
    metric_a: float | None
    metric_b: float | None
    difference: float | None
    only_a_correct: int
    only_b_correct: int
    method: str
    statistic: float | None
    p_value: float | None
    n_cases: int
    reason: str = ""

    @property
    def defined(self) -> bool:
        """True when the p-value exists."""
        return self.p_value is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every field plus ``defined``."""
        return {**asdict(self), "defined": self.defined}


def mcnemar_test(
    y_true: object, pred_a: object, pred_b: object, *, on: Literal["positives", "negatives"] = "positives"
) -> McNemarResult:
    """Compare two models' 0/1 predictions on the same cases.

    Args:
        y_true: 0/1 labels (1 = positive class).
        pred_a: model a's 0/1 predictions at its fixed threshold.
        pred_b: model b's 0/1 predictions, same cases, same order.
        on: "positives" to compare sensitivities, "negatives" for specificities.

    Returns:
        The test result; undefined (p_value None) when there is no case of that class.
        With no discordant case the models agree everywhere and p = 1.
    """
    on = look_up_option(on, ("positives", "negatives"), what="McNemar case set")  # type: ignore[assignment]
    y = check_labels01(y_true)
    a = check_predictions(y, pred_a, "pred_a")
    b = check_predictions(y, pred_b, "pred_b")
    keep = y == (1 if on == "positives" else 0)
    n_cases = int(keep.sum())
    method = "exact"
    if n_cases == 0:
        reason = f"no {on[:-1]} cases, so the paired {'sensitivity' if on == 'positives' else 'specificity'} test is undefined"
        return McNemarResult(on, None, None, None, 0, 0, method, None, None, 0, reason)
    right_a = a[keep] == y[keep]
    right_b = b[keep] == y[keep]
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(~right_a & right_b))
    discordant = only_a + only_b
    metric_a, metric_b = float(right_a.mean()), float(right_b.mean())
    reason = ""
    if discordant == 0:
        statistic, p_value = 0.0, 1.0
        reason = "no discordant cases: the models agree on every case, p = 1"
    elif discordant < EXACT_BELOW:
        statistic, p_value = float(only_a), float(binomtest(only_a, discordant, 0.5).pvalue)
    else:
        method = "chi2"
        statistic = (abs(only_a - only_b) - 1.0) ** 2 / discordant
        p_value = float(chi2.sf(statistic, df=1))
    return McNemarResult(
        on,
        metric_a,
        metric_b,
        metric_a - metric_b,
        only_a,
        only_b,
        method,
        statistic,
        p_value,
        n_cases,
        reason,
    )


def holm_correction(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order.

    The i-th smallest p-value is multiplied by (m - i + 1), running maxima keep the
    order, and values are capped at 1.

    Raises:
        ValueError: p-values that are not a 1-D sequence of numbers in [0, 1].
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be a 1-D sequence, got shape {p.shape}.")
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        raise ValueError(
            f"p_values must lie in [0, 1]; got {p[bad][0]!r} at index {int(np.flatnonzero(bad)[0])}. "
            "Leave undefined tests out before correcting."
        )
    m = p.size
    order = np.argsort(p, kind="mergesort")
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted
