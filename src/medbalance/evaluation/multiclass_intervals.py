"""Bootstrap intervals for multi-class metrics (macro AUC, macro-F1, balanced accuracy, kappa).

Each resample (stratified by class, or whole patients when ``groups`` is given,
as in :mod:`~medbalance.evaluation.bootstrap`) is evaluated with
:func:`~medbalance.evaluation.multiclass.compute_multiclass_metrics`, in a loop
over resamples: multi-class metrics are not vectorised, so this is slower than
the binary bootstrap (about 1-2 ms per resample for a few thousand cases).
Percentile intervals; resamples where a metric is undefined are counted in
``n_failed`` and left out, and more than half failing makes the interval undefined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medbalance.evaluation._checks import check_groups, check_level, check_multiclass
from medbalance.evaluation._resampling import ResamplingPlan, compute_percentile_bounds
from medbalance.evaluation.intervals import ConfidenceInterval
from medbalance.evaluation.multiclass import compute_multiclass_metrics

__all__ = ["MULTICLASS_INTERVAL_METRICS", "bootstrap_multiclass_cis"]

MULTICLASS_INTERVAL_METRICS: tuple[str, ...] = (
    "auc_ovr_macro",
    "macro_f1",
    "balanced_accuracy",
    "balanced_accuracy_adjusted",
    "kappa",
    "kappa_quadratic",
)


def bootstrap_multiclass_cis(
    y_true: object,
    proba: object,
    *,
    class_names: Sequence[str],
    metrics: Sequence[str] = MULTICLASS_INTERVAL_METRICS,
    ordinal: bool = False,
    groups: object = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, ConfidenceInterval]:
    """Percentile bootstrap intervals of multi-class metrics from the same resamples.

    Args:
        y_true: class indices 0..K-1.
        proba: (N, K) probabilities.
        class_names: names in index order.
        metrics: names among :data:`MULTICLASS_INTERVAL_METRICS`.
        ordinal: classes are ordered (quadratic kappa).
        groups: patient id per case; whole patients are resampled when given.
        n_resamples: resamples (>= 10).
        level: confidence level.
        seed: int seed or numpy Generator.
    """
    p_array = np.asarray(proba)
    if p_array.ndim != 2:
        raise ValueError(f"proba must have shape (N, K), got {p_array.shape}.")
    y, p = check_multiclass(y_true, p_array, p_array.shape[1])
    level = check_level(level)
    unknown = [m for m in metrics if m not in MULTICLASS_INTERVAL_METRICS]
    if unknown or len(metrics) == 0:
        raise ValueError(
            f"metrics must be names among {list(MULTICLASS_INTERVAL_METRICS)}, got {list(metrics)}."
        )
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 10:
        raise ValueError(f"n_resamples must be an integer >= 10, got {n_resamples!r}.")
    codes = None if groups is None else check_groups(groups, y.size)
    point = compute_multiclass_metrics(y, p, class_names=class_names, ordinal=ordinal).metrics
    plan = ResamplingPlan(y, codes, stratify=True)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    replicates = {m: np.full(n_resamples, np.nan) for m in metrics}
    cases = np.arange(y.size)
    row = 0
    for weights in plan.resample_weights(n_resamples, rng):
        for w in weights:
            idx = np.repeat(cases, w.astype(np.int64))
            values = compute_multiclass_metrics(
                y[idx], p[idx], class_names=class_names, ordinal=ordinal
            ).metrics
            for m in metrics:
                if values[m].value is not None:
                    replicates[m][row] = values[m].value
            row += 1
    out = {}
    for m in metrics:
        ok = replicates[m][np.isfinite(replicates[m])]
        common = dict(metric=m, level=level, method="percentile", n_resamples=n_resamples,
                      n_failed=int(n_resamples - ok.size), clustered=codes is not None)  # fmt: skip
        if point[m].value is None:
            out[m] = ConfidenceInterval(estimate=None, low=None, high=None, reason=point[m].reason, **common)  # type: ignore[arg-type]
        elif ok.size < max(2, n_resamples / 2):
            reason = f"{m} was undefined on {n_resamples - ok.size} of {n_resamples} resamples"
            out[m] = ConfidenceInterval(estimate=point[m].value, low=None, high=None, reason=reason, **common)  # type: ignore[arg-type]
        else:
            low, high = compute_percentile_bounds(ok, level)
            out[m] = ConfidenceInterval(
                estimate=point[m].value,
                low=low,
                high=high,
                std_error=float(np.std(ok, ddof=1)),
                **common,  # type: ignore[arg-type]
            )
    return out
