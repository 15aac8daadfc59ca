"""Prevalence: metrics at a deployment prevalence, prior correction, prior estimation.

Should validation be rebalanced? Under pure label shift (the class mix
changes, each class looks the same) sensitivity and specificity carry over,
but PPV, NPV and expected cost depend on the prevalence pi:

    PPV = sens * pi / (sens * pi + (1 - spec) * (1 - pi))
    NPV = spec * (1 - pi) / (spec * (1 - pi) + (1 - sens) * pi)
    expected cost per case = cost_ratio * pi * (1 - sens) + (1 - pi) * (1 - spec)

(cost of a false positive = 1, cost of a false negative = ``cost_ratio``).

Probabilities of a model trained under a prior pi (e.g. 0.5 after
over-sampling or class weights) are moved to a prior pi' by the odds
correction (Saerens et al. 2002, eq. 2.4):

    p' = p * (pi' / pi) / (p * (pi' / pi) + (1 - p) * ((1 - pi') / (1 - pi)))

and for K classes p'_k is proportional to p_k * pi'_k / pi_k. When pi' is
unknown, :func:`estimate_prior_em` estimates it from unlabeled target
predictions with the EM algorithm of Saerens, Latinne & Decaestecker (2002).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medbalance.evaluation.bootstrap import compute_bootstrap_replicates
from medbalance.evaluation.metrics import compute_binary_metrics
from medbalance.evaluation.undefined import MetricValue

__all__ = [
    "PrevalenceRow",
    "PriorEstimate",
    "compute_metrics_at_prevalence",
    "compute_prevalence_table",
    "correct_binary_prior",
    "correct_prior",
    "estimate_prior_em",
]


def _check_prevalence(prevalence: float, name: str = "prevalence") -> float:
    if isinstance(prevalence, bool) or not isinstance(prevalence, int | float) or not 0.0 < prevalence < 1.0:
        raise ValueError(f"{name} must be a share strictly between 0 and 1 (e.g. 0.05), got {prevalence!r}.")
    return float(prevalence)


def _ppv_npv_cost(
    sens: np.ndarray, spec: np.ndarray, pi: float, cost_ratio: float | None
) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        tp, fp = sens * pi, (1.0 - spec) * (1.0 - pi)
        tn, fn = spec * (1.0 - pi), (1.0 - sens) * pi
        out = {"ppv": tp / (tp + fp), "npv": tn / (tn + fn)}
    if cost_ratio is not None:
        out["expected_cost"] = cost_ratio * fn + fp
    return out


def compute_metrics_at_prevalence(
    sensitivity: float, specificity: float, prevalence: float, *, cost_ratio: float | None = None
) -> dict[str, MetricValue]:
    """PPV, NPV (and expected cost per case when ``cost_ratio`` is given) at a prevalence.

    Raises:
        ValueError: sensitivity/specificity outside [0, 1], prevalence outside (0, 1),
            or a negative cost ratio.
    """
    for name, value in (("sensitivity", sensitivity), ("specificity", specificity)):
        if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}.")
    pi = _check_prevalence(prevalence)
    if cost_ratio is not None and not (isinstance(cost_ratio, int | float) and cost_ratio >= 0):
        raise ValueError(
            f"cost_ratio (cost of a false negative / false positive) must be >= 0, got {cost_ratio!r}."
        )
    values = _ppv_npv_cost(np.array([sensitivity]), np.array([specificity]), pi, cost_ratio)
    reasons = {
        "ppv": f"ppv is undefined at prevalence {pi}: nothing is predicted positive (sensitivity 0, specificity 1)",
        "npv": f"npv is undefined at prevalence {pi}: nothing is predicted negative (sensitivity 1, specificity 0)",
        "expected_cost": "expected cost is undefined",
    }
    return {k: MetricValue.from_float(float(v[0]), reasons[k]) for k, v in values.items()}


@dataclass(frozen=True)
class PrevalenceRow:
    """PPV, NPV and expected cost at one deployment prevalence, with bootstrap intervals."""

    prevalence: float
    threshold: float
    metrics: dict[str, MetricValue]
    intervals: dict[str, tuple[float, float] | None]
    level: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping: each metric as value/defined/reason plus low/high."""
        out: dict[str, Any] = {"prevalence": self.prevalence, "threshold": _finite_or_str(self.threshold)}
        for name, value in self.metrics.items():
            bounds = self.intervals.get(name)
            out[name] = {
                **value.to_dict(),
                "low": None if bounds is None else bounds[0],
                "high": None if bounds is None else bounds[1],
                "level": self.level,
            }
        return out


def _finite_or_str(x: float) -> float | str:
    return x if np.isfinite(x) else str(x)


