"""Insert synthetic lesions into a mammogram, inside the breast, and record what was done.

An additive lesion fills a fraction ``opacity`` of the headroom above the tissue:
``out = img + opacity * (1 - img)``. This is the physical composition of
attenuations: brightness in a processed mammogram grows with attenuation, so with
``1 - img`` read as the transmitted fraction, an extra absorber multiplies it by
``exp(-mu t) = 1 - opacity``. The tissue texture under the lesion stays visible
(scaled by ``1 - opacity``), and the same lesion shows less over dense tissue than
over fat, as in real films. A warp (architectural distortion) resamples the image
at displaced positions. Pixels outside the breast mask are never changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from medbalance.errors import ConfigError, DataError
from medbalance.synth._placement import choose_center, footprint_fits, remove_footprint
from medbalance.synth.lesions import LESIONS, LesionPatch

__all__ = ["LesionRecord", "apply_patch", "insert_lesion", "insert_lesions"]

_MAX_LESIONS = 50


@dataclass(frozen=True)
class LesionRecord:
    """What was inserted where, kept with the sample so results can be traced.

    Attributes:
        kind: registered lesion name (``mass``, ``calcification``, ...).
        center: (row, col) pixel of the lesion centre.
        size_mm: characteristic diameter in millimetres.
        malignant: whether the finding counts as malignant.
        params: every sampled parameter (JSON-ready).
    """

    kind: str
    center: tuple[int, int]
    size_mm: float
    malignant: bool
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "kind": self.kind,
            "center": [int(self.center[0]), int(self.center[1])],
            "size_mm": round(float(self.size_mm), 4),
            "malignant": bool(self.malignant),
            "params": {k: _plain(v) for k, v in self.params.items()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        return round(float(value), 6)
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    return value


def _as_generator(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ConfigError(f"rng must be a numpy.random.Generator or an integer seed, got {rng!r}.")


def _check_inputs(
    image: np.ndarray, breast_mask: np.ndarray, exclude_mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image)
    if image.ndim != 2 or not np.issubdtype(image.dtype, np.floating):
        raise DataError(
            f"image must be a 2-D float array (H, W) in [0, 1], got shape {image.shape} dtype {image.dtype}; "
            "convert with ImageData.to_float()."
        )
    low, high = float(image.min(initial=0.0)), float(image.max(initial=0.0))
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0.0 or high > 1.0:
        raise DataError(f"image values must lie in [0, 1] and be finite, got range [{low}, {high}].")
    mask = np.asarray(breast_mask)
    if mask.shape != image.shape:
        raise DataError(f"breast mask shape {mask.shape} differs from image shape {image.shape}.")
    allowed = mask.astype(bool)
    if exclude_mask is not None:
        exclude = np.asarray(exclude_mask)
        if exclude.shape != image.shape:
            raise DataError(f"exclude mask shape {exclude.shape} differs from image shape {image.shape}.")
        allowed = allowed & ~exclude.astype(bool)
    if not allowed.any():
        raise DataError("the breast mask is empty (or fully excluded): there is no room for a lesion.")
    return image.astype(np.float32, copy=False), allowed


def apply_patch(
    image: np.ndarray, patch: LesionPatch, center: tuple[int, int], mask: np.ndarray
) -> np.ndarray:
    """Return a copy of ``image`` with ``patch`` applied at ``center``, changing only ``mask`` pixels."""
    out = image.astype(np.float32, copy=True)
    half = patch.half
    r0, c0 = center[0] - half, center[1] - half
    rows = slice(max(r0, 0), min(r0 + 2 * half + 1, image.shape[0]))
    cols = slice(max(c0, 0), min(c0 + 2 * half + 1, image.shape[1]))
    local = (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
    region = out[rows, cols]
    changed = region
    if patch.displacement is not None:
        grid_r, grid_c = np.mgrid[rows, cols].astype(np.float32)
        shift = patch.displacement[(slice(None), *local)]
        changed = ndimage.map_coordinates(
            image, [grid_r + shift[0], grid_c + shift[1]], order=1, mode="nearest"
        ).astype(np.float32)
    if patch.opacity is not None:
        opacity = patch.opacity[local]
        changed = changed + opacity * (1.0 - changed)
    keep = mask[rows, cols] & patch.footprint()[local]
    out[rows, cols] = np.where(keep, np.clip(changed, 0.0, 1.0), region)
    return out


def _insert(
    image: np.ndarray,
    allowed: np.ndarray,
    breast: np.ndarray,
    kind: str,
    spacing_mm: float,
    rng: np.random.Generator,
    center: tuple[int, int] | None,
    params: dict[str, Any],
) -> tuple[np.ndarray, LesionRecord, LesionPatch, tuple[int, int]]:
    patch = LESIONS.get(kind).render(rng, spacing_mm=spacing_mm, **params)
    footprint = patch.footprint()
    if center is None:
        center = choose_center(allowed, footprint, rng, what=kind, spacing_mm=spacing_mm)
    else:
        center = (int(center[0]), int(center[1]))
        if not footprint_fits(allowed, footprint, center):
            raise DataError(
                f"a {kind} lesion centred at {center} does not fit inside the breast mask: part of it "
                f"({patch.support_radius_px() * spacing_mm:.1f} mm from the centre) would fall outside "
                "the breast or over an excluded area. Pick another centre, a smaller size_mm, or center=None."
            )
    out = apply_patch(image, patch, center, breast)
    record = LesionRecord(
        kind=kind,
        center=center,
        size_mm=patch.size_mm,
        malignant=patch.malignant,
        params={**patch.params, "support_radius_mm": patch.support_radius_px() * spacing_mm},
    )
    return out, record, patch, center


def insert_lesion(
    image: np.ndarray,
    breast_mask: np.ndarray,
    *,
    kind: str,
    spacing_mm: float,
    rng: np.random.Generator | int,
    center: tuple[int, int] | None = None,
    exclude_mask: np.ndarray | None = None,
    **params: Any,
) -> tuple[np.ndarray, LesionRecord]:
    """Insert one lesion; the input array is left unchanged.

    Args:
        image: (H, W) float in [0, 1].
        breast_mask: (H, W) bool; the lesion's whole footprint lies inside it.
        kind: a name in ``LESIONS`` (mass, circumscribed-mass, calcification,
            coarse-calcification, distortion).
        spacing_mm: pixel spacing in mm.
        rng: generator (or integer seed); the same seed gives the same output bit for bit.
        center: (row, col); drawn at random inside the mask when None.
        exclude_mask: optional (H, W) bool area never touched (e.g. the pectoral muscle).
        **params: overrides of the lesion model's sampled parameters (``size_mm``, ``contrast``, ...).

    Returns:
        The new float32 image in [0, 1] and the record of the lesion.

    Raises:
        ConfigError: unknown kind or parameter, bad spacing or size.
        DataError: bad image or mask, or no room for the lesion.
    """
    generator = _as_generator(rng)
    pixels, allowed = _check_inputs(image, breast_mask, exclude_mask)
    breast = np.asarray(breast_mask).astype(bool)
    out, record, _, _ = _insert(pixels, allowed, breast, kind, spacing_mm, generator, center, params)
    return out, record


def _count_range(n: int | tuple[int, int]) -> tuple[int, int]:
    pair = (n, n) if not isinstance(n, tuple | list) else tuple(n)
    if len(pair) != 2:
        raise ConfigError(f"lesion count must be an integer or a (low, high) pair, got {n!r}.")
    low, high = pair
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"lesion count must be an integer or a (low, high) pair, got {n!r}.")
    if not 1 <= low <= high <= _MAX_LESIONS:
        raise ConfigError(
            f"lesion count must satisfy 1 <= low <= high <= {_MAX_LESIONS}, got {n!r}; e.g. n=(1, 3)."
        )
    return int(low), int(high)


def insert_lesions(
    image: np.ndarray,
    breast_mask: np.ndarray,
    *,
    kinds: str | Sequence[str],
    n: int | tuple[int, int] = (1, 3),
    spacing_mm: float,
    rng: np.random.Generator | int,
    exclude_mask: np.ndarray | None = None,
    **params: Any,
) -> tuple[np.ndarray, list[LesionRecord]]:
    """Insert ``n`` lesions (a count, or a (low, high) range drawn from ``rng``), never overlapping.

    Each lesion's kind is drawn uniformly from ``kinds``; ``params`` override every
    lesion's sampled parameters. Later lesions avoid the footprints of earlier ones.

    Returns:
        The new float32 image and one record per lesion.
    """
    generator = _as_generator(rng)
    names = [kinds] if isinstance(kinds, str) else list(kinds)
    if not names:
        raise ConfigError("kinds is empty: name at least one lesion type, e.g. kinds=['mass'].")
    for name in names:
        LESIONS.get(name)
    low, high = _count_range(n)
    pixels, allowed = _check_inputs(image, breast_mask, exclude_mask)
    breast = np.asarray(breast_mask).astype(bool)
    count = int(generator.integers(low, high + 1))
    records = []
    for _ in range(count):
        kind = names[int(generator.integers(len(names)))]
        pixels, record, patch, center = _insert(
            pixels, allowed, breast, kind, spacing_mm, generator, None, params
        )
        records.append(record)
        allowed = remove_footprint(allowed, patch.footprint(), center)
    return pixels, records
