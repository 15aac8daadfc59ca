"""Sampling strategies: under-sampling, over-sampling and a weighted sampler.

All four rebalance what the model sees (``balances = {"sampling"}``) through a
seeded, DDP-correct batch sampler (see ``_batching.py``); the engine calls
``set_epoch(epoch)`` on it before every epoch.

Example:
    >>> import numpy as np, torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from medbalance.strategies import create_strategy
    >>> labels = np.array([0] * 30 + [1] * 2)
    >>> strategy = create_strategy("oversample").fit(labels, 2, seed=0)
    >>> sampler = strategy.make_batch_sampler(8, num_replicas=1, rank=0)
    >>> loader = DataLoader(TensorDataset(torch.as_tensor(labels)), batch_sampler=sampler)
    >>> len(next(iter(loader))[0])
    8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.strategies._batching import ShuffledBatchSampler, epoch_generator
from medbalance.strategies._samplers import (
    OversampleBatchSampler,
    SubsetBatchSampler,
    UndersampleBatchSampler,
    WeightedBatchSampler,
)
from medbalance.strategies.base import Balance, Hook, Strategy, register_strategy

__all__ = [
    "Oversample",
    "Undersample",
    "UndersampleEpoch",
    "WeightedSampler",
    "compute_undersample_counts",
    "create_batch_sampler",
]

_SAMPLING: frozenset[Hook] = frozenset({"sampling"})
_BALANCES: frozenset[Balance] = frozenset({"sampling"})


def create_batch_sampler(
    strategy: Strategy, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
) -> Sampler[list[int]]:
    """The strategy's batch sampler, or seeded plain shuffled batches when it has none.

    The engine can always call this: strategies without a sampling hook then
    get the same seeding, ``set_epoch`` and DDP sharding as the others.
    """
    sampler = strategy.make_batch_sampler(
        batch_size, num_replicas=num_replicas, rank=rank, drop_last=drop_last
    )
    if sampler is not None:
        return sampler
    return ShuffledBatchSampler(
        len(strategy.labels_),
        batch_size=batch_size,
        seed=strategy.seed_,
        num_replicas=num_replicas,
        rank=rank,
        drop_last=drop_last,
    )


def compute_undersample_counts(counts: np.ndarray, ratio: float) -> np.ndarray:
    """Examples kept per class: at most ``round(ratio * n_min)`` of each class.

    ``n_min`` is the smallest count among the classes present, so ``ratio = 1``
    keeps every class at the minority's size (1:1).
    """
    n_min = int(counts[counts > 0].min())
    cap = max(n_min, int(np.floor(ratio * n_min + 0.5)))
    return np.minimum(counts, cap).astype(np.int64)


def _class_indices(labels: np.ndarray, num_classes: int) -> list[np.ndarray]:
    return [np.flatnonzero(labels == c) for c in range(num_classes)]


@dataclass(frozen=True)
class UndersampleParams:
    """Parameters of ``undersample`` and ``undersample-epoch``."""

    ratio: float = option(
        1.0,
        help="examples kept of any class, as a multiple of the smallest class (1 = 1:1)",
        ge=1.0,
    )

    def __post_init__(self) -> None:
        check_constraints(self)


class _UndersampleBase(Strategy):
    Params = UndersampleParams
    params: UndersampleParams
    hooks = _SAMPLING
    balances = _BALANCES

    def _fit(self) -> None:
        self.kept_counts_ = compute_undersample_counts(self.class_counts_, self.params.ratio)

    def _expected_class_shares(self) -> np.ndarray:
        return self.kept_counts_ / self.kept_counts_.sum()

    def _describe_fitted(self) -> dict[str, Any]:
        return {"kept_per_class": [int(k) for k in self.kept_counts_]}


@register_strategy(
    "undersample",
    description="fixed random subset of the larger classes, drawn once before training (1:1 by default)",
)
class Undersample(_UndersampleBase):
    """Walsh & Tardy (2023) under-sampling: one majority subset for the whole run."""

    def _fit(self) -> None:
        super()._fit()
        rng = epoch_generator(self.seed_, 0, "undersample-subset")
        parts = [
            rng.choice(idx, k, replace=False)
            for idx, k in zip(_class_indices(self.labels_, self.num_classes_), self.kept_counts_, strict=True)
        ]
        self.kept_indices_ = np.sort(np.concatenate(parts))

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        return SubsetBatchSampler(
            self.kept_indices_,
            batch_size=batch_size,
            seed=self.seed_,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
        )


@register_strategy(
    "undersample-epoch",
    description="fresh random subset of the larger classes every epoch; every minority example every epoch",
)
class UndersampleEpoch(_UndersampleBase):
    """Under-sampling redrawn each epoch, so the whole majority is seen over the run."""

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        return UndersampleBatchSampler(
            _class_indices(self.labels_, self.num_classes_),
            self.kept_counts_,
            batch_size=batch_size,
            seed=self.seed_,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
        )


@register_strategy(
    "oversample",
    description="Walsh & Tardy: each majority example once per epoch, half of each batch majority, "
    "the rest minority drawn with replacement",
)
class Oversample(Strategy):
    """Over-sampling; with K classes every present class gets 1/K of the places."""

    hooks = _SAMPLING
    balances = _BALANCES

    def _fit(self) -> None:
        self.present_ = np.flatnonzero(self.class_counts_ > 0)
        self.majority_ = int(np.argmax(self.class_counts_))

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        indices = _class_indices(self.labels_, self.num_classes_)
        return OversampleBatchSampler(
            [indices[c] for c in self.present_],
            int(np.flatnonzero(self.present_ == self.majority_)[0]),
            batch_size=batch_size,
            seed=self.seed_,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
        )

    def _expected_class_shares(self) -> np.ndarray:
        return (self.class_counts_ > 0) / len(self.present_)

    def _describe_fitted(self) -> dict[str, Any]:
        n_major = int(self.class_counts_[self.majority_])
        return {"majority_index": self.majority_, "examples_per_epoch": n_major * len(self.present_)}


@dataclass(frozen=True)
class WeightedSamplerParams:
    """Parameters of ``weighted-sampler``."""

    alpha: float = option(
        1.0,
        help="example weight = 1 / count(class)^alpha (1 balances, 0 is natural)",
        ge=0.0,
    )
    num_samples: int | None = option(
        None,
        help="examples drawn per epoch over all ranks (None: dataset size)",
        ge=1,
    )
    replacement: bool = option(True, help="draw with replacement")

    def __post_init__(self) -> None:
        check_constraints(self)


@register_strategy(
    "weighted-sampler",
    description="WeightedRandomSampler with 1/count^alpha example weights, shared across DDP ranks",
)
class WeightedSampler(Strategy):
    """Draws examples with probability proportional to ``count(class)^-alpha``."""

    Params = WeightedSamplerParams
    params: WeightedSamplerParams
    hooks = _SAMPLING
    balances = _BALANCES

    def _fit(self) -> None:
        self.class_weights_ = self.safe_counts_ ** (-self.params.alpha)
        self.num_samples_ = self.params.num_samples or len(self.labels_)
        if not self.params.replacement and self.num_samples_ > len(self.labels_):
            raise ConfigError(
                f"strategy 'weighted-sampler': num_samples={self.num_samples_} exceeds the "
                f"{len(self.labels_)} training examples while replacement=False. "
                "Fix: lower num_samples or set replacement=True."
            )

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        return WeightedBatchSampler(
            self.class_weights_[self.labels_],
            self.num_samples_,
            self.params.replacement,
            batch_size=batch_size,
            seed=self.seed_,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
        )

    def _expected_class_shares(self) -> np.ndarray:
        mass = self.class_counts_ * self.class_weights_
        return mass / mass.sum()

    def _describe_fitted(self) -> dict[str, Any]:
        return {
            "example_weight_per_class": [float(w) for w in self.class_weights_],
            "num_samples": self.num_samples_,
        }
