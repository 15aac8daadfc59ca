"""Predict new images with a bundle: same readers, preprocessing and cache as training, streamed.

Images are read in chunks (``chunk_size`` at a time), so memory does not grow
with the number of images: each chunk's rows are handed on (written to the
output CSV by :func:`medbalance.inference.predict_files.predict_to_files`) and
only a few numbers per image are kept for the breast and patient rows.
An image that cannot be read or preprocessed becomes an error row with the
reason; the others are still predicted.

Columns of an image row: ``image_id``, ``path``, the input's metadata,
``prob_<class>`` (calibrated), ``score_uncalibrated`` (the model's positive-class
probability, as in the run's predictions files), ``decision`` (the class chosen at
the bundle's threshold, applied to ``score_uncalibrated`` where evaluation chose it)
and, with a deployment prevalence, ``prob_<positive>_at_prevalence``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medbalance.data.cache import PreprocessCache
from medbalance.data.preprocess import PreprocessInfo, preprocess_with_info
from medbalance.errors import ConfigError, MedbalanceError
from medbalance.inference.bundle import Bundle

__all__ = ["ChunkResult", "PredictionResult", "iter_prediction_chunks", "predict_images", "score_columns"]

Loaded = tuple[np.ndarray, PreprocessInfo]


@dataclass(frozen=True)
class ChunkResult:
    """One chunk: image rows, error rows, and the preprocessed arrays (for explanations)."""

    rows: pd.DataFrame
    errors: pd.DataFrame
    arrays: np.ndarray
    infos: list[PreprocessInfo]


@dataclass(frozen=True)
class PredictionResult:
    """Predictions of a set of images.

    Attributes:
        images: one row per predicted image.
        errors: ``image_id``, ``path``, ``reason`` of every image that could not be predicted.
        breasts: breast-level rows (when the inputs had ``breast_id`` and ``patient_id``), else None.
        patients: patient-level rows (when the inputs had ``patient_id``), else None.
        at_prevalence: PPV/NPV at the deployment prevalence, or None.
    """

    images: pd.DataFrame
    errors: pd.DataFrame
    breasts: pd.DataFrame | None = None
    patients: pd.DataFrame | None = None
    at_prevalence: dict[str, Any] | None = None


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    return value


def check_prevalence(prevalence: float | None) -> float | None:
    """``prevalence`` if it lies strictly between 0 and 1 (or is None).

    Raises:
        ConfigError: out of range.
    """
    if prevalence is not None and not (isinstance(prevalence, int | float) and 0.0 < prevalence < 1.0):
        raise ConfigError(f"--prevalence must lie strictly between 0 and 1 (e.g. 0.01), got {prevalence!r}.")
    return prevalence


def make_loader(bundle: Bundle, cache_dir: Path | None) -> Callable[[Any], Loaded]:
    """item (a path or an array) -> (preprocessed array, info), through the cache for files."""
    config = bundle.preprocessing
    cache = PreprocessCache(Path(cache_dir), config) if cache_dir is not None else None

    def load(item: Any) -> Loaded:
        if isinstance(item, np.ndarray):
            return preprocess_with_info(item, config)
        if cache is not None:
            return cache.get_with_info(Path(item))
        from medbalance.data.readers import read_image

        return preprocess_with_info(read_image(Path(item)), config)

    return load


@torch.inference_mode()
def run_network(bundle: Bundle, arrays: np.ndarray, batch_size: int) -> np.ndarray:
    """Softmax probabilities (N, K) of preprocessed arrays, in float32 like the training run."""
    device = next(bundle.network.parameters()).device
    out = []
    for start in range(0, len(arrays), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(arrays[start : start + batch_size], dtype=np.float32))
        out.append(torch.softmax(bundle.network(batch.to(device)), dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, len(bundle.classes)), np.float32)


def score_columns(
    bundle: Bundle, probs: np.ndarray, prevalence: float | None = None
) -> dict[str, np.ndarray]:
    """Calibrated ``prob_<class>``, ``score_uncalibrated``, ``decision`` (+ ``_at_prevalence``) columns."""
    classes = bundle.classes
    if not bundle.is_binary:
        cols: dict[str, np.ndarray] = {
            f"prob_{c}": probs[:, i].astype(np.float64) for i, c in enumerate(classes)
        }
        cols["decision"] = np.asarray(classes, dtype=object)[np.argmax(probs, axis=1)]
        return cols
    pos = classes.index(str(bundle.positive_class))
    neg = 1 - pos
    score = probs[:, pos].astype(np.float64)
    calibrated = bundle.calibration.apply(score)
    cols = {f"prob_{classes[neg]}": 1.0 - calibrated, f"prob_{classes[pos]}": calibrated}
    cols["score_uncalibrated"] = score
    cols["decision"] = np.where(score >= float(bundle.threshold or 0.0), classes[pos], classes[neg]).astype(
        object
    )
    if prevalence is not None:
        from medbalance.evaluation.prevalence import correct_binary_prior

        base = float(bundle.spec["prevalence"]["validation"])
        cols[f"prob_{classes[pos]}_at_prevalence"] = correct_binary_prior(calibrated, base, prevalence)
    return cols


def iter_prediction_chunks(
    bundle: Bundle, table: pd.DataFrame, items: Sequence[Any], *, batch_size: int = 32, chunk_size: int = 256,
    cache_dir: Path | None = None, prevalence: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[ChunkResult]:  # fmt: skip
    """Predict ``items`` (paths or arrays, one per row of ``table``) chunk by chunk.

    Raises:
        ConfigError: bad batch or chunk size, or prevalence.
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("chunk_size", chunk_size)
    check_prevalence(prevalence)
    load = make_loader(bundle, cache_dir)
    for start in range(0, len(table), chunk_size):
        chunk = table.iloc[start : start + chunk_size]
        arrays, infos, keep, errors = [], [], [], []
        for i, item in enumerate(items[start : start + chunk_size]):
            try:
                array, info = load(item)
            except (MedbalanceError, OSError, ValueError) as exc:
                errors.append({"image_id": chunk["image_id"].iloc[i], "path": chunk["path"].iloc[i],
                               "reason": f"{type(exc).__name__}: {exc}"})  # fmt: skip
                continue
            arrays.append(array)
            infos.append(info)
            keep.append(i)
        stacked = np.stack(arrays) if arrays else np.zeros((0,), np.float32)
        probs = run_network(bundle, stacked, batch_size)
        rows = chunk.iloc[keep].reset_index(drop=True).copy()
        for name, values in score_columns(bundle, probs, prevalence).items():
            rows[name] = values
        for i, c in enumerate(bundle.classes):  # raw model probabilities, for the breast/patient rows
            rows[f"raw_prob_{c}"] = probs[:, i].astype(np.float64)
        if on_progress is not None:
            on_progress(len(chunk))
        yield ChunkResult(rows, pd.DataFrame(errors, columns=["image_id", "path", "reason"]), stacked, infos)


