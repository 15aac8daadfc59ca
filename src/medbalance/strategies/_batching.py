"""Seeded, epoch-aware, DDP-correct batch samplers.

Every sampler builds the SAME global list of batches for an epoch on every rank
(from a generator seeded by ``(seed, epoch, salt)``), then rank ``r`` of ``R``
takes batches ``r, r + R, r + 2R, ...``: the ranks share each epoch's batches
without overlap and all yield the same number of batches (DDP needs that to
avoid a hang). When the batch count is not a multiple of ``R``, the first
batches of the epoch are repeated to fill the last round (as torch's
``DistributedSampler`` repeats indices), or, with ``drop_last``, the incomplete
last batch and the unfilled round are dropped.
"""

from __future__ import annotations

import math
import zlib
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from medbalance.errors import ConfigError

__all__ = ["EpochBatchSampler", "ShuffledBatchSampler", "chunk", "epoch_generator", "shard_batches"]


def epoch_generator(seed: int, epoch: int, salt: str) -> np.random.Generator:
    """A generator that depends on the seed, the epoch and a per-sampler salt only."""
    return np.random.default_rng([seed, epoch, zlib.crc32(salt.encode())])


def chunk(indices: np.ndarray, batch_size: int) -> list[list[int]]:
    """Cut a stream of indices into batches of ``batch_size`` (the last may be short)."""
    return [indices[i : i + batch_size].tolist() for i in range(0, len(indices), batch_size)]


def shard_batches(
    batches: list[list[int]], *, batch_size: int, num_replicas: int, rank: int, drop_last: bool
) -> list[list[int]]:
    """Rank ``rank``'s share of an epoch's global batch list (see the module doc)."""
    if drop_last:
        full = [b for b in batches if len(b) == batch_size]
        rounds = len(full) // num_replicas
        return full[: rounds * num_replicas][rank::num_replicas]
    if not batches:
        return []
    total = math.ceil(len(batches) / num_replicas) * num_replicas
    padded = [batches[i % len(batches)] for i in range(total)]
    return padded[rank::num_replicas]


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


class EpochBatchSampler(Sampler[list[int]]):
    """Base of medbalance's batch samplers: seeding, ``set_epoch``, DDP sharding.

    Subclasses implement :meth:`_epoch_batches` (the global batches of one
    epoch) and :meth:`_batch_count` (how many full and short batches that is,
    without drawing).

    Args:
        batch_size: examples per batch on each rank.
        seed: with the epoch, determines every draw.
        num_replicas: DDP world size.
        rank: this process's rank in ``[0, num_replicas)``.
        drop_last: drop the short last batch and the unfilled last round.
    """

    salt = "batches"

    def __init__(
        self, *, batch_size: int, seed: int, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> None:
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.seed = _check_int(seed, "seed", 0)
        self.num_replicas = _check_int(num_replicas, "num_replicas", 1)
        self.rank = _check_int(rank, "rank", 0)
        if self.rank >= self.num_replicas:
            raise ConfigError(f"rank must be in [0, {self.num_replicas}), got {rank}.")
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields."""
        self.epoch = _check_int(epoch, "epoch", 0)

    @abstractmethod
    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        """The global batches of the current epoch, drawn from ``rng``."""

    @abstractmethod
    def _batch_count(self) -> tuple[int, int]:
        """(full batches, short batches) per epoch."""

    def global_batches(self) -> list[list[int]]:
        """All ranks' batches of the current epoch, before sharding."""
        return self._epoch_batches(epoch_generator(self.seed, self.epoch, self.salt))

    def __iter__(self) -> Iterator[list[int]]:
        yield from shard_batches(
            self.global_batches(),
            batch_size=self.batch_size,
            num_replicas=self.num_replicas,
            rank=self.rank,
            drop_last=self.drop_last,
        )

    def __len__(self) -> int:
        full, short = self._batch_count()
        if self.drop_last:
            return full // self.num_replicas
        return math.ceil((full + short) / self.num_replicas)


class ShuffledBatchSampler(EpochBatchSampler):
    """Plain shuffled batches at the natural class frequencies (what strategies
    without a sampling hook train on), seeded and DDP-correct.

    Args:
        num_samples: the dataset size.
    """

    salt = "shuffled"

    def __init__(self, num_samples: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_samples = _check_int(num_samples, "num_samples", 1)

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        return chunk(rng.permutation(self.num_samples), self.batch_size)

    def _batch_count(self) -> tuple[int, int]:
        return self.num_samples // self.batch_size, int(self.num_samples % self.batch_size > 0)
