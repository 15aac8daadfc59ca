"""Classifier heads: the plain linear layer, or a normalised (cosine) one for margin losses.

LDAM (Cao et al. 2019) pairs its margins and the scale ``s`` with a classifier whose
logits are cosines between the L2-normalised features and the L2-normalised class
weights (their ``NormedLinear``); the loss then scales ``cos - margin`` by ``s``, so the
logits a softmax sees are bounded by ``s``. :func:`use_cosine_classifier` swaps a model's
final ``nn.Linear`` (``model.get_classifier()``) for :class:`CosineClassifier`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from medbalance.errors import ConfigError

__all__ = ["HEADS", "CosineClassifier", "Head", "use_cosine_classifier"]

Head = Literal["linear", "cosine"]
HEADS: tuple[Head, ...] = ("linear", "cosine")


class CosineClassifier(nn.Module):
    """``cos(x, w_c)`` for each class ``c``: logits in [-1, 1], no bias.

    Args:
        in_features: feature size.
        out_features: number of classes.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        # LDAM's NormedLinear initialisation: unit-norm rows, uniformly oriented
        nn.init.uniform_(self.weight, -1.0, 1.0)
        with torch.no_grad():
            self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def use_cosine_classifier(model: nn.Module) -> nn.Module:
    """Replace ``model.get_classifier()`` (an ``nn.Linear``) with a :class:`CosineClassifier`, in place.

    Raises:
        ConfigError: the model has no ``get_classifier`` or its classifier is not one linear layer.
    """
    getter = getattr(model, "get_classifier", None)
    head = getter() if callable(getter) else None
    if isinstance(head, CosineClassifier):
        return model
    if not isinstance(head, nn.Linear):
        raise ConfigError(
            f"a cosine classifier needs a model whose get_classifier() is one nn.Linear; "
            f"{type(model).__name__} has {type(head).__name__}. Use another model or strategy."
        )
    name = next(n for n, m in model.named_modules() if m is head)
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    cosine = CosineClassifier(head.in_features, head.out_features).to(head.weight.device)
    setattr(parent, attr, cosine)
    return model
