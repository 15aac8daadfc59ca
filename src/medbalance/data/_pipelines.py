"""The two preprocessing pipelines, on float pixels in [0, 1].

Mammography follows Walsh & Tardy (2023): background removal, breast as the
largest component, chest wall to the left, crop, resize keeping aspect, pad,
optional histogram equalisation, [0, 1].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from skimage.exposure import equalize_hist

from medbalance.data._film_bands import (
    chest_wall_gap_columns,
    even_out_bands,
    even_out_slivers,
    repair_scanner_lines,
    top_sliver_rows,
)
from medbalance.data._film_letters import inpaint_enclosed_labels
from medbalance.data._pixels import fit_into_square, fit_plane_into_square, to_channels, to_grey
from medbalance.data.orientation import breast_mask, chest_wall_side_from_mask, work_side_for

if TYPE_CHECKING:
    from medbalance.data.preprocess import PreprocessConfig

__all__ = ["run_generic", "run_mammography"]

_FLAT_RANGE = 1e-5  # below one grey level of a 16-bit image (1 / 65535 = 1.5e-5)


def _equalize(planes: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Histogram equalisation per channel, over ``mask`` only when given; zero outside it.

    A plane whose values (inside ``mask``) span less than ``_FLAT_RANGE`` is left as it
    is: that is below one grey level of a 16-bit image, so equalising it would only
    stretch rounding noise to full contrast (and NumPy cannot cut so small a float32
    range into 256 bins).
    """
    if mask is not None and not mask.any():
        return planes
    out = np.empty_like(planes)
    for index, plane in enumerate(planes):
        inside = plane if mask is None else plane[mask]
        if float(inside.max() - inside.min()) < _FLAT_RANGE:
            out[index] = plane
            continue
        out[index] = equalize_hist(plane, nbins=256, mask=mask)
    if mask is not None:
        out *= mask
    return out


def _to_unit_range(planes: np.ndarray) -> np.ndarray:
    """Divide by the brightest value, keeping the zeroed background at 0."""
    peak = float(planes.max())
    return planes / peak if peak > 0 else np.zeros_like(planes)


def _repair_film_leftovers(
    image: np.ndarray, mask: np.ndarray, *, chest_wall_right: bool, crop: bool
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Inpaint letters, even out a band (crop an opaque one), crop the film's top edge and a gap at the chest wall.

    The repairs assume the chest wall on the left; with ``flip_to_left=False``
    a right chest wall is mirrored for them and back. Returns the image, the
    mask and the rows cropped from the top and columns from the left and right.
    """
    if chest_wall_right:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image, _ = repair_scanner_lines(image, mask)
    image, _ = inpaint_enclosed_labels(image, mask)
    # a band over the top is evened out; an opaque one (tape) is cropped away with the crop
    image, mask, _, opaque = even_out_bands(image, mask, cut_opaque=crop)
    sliver = top_sliver_rows(image, mask) if crop else 0
    # the film's edge along the top (a bright line or a thin band) is cropped away
    image, mask = image[sliver:], mask[sliver:]
    sliver += opaque
    # a thin dark band over part of the top: brightened to the tissue below it, not cut
    image, _ = even_out_slivers(image, mask)
    # columns past the chest wall with a film-edge speck only (a black line in the output)
    gap = chest_wall_gap_columns(mask) if crop else 0
    image, mask = image[:, gap:], mask[:, gap:]
    if chest_wall_right:
        return np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1]), (sliver, 0, gap)
    return image, mask, (sliver, gap, 0)


def run_mammography(values: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """The mammography pipeline; returns (C, size, size) float32 and the fields of PreprocessInfo."""
    grey = to_grey(values).astype(np.float32, copy=False)
    height, width = grey.shape
    mask = breast_mask(grey, work_side=work_side_for(config.size))
    side = chest_wall_side_from_mask(mask) if mask.any() else None
    flipped = bool(config.flip_to_left and side == "right")
    if flipped:
        grey, mask = grey[:, ::-1], mask[:, ::-1]
    top, bottom, left, right = 0, height, 0, width
    if config.crop and mask.any():
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    mask = mask[top:bottom, left:right]
    # background zeroed on the crop only, not on the whole film
    image = np.where(mask, grey[top:bottom, left:right], np.float32(0.0))
    # leftovers the breast encloses are repaired, not cut (docs/preprocessing.md)
    image, mask, (cut_top, cut_left, cut_right) = _repair_film_leftovers(
        image, mask, chest_wall_right=side == "right" and not flipped, crop=config.crop
    )
    top, left, right = top + cut_top, left + cut_left, right - cut_right
    planes, scale, resized = fit_plane_into_square(image, config.size)
    pad = (0, 0)
    small_mask, _, _, _ = fit_into_square(
        mask[None].astype(np.float32), config.size, anchor="top-left", order=0
    )
    small_mask_2d = small_mask[0] > 0.5
    planes = np.clip(planes, 0.0, None) * small_mask_2d
    if config.equalize:
        planes = _equalize(planes, small_mask_2d)
    planes = _to_unit_range(planes)
    if config.channels == 3:
        planes = np.repeat(planes, 3, axis=0)
    info = {
        "chest_wall": side,
        "flipped": flipped,
        "crop_box": (top, bottom, left, right),
        "scale": scale,
        "resized_shape": resized,
        "pad": pad,
        "breast_fraction": float(small_mask_2d.mean()),
    }
    return planes, info


def run_generic(values: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """The generic pipeline: channels, resize keeping aspect, centred zero padding, optional equalisation."""
    planes = to_channels(values, config.channels).astype(np.float32)
    _, height, width = planes.shape
    planes, scale, resized, pad = fit_into_square(planes, config.size, anchor="centre")
    if config.equalize:
        content = np.zeros((config.size, config.size), dtype=bool)
        content[pad[0] : pad[0] + resized[0], pad[1] : pad[1] + resized[1]] = True
        planes = _equalize(planes, content)
    info = {
        "chest_wall": None,
        "flipped": False,
        "crop_box": (0, height, 0, width),
        "scale": scale,
        "resized_shape": resized,
        "pad": pad,
        "breast_fraction": None,
    }
    return np.clip(planes, 0.0, 1.0).astype(np.float32), info
