"""The classifier API medbalance's own networks share with timm models.

The engine treats every model alike: ``forward_features`` -> ``forward_head``,
``get_classifier()`` / ``reset_classifier(n)``, ``feature_info`` (one entry per
stage, last entry = the "last block") and ``pretrained_cfg["first_conv"]``
(the input convolution that local weights adapt from RGB to grey).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ClassifierNet"]


#: Global pooling names (timm's): "avg" averages the feature map; "avgmax" is the mean of
#: its average and its maximum, which keeps a small, local finding from being diluted by
#: the rest of the image (a 6 x 6 bright patch in a 128 px image is 1/450 of its area).
POOLS = ("avg", "avgmax")


class _AvgMaxPool(nn.Module):
    """0.5 x (global average + global maximum), keeping (B, C, 1, 1) like AdaptiveAvgPool2d(1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x.mean(dim=(2, 3), keepdim=True) + x.amax(dim=(2, 3), keepdim=True))


def _make_pool(name: str) -> nn.Module:
    if name not in POOLS:
        raise ValueError(f"global_pool must be one of {', '.join(POOLS)}, got {name!r}.")
    return nn.AdaptiveAvgPool2d(1) if name == "avg" else _AvgMaxPool()


class ClassifierNet(nn.Module):
    """Base of medbalance's own networks: features, global pool, dropout, linear.

    Subclasses build their feature layers, then call :meth:`_init_head`.
    """

    num_classes: int
    num_features: int
    drop_rate: float
    feature_info: list[dict[str, Any]]
    pretrained_cfg: dict[str, Any]

    def _init_head(
        self, num_features: int, num_classes: int, drop_rate: float, global_pool: str = "avg"
    ) -> None:
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0 removes the classifier), got {num_classes}.")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}.")
        self.num_features = num_features
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.global_pool = _make_pool(global_pool)
        self.head_drop = nn.Dropout(drop_rate)
        self.fc: nn.Module = nn.Linear(num_features, num_classes) if num_classes > 0 else nn.Identity()

    def get_classifier(self) -> nn.Module:
        """The final linear layer (``nn.Identity`` when ``num_classes`` is 0)."""
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier with a freshly initialised one for ``num_classes`` outputs.

        Args:
            num_classes: new number of outputs; 0 removes the classifier.
            global_pool: "avg" or "avgmax" replaces the pooling (timm's names); None keeps it.
        """
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}.")
        if global_pool is not None:
            self.global_pool = _make_pool(global_pool)
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map (B, num_features, h, w) before pooling."""
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, drop out and classify a feature map; ``pre_logits`` stops before the linear layer."""
        x = self.head_drop(torch.flatten(self.global_pool(x), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) of a batch (B, in_chans, H, W)."""
        return self.forward_head(self.forward_features(x))
