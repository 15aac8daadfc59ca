"""The network of a bundle: model + normalisation + the strategy's post-hoc logit map (private)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from medbalance.errors import DataError

__all__ = ["BundleNetwork", "compute_logit_map", "find_embedding_layer", "find_last_conv"]


class BundleNetwork(nn.Module):
    """[0, 1] images (B, C, H, W) -> adjusted logits, exactly as the run computed them.

    ``adjusted = scale * model((x - mean) / std) + offset``; softmax of it gives the
    probabilities written to the run's predictions files.
    """

    def __init__(
        self, model: nn.Module, *, mean: Sequence[float] | None, std: Sequence[float] | None,
        scale: Sequence[float], offset: Sequence[float],
    ) -> None:  # fmt: skip
        super().__init__()
        self.model = model
        self.normalize = mean is not None and std is not None
        self.register_buffer("mean", torch.tensor(list(mean or [0.0]), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std or [1.0]), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("scale", torch.tensor(list(scale), dtype=torch.float32))
        self.register_buffer("offset", torch.tensor(list(offset), dtype=torch.float32))

    mean: torch.Tensor
    std: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std if self.normalize else images
        return self.model(x).float() * self.scale + self.offset


class ProbabilityNetwork(nn.Module):
    """Softmax probabilities of a :class:`BundleNetwork` (the graph exported to ONNX)."""

    def __init__(self, network: BundleNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.network(images), dim=1)


def compute_logit_map(
    config: Mapping[str, Any], classes: Sequence[str], class_counts: Mapping[str, int], positive: str | None
) -> tuple[list[float], list[float]]:
    """The strategy's post-hoc logit adjustment as per-class ``scale`` and ``offset``.

    The strategy is rebuilt from ``config.yaml`` (its sections nested, as
    :class:`~medbalance.inference._run_record.RunRecord` holds it) and refitted on the training class
    counts (what it was fitted on), then probed: every medbalance post-hoc adjustment
    is affine per class (logit adjustment subtracts ``tau * log prior``; LDAM scales).

    Raises:
        DataError: the adjustment is not affine per class (a strategy this export does not know).
    """
    from medbalance.strategies import create_strategy

    balancing = config.get("balancing") or {}
    strategy = create_strategy(
        str(config.get("strategy", "none")), allow_double_balancing=bool(balancing.get("allow_double_balancing", False)),
        **dict(balancing.get("strategy_params") or {}),
    )  # fmt: skip
    labels = np.concatenate([np.full(int(class_counts.get(c, 0)), i) for i, c in enumerate(classes)])
    strategy.fit(
        labels, len(classes), seed=int(config.get("seed", 0)),
        positive_index=classes.index(positive) if positive in classes else None, class_names=list(classes),
    )  # fmt: skip
    k = len(classes)
    with torch.no_grad():
        offset = strategy.adjust_logits(torch.zeros(1, k)).float()[0]
        scale = strategy.adjust_logits(torch.ones(1, k)).float()[0] - offset
        probe = torch.randn(16, k, generator=torch.Generator().manual_seed(0)) * 5
        if not torch.allclose(strategy.adjust_logits(probe).float(), probe * scale + offset, atol=1e-5):
            raise DataError(
                f"strategy {config.get('strategy')!r} adjusts logits in a way a bundle cannot store "
                "(not a per-class scale and offset); export a run trained without it."
            )
    return scale.tolist(), offset.tolist()


def find_last_conv(model: nn.Module) -> nn.Module:
    """The last 2-D convolution of ``model`` in registration order (Grad-CAM's target layer).

    Raises:
        ValueError: the model has no convolution.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer; Grad-CAM needs a convolutional model.")
    return convs[-1]


def find_embedding_layer(model: nn.Module) -> nn.Module:
    """The last linear layer; its input is the image embedding (t-SNE).

    Raises:
        ValueError: the model has no linear layer.
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear classifier; cannot read embeddings.")
    return linears[-1]
