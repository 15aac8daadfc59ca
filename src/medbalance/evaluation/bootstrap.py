"""Stratified, optionally patient-clustered bootstrap confidence intervals.

Resamples are integer draw counts per case, so every built-in binary metric
(:data:`~medbalance.evaluation.metrics.BINARY_METRIC_NAMES`) is computed for
all resamples at once: AUC as a weighted Mann-Whitney statistic on scores
sorted once, threshold metrics from weighted confusion counts. Any other
metric can be passed as a function ``(y_true, score) -> float | MetricValue``;
it is called once per resample in a Python loop, which is much slower.

* Stratified (default): positives and negatives are resampled separately, so
  every resample keeps the class counts and AUC is always defined.
* Clustered: with ``groups`` (patient ids), whole patients are drawn with
  replacement, stratified by whether the patient has a positive image, because
  images of one patient are not independent.
* Intervals: ``"percentile"`` or ``"bca"`` (bias-corrected and accelerated,
  acceleration from the jackknife over cases, or over clusters when clustered).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], [80, 20])
    >>> p = np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, 100), 0, 1)
    >>> patient_ids = np.arange(100) // 2  # two images per patient
    >>> ci = bootstrap_ci(y, p, "auc_roc", groups=patient_ids, n_resamples=200, seed=0)
    >>> bool(ci.low < ci.estimate < ci.high)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from medbalance.evaluation._checks import check_binary, check_groups, check_level, check_threshold
from medbalance.evaluation._resampling import ResamplingPlan, compute_bca_bounds, compute_percentile_bounds
from medbalance.evaluation._weighted import BINARY_METRIC_NAMES, WeightedBinary, canonical_order
from medbalance.evaluation.intervals import ConfidenceInterval
from medbalance.evaluation.metrics import compute_binary_metric
from medbalance.evaluation.undefined import MetricValue
from medbalance.registry import look_up_option

__all__ = [
    "BootstrapMethod",
    "MetricFunction",
    "bootstrap_ci",
    "bootstrap_cis",
    "compute_bootstrap_replicates",
]

BootstrapMethod = Literal["percentile", "bca"]
MetricFunction = Callable[[np.ndarray, np.ndarray], "float | MetricValue"]
_METHODS = ("percentile", "bca")


def _as_float(value: float | MetricValue) -> float:
    if isinstance(value, MetricValue):
        return value.value if value.value is not None else float("nan")
    return float(value)


def _make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ValueError(f"seed must be an int, a numpy.random.Generator or None, got {seed!r}.")
    return np.random.default_rng(seed)


class _Evaluator:
    """Evaluates named or callable metrics under a weight matrix."""

    def __init__(self, y: np.ndarray, score: np.ndarray, threshold: float) -> None:
        self.y, self.score = y, score
        self.engine = WeightedBinary(y, score, threshold)

    def __call__(self, metric: str | MetricFunction, weights: np.ndarray) -> np.ndarray:
        if isinstance(metric, str):
            return self.engine.compute(metric, weights)
        out = np.empty(weights.shape[0])
        cases = np.arange(self.y.size)
        for row, w in enumerate(weights):
            idx = np.repeat(cases, w.astype(np.int64))
            out[row] = _as_float(metric(self.y[idx], self.score[idx]))
        return out


def _prepare(
    y_true: object, score: object, groups: object, threshold: float, stratify: bool
) -> tuple[_Evaluator, ResamplingPlan]:
    y, s = check_binary(y_true, score)
    codes = None if groups is None else check_groups(groups, y.size)
    # Every metric ignores case order; the canonical order spares a gather per resample.
    order = canonical_order(y, s)
    y, s = y[order], s[order]
    codes = None if codes is None else codes[order]
    return _Evaluator(y, s, check_threshold(threshold)), ResamplingPlan(y, codes, stratify=stratify)


def _check_metrics(metrics: Sequence[str | MetricFunction]) -> list[str | MetricFunction]:
    if isinstance(metrics, str) or len(metrics) == 0:
        raise ValueError(f"metrics must be a non-empty list of names or functions, got {metrics!r}.")
    checked: list[str | MetricFunction] = []
    for m in metrics:
        if isinstance(m, str):
            checked.append(look_up_option(m, BINARY_METRIC_NAMES, what="binary metric"))
        elif callable(m):
            checked.append(m)
        else:
            raise ValueError(f"a metric must be a name or a function (y_true, score) -> float, got {m!r}.")
    return checked


def _check_n_resamples(n_resamples: int) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) or n_resamples < 10:
        raise ValueError(f"n_resamples must be an integer >= 10 (1,000 is the default), got {n_resamples!r}.")
    return int(n_resamples)


def _metric_name(metric: str | MetricFunction) -> str:
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")


def compute_bootstrap_replicates(
    y_true: object,
    score: object,
    metrics: Sequence[str | MetricFunction],
    *,
    threshold: float = 0.5,
    groups: object = None,
    n_resamples: int = 1000,
    seed: int | np.random.Generator | None = 0,
    stratify: bool = True,
) -> dict[str, np.ndarray]:
    """The raw bootstrap replicates (NaN where undefined) of each metric, same resamples for all.

    Useful for bands over a curve or for a custom interval. Keys are metric names
    (a function's ``__name__``).
    """
    evaluator, plan = _prepare(y_true, score, groups, threshold, stratify)
    return _replicates(evaluator, plan, _check_metrics(metrics), _check_n_resamples(n_resamples), seed)


def _replicates(
    evaluator: _Evaluator,
    plan: ResamplingPlan,
    metrics: list[str | MetricFunction],
    n_resamples: int,
    seed: int | np.random.Generator | None,
) -> dict[str, np.ndarray]:
    chunks: dict[str, list[np.ndarray]] = {_metric_name(m): [] for m in metrics}
    for weights in plan.resample_weights(n_resamples, _make_rng(seed)):
        for m in metrics:
            chunks[_metric_name(m)].append(evaluator(m, weights))
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


def bootstrap_cis(
    y_true: object,
    score: object,
    metrics: Sequence[str | MetricFunction] = BINARY_METRIC_NAMES,
    *,
    threshold: float = 0.5,
    groups: object = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    method: BootstrapMethod = "percentile",
    seed: int | np.random.Generator | None = 0,
    stratify: bool = True,
) -> dict[str, ConfidenceInterval]:
    """Bootstrap intervals for several metrics from the same resamples.

    Args:
        y_true: 0/1 labels (1 = positive class).
        score: probability of the positive class.
        metrics: metric names (vectorised) and/or functions (looped, slower).
        threshold: operating point of the threshold metrics (score >= threshold).
        groups: patient (cluster) id per case; resample clusters when given.
        n_resamples: number of resamples (>= 10; 1,000 by default).
        level: confidence level.
        method: "percentile" or "bca".
        seed: int seed or a numpy Generator.
        stratify: keep class (or has-a-positive cluster) counts fixed per resample.

    Returns:
        Metric name -> interval. A metric undefined on all cases, or on more than
        half of the resamples, gets an undefined interval with the reason.
    """
    level = check_level(level)
    method = look_up_option(method, _METHODS, what="bootstrap interval method")  # type: ignore[assignment]
    evaluator, plan = _prepare(y_true, score, groups, threshold, stratify)
    checked = _check_metrics(metrics)
    n_resamples = _check_n_resamples(n_resamples)
    replicates = _replicates(evaluator, plan, checked, n_resamples, seed)
    out = {}
    for m in checked:
        name = _metric_name(m)
        out[name] = _interval(name, m, evaluator, plan, replicates[name], level, method)
    return out


def bootstrap_ci(
    y_true: object,
    score: object,
    metric: str | MetricFunction = "auc_roc",
    *,
    threshold: float = 0.5,
    groups: object = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    method: BootstrapMethod = "percentile",
    seed: int | np.random.Generator | None = 0,
    stratify: bool = True,
) -> ConfidenceInterval:
    """Bootstrap interval for one metric; see :func:`bootstrap_cis` for the arguments."""
    cis = bootstrap_cis(
        y_true, score, [metric], threshold=threshold, groups=groups, n_resamples=n_resamples,
        level=level, method=method, seed=seed, stratify=stratify,
    )  # fmt: skip
    return next(iter(cis.values()))


def _interval(
    name: str,
    metric: str | MetricFunction,
    evaluator: _Evaluator,
    plan: ResamplingPlan,
    replicates: np.ndarray,
    level: float,
    method: str,
) -> ConfidenceInterval:
    n_resamples = replicates.size
    ok = replicates[np.isfinite(replicates)]

    def make(
        estimate: float | None, bounds: tuple[float, float] | str, std_error: float | None = None
    ) -> ConfidenceInterval:
        low, high, reason = (None, None, bounds) if isinstance(bounds, str) else (*bounds, "")
        return ConfidenceInterval(
            name, estimate, low, high, level, method, n_resamples, int(n_resamples - ok.size),
            std_error, plan.clustered, reason,
        )  # fmt: skip

    if isinstance(metric, str):
        point = compute_binary_metric(
            evaluator.y, evaluator.score, metric, threshold=evaluator.engine.threshold
        )
    else:
        raw = _as_float(metric(evaluator.y, evaluator.score))
        point = MetricValue.from_float(raw, f"{name} is undefined on all cases")
    if point.value is None:
        return make(None, point.reason)
    if ok.size < max(2, n_resamples / 2):
        return make(
            point.value, f"{name} was undefined on {n_resamples - ok.size} of {n_resamples} resamples"
        )
    if method == "percentile":
        bounds: tuple[float, float] | str = compute_percentile_bounds(ok, level)
    else:
        jackknife = np.concatenate([evaluator(metric, w) for w in plan.jackknife_weights()])
        bounds = compute_bca_bounds(ok, point.value, jackknife, level)
    return make(point.value, bounds, float(np.std(ok, ddof=1)))
