"""Decision curve analysis (Vickers & Elkin 2006) with bootstrap bands.

At a threshold probability pt (the risk at which a clinician would act), a
case is treated when its score >= pt, and

    net benefit = TP / N - FP / N * pt / (1 - pt)

counts true positives gained minus false positives weighted by the odds at pt.
The references are "treat all" (prevalence - (1 - prevalence) * pt / (1 - pt))
and "treat none" (0). A model is useful at pt where its curve lies above both.
Net benefit assumes the scores are probabilities at the deployment prevalence:
use calibrated or prior-corrected probabilities for a model trained on a
re-balanced prior.

Bands: percentile intervals of the net benefit over bootstrap resamples, drawn
with the same resampling as the metric intervals (stratified by class, whole
patients when ``groups`` is given), seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medbalance.evaluation._checks import check_binary, check_groups, check_level
from medbalance.evaluation._resampling import ResamplingPlan

__all__ = [
    "DEFAULT_THRESHOLD_PROBABILITIES",
    "DecisionCurve",
    "compute_decision_curve",
    "compute_net_benefit",
]

DEFAULT_THRESHOLD_PROBABILITIES: tuple[float, ...] = tuple(
    float(t) for t in np.round(np.arange(0.01, 1.0, 0.01), 2)
)


def _check_thresholds(thresholds: object) -> np.ndarray:
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.all((t > 0.0) & (t < 1.0)):
        raise ValueError(
            "threshold probabilities must be a non-empty 1-D list of values strictly between 0 and 1 "
            f"(net benefit divides by 1 - pt), got {np.asarray(thresholds).tolist()!r}."
        )
    return t


def _weighted_net_benefit(
    weights: np.ndarray, y: np.ndarray, score: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, T) net benefit of the model and of treat-all for each row of case weights."""
    treated = score[:, None] >= thresholds[None, :]
    positive = y.astype(bool)[:, None]
    n = weights.sum(axis=1, keepdims=True)
    tp = weights @ (treated & positive).astype(np.float64)
    fp = weights @ (treated & ~positive).astype(np.float64)
    odds = thresholds / (1.0 - thresholds)
    prevalence = (weights @ y.astype(np.float64))[:, None] / n
    return tp / n - fp / n * odds[None, :], prevalence - (1.0 - prevalence) * odds[None, :]


def compute_net_benefit(y_true: object, score: object, thresholds: object) -> np.ndarray:
    """Net benefit of treating cases with score >= pt, for each threshold probability pt."""
    y, s = check_binary(y_true, score)
    t = _check_thresholds(thresholds)
    return _weighted_net_benefit(np.ones((1, y.size)), y, s, t)[0][0]


@dataclass(frozen=True)
class DecisionCurve:
    """Net benefit over threshold probabilities, with references and bootstrap bands.

    Attributes:
        thresholds: threshold probabilities pt.
        net_benefit: the model's net benefit at each pt.
        treat_all: net benefit of treating everyone.
        treat_none: zeros.
        low, high: percentile band of the model's net benefit (None without bootstrap).
        prevalence: share of positives among the cases.
        level, n_resamples, clustered: how the band was made.
    """

    thresholds: np.ndarray
    net_benefit: np.ndarray
    treat_all: np.ndarray
    treat_none: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    prevalence: float
    level: float
    n_resamples: int
    clustered: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""

        def listed(a: np.ndarray | None) -> list[float] | None:
            return None if a is None else [float(v) for v in a]

        return {
            "thresholds": listed(self.thresholds),
            "net_benefit": listed(self.net_benefit),
            "treat_all": listed(self.treat_all),
            "treat_none": listed(self.treat_none),
            "band_low": listed(self.low),
            "band_high": listed(self.high),
            "prevalence": self.prevalence,
            "level": self.level,
            "n_resamples": self.n_resamples,
            "clustered": self.clustered,
        }


def compute_decision_curve(
    y_true: object,
    score: object,
    *,
    thresholds: object = DEFAULT_THRESHOLD_PROBABILITIES,
    groups: object = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> DecisionCurve:
    """Net benefit of the model, treat-all and treat-none, with a bootstrap band.

    Args:
        y_true: 0/1 labels (1 = positive class).
        score: probabilities of the positive class.
        thresholds: threshold probabilities in (0, 1).
        groups: patient id per case; whole patients are resampled when given.
        n_resamples: bootstrap resamples for the band (0 for no band).
        level: band level.
        seed: int seed or numpy Generator.
    """
    y, s = check_binary(y_true, score)
    t = _check_thresholds(thresholds)
    level = check_level(level)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 0:
        raise ValueError(f"n_resamples must be an integer >= 0 (0 = no band), got {n_resamples!r}.")
    codes = None if groups is None else check_groups(groups, y.size)
    model, treat_all = _weighted_net_benefit(np.ones((1, y.size)), y, s, t)
    low = high = None
    if n_resamples > 0:
        plan = ResamplingPlan(y, codes, stratify=True)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        replicates = np.concatenate(
            [_weighted_net_benefit(w, y, s, t)[0] for w in plan.resample_weights(n_resamples, rng)]
        )
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return DecisionCurve(
        thresholds=t, net_benefit=model[0], treat_all=treat_all[0], treat_none=np.zeros_like(t),
        low=low, high=high, prevalence=float(y.mean()), level=level, n_resamples=n_resamples,
        clustered=codes is not None,
    )  # fmt: skip
