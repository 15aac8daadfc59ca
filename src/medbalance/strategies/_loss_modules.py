"""Loss modules: logits (N, K) and targets (N,) long -> a scalar.

Every module reduces the same way, as Keras ``class_weight`` does (the setup of
Walsh & Tardy, 2023): ``sum_i w[y_i] * loss_i / N``, so a class weight is the
factor by which one example of that class counts, exactly. (PyTorch's
``cross_entropy(weight=...)`` divides by the summed weights of the batch
instead; the relative weights within a batch are the same.) Computation is in
float32 even under mixed precision; per-class vectors are non-persistent
buffers, so they follow ``.to(device)`` and stay out of checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FocalLoss", "LDAMLoss", "LogitAdjustedLoss", "VectorLike", "WeightedCrossEntropy"]

VectorLike = Tensor | np.ndarray | Sequence[float]


def _as_vector(values: VectorLike | None) -> Tensor | None:
    if values is None:
        return None
    return torch.as_tensor(values, dtype=torch.float32).detach().clone().reshape(-1)


def _check_inputs(logits: Tensor, targets: Tensor, size: int | None) -> None:
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(
            f"loss expects logits (N, K) and targets (N,), got {tuple(logits.shape)} and {tuple(targets.shape)}."
        )
    if size is not None and logits.shape[1] != size:
        raise ValueError(f"loss was built for {size} classes, got logits with {logits.shape[1]} columns.")


def _weighted_mean(per_sample: Tensor, targets: Tensor, weight: Tensor | None) -> Tensor:
    if per_sample.numel() == 0:
        return per_sample.sum()
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight[targets]).mean()


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy with optional per-class weights ``w`` (``None``: plain CE).

    Args:
        weight: one factor per class, or None.
    """

    weight: Tensor | None

    def __init__(self, weight: VectorLike | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", _as_vector(weight), persistent=False)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_inputs(logits, targets, None if self.weight is None else self.weight.numel())
        per_sample = F.cross_entropy(logits.float(), targets, reduction="none")
        return _weighted_mean(per_sample, targets, self.weight)


class FocalLoss(nn.Module):
    """Softmax focal loss (Lin et al., 2017): ``-alpha_y (1 - p_y)^gamma log p_y``.

    With two classes it equals the sigmoid focal loss of the logit difference;
    with ``gamma = 0`` and no ``alpha`` it equals cross-entropy.

    Args:
        gamma: focusing exponent (>= 0); larger values down-weight easy examples more.
        alpha: one weight per class, or None.
    """

    alpha: Tensor | None

    def __init__(self, gamma: float = 2.0, alpha: VectorLike | None = None) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.register_buffer("alpha", _as_vector(alpha), persistent=False)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_inputs(logits, targets, None if self.alpha is None else self.alpha.numel())
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, targets[:, None]).squeeze(1)
        # 1 - p computed as -expm1(log p): exact for confident examples, where 1 - exp() cancels.
        modulating = (-torch.expm1(log_p)).clamp_min(0.0) ** self.gamma
        return _weighted_mean(-modulating * log_p, targets, self.alpha)


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al., 2021): ``CE(z + tau log prior, y)``.

    At ``tau = 1`` it equals the Balanced Softmax loss.

    Args:
        log_prior: log of the training class frequencies, one per class.
        tau: adjustment strength.
    """

    log_prior: Tensor

    def __init__(self, log_prior: VectorLike, tau: float = 1.0) -> None:
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("log_prior", _as_vector(log_prior), persistent=False)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_inputs(logits, targets, self.log_prior.numel())
        adjusted = logits.float() + self.tau * self.log_prior
        return F.cross_entropy(adjusted, targets, reduction="none").mean() if len(targets) else adjusted.sum()


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss (Cao et al., 2019).

    ``CE(s * (z - m_y e_y), y)`` weighted per class: the true-class logit is
    lowered by the class margin ``m_y`` before scaling by ``s``. The class
    weights start at 1 and are switched by :meth:`set_class_weight` (deferred
    re-weighting).

    Args:
        margins: one margin per class.
        scale: the factor ``s``.
    """

    margins: Tensor
    class_weight: Tensor

    def __init__(self, margins: VectorLike, scale: float = 30.0) -> None:
        super().__init__()
        self.scale = float(scale)
        margin_vector = torch.as_tensor(margins, dtype=torch.float32).detach().clone().reshape(-1)
        self.register_buffer("margins", margin_vector, persistent=False)
        self.register_buffer("class_weight", torch.ones_like(margin_vector), persistent=False)

    def set_class_weight(self, weight: VectorLike | None) -> None:
        """Use ``weight`` per class from now on (None: all ones)."""
        new = torch.ones_like(self.class_weight)
        if weight is not None:
            new = torch.as_tensor(weight, dtype=torch.float32).reshape(-1)
        if new.shape != self.class_weight.shape:
            raise ValueError(f"expected {self.class_weight.numel()} class weights, got {new.numel()}.")
        self.class_weight.copy_(new.to(self.class_weight.device))

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_inputs(logits, targets, self.margins.numel())
        shifted = logits.float() - F.one_hot(targets, logits.shape[1]) * self.margins[targets][:, None]
        per_sample = F.cross_entropy(self.scale * shifted, targets, reduction="none")
        return _weighted_mean(per_sample, targets, self.class_weight)
