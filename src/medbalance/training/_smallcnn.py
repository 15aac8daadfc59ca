"""``small-cnn``: a fast CPU network for tests, demos and quick checks."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from medbalance.training._base import ClassifierNet

__all__ = ["SmallCNN"]

_WIDTHS = (16, 32, 64, 128)


def _conv_bn_relu(in_chs: int, out_chs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_chs),
        nn.ReLU(inplace=True),
    )


class SmallCNN(ClassifierNet):
    """Four stride-2 conv-BN-ReLU stages (16-32-64-128 filters), global pooling, linear head.

    About 98k parameters with one input channel; works from 16 px up (a 32 px
    image ends as a 2x2 feature map, 512 px as 32x32).

    Args:
        num_classes: outputs of the classifier (0: none, ``forward`` returns pooled features).
        in_chans: image channels, 1 (grey) or 3 (RGB).
        drop_rate: dropout before the classifier.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, drop_rate: float = 0.0) -> None:
        super().__init__()
        chans = (in_chans, *_WIDTHS)
        self.stages = nn.Sequential(*(_conv_bn_relu(a, b) for a, b in itertools.pairwise(chans)))
        self.feature_info = [
            {"num_chs": w, "reduction": 2 ** (i + 1), "module": f"stages.{i}"} for i, w in enumerate(_WIDTHS)
        ]
        self.pretrained_cfg = {"first_conv": "stages.0.0", "classifier": "fc", "architecture": "small-cnn"}
        self._init_head(_WIDTHS[-1], num_classes, drop_rate)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map (B, 128, H/16, W/16)."""
        return self.stages(x)
