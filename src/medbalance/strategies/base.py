"""The :class:`Strategy` protocol every imbalance strategy follows.

A strategy is built from keyword parameters (checked against its parameter
dataclass), fitted once on the training labels, then asked for up to four hooks
by the training engine:

========== ==================================== ===================================
hook       method                               default
========== ==================================== ===================================
sampling   :meth:`Strategy.make_batch_sampler`  None (plain shuffled batches)
loss       :meth:`Strategy.make_loss`           cross-entropy
batch      :meth:`Strategy.transform_batch`     identity
posthoc    :meth:`Strategy.adjust_logits`       identity
========== ==================================== ===================================

Example:
    >>> import numpy as np, torch
    >>> from medbalance.strategies import create_strategy
    >>> strategy = create_strategy("focal", gamma=2.0).fit(np.array([0, 0, 0, 1]), 2, seed=0)
    >>> loss_fn = strategy.make_loss()
    >>> loss = loss_fn(torch.zeros(4, 2), torch.tensor([0, 0, 0, 1]))
    >>> loss.shape, bool(loss > 0)
    (torch.Size([]), True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, Self, TypeVar

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Sampler

from medbalance.errors import ConfigError
from medbalance.registry import Registry
from medbalance.strategies._checks import check_labels, check_positive_index, check_seed
from medbalance.strategies._loss_modules import WeightedCrossEntropy
from medbalance.strategies._params import NoParams, params_to_dict, parse_params

__all__ = ["HOOKS", "STRATEGIES", "Balance", "Hook", "Strategy", "register_strategy"]

Hook = Literal["sampling", "loss", "batch", "posthoc"]
Balance = Literal["sampling", "loss"]
HOOKS: tuple[Hook, ...] = ("sampling", "loss", "batch", "posthoc")

STRATEGIES: Registry[type[Strategy]] = Registry("imbalance strategy")

S = TypeVar("S", bound="type[Strategy]")


def register_strategy(name: str, *, description: str) -> Callable[[S], S]:
    """Class decorator: name the strategy and add it to :data:`STRATEGIES`."""

    def decorator(cls: S) -> S:
        cls.name = name
        cls.description = description
        STRATEGIES.add(name, cls, description=description)
        return cls

    return decorator


class Strategy:
    """Base class: shared checks in :meth:`fit`, identity hooks, :meth:`describe`.

    Subclasses set ``Params`` (a frozen dataclass), ``hooks`` and ``balances``
    (which of sampling and loss they rebalance: two strategies that rebalance
    different ones are "double balancing"), and override :meth:`_fit` and the
    private twins of the hooks they use (``_make_loss`` for :meth:`make_loss`, ...):
    the public hooks check once that the strategy is fitted, then call them. ``hooks`` and ``balances`` are class attributes that
    an instance may narrow from its parameters.

    Attributes (after :meth:`fit`):
        labels_: the training labels, int64, one per dataset index.
        class_counts_: images per class.
        num_classes_, seed_, positive_index_, class_names_: as given to :meth:`fit`.
    """

    name: str = ""
    description: str = ""
    Params: ClassVar[type] = NoParams
    hooks: frozenset[Hook] = frozenset()
    balances: frozenset[Balance] = frozenset()
    binary_only: bool = False
    classifier_head: str = "linear"
    """The classifier the strategy needs: ``linear`` (the model's own) or ``cosine`` (normalised)."""

    labels_: np.ndarray
    class_counts_: np.ndarray
    num_classes_: int
    seed_: int
    positive_index_: int | None
    class_names_: tuple[str, ...] | None

    def __init__(self, **params: Any) -> None:
        self.params = parse_params(type(self).Params, params, where=f"strategy {self.name!r}")
        self._fitted = False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in params_to_dict(self.params).items())
        return f"{type(self).__name__}({args})"

    # -- fitting ---------------------------------------------------------------

    def fit(
        self,
        labels: np.ndarray,
        num_classes: int,
        *,
        seed: int,
        positive_index: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> Self:
        """Check the training labels once, then fit the strategy to them.

        Args:
            labels: the class index of every training image; position ``i`` is
                dataset index ``i`` (what batch samplers yield).
            num_classes: the number of classes of the task (>= 2).
            seed: seeds every random choice of the strategy (>= 0).
            positive_index: the class that matters (binary tasks), if any.
            class_names: names for messages and :meth:`describe`.

        Raises:
            DataError: labels that are not 1-D integers in range, or fewer than
                2 classes present ("needs more than 1 class").
            ConfigError: a bad seed, positive index, or a task the strategy
                does not support.
        """
        where = f"strategy {self.name!r}"
        self.labels_, self.class_counts_ = check_labels(
            labels, num_classes, class_names=class_names, where=where
        )
        self.num_classes_ = int(num_classes)
        self.seed_ = check_seed(seed, where=where)
        self.positive_index_ = check_positive_index(positive_index, self.num_classes_, where=where)
        self.class_names_ = tuple(class_names) if class_names is not None else None
        if self.binary_only and self.num_classes_ != 2:
            raise ConfigError(
                f"{where} supports binary tasks only, got {self.num_classes_} classes. "
                "Fix: use it on a two-class task (e.g. benign vs malignant) or pick another strategy."
            )
        self._fit()
        self._fitted = True
        return self

    def _fit(self) -> None:
        """Strategy-specific fitting; the shared checks have passed."""

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError(
                f"strategy {self.name!r} is not fitted: call .fit(labels, num_classes, seed=...) first."
            )

    @property
    def safe_counts_(self) -> np.ndarray:
        """Class counts with absent classes counted as 1, so priors, margins and weights stay finite."""
        return np.maximum(self.class_counts_, 1).astype(np.float64)

    # -- hooks -----------------------------------------------------------------
    # Template methods: each public hook checks once that the strategy is fitted and
    # calls its private twin; subclasses override only the private ``_`` methods.

    def make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        """A batch sampler yielding lists of dataset indices, or None for plain shuffled batches."""
        self._check_fitted()
        return self._make_batch_sampler(batch_size, num_replicas=num_replicas, rank=rank, drop_last=drop_last)

    def make_loss(self) -> nn.Module:
        """The training loss: (logits (N, K), targets (N,)) -> scalar. Default: cross-entropy."""
        self._check_fitted()
        return self._make_loss()

    def on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        """Called by the engine before every epoch (0-based) for loss schedules."""
        self._check_fitted()
        self._on_epoch_start(epoch, max_epochs)

    def transform_batch(
        self,
        images: Tensor,
        targets: Tensor,
        *,
        spacing_mm: Tensor | None,
        generator: np.random.Generator,
    ) -> tuple[Tensor, Tensor]:
        """Change a training batch (images (B, C, H, W) in [0, 1], targets (B,)). Default: identity."""
        self._check_fitted()
        return self._transform_batch(images, targets, spacing_mm=spacing_mm, generator=generator)

    def adjust_logits(self, logits: Tensor) -> Tensor:
        """Post-hoc change of inference logits (N, K). Default: identity."""
        self._check_fitted()
        return self._adjust_logits(logits)

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int, rank: int, drop_last: bool
    ) -> Sampler[list[int]] | None:
        return None

    def _make_loss(self) -> nn.Module:
        return WeightedCrossEntropy(None)

    def _on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        pass

    def _transform_batch(
        self, images: Tensor, targets: Tensor, *, spacing_mm: Tensor | None, generator: np.random.Generator
    ) -> tuple[Tensor, Tensor]:
        return images, targets

    def _adjust_logits(self, logits: Tensor) -> Tensor:
        return logits

    # -- reporting -------------------------------------------------------------

    def expected_class_shares(self) -> np.ndarray:
        """The share of each class among the examples an epoch's batches hold (before
        :meth:`transform_batch`). Default: the natural training frequencies."""
        self._check_fitted()
        return self._expected_class_shares()

    def _expected_class_shares(self) -> np.ndarray:
        return self.class_counts_ / self.class_counts_.sum()

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary for ``summary.json``: name, parameters, hooks, counts, derived values."""
        info: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "params": params_to_dict(self.params),
            "hooks": sorted(self.hooks),
            "balances": sorted(self.balances),
        }
        if self._fitted:
            info.update(
                num_classes=self.num_classes_,
                class_names=list(self.class_names_) if self.class_names_ else None,
                class_counts=[int(c) for c in self.class_counts_],
                positive_index=self.positive_index_,
                seed=self.seed_,
                expected_class_shares=[round(float(s), 6) for s in self.expected_class_shares()],
                **self._describe_fitted(),
            )
        return info

    def _describe_fitted(self) -> dict[str, Any]:
        """Strategy-specific, JSON-safe values derived by :meth:`fit`."""
        return {}
