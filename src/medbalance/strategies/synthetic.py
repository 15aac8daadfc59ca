"""Walsh & Tardy (2023) "artifacting": batches completed with synthetic malignant lesions.

Each batch of ``B`` holds ``B // 2`` benign (negative) images, then real
malignant images, then copies of benign images of the same batch, which
:meth:`SyntheticLesions.transform_batch` turns into positives by inserting 1-3
synthetic malignant lesions (mass, calcification cluster, architectural
distortion) with :func:`medbalance.synth.insertion.insert_lesions`. The share
of real positives is ``real_fraction`` (0.5: a batch of 8 is 4 benign, 2 real
malignant, 2 synthetic). The epoch ends when every benign image has been used
once; real malignant images are drawn with replacement.

The breast mask of an image is its non-zero pixels (preprocessing leaves the
background at zero).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError, TrainingError
from medbalance.registry import look_up_option
from medbalance.strategies._batching import EpochBatchSampler
from medbalance.strategies._lesion_batch import add_lesions
from medbalance.strategies.base import Balance, Hook, Strategy, register_strategy

__all__ = ["BatchLayout", "SyntheticLesionBatchSampler", "SyntheticLesions", "compute_batch_layout"]

log = logging.getLogger(__name__)

MALIGNANT_KINDS = ("mass", "calcification", "distortion")
_W_T_BATCH = 8  # Walsh & Tardy's batch size, used by describe() before a sampler exists


@dataclass(frozen=True)
class BatchLayout:
    """How many benign, real-positive and synthetic-positive places a batch has."""

    benign: int
    real: int
    synthetic: int


def compute_batch_layout(batch_size: int, real_fraction: float) -> BatchLayout:
    """Half benign (rounded down); positives split real / synthetic by ``real_fraction``."""
    benign = batch_size // 2
    positives = batch_size - benign
    real = int(np.floor(real_fraction * positives + 0.5))
    return BatchLayout(benign=benign, real=real, synthetic=positives - real)


class SyntheticLesionBatchSampler(EpochBatchSampler):
    """Batches ``[benign..., real positives..., copies of benign to receive lesions...]``.

    Args:
        negatives: dataset indices of the negative (benign) class.
        positives: dataset indices of the positive (malignant) class.
        real_fraction: the share of a batch's positives that are real.
    """

    salt = "synthetic-lesions"

    def __init__(
        self, negatives: np.ndarray, positives: np.ndarray, real_fraction: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if self.batch_size < 2:
            raise ConfigError(
                f"strategy 'synthetic-lesions' needs batch_size >= 2 (half benign, half positive), "
                f"got {self.batch_size}."
            )
        self.negatives = negatives
        self.positives = positives
        self.real_fraction = real_fraction

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        per_batch = self.batch_size // 2
        order = rng.permutation(self.negatives)
        batches = []
        for start in range(0, len(order), per_batch):
            benign = order[start : start + per_batch]
            size = self.batch_size if len(benign) == per_batch else 2 * len(benign)
            layout = compute_batch_layout(size, self.real_fraction)
            real = rng.choice(self.positives, layout.real, replace=True)
            copies = rng.choice(benign, layout.synthetic, replace=layout.synthetic > len(benign))
            batches.append(np.concatenate([benign, real, copies]).tolist())
        return batches

    def _batch_count(self) -> tuple[int, int]:
        per_batch = self.batch_size // 2
        return len(self.negatives) // per_batch, int(len(self.negatives) % per_batch > 0)


@dataclass(frozen=True)
class SyntheticLesionsParams:
    """Parameters of ``synthetic-lesions``."""

    real_fraction: float = option(0.5, help="share of each batch's positives that are real", ge=0.0, le=1.0)
    kinds: tuple[str, ...] = option(MALIGNANT_KINDS, help="malignant lesion kinds to insert")
    lesions_per_image: tuple[int, int] = option(
        (1, 3),
        help="fewest and most lesions per synthetic image",
        ge=1,
    )
    fallback_height_mm: float = option(
        200.0,
        help="image height in mm assumed when a batch has no pixel spacing",
        gt=0.0,
    )

    def __post_init__(self) -> None:
        check_constraints(self)
        if not self.kinds:
            raise ValueError(f"kinds must name at least one of {', '.join(MALIGNANT_KINDS)}.")
        for kind in self.kinds:
            look_up_option(kind, MALIGNANT_KINDS, what="malignant lesion kind")
        low, high = self.lesions_per_image
        if low > high:
            raise ValueError(
                f"lesions_per_image must be (fewest, most) with fewest <= most, got {(low, high)}."
            )


@register_strategy(
    "synthetic-lesions",
    description="Walsh & Tardy artifacting: half benign, real malignant, and benign images of the batch "
    "with 1-3 synthetic malignant lesions",
)
class SyntheticLesions(Strategy):
    """Synthetic-lesion batches for binary tasks whose positive class is malignant."""

    Params = SyntheticLesionsParams
    params: SyntheticLesionsParams
    hooks: frozenset[Hook] = frozenset({"sampling", "batch"})
    balances: frozenset[Balance] = frozenset({"sampling"})
    binary_only = True

    def _fit(self) -> None:
        if self.positive_index_ is None:
            raise ConfigError(
                "strategy 'synthetic-lesions' needs positive_index (the malignant class) to know which "
                "images receive lesions. Fix: pass positive_index=manifest.classes.index(positive_class)."
            )
        self.positive_: int = self.positive_index_
        self.negative_index_ = 1 - self.positive_
        self.batch_size_ = _W_T_BATCH
        self.insertions_ = 0
        self.lesions_ = 0
        self.failed_insertions_ = 0
        self.blank_images_ = 0

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        sampler = SyntheticLesionBatchSampler(
            np.flatnonzero(self.labels_ == self.negative_index_),
            np.flatnonzero(self.labels_ == self.positive_),
            self.params.real_fraction,
            batch_size=batch_size,
            seed=self.seed_,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
        )
        self.batch_size_ = sampler.batch_size
        return sampler

    def _transform_batch(
        self,
        images: Tensor,
        targets: Tensor,
        *,
        spacing_mm: Tensor | None,
        generator: np.random.Generator,
    ) -> tuple[Tensor, Tensor]:
        """Insert lesions into the trailing benign copies and relabel them positive.

        Uses ``spacing_mm[i]`` for image ``i`` (when missing or not positive:
        ``fallback_height_mm / H``). An image in which no lesion fits stays
        benign and is counted in ``describe()["failed_insertions"]``.
        """
        if images.ndim != 4 or targets.ndim != 1 or images.shape[0] != targets.shape[0]:
            raise ValueError(
                f"transform_batch expects images (B, C, H, W) and targets (B,), got "
                f"{tuple(images.shape)} and {tuple(targets.shape)}."
            )
        layout = compute_batch_layout(len(targets), self.params.real_fraction)
        negatives = torch.nonzero(targets == self.negative_index_).flatten().tolist()
        if layout.synthetic == 0:
            return images, targets
        if len(negatives) < layout.synthetic:
            raise TrainingError(
                f"synthetic-lesions: a batch of {len(targets)} has {len(negatives)} benign images, but "
                f"{layout.synthetic} must receive lesions. Fix: build training batches with this "
                "strategy's make_batch_sampler()."
            )
        out, new_targets = images.clone(), targets.clone()
        height = images.shape[-2]
        for i in negatives[-layout.synthetic :]:
            spacing = float(spacing_mm[i]) if spacing_mm is not None else float("nan")
            if not np.isfinite(spacing) or spacing <= 0:
                spacing = self.params.fallback_height_mm / height
            outcome = add_lesions(
                out[i],
                kinds=self.params.kinds,
                n=self.params.lesions_per_image,
                spacing_mm=spacing,
                generator=generator,
            )
            self.blank_images_ += outcome.blank
            if outcome.image is None:  # no visible lesion fitted: the image stays benign
                if not self.failed_insertions_:
                    log.warning(
                        "synthetic-lesions: no visible lesion fitted into a %s image at %.3g mm/pixel; it "
                        "stays benign (counted in describe()['failed_insertions']).",
                        tuple(images.shape[-2:]),
                        spacing,
                    )
                self.failed_insertions_ += 1
                continue
            out[i] = outcome.image
            new_targets[i] = self.positive_
            self.insertions_ += 1
            self.lesions_ += outcome.lesions
        return out, new_targets

    def batch_layout(self) -> BatchLayout:
        """The layout of a full batch of the last sampler made (of 8 before any)."""
        self._check_fitted()
        return compute_batch_layout(self.batch_size_, self.params.real_fraction)

    def _expected_class_shares(self) -> np.ndarray:
        layout = self.batch_layout()
        shares = np.zeros(2)
        shares[self.negative_index_] = (layout.benign + layout.synthetic) / self.batch_size_
        shares[self.positive_] = layout.real / self.batch_size_
        return shares

    def _describe_fitted(self) -> dict[str, Any]:
        layout = self.batch_layout()
        return {
            "batch_size": self.batch_size_,
            "batch_layout": {"benign": layout.benign, "real": layout.real, "synthetic": layout.synthetic},
            "synthetic_images": self.insertions_,
            "synthetic_lesions": self.lesions_,
            "failed_insertions": self.failed_insertions_,
            "blank_images_masked_whole": self.blank_images_,
        }
