"""Post-hoc logit adjustment for multi-class models, tuned on validation.

Menon et al. (2021, "Long-tail learning via logit adjustment") subtract
tau * log(prior) from the logits, which moves predictions towards rare classes;
tau = 1 is the Bayes-optimal correction for balanced error when the model's
probabilities are calibrated to the training prior. tau is chosen on the
validation set by balanced accuracy; ties go to the smallest tau (the least
adjustment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbalance.errors import DataError
from medbalance.evaluation._checks import check_multiclass

__all__ = ["DEFAULT_TAUS", "LogitAdjustment", "adjust_logits", "select_logit_adjustment_tau"]

DEFAULT_TAUS: tuple[float, ...] = tuple(float(t) for t in np.round(np.arange(0.0, 2.01, 0.1), 2))


def _check_prior(prior: object, n_classes: int) -> np.ndarray:
    p = np.asarray(prior, dtype=np.float64)
    if p.shape != (n_classes,):
        raise ValueError(f"prior must have one entry per class ({n_classes}), got shape {p.shape}.")
    if not np.all(np.isfinite(p) & (p > 0)):
        raise ValueError(
            f"prior must be positive class frequencies (e.g. training class shares), got {p.tolist()}; "
            "a class with prior 0 has no finite log-prior."
        )
    return p


def adjust_logits(logits: object, prior: object, tau: float = 1.0) -> np.ndarray:
    """Return logits - tau * log(prior), shape (N, K).

    Args:
        logits: model logits, shape (N, K).
        prior: class frequencies of the training data (positive; need not sum to 1,
            a common scale shifts every logit equally and changes no prediction).
        tau: strength; 0 leaves logits unchanged.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must have shape (N, K), got {z.shape}.")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits hold NaN or inf; fix the predictions before adjusting.")
    if isinstance(tau, bool) or not isinstance(tau, int | float) or not np.isfinite(tau):
        raise ValueError(f"tau must be a finite number, got {tau!r}.")
    return z - float(tau) * np.log(_check_prior(prior, z.shape[1]))[None, :]


@dataclass(frozen=True)
class LogitAdjustment:
    """The tau chosen on validation and the balanced accuracy of every tau tried."""

    tau: float
    balanced_accuracy: float
    prior: tuple[float, ...]
    scores: dict[float, float] = field(default_factory=dict)

    def apply(self, logits: object) -> np.ndarray:
        """Adjust test logits with the chosen tau."""
        return adjust_logits(logits, self.prior, self.tau)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "tau": self.tau,
            "balanced_accuracy_val": self.balanced_accuracy,
            "prior": list(self.prior),
            "chosen_on": "validation",
            "balanced_accuracy_by_tau": {str(k): v for k, v in self.scores.items()},
        }


def select_logit_adjustment_tau(
    y_val: object, logits_val: object, prior: object, taus: Sequence[float] = DEFAULT_TAUS
) -> LogitAdjustment:
    """Pick tau maximising validation balanced accuracy (mean per-class recall).

    Raises:
        DataError: a class has no validation case (balanced accuracy undefined).
    """
    z = np.asarray(logits_val)
    if z.ndim != 2:
        raise ValueError(f"logits_val must have shape (N, K), got {z.shape}.")
    y, z = check_multiclass(y_val, z, z.shape[1])
    k = z.shape[1]
    counts = np.bincount(y, minlength=k)
    if (counts == 0).any():
        absent = np.flatnonzero(counts == 0).tolist()
        raise DataError(
            f"cannot tune tau: class index(es) {absent} have no validation case, so balanced accuracy is "
            "undefined. Use a class-stratified validation split."
        )
    if len(taus) == 0:
        raise ValueError("taus is empty; give at least one tau, e.g. DEFAULT_TAUS.")
    p = _check_prior(prior, k)
    scores: dict[float, float] = {}
    for tau in taus:
        pred = adjust_logits(z, p, float(tau)).argmax(axis=1)
        recall = np.bincount(y[pred == y], minlength=k) / counts
        scores[float(tau)] = float(recall.mean())
    best = max(scores.values())
    tau = min(t for t, v in scores.items() if v >= best - 1e-12)
    return LogitAdjustment(tau=tau, balanced_accuracy=scores[tau], prior=tuple(p.tolist()), scores=scores)
