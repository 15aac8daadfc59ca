"""Images of one split of a manifest, as tensors, through the preprocessing cache.

Each item is ``(image, label, index, spacing_mm)``: the preprocessed image
(C, H, W) float32 (augmented for training, then normalised with the training
split's mean/std), its class index, its row index in the split, and the pixel
spacing of the preprocessed image in mm (NaN when the manifest has none).

Training batches come from the strategy's batch sampler (seeded, ``set_epoch``,
DDP-sharded by the strategy itself: the Trainer runs with
``use_distributed_sampler=False``), so a balanced sampler is never replaced by
Lightning's ``DistributedSampler``.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from medbalance.data.cache import PreprocessCache
    >>> from medbalance.data.preprocess import PreprocessConfig
    >>> from medbalance.data.splits import split_manifest
    >>> from medbalance.strategies import create_strategy
    >>> from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
    >>> folder = Path(tempfile.mkdtemp())
    >>> manifest = generate_phantoms(PhantomConfig(n_patients=8, prevalence=0.25, size=32), out_dir=folder / "ph").manifest
    >>> manifest = split_manifest(manifest, fractions=(0.5, 0.5, 0.0), seed=0)
    >>> cache = PreprocessCache(folder / "cache", PreprocessConfig(size=32))
    >>> train, val = (ManifestDataset(manifest.subset(s), cache) for s in ("train", "val"))
    >>> strategy = create_strategy("oversample").fit(train.labels, 2, seed=0)
    >>> data = ImageDataModule(train=train, val=val, strategy=strategy, batch_size=4)
    >>> image, label, index, spacing = train[0]
    >>> tuple(image.shape), int(label) in (0, 1)
    ((1, 32, 32), True)
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import Manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.strategies import Strategy, create_batch_sampler
from medbalance.training.augment import augmentation_seed, seed_worker

__all__ = [
    "ImageDataModule",
    "ManifestDataset",
    "Normalization",
    "create_eval_loader",
    "create_train_loader",
    "set_loader_epoch",
]

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class Normalization:
    """Per-channel ``(x - mean) / std`` for (C, H, W) or (B, C, H, W) tensors: the run's one owner
    of normalisation.

    It is made once per run, by one of the constructors below, and travels with the run:
    :meth:`record` goes to ``summary.json`` (``normalization``) and :meth:`stored_in` puts
    the values into the run's ``PreprocessConfig`` *after* the cache key was taken, so the
    cache (un-normalised arrays) is shared by runs with other statistics. Training applies
    it in the dataset, or in the task for strategies with a ``batch`` hook (lesions are
    inserted into [0, 1] images first); the benchmark's out-of-distribution predictions
    rebuild it with :meth:`from_preprocessing`; a model bundle carries the same values
    (``normalisation``) into ``predict``.

    Args:
        mean: one value per channel.
        std: one value per channel, all > 0.
        source: where the values come from: ``training split`` or ``pretrained_cfg``.

    >>> norm = Normalization((0.5,), (0.25,))
    >>> norm(torch.ones(1, 2, 2)).flatten().tolist(), norm.record()["source"]
    ([2.0, 2.0, 2.0, 2.0], 'training split')
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], *, source: str = "training split") -> None:
        if len(mean) != len(std) or not all(s > 0 for s in std):
            raise ValueError(f"mean and std need one value per channel and std > 0, got {mean}, {std}.")
        self.values = (tuple(float(m) for m in mean), tuple(float(s) for s in std))
        self.source = source
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    @classmethod
    def from_training_split(cls, cache: PreprocessCache, manifest: Manifest) -> Normalization:
        """Mean/std over every pixel of the training split's preprocessed images (streamed)."""
        from medbalance.data.preprocess import compute_normalisation_stats

        mean, std = compute_normalisation_stats(cache.iter_arrays(manifest.subset("train")))
        return cls(mean, std, source="training split")

    @classmethod
    def from_pretrained(cls, model: torch.nn.Module, channels: int) -> Normalization | None:
        """The mean/std the model's pretrained weights expect (timm's ``pretrained_cfg``), if declared."""
        from medbalance.training.models import pretrained_normalization

        stats = pretrained_normalization(model, channels)
        return None if stats is None else cls(*stats, source="pretrained_cfg")

    @classmethod
    def from_preprocessing(cls, preprocessing: PreprocessConfig) -> Normalization | None:
        """The values a run stored in its ``PreprocessConfig`` (None when it did not normalise)."""
        if preprocessing.mean is None or preprocessing.std is None:
            return None
        return cls(tuple(preprocessing.mean), tuple(preprocessing.std), source="stored")

    def stored_in(self, preprocessing: PreprocessConfig) -> PreprocessConfig:
        """``preprocessing`` with these values (beside the cache key, which was taken without them)."""
        return dataclasses.replace(preprocessing, mean=self.values[0], std=self.values[1])

    def record(self) -> dict[str, object]:
        """JSON for ``summary.json``: source, mean, std."""
        return {"source": self.source, "mean": list(self.values[0]), "std": list(self.values[1])}

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(images.device, images.dtype)
        std = self.std.to(images.device, images.dtype)
        return (images - mean) / std


def _spacings(manifest: Manifest) -> np.ndarray:
    values = []
    for text in manifest.table["pixel_spacing_mm"]:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        values.append(value if math.isfinite(value) and value > 0 else math.nan)
    return np.asarray(values, dtype=np.float64)


