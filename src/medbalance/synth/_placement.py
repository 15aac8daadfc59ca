"""Where a lesion may go: a centre whose whole footprint lies in the allowed region.

Candidates come from a distance transform of the allowed region, computed on a
conservative block-minimum downsampling (at most ~128 cells a side) so that a
1024-pixel image costs about a millisecond; every candidate is then checked
exactly against the full-resolution mask. When the coarse map finds no room, the
exact full-resolution distance transform decides.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from medbalance.errors import DataError

__all__ = ["choose_center", "footprint_fits", "remove_footprint"]

_COARSE_CELLS = 128
_TRIES = 32


def footprint_fits(allowed: np.ndarray, footprint: np.ndarray, center: tuple[int, int]) -> bool:
    """True when every footprint pixel, centred at ``center``, is in bounds and allowed."""
    half = (footprint.shape[0] - 1) // 2
    rows, cols = np.nonzero(footprint)
    rows = rows + center[0] - half
    cols = cols + center[1] - half
    height, width = allowed.shape
    if rows.size and (rows.min() < 0 or cols.min() < 0 or rows.max() >= height or cols.max() >= width):
        return False
    return bool(allowed[rows, cols].all())


def _coarse_distance(allowed: np.ndarray) -> tuple[np.ndarray, int]:
    """Lower bound, per coarse cell, of the distance (px) from its pixels to a forbidden pixel."""
    factor = max(1, math.ceil(max(allowed.shape) / _COARSE_CELLS))
    height = math.ceil(allowed.shape[0] / factor) * factor
    width = math.ceil(allowed.shape[1] / factor) * factor
    padded = np.zeros((height, width), dtype=bool)
    padded[: allowed.shape[0], : allowed.shape[1]] = allowed
    cells = padded.reshape(height // factor, factor, width // factor, factor).all(axis=(1, 3))
    cells = np.pad(cells, 1)  # outside the image is forbidden
    distance = ndimage.distance_transform_edt(cells)[1:-1, 1:-1]
    return (distance - 1.5) * factor, factor


def remove_footprint(allowed: np.ndarray, footprint: np.ndarray, center: tuple[int, int]) -> np.ndarray:
    """A copy of ``allowed`` with the footprint's in-bounds pixels set to False."""
    half = (footprint.shape[0] - 1) // 2
    rows, cols = np.nonzero(footprint)
    rows = rows + center[0] - half
    cols = cols + center[1] - half
    inside = (rows >= 0) & (cols >= 0) & (rows < allowed.shape[0]) & (cols < allowed.shape[1])
    out = allowed.copy()
    out[rows[inside], cols[inside]] = False
    return out


def choose_center(
    allowed: np.ndarray, footprint: np.ndarray, rng: np.random.Generator, *, what: str, spacing_mm: float
) -> tuple[int, int]:
    """Draw a centre where ``footprint`` fits inside ``allowed``.

    Raises:
        DataError: no centre fits (empty mask, or a lesion larger than the breast).
    """
    half = (footprint.shape[0] - 1) // 2
    rows, cols = np.nonzero(footprint)
    radius = float(np.sqrt(((rows - half) ** 2 + (cols - half) ** 2).max())) if rows.size else 0.0

    coarse, factor = _coarse_distance(allowed)
    cells = np.flatnonzero(coarse > radius)
    for _ in range(_TRIES if cells.size else 0):
        cell = int(cells[rng.integers(cells.size)])
        row = (cell // coarse.shape[1]) * factor + int(rng.integers(factor))
        col = (cell % coarse.shape[1]) * factor + int(rng.integers(factor))
        if footprint_fits(allowed, footprint, (row, col)):
            return row, col

    exact = ndimage.distance_transform_edt(np.pad(allowed, 1))[1:-1, 1:-1]
    spots = np.flatnonzero(exact > radius)
    for _ in range(_TRIES if spots.size else 0):
        spot = int(spots[rng.integers(spots.size)])
        center = (spot // allowed.shape[1], spot % allowed.shape[1])
        if footprint_fits(allowed, footprint, center):
            return center
    largest = float(exact.max()) if exact.size else 0.0
    raise DataError(
        f"no room for a {what} lesion: it reaches {radius * spacing_mm:.1f} mm from its centre, but "
        f"the largest disc inside the breast mask (minus excluded and occupied areas) has radius "
        f"{largest * spacing_mm:.1f} mm. Check the breast mask and pixel spacing, or pass a smaller size_mm."
    )