def as_items(items: Iterable[Any]) -> tuple[pd.DataFrame, list[Any]]:
    """A table (``image_id``, ``path``) and the item list for paths and/or arrays."""
    listed = list(items)
    ids, paths = [], []
    for i, item in enumerate(listed):
        if isinstance(item, np.ndarray):
            ids.append(f"array-{i}")
            paths.append("")
        else:
            ids.append(Path(item).stem)
            paths.append(str(item))
    return pd.DataFrame({"image_id": ids, "path": paths}), listed


def predict_images(
    bundle: Bundle, items: Iterable[Any], *, batch_size: int = 32, cache_dir: str | Path | None = None,
    prevalence: float | None = None, table: pd.DataFrame | None = None,
) -> PredictionResult:  # fmt: skip
    """Predict image files and/or arrays (H, W) or (H, W, C) in memory; see the module docstring.

    Args:
        bundle: a loaded bundle.
        items: paths or numpy arrays (arrays are preprocessed like decoded files).
        batch_size: images per forward pass.
        cache_dir: a preprocessing cache folder (reused when the same files come again).
        prevalence: a deployment prevalence: adds ``prob_<positive>_at_prevalence`` and PPV/NPV.
        table: metadata rows (``image_id``, ``path``, ``patient_id``, ``breast_id``, ...) of ``items``.

    Returns:
        Image rows, error rows, breast/patient rows when the metadata allow, PPV/NPV.
    """
    from medbalance.inference.levels import aggregate_levels, metrics_at_prevalence

    base, listed = as_items(items)
    table = base if table is None else table.reset_index(drop=True)
    chunks = list(iter_prediction_chunks(
        bundle, table, listed, batch_size=batch_size, cache_dir=None if cache_dir is None else Path(cache_dir),
        prevalence=prevalence,
    ))  # fmt: skip
    images = pd.concat([c.rows for c in chunks], ignore_index=True) if chunks else table.iloc[:0]
    errors = pd.concat([c.errors for c in chunks], ignore_index=True) if chunks else pd.DataFrame(
        columns=["image_id", "path", "reason"]
    )  # fmt: skip
    breasts, patients = aggregate_levels(bundle, images, prevalence)
    raw = [c for c in images.columns if c.startswith("raw_prob_")]
    return PredictionResult(
        images.drop(columns=raw), errors, breasts, patients,
        None if prevalence is None else metrics_at_prevalence(bundle, prevalence),
    )  # fmt: skip
