"""Tensor operations behind the augmentation presets; every random draw uses the given generator."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision.transforms.v2.functional as F
from torchvision.transforms import InterpolationMode

__all__ = ["affine", "chance", "check_images", "inpaint_patch", "over_samples", "uniform"]


def uniform(generator: torch.Generator, low: float, high: float) -> float:
    """One float drawn uniformly from [low, high]."""
    return low + (high - low) * float(torch.rand((), generator=generator))


def chance(generator: torch.Generator, p: float) -> bool:
    """True with probability ``p`` (always draws, so the stream does not depend on ``p``)."""
    return float(torch.rand((), generator=generator)) < p


def check_images(images: torch.Tensor, generator: torch.Generator) -> None:
    """Refuse anything but float (C,H,W) / (B,C,H,W) tensors in [0, 1] and a CPU generator."""
    if not isinstance(images, torch.Tensor) or images.ndim not in (3, 4):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"augmentation expects a tensor (C,H,W) or (B,C,H,W), got {shape}.")
    if not images.is_floating_point():
        raise ValueError(
            f"augmentation expects float images in [0, 1], got dtype {images.dtype}; preprocess first."
        )
    if images.numel() and (float(images.min()) < -1e-4 or float(images.max()) > 1 + 1e-4):
        raise ValueError(
            f"augmentation expects values in [0, 1], got [{float(images.min()):.3g}, "
            f"{float(images.max()):.3g}]; augment before normalising with a mean and std."
        )
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError("augmentation needs a CPU torch.Generator (see create_generator).")


def over_samples(
    images: torch.Tensor,
    generator: torch.Generator,
    one: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
) -> torch.Tensor:
    """Apply ``one`` to every (C,H,W) image of a batch with its own draws; keep shape and dtype."""
    batch = images.unsqueeze(0) if images.ndim == 3 else images
    out = torch.stack([one(image, generator) for image in batch]).clamp_(0.0, 1.0).to(images.dtype)
    return out[0] if images.ndim == 3 else out


def affine(
    image: torch.Tensor, *, angle: float, translate: tuple[float, float], scale: float, fill: list[float]
) -> torch.Tensor:
    """Rotate (degrees), translate (pixels, x then y) and scale about the centre; no shear.

    Uncovered pixels take ``fill`` (one value per channel). The fill is subtracted
    before and added after a zero-filled warp, because torchvision's own fill
    leaves a darker one-pixel seam at the edge of the warped image.
    """
    offset = torch.tensor(fill, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    warped = F.affine(
        image - offset,
        angle=angle,
        translate=[translate[0], translate[1]],
        scale=scale,
        shear=[0.0, 0.0],
        interpolation=InterpolationMode.BILINEAR,
        fill=0.0,
    )
    return warped + offset


def inpaint_patch(
    image: torch.Tensor, generator: torch.Generator, *, size: tuple[float, float], fill: str
) -> torch.Tensor:
    """Replace a random rectangle by its surroundings' mean (``"mean"``) or noise of that mean and std.

    The rectangle's sides are fractions of the image side drawn from ``size``;
    its surroundings are a frame half its size wide around it.
    """
    _, height, width = image.shape
    h = max(1, round(uniform(generator, *size) * height))
    w = max(1, round(uniform(generator, *size) * width))
    top = int(torch.randint(0, height - h + 1, (), generator=generator))
    left = int(torch.randint(0, width - w + 1, (), generator=generator))
    t0, l0 = max(0, top - h // 2), max(0, left - w // 2)
    t1, l1 = min(height, top + h + h // 2), min(width, left + w + w // 2)
    frame = torch.ones(t1 - t0, l1 - l0, dtype=torch.bool, device=image.device)
    frame[top - t0 : top - t0 + h, left - l0 : left - l0 + w] = False
    around = image[:, t0:t1, l0:l1][:, frame]
    if around.shape[1] == 0:  # the patch covers the whole image
        around = image.reshape(image.shape[0], -1)
    mean = around.mean(dim=1).view(-1, 1, 1)
    out = image.clone()
    if fill == "noise":
        noise = torch.randn((image.shape[0], h, w), generator=generator).to(image.device, image.dtype)
        std = around.std(dim=1, correction=0).view(-1, 1, 1)
        out[:, top : top + h, left : left + w] = mean + std * noise
    else:
        out[:, top : top + h, left : left + w] = mean
    return out
