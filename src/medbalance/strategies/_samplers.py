"""The batch samplers behind the sampling strategies (see ``sampling.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medbalance.strategies._batching import EpochBatchSampler, chunk

__all__ = [
    "OversampleBatchSampler",
    "SubsetBatchSampler",
    "UndersampleBatchSampler",
    "WeightedBatchSampler",
]


class SubsetBatchSampler(EpochBatchSampler):
    """Shuffled batches of a fixed subset of the dataset (chosen once, before training).

    Args:
        indices: the dataset indices kept.
    """

    salt = "subset"

    def __init__(self, indices: np.ndarray, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.indices = np.asarray(indices, dtype=np.int64)

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        return chunk(rng.permutation(self.indices), self.batch_size)

    def _batch_count(self) -> tuple[int, int]:
        return len(self.indices) // self.batch_size, int(len(self.indices) % self.batch_size > 0)


class UndersampleBatchSampler(EpochBatchSampler):
    """Every epoch, a fresh random subset of at most ``caps[c]`` examples of each class c.

    Args:
        class_indices: the dataset indices of each class.
        caps: how many examples of each class an epoch keeps (all when fewer exist).
    """

    salt = "undersample-epoch"

    def __init__(self, class_indices: list[np.ndarray], caps: np.ndarray, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.class_indices = class_indices
        self.kept = np.minimum([len(i) for i in class_indices], caps).astype(np.int64)

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        parts = [
            rng.choice(idx, k, replace=False) for idx, k in zip(self.class_indices, self.kept, strict=True)
        ]
        return chunk(rng.permutation(np.concatenate(parts)), self.batch_size)

    def _batch_count(self) -> tuple[int, int]:
        total = int(self.kept.sum())
        return total // self.batch_size, int(total % self.batch_size > 0)


class OversampleBatchSampler(EpochBatchSampler):
    """Walsh & Tardy (2023) over-sampling, generalised to K classes.

    The epoch is a stream that cycles through the present classes in a random
    order: each majority place takes the next example of the shuffled majority
    class (each once per epoch), each other place draws an example of its class
    with replacement. The stream ends with the majority class, so it holds
    ``K * n_majority`` examples, then it is cut into batches, each shuffled.
    With two classes and an even batch size, every batch is exactly half
    majority.

    Args:
        class_indices: the dataset indices of each present class.
        majority: the position of the majority class in ``class_indices``.
    """

    salt = "oversample"

    def __init__(self, class_indices: list[np.ndarray], majority: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.class_indices = class_indices
        self.majority = majority

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        n_major = len(self.class_indices[self.majority])
        columns = [
            rng.permutation(idx) if c == self.majority else rng.choice(idx, n_major, replace=True)
            for c, idx in enumerate(self.class_indices)
        ]
        order = rng.permutation(len(columns))
        stream = np.stack([columns[c] for c in order], axis=1).reshape(-1)
        return [rng.permutation(b).tolist() for b in chunk(stream, self.batch_size)]

    def _batch_count(self) -> tuple[int, int]:
        total = len(self.class_indices) * len(self.class_indices[self.majority])
        return total // self.batch_size, int(total % self.batch_size > 0)


class WeightedBatchSampler(EpochBatchSampler):
    """``torch.utils.data.WeightedRandomSampler`` semantics, shared across DDP ranks.

    One generator seeded by (seed, epoch) draws ``num_samples`` indices with
    probabilities proportional to ``weights`` (``torch.multinomial``), the
    global draw is cut into batches, and each rank takes its disjoint share.

    Args:
        weights: one non-negative weight per dataset index.
        num_samples: indices drawn per epoch, over all ranks.
        replacement: draw with replacement (as WeightedRandomSampler's default).
    """

    salt = "weighted"

    def __init__(self, weights: np.ndarray, num_samples: int, replacement: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.num_samples = int(num_samples)
        self.replacement = bool(replacement)

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        drawn = torch.multinomial(self.weights, self.num_samples, self.replacement, generator=generator)
        return chunk(drawn.numpy(), self.batch_size)

    def _batch_count(self) -> tuple[int, int]:
        return self.num_samples // self.batch_size, int(self.num_samples % self.batch_size > 0)
