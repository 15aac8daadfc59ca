"""Augmentation presets named by modality, applied on tensors with a generator.

Every preset takes float images in [0, 1], (C,H,W) or (B,C,H,W), and a CPU
``torch.Generator``, and returns a tensor of the same shape and dtype in [0, 1];
each image of a batch gets its own draws. The same generator state gives the
same output. In a DataLoader, give each worker its own generator with
:func:`create_generator` (and ``worker_init_fn=seed_worker`` for NumPy/random).

Example:
    >>> import torch
    >>> augment = create_augmentation("mammography", rotation_deg=5.0)
    >>> generator = create_generator(seed=0)
    >>> batch = augment(torch.rand(4, 1, 32, 32), generator)
    >>> tuple(batch.shape)
    (4, 1, 32, 32)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torchvision.transforms.v2.functional as F

from medbalance.config import parse_config
from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.registry import Registry
from medbalance.training._augment_ops import (
    affine,
    chance,
    check_images,
    inpaint_patch,
    over_samples,
    uniform,
)

__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "DermoscopyAugmentation",
    "MammographyAugmentation",
    "NoAugmentation",
    "augmentation_seed",
    "create_augmentation",
    "create_generator",
    "seed_worker",
]

AUGMENTATIONS: Registry[type[Any]] = Registry("augmentation preset")


class Augmentation(Protocol):
    """What the engine calls: ``augment(images, generator) -> images``."""

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_order(name: str, value: tuple[float, float]) -> None:
    _check(value[0] <= value[1], f"{name} must be (min, max) with min <= max, got {value}. Fix: swap them.")


@AUGMENTATIONS.register("none", description="identity: images pass unchanged")
@dataclass(frozen=True)
class NoAugmentation:
    """Identity: returns the (checked) images unchanged."""

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_images(images, generator)
        return images


@AUGMENTATIONS.register(
    "mammography",
    description="Walsh & Tardy (2023): vertical flip, rotation ±10°, translation, zoom, patch in-painting",
)
@dataclass(frozen=True)
class MammographyAugmentation:
    """Walsh & Tardy (2023) augmentation, with flips consistent with laterality.

    Images are oriented chest wall on the left (medbalance flips right breasts),
    so only the vertical flip is on by default: a horizontal flip would move the
    chest wall to the right. Rotation and zoom act about the image centre;
    uncovered pixels are background (0).

    Attributes:
        vertical_flip: probability of an up-down flip.
        horizontal_flip: probability of a left-right flip; leave 0 for oriented images.
        rotation_deg: rotation drawn from [-rotation_deg, rotation_deg].
        translate: shift per axis, as a fraction of the side (100 px at 2048 px).
        zoom: scale factor range.
        inpaint_p: probability of in-painting one random patch.
        inpaint_size: patch side range, as a fraction of the image side.
        inpaint_fill: fill the patch with the mean of its surroundings, or noise of
            their mean and standard deviation.
    """

    vertical_flip: float = option(0.5, ge=0.0, le=1.0, fix="give a probability in [0, 1].")
    horizontal_flip: float = option(0.0, ge=0.0, le=1.0, fix="give a probability in [0, 1].")
    rotation_deg: float = option(10.0, ge=0.0, le=180.0)
    translate: float = option(100 / 2048, ge=0.0, lt=0.5, fix="give a fraction of the side in [0, 0.5).")
    zoom: tuple[float, float] = option((0.9, 1.1), ge=0.5, le=2.0)
    inpaint_p: float = option(0.5, ge=0.0, le=1.0, fix="give a probability in [0, 1].")
    inpaint_size: tuple[float, float] = option((0.05, 0.15), ge=0.0, le=1.0)
    inpaint_fill: Literal["mean", "noise"] = "mean"

    def __post_init__(self) -> None:
        check_constraints(self)
        _check_order("zoom", self.zoom)
        _check_order("inpaint_size", self.inpaint_size)
        _check(
            self.inpaint_fill in ("mean", "noise"),
            f"inpaint_fill must be 'mean' or 'noise', got {self.inpaint_fill!r}.",
        )

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_images(images, generator)
        return over_samples(images, generator, self._one)

    def _one(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if chance(generator, self.vertical_flip):
            image = image.flip(-2)
        if chance(generator, self.horizontal_flip):
            image = image.flip(-1)
        height, width = image.shape[-2:]
        angle = uniform(generator, -self.rotation_deg, self.rotation_deg)
        shift = (
            uniform(generator, -1, 1) * self.translate * width,
            uniform(generator, -1, 1) * self.translate * height,
        )
        scale = uniform(generator, *self.zoom)
        image = affine(image, angle=angle, translate=shift, scale=scale, fill=[0.0] * image.shape[0])
        if chance(generator, self.inpaint_p):
            image = inpaint_patch(image, generator, size=self.inpaint_size, fill=self.inpaint_fill)
        return image


@AUGMENTATIONS.register(
    "dermoscopy",
    description="morphology-faithful: flips, 90° rotations, scale 0.9-1.1, colour within ±10% (hue ±0.02)",
)
@dataclass(frozen=True)
class DermoscopyAugmentation:
    """Morphology-faithful dermoscopy augmentation.

    Flips on both axes and 90° rotations (a lesion has no preferred orientation;
    odd quarter turns only on square images, so the shape is kept), a small
    isotropic scale change, and colour changes held to realistic dermoscopy
    ranges. No shear, elastic or perspective warps: they change the border shape
    and asymmetry that the diagnosis reads. Colour limits are capped (brightness,
    contrast, saturation at 0.25, hue at 0.05) because larger shifts alter colour
    cues such as blue-white veil.

    Attributes:
        horizontal_flip: probability of a left-right flip.
        vertical_flip: probability of an up-down flip.
        rotate90: rotate by a random multiple of 90°.
        scale: isotropic scale factor range; uncovered pixels take the border mean.
        brightness: factor drawn from [1 - b, 1 + b]; contrast and saturation alike.
        contrast: see brightness.
        saturation: see brightness (RGB only).
        hue: hue shift drawn from [-hue, hue] (RGB only).
    """

    horizontal_flip: float = option(0.5, ge=0.0, le=1.0, fix="give a probability in [0, 1].")
    vertical_flip: float = option(0.5, ge=0.0, le=1.0, fix="give a probability in [0, 1].")
    rotate90: bool = True
    scale: tuple[float, float] = option((0.9, 1.1), ge=0.75, le=1.25)
    brightness: float = option(
        0.1, ge=0.0, le=0.25, fix="give a value in [0, 0.25] (realistic dermoscopy colour)."
    )
    contrast: float = option(
        0.1, ge=0.0, le=0.25, fix="give a value in [0, 0.25] (realistic dermoscopy colour)."
    )
    saturation: float = option(
        0.1, ge=0.0, le=0.25, fix="give a value in [0, 0.25] (realistic dermoscopy colour)."
    )
    hue: float = option(0.02, ge=0.0, le=0.05, fix="give a value in [0, 0.05] (realistic dermoscopy colour).")

    def __post_init__(self) -> None:
        check_constraints(self)
        _check_order("scale", self.scale)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_images(images, generator)
        return over_samples(images, generator, self._one)

    def _one(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if chance(generator, self.horizontal_flip):
            image = image.flip(-1)
        if chance(generator, self.vertical_flip):
            image = image.flip(-2)
        if self.rotate90:
            turns = int(torch.randint(0, 4, (), generator=generator))
            square = image.shape[-1] == image.shape[-2]
            image = torch.rot90(image, turns if square else 2 * (turns % 2), dims=(-2, -1))
        border = torch.cat([image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]], dim=1)
        scale = uniform(generator, *self.scale)
        image = affine(image, angle=0.0, translate=(0.0, 0.0), scale=scale, fill=border.mean(dim=1).tolist())
        image = F.adjust_brightness(image, uniform(generator, 1 - self.brightness, 1 + self.brightness))
        image = F.adjust_contrast(image, uniform(generator, 1 - self.contrast, 1 + self.contrast))
        saturation = uniform(generator, 1 - self.saturation, 1 + self.saturation)
        hue = uniform(generator, -self.hue, self.hue)
        if image.shape[0] == 3:
            image = F.adjust_hue(F.adjust_saturation(image, saturation), hue)
        return image


def create_augmentation(name: str, **params: Any) -> Augmentation:
    """Build a preset by name; unknown parameters are errors with "did you mean".

    Raises:
        ConfigError: unknown preset, unknown parameter or a value out of range.
    """
    cls = AUGMENTATIONS.get(name)
    preset: Augmentation = parse_config(cls, params, where=f"augmentation {name!r}")
    return preset


def create_generator(seed: int) -> torch.Generator:
    """A CPU generator for augmentation in the calling process.

    In a DataLoader worker it is seeded from ``seed`` and the worker's own seed
    (distinct per worker and per epoch, and reproducible when the DataLoader
    has a seeded ``generator``); in the main process from ``seed`` alone.
    """
    info = torch.utils.data.get_worker_info()
    entropy = [int(seed)] if info is None else [int(seed), int(info.seed) % 2**63]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) % 2**63)


def augmentation_seed(seed: int, epoch: int, worker: int = -1, rank: int = 0) -> int:
    """The seed of one training process's augmentation draws in one epoch.

    Derived from (seed, epoch, DataLoader worker, DDP rank) only, so a resumed run draws
    what an uninterrupted one would, and each DDP rank draws its own augmentations
    (the same seed on every rank would flip or rotate all ranks' images alike).
    Rank 0 keeps the single-process value, so single-device runs are unchanged.

    Args:
        seed: the run's seed.
        epoch: the epoch (0-based).
        worker: the DataLoader worker id, -1 in the main process.
        rank: the global DDP rank.
    """
    entropy = [int(seed), int(epoch), int(worker) + 1]
    if rank:
        entropy.append(int(rank))
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state) % 2**63


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed NumPy and ``random`` in a worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