class ManifestDataset(Dataset[Batch]):
    """The images of a manifest (usually one split), read through a :class:`PreprocessCache`.

    Args:
        manifest: the rows to serve, in order.
        cache: where preprocessed arrays are read from (computed on a miss).
        normalization: applied after augmentation; None leaves images in [0, 1]
            (a strategy that edits batches, e.g. synthetic lesions, needs that;
            the task then normalises after editing).
        augmentation: ``augment(image, generator)`` for training; None for evaluation.
        seed: with the epoch, the worker id and the DDP rank, seeds the augmentation draws
            (:func:`~medbalance.training.augment.augmentation_seed`).

    Raises:
        DataError: a label is not in the manifest's class list.
    """

    def __init__(
        self,
        manifest: Manifest,
        cache: PreprocessCache,
        *,
        normalization: Normalization | None = None,
        augmentation: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        seed: int = 0,
    ) -> None:
        self.manifest = manifest
        self.cache = cache
        self.paths = manifest.paths()
        self.labels = manifest.label_indices()
        self.spacings = _spacings(manifest)
        self.normalization = normalization
        self.augmentation = augmentation
        self.seed = int(seed)
        self.epoch = 0
        self.rank = 0
        self._generator_key: tuple[int, int, int, int] | None = None
        self._generator: torch.Generator | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation draws the next items use."""
        self.epoch = int(epoch)

    def set_rank(self, rank: int) -> None:
        """Select the DDP rank whose augmentation draws the next items use."""
        self.rank = int(rank)

    def _augmentation_generator(self) -> torch.Generator:
        info = torch.utils.data.get_worker_info()
        worker = -1 if info is None else info.id
        key = (os.getpid(), self.epoch, worker, self.rank)
        if self._generator is None or self._generator_key != key:
            seed = augmentation_seed(self.seed, self.epoch, worker, self.rank)
            self._generator = torch.Generator().manual_seed(seed)
            self._generator_key = key
        return self._generator

    def __getitem__(self, index: int) -> Batch:
        array, info = self.cache.get_with_info(self.paths[index])
        image = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if self.augmentation is not None:
            image = self.augmentation(image, self._augmentation_generator())
        if self.normalization is not None:
            image = self.normalization(image)
        spacing = self.spacings[index]
        effective = spacing / info.scale if math.isfinite(spacing) and info.scale > 0 else math.nan
        return (
            image,
            torch.tensor(int(self.labels[index]), dtype=torch.long),
            torch.tensor(index, dtype=torch.long),
            torch.tensor(effective, dtype=torch.float32),
        )


def create_train_loader(
    dataset: ManifestDataset,
    strategy: Strategy,
    *,
    batch_size: int,
    num_workers: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
) -> DataLoader[Batch]:
    """A DataLoader over the strategy's batch sampler (seeded, DDP-sharded).

    The short last batch is dropped when at least one full batch remains
    (BatchNorm cannot train on a batch of one).
    """
    sampler = create_batch_sampler(strategy, batch_size, num_replicas=num_replicas, rank=rank, drop_last=True)
    if len(sampler) == 0:  # type: ignore[arg-type]
        sampler = create_batch_sampler(
            strategy, batch_size, num_replicas=num_replicas, rank=rank, drop_last=False
        )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=seed_worker if num_workers else None,
        pin_memory=pin_memory,
    )


def create_eval_loader(
    dataset: ManifestDataset, *, batch_size: int, num_workers: int = 0, pin_memory: bool = False
) -> DataLoader[Batch]:
    """Every item once, in order (no augmentation is applied by an eval dataset)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        worker_init_fn=seed_worker if num_workers else None,
        pin_memory=pin_memory,
    )


def set_loader_epoch(loader: DataLoader[Any], epoch: int) -> None:
    """Point a training loader's batch sampler and dataset at ``epoch``."""
    for target in (loader.batch_sampler, loader.dataset):
        setter = getattr(target, "set_epoch", None)
        if callable(setter):
            setter(epoch)


class ImageDataModule(pl.LightningDataModule):
    """Train and validation loaders for a Lightning Trainer.

    Args:
        train: the training dataset (with augmentation).
        val: the validation dataset (natural prevalence, no augmentation).
        strategy: the fitted strategy whose batch sampler builds training batches.
        batch_size: images per batch per device.
        num_workers: DataLoader workers.
        pin_memory: pin host memory (GPU runs).
    """

    def __init__(
        self,
        *,
        train: ManifestDataset,
        val: ManifestDataset,
        strategy: Strategy,
        batch_size: int,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.train_set, self.val_set = train, val
        self.strategy = strategy
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.train_loader: DataLoader[Batch] | None = None

    def train_dataloader(self) -> DataLoader[Batch]:
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        self.train_set.set_rank(rank)  # per-rank augmentation draws
        loader = create_train_loader(
            self.train_set,
            self.strategy,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            num_replicas=replicas,
            rank=rank,
            pin_memory=self.pin_memory,
        )
        # Lightning fetches the first batch before on_train_epoch_start; a resumed run starts mid-way.
        set_loader_epoch(loader, trainer.current_epoch if trainer is not None else 0)
        self.train_loader = loader
        return loader

    def val_dataloader(self) -> DataLoader[Batch]:
        return create_eval_loader(
            self.val_set, batch_size=self.batch_size, num_workers=self.num_workers, pin_memory=self.pin_memory
        )
