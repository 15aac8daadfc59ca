"""``resnet22``: the ResNet-22 style network of Walsh & Tardy (2023), trained from scratch.

Layer count (weight layers, counted as He et al. count ResNet-18: projection
shortcuts excluded, a depthwise-separable convolution counted once, as in
Xception): 1 stem convolution + 5 stages x 2 residual blocks x 2 separable
convolutions + 1 linear classifier = 22.
"""

from __future__ import annotations

import torch
from torch import nn

from medbalance.training._base import ClassifierNet

__all__ = ["MIN_INPUT_SIZE", "WIDTHS", "ResNet22", "SeparableConv2d"]

WIDTHS = (16, 32, 64, 128, 256)
_STRIDES = (1, 2, 2, 2, 2)
# stem /2 then four stride-2 stages: /32 overall; instance norm needs > 1 pixel per map.
MIN_INPUT_SIZE = 64


class SeparableConv2d(nn.Sequential):
    """A 3x3 depthwise convolution followed by a 1x1 pointwise one (one "layer")."""

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_chs, in_chs, 3, stride=stride, padding=1, groups=in_chs, bias=False),
            nn.Conv2d(in_chs, out_chs, 1, bias=False),
        )


class _ResidualBlock(nn.Module):
    """sepconv-IN-ReLU-sepconv-IN plus a (projected) shortcut, then ReLU."""

    def __init__(self, in_chs: int, out_chs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = SeparableConv2d(in_chs, out_chs, stride)
        self.norm1 = nn.InstanceNorm2d(out_chs, affine=True)
        self.conv2 = SeparableConv2d(out_chs, out_chs)
        self.norm2 = nn.InstanceNorm2d(out_chs, affine=True)
        self.act = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_chs != out_chs:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_chs, out_chs, 1, stride=stride, bias=False),
                nn.InstanceNorm2d(out_chs, affine=True),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.act(out + self.shortcut(x))


class ResNet22(ClassifierNet):
    """Five residual stages (16-32-64-128-256 filters), separable convolutions, instance norm.

    About 0.37M parameters (one input channel, two classes). Inputs must be at least 64 px on each side
    (Walsh & Tardy (2023) use 2048 px mammograms).

    Args:
        num_classes: outputs of the classifier (0: none).
        in_chans: image channels, 1 (grey) or 3 (RGB).
        drop_rate: dropout before the classifier.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, WIDTHS[0], 3, stride=2, padding=1, bias=False),
            nn.InstanceNorm2d(WIDTHS[0], affine=True),
            nn.ReLU(inplace=True),
        )
        stages = []
        in_chs = WIDTHS[0]
        for width, stride in zip(WIDTHS, _STRIDES, strict=True):
            stages.append(
                nn.Sequential(_ResidualBlock(in_chs, width, stride), _ResidualBlock(width, width, 1))
            )
            in_chs = width
        self.stages = nn.Sequential(*stages)
        reductions = [2 * s for s in (1, 2, 4, 8, 16)]
        self.feature_info = [
            {"num_chs": w, "reduction": r, "module": f"stages.{i}"}
            for i, (w, r) in enumerate(zip(WIDTHS, reductions, strict=True))
        ]
        self.pretrained_cfg = {"first_conv": "stem.0", "classifier": "fc", "architecture": "resnet22"}
        self._init_head(WIDTHS[-1], num_classes, drop_rate)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map (B, 256, H/32, W/32).

        Raises:
            ValueError: if the image is smaller than 64 px on a side.
        """
        if x.ndim != 4 or min(x.shape[-2:]) < MIN_INPUT_SIZE:
            raise ValueError(
                f"resnet22 expects a batch (B, C, H, W) with H and W >= {MIN_INPUT_SIZE} px, got shape "
                f"{tuple(x.shape)}; use a larger preprocessing size or the 'small-cnn' model."
            )
        return self.stages(self.stem(x))
