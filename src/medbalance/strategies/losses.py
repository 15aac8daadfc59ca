"""Loss strategies: focal loss, logit adjustment and LDAM with deferred re-weighting.

References:
    Lin et al. (2017) Focal loss for dense object detection. ICCV.
    Menon et al. (2021) Long-tail learning via logit adjustment. ICLR.
    Cao et al. (2019) Learning imbalanced datasets with label-distribution-aware
    margin loss. NeurIPS.
    Cui et al. (2019) Class-balanced loss based on effective number of samples. CVPR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.strategies._loss_modules import (
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedCrossEntropy,
)
from medbalance.strategies.base import Balance, Hook, Strategy, register_strategy
from medbalance.strategies.weighting import compute_class_weights

__all__ = [
    "Focal",
    "FocalLoss",
    "LDAMLoss",
    "LdamDrw",
    "LogitAdjust",
    "LogitAdjustedLoss",
    "WeightedCrossEntropy",
    "compute_ldam_margins",
]

_LOSS_BALANCE: frozenset[Balance] = frozenset({"loss"})


@dataclass(frozen=True)
class FocalParams:
    """Parameters of ``focal``."""

    gamma: float = option(2.0, help="focusing exponent; 0 gives cross-entropy", ge=0.0)
    alpha: tuple[float, ...] | None = option(None, help="optional per-class weights alpha_c", ge=0.0)

    def __post_init__(self) -> None:
        check_constraints(self)


@register_strategy(
    "focal",
    description="focal loss (Lin et al. 2017): down-weights easy examples; per-class alpha also balances",
)
class Focal(Strategy):
    """Focal loss; rebalances the loss only when per-class ``alpha`` is given."""

    Params = FocalParams
    params: FocalParams
    hooks: frozenset[Hook] = frozenset({"loss"})

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.balances = _LOSS_BALANCE if self.params.alpha is not None else frozenset()

    def _fit(self) -> None:
        alpha = self.params.alpha
        if alpha is not None and len(alpha) != self.num_classes_:
            raise ConfigError(
                f"strategy 'focal': alpha has {len(alpha)} values but the task has {self.num_classes_} "
                "classes. Fix: pass one alpha per class, in class-index order."
            )

    def _make_loss(self) -> nn.Module:
        return FocalLoss(self.params.gamma, self.params.alpha)


@dataclass(frozen=True)
class LogitAdjustParams:
    """Parameters of ``logit-adjust``."""

    tau: float = option(1.0, help="adjustment strength (1 = Balanced Softmax)", ge=0.0)
    mode: Literal["loss", "posthoc"] = option(
        "loss",
        help="adjust the training loss, or train with CE and adjust at inference",
    )

    def __post_init__(self) -> None:
        check_constraints(self)


@register_strategy(
    "logit-adjust",
    description="logit-adjusted loss (Menon et al. 2021; Balanced Softmax at tau=1) or post-hoc adjustment",
)
class LogitAdjust(Strategy):
    """Adds ``tau * log prior`` to the logits in the loss, or subtracts it at inference.

    Both modes correct for the training prior, so both count as loss balancing
    for the double-balancing rule: after a balanced sampler the prior the model
    learns is already uniform and the correction would be applied twice.
    """

    Params = LogitAdjustParams
    params: LogitAdjustParams
    hooks: frozenset[Hook] = frozenset({"loss", "posthoc"})
    balances = _LOSS_BALANCE

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.hooks = frozenset({"loss"}) if self.params.mode == "loss" else frozenset({"posthoc"})

    def _fit(self) -> None:
        counts = self.safe_counts_
        self.log_prior_ = np.log(counts / counts.sum())

    def _make_loss(self) -> nn.Module:
        if self.params.mode == "posthoc":
            return WeightedCrossEntropy(None)
        return LogitAdjustedLoss(self.log_prior_, self.params.tau)

    def _adjust_logits(self, logits: Tensor) -> Tensor:
        if self.params.mode == "loss":
            return logits
        shift = torch.as_tensor(self.log_prior_, dtype=logits.dtype, device=logits.device)
        return logits - self.params.tau * shift

    def _describe_fitted(self) -> dict[str, Any]:
        return {"log_prior": [float(v) for v in self.log_prior_]}


def compute_ldam_margins(counts: np.ndarray, max_margin: float = 0.5) -> np.ndarray:
    """LDAM margins ``m_c ∝ n_c^(-1/4)``, scaled so the largest is ``max_margin``."""
    raw = np.maximum(np.asarray(counts, dtype=np.float64), 1.0) ** -0.25
    return raw * (max_margin / raw.max())


@dataclass(frozen=True)
class LdamDrwParams:
    """Parameters of ``ldam-drw``."""

    max_margin: float = option(0.5, help="margin of the rarest class", gt=0.0)
    scale: float = option(30.0, help="logit scale s", gt=0.0)
    drw_start: float = option(
        0.8,
        help="fraction of training after which re-weighting starts (1 = never)",
        ge=0.0,
        le=1.0,
    )
    beta: float = option(0.9999, help="effective-number beta of the DRW weights", gt=0.0, lt=1.0)
    normalized_head: bool = option(
        True,
        help="cosine classifier (logits cos in [-1, 1], times s); false: the model's linear head",
    )

    def __post_init__(self) -> None:
        check_constraints(self)


@register_strategy(
    "ldam-drw",
    description="LDAM margins ∝ n^-1/4 (max 0.5, s=30, cosine classifier) with deferred effective-number re-weighting",
)
class LdamDrw(Strategy):
    """LDAM loss (Cao et al. 2019) with deferred re-weighting (DRW).

    Re-weighting is off until epoch ``floor(drw_start * max_epochs)`` (0-based),
    then class weights are the effective-number weights (Cui et al. 2019,
    normalised to sum K). As in the paper, the model's classifier is a normalised
    (cosine) one (``classifier_head = "cosine"``; training swaps the model's linear
    head for it), so its logits are cosines in [-1, 1] and ``s`` sets the softmax's
    range. The scale ``s`` is part of the training logits, so :meth:`adjust_logits`
    multiplies inference logits by ``s``: probabilities then match what the loss
    trained (argmax and AUC unchanged) and are bounded by ``s``. ``normalized_head=false``
    keeps the model's linear head (raw logits times ``s``, the earlier behaviour).
    """

    Params = LdamDrwParams
    params: LdamDrwParams
    hooks: frozenset[Hook] = frozenset({"loss", "posthoc"})
    balances = _LOSS_BALANCE

    @property
    def classifier_head(self) -> str:  # type: ignore[override]
        """``cosine`` unless ``normalized_head`` is false."""
        return "cosine" if self.params.normalized_head else "linear"

    def _fit(self) -> None:
        self.margins_ = compute_ldam_margins(self.class_counts_, self.params.max_margin)
        self.drw_weights_ = compute_class_weights(
            self.class_counts_, "effective-number", beta=self.params.beta
        )
        self.drw_start_epoch_: int | None = None
        self.drw_active_ = False
        self._losses: list[LDAMLoss] = []

    def _make_loss(self) -> nn.Module:
        loss = LDAMLoss(self.margins_, self.params.scale)
        loss.set_class_weight(self.drw_weights_ if self.drw_active_ else None)
        self._losses.append(loss)
        return loss

    def _on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        for name, value, low in (("epoch", epoch, 0), ("max_epochs", max_epochs, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"strategy 'ldam-drw': {name} must be an integer >= {low}, got {value!r}.")
        self.drw_start_epoch_ = math.floor(self.params.drw_start * max_epochs + 1e-9)
        self.drw_active_ = epoch >= self.drw_start_epoch_
        for loss in self._losses:
            loss.set_class_weight(self.drw_weights_ if self.drw_active_ else None)

    def _adjust_logits(self, logits: Tensor) -> Tensor:
        return logits * self.params.scale

    def _describe_fitted(self) -> dict[str, Any]:
        return {
            "margins": [float(m) for m in self.margins_],
            "drw_class_weights": [float(w) for w in self.drw_weights_],
            "drw_start_epoch": self.drw_start_epoch_,
            "drw_active": self.drw_active_,
        }