def compute_prevalence_table(
    y_true: object,
    score: object,
    *,
    threshold: float,
    prevalences: Sequence[float],
    cost_ratio: float | None = None,
    groups: object = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> list[PrevalenceRow]:
    """PPV/NPV/expected cost at each deployment prevalence from the test sens/spec at ``threshold``.

    Intervals: percentile intervals of the same formulas applied to bootstrap
    replicates of (sensitivity, specificity) drawn together (clustered by
    patient when ``groups`` is given); resamples where a value is undefined are
    left out.
    """
    point = compute_binary_metrics(y_true, score, threshold=threshold)
    sens, spec = point["sensitivity"], point["specificity"]
    reps = compute_bootstrap_replicates(
        y_true, score, ["sensitivity", "specificity"], threshold=threshold, groups=groups,
        n_resamples=n_resamples, seed=seed,
    )  # fmt: skip
    alpha = (1.0 - level) / 2.0
    rows = []
    for prevalence in prevalences:
        pi = _check_prevalence(prevalence, "deployment prevalence")
        if sens.value is None or spec.value is None:
            reason = sens.reason or spec.reason
            metrics = {k: MetricValue.undefined(reason) for k in ("ppv", "npv")}
            if cost_ratio is not None:
                metrics["expected_cost"] = MetricValue.undefined(reason)
            rows.append(PrevalenceRow(pi, threshold, metrics, dict.fromkeys(metrics), level))
            continue
        metrics = compute_metrics_at_prevalence(sens.value, spec.value, pi, cost_ratio=cost_ratio)
        replicated = _ppv_npv_cost(reps["sensitivity"], reps["specificity"], pi, cost_ratio)
        intervals: dict[str, tuple[float, float] | None] = {}
        for name, values in replicated.items():
            ok = values[np.isfinite(values)]
            defined = metrics[name].defined and ok.size >= max(2, values.size / 2)
            intervals[name] = (
                (float(np.quantile(ok, alpha)), float(np.quantile(ok, 1 - alpha))) if defined else None
            )
        rows.append(PrevalenceRow(pi, threshold, metrics, intervals, level))
    return rows


def _check_prior(prior: object, k: int, name: str) -> np.ndarray:
    p = np.asarray(prior, dtype=np.float64)
    if p.shape != (k,) or not np.all(np.isfinite(p) & (p > 0)):
        raise ValueError(f"{name} must be {k} positive class shares, got {np.asarray(prior).tolist()}.")
    return p / p.sum()


def _check_proba(proba: object) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2 or p.shape[0] == 0:
        raise ValueError(f"proba must have shape (N, K) with K >= 2 and N >= 1, got {p.shape}.")
    if not np.all(np.isfinite(p)) or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("proba must hold finite probabilities in [0, 1].")
    return p


def correct_prior(proba: object, train_prior: object, target_prior: object) -> np.ndarray:
    """Move (N, K) probabilities from the training prior to a target prior: p'_k ∝ p_k * pi'_k / pi_k.

    Args:
        proba: model probabilities, rows summing to 1.
        train_prior: the class shares the model effectively learned (e.g. uniform
            after over-sampling or inverse-frequency class weights).
        target_prior: the class shares to move to (e.g. the real-world prevalence).
    """
    p = _check_proba(proba)
    ratio = _check_prior(target_prior, p.shape[1], "target_prior") / _check_prior(
        train_prior, p.shape[1], "train_prior"
    )
    weighted = p * ratio[None, :]
    total = weighted.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("a row of proba is all zeros; probabilities must sum to 1.")
    return weighted / total


def correct_binary_prior(score: object, train_prevalence: float, target_prevalence: float) -> np.ndarray:
    """Odds correction of positive-class probabilities from one prevalence to another."""
    s = np.asarray(score, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"score must be 1-D positive-class probabilities, got shape {s.shape}.")
    pi, pi_new = (
        _check_prevalence(train_prevalence, "train_prevalence"),
        _check_prevalence(target_prevalence, "target_prevalence"),
    )
    proba = correct_prior(np.stack([1.0 - s, s], axis=1), [1 - pi, pi], [1 - pi_new, pi_new])
    return proba[:, 1]


@dataclass(frozen=True)
class PriorEstimate:
    """Result of the Saerens EM prior estimation."""

    prior: np.ndarray
    proba: np.ndarray
    n_iter: int
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (without the adjusted probabilities)."""
        return {"prior": self.prior.tolist(), "n_iter": self.n_iter, "converged": self.converged}


def estimate_prior_em(
    proba: object, train_prior: object, *, max_iter: int = 1000, tol: float = 1e-8
) -> PriorEstimate:
    """Estimate the class prior of unlabeled target cases (Saerens et al. 2002, EM).

    E-step: p'_ik ∝ p_ik * pi_k^(s) / pi_k (the odds correction at the current
    estimate); M-step: pi^(s+1) = mean_i p'_i. Starts at the training prior and
    stops when the prior moves less than ``tol`` (max abs change).

    Args:
        proba: (N, K) model probabilities on the target cases (labels not used).
        train_prior: the class shares the model's probabilities are calibrated to.

    Returns:
        The estimated prior, the probabilities corrected to it, iterations used and
        whether it converged.
    """
    p = _check_proba(proba)
    base = _check_prior(train_prior, p.shape[1], "train_prior")
    prior = base.copy()
    n_iter, converged = 0, False
    while n_iter < max_iter and not converged:
        n_iter += 1
        weighted = p * (prior / base)[None, :]
        new_prior = (weighted / weighted.sum(axis=1, keepdims=True)).mean(axis=0)
        converged = float(np.max(np.abs(new_prior - prior))) < tol
        prior = new_prior
    weighted = p * (prior / base)[None, :]
    return PriorEstimate(prior, weighted / weighted.sum(axis=1, keepdims=True), n_iter, converged)
