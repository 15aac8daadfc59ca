"""The baseline and class-weighted cross-entropy.

Class weights come from the GLOBAL training counts, never from a batch: a batch
of 8 cannot represent a 19:1 split (Walsh & Tardy, 2023). With the reduction
of every medbalance loss (``sum_i w[y_i] loss_i / N``), a weight is exactly the
factor by which one example of its class counts.

=================  ==================================================  ============================
scheme             weight of class c                                   normalised so that
=================  ==================================================  ============================
inverse            n_max / n_c  (Walsh & Tardy: minority n_maj/n_min)  largest class weighs 1
inverse-sqrt       sqrt(n_max / n_c)                                   largest class weighs 1
effective-number   (1 - beta) / (1 - beta^n_c)  (Cui et al., 2019)     weights sum to K (Cui et al.)
explicit           the given weights                                   as given
=================  ==================================================  ============================

Classes absent from the training split are counted as 1 example, so no weight
is infinite (such a weight never meets a training example).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from torch import nn

from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.registry import look_up_option
from medbalance.strategies._loss_modules import WeightedCrossEntropy
from medbalance.strategies.base import Balance, Hook, Strategy, register_strategy

__all__ = ["Baseline", "ClassWeight", "ClassWeightParams", "compute_class_weights"]

WeightScheme = Literal["inverse", "inverse-sqrt", "effective-number", "explicit"]
_SCHEMES = ("inverse", "inverse-sqrt", "effective-number", "explicit")


def compute_class_weights(
    counts: np.ndarray,
    scheme: WeightScheme = "inverse",
    *,
    beta: float = 0.9999,
    weights: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Per-class loss weights from training counts (see the module table).

    Args:
        counts: training examples per class (absent classes are counted as 1).
        scheme: ``inverse``, ``inverse-sqrt``, ``effective-number`` or ``explicit``.
        beta: the effective-number hyper-parameter, in (0, 1).
        weights: the explicit weights, one per class.

    Raises:
        ConfigError: unknown scheme, or explicit weights of the wrong length.
    """
    look_up_option(scheme, _SCHEMES, what="class-weight scheme")
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    if scheme == "explicit":
        if weights is None or len(weights) != len(n):
            got = "none" if weights is None else f"{len(weights)}"
            raise ConfigError(
                f"scheme 'explicit' needs one weight per class ({len(n)}), got {got}. "
                "Fix: pass weights=(w_0, w_1, ...) in class-index order."
            )
        return np.asarray(weights, dtype=np.float64)
    if scheme == "inverse":
        return n.max() / n
    if scheme == "inverse-sqrt":
        return np.sqrt(n.max() / n)
    raw = (1.0 - beta) / (1.0 - np.power(beta, n))
    return raw / raw.sum() * len(n)


@register_strategy("none", description="baseline: natural batches, plain cross-entropy")
class Baseline(Strategy):
    """No imbalance handling: what every other strategy is compared with."""


@dataclass(frozen=True)
class ClassWeightParams:
    """Parameters of ``class-weight``."""

    scheme: WeightScheme = option("inverse", help="how weights follow from the global training counts")
    beta: float = option(0.9999, help="effective-number beta (Cui et al. 2019)", gt=0.0, lt=1.0)
    weights: tuple[float, ...] | None = option(
        None,
        help="explicit per-class weights (scheme=explicit)",
        gt=0.0,
    )

    def __post_init__(self) -> None:
        check_constraints(self)
        if self.scheme == "explicit" and self.weights is None:
            raise ValueError("scheme 'explicit' needs weights=(w_0, w_1, ...), one per class.")
        if self.scheme != "explicit" and self.weights is not None:
            raise ValueError(
                f"weights are only used with scheme='explicit', got scheme={self.scheme!r}; "
                "drop weights or set scheme='explicit'."
            )


@register_strategy(
    "class-weight",
    description="cross-entropy weighted per class from global training counts "
    "(inverse, inverse-sqrt, effective-number, explicit)",
)
class ClassWeight(Strategy):
    """Class-weighted cross-entropy (Walsh & Tardy 2023; Cui et al. 2019)."""

    Params = ClassWeightParams
    params: ClassWeightParams
    hooks: frozenset[Hook] = frozenset({"loss"})
    balances: frozenset[Balance] = frozenset({"loss"})

    def _fit(self) -> None:
        p = self.params
        self.class_weights_ = compute_class_weights(
            self.class_counts_, p.scheme, beta=p.beta, weights=p.weights
        )

    def _make_loss(self) -> nn.Module:
        return WeightedCrossEntropy(self.class_weights_)

    def _describe_fitted(self) -> dict[str, Any]:
        return {"class_weights": [float(w) for w in self.class_weights_]}
