"""The checks every strategy's ``fit`` runs once, before its private ``_fit``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medbalance.errors import ConfigError, DataError

__all__ = ["check_labels", "check_positive_index", "check_seed", "format_counts"]


def format_counts(counts: np.ndarray, class_names: Sequence[str] | None) -> str:
    """``"benign: 190, malignant: 0"`` (class indices when names are unknown)."""
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(counts))]
    return ", ".join(f"{n}: {int(c)}" for n, c in zip(names, counts, strict=True))


def check_seed(seed: Any, *, where: str) -> int:
    """Return ``seed`` as an int >= 0, or raise ConfigError."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(
            f"{where}: seed must be an integer >= 0, got {seed!r}. Fix: pass seed=0 (or any integer >= 0)."
        )
    return int(seed)


def check_labels(
    labels: Any,
    num_classes: Any,
    *,
    class_names: Sequence[str] | None,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate training labels; return them as int64 plus the per-class counts.

    Raises:
        ConfigError: ``num_classes`` or ``class_names`` is unusable.
        DataError: labels that are not a 1-D integer array of values in
            ``[0, num_classes)``, or fewer than 2 classes present.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 2:
        raise ConfigError(f"{where}: num_classes must be an integer >= 2, got {num_classes!r}.")
    if class_names is not None and len(class_names) != num_classes:
        raise ConfigError(
            f"{where}: class_names has {len(class_names)} names but num_classes is {num_classes}; "
            "pass one name per class, in label-index order."
        )
    array = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
    if array.ndim != 1:
        raise DataError(
            f"{where}: labels must be a 1-D array of class indices, got shape {array.shape}. "
            "Fix: pass one integer label per training image."
        )
    if array.size == 0:
        raise DataError(f"{where}: labels are empty; the training split has no images.")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise DataError(
            f"{where}: labels must be integer class indices, got dtype {array.dtype}. "
            "Fix: map class names to indices first (Manifest.label_indices())."
        )
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= num_classes:
        raise DataError(
            f"{where}: labels must lie in [0, {num_classes}), got values from {low} to {high}. "
            "Fix: check num_classes against the class list."
        )
    counts = np.bincount(array, minlength=num_classes).astype(np.int64)
    if int((counts > 0).sum()) < 2:
        raise DataError(
            f"{where} needs more than 1 class in the training labels; got counts "
            f"{{{format_counts(counts, class_names)}}}. Imbalance strategies (and a classifier) "
            "are meaningless with a single class: fix the labels or the split."
        )
    return array.astype(np.int64), counts


def check_positive_index(positive_index: Any, num_classes: int, *, where: str) -> int | None:
    """Return ``positive_index`` (None or a class index), or raise ConfigError."""
    if positive_index is None:
        return None
    if (
        isinstance(positive_index, bool)
        or not isinstance(positive_index, int | np.integer)
        or not 0 <= positive_index < num_classes
    ):
        raise ConfigError(
            f"{where}: positive_index must be None or a class index in [0, {num_classes}), "
            f"got {positive_index!r}."
        )
    return int(positive_index)
