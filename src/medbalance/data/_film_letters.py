"""Inpaint lead letters and markers that the breast mask encloses, keeping the tissue.

The breast mask (``orientation.breast_mask``) drops everything outside the
breast; a lead letter or marker on the skin line (mini-MIAS mdb274's "0 5")
is put back into the mask by hole filling, and cutting it out would cut
tissue. ``inpaint_enclosed_labels`` finds it on the cropped full-size image
(bright, compact, stroked, near the skin, dark rim, sharp edge) and replaces
its pixels by a smooth fill from the skin around it. ``_film_bands`` repairs
the other leftovers inside the mask (scanner bands, the film's edges).

Sizes in pixels are set for a copy 512 px on a side and grow with larger
films (the breast mask's convention, never shrunk). docs/preprocessing.md
gives the measurements on the 322 mini-MIAS films.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import convex_hull_image

from medbalance.data.orientation import _block_mean

__all__ = ["inpaint_enclosed_labels"]

_WORK_SIDE = 512
_BRIGHT = 0.6  # candidates: at least this fraction of the brightest breast pixel
_MIN_AREA = 20  # pixels at 512 px: a letter is ~100, a calcification a few
_MIN_SIDE = 5  # pixels at 512 px: a letter's box is at least this tall and wide (film-edge lines are thinner)
_MAX_FRACTION = 0.05  # of the breast: the pectoral muscle and dense tissue are larger
_RIM = 3  # pixels at 512 px: the ring judged around a candidate
_DARK = 0.65  # share of the ring darker than half the candidate's median
_ENCLOSED = 0.5  # share of the ring inside the breast mask (else the mask already dropped it)
_SOLID = 0.8  # at most this share of its convex hull: a letter has strokes and holes, a speck is solid
_SKIN = 16  # pixels at 512 px: a marker lies on the skin line, this near the breast's edge
_SHARP = 0.45  # brightness drop across the candidate's edge (2 px in, 2 px out, full size), / its median
_GROW = 4  # full-size pixels added around a label: its blurred edge and dark halo
_MIN_FILM_SIDE = 256  # pixels: a smaller crop is a thumbnail (a phantom), where a mass looks like a letter


def _hole_fill(image: np.ndarray, hole: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` with ``hole`` replaced by a Gaussian-weighted mean of the ``known`` pixels around it."""
    rows, cols = np.nonzero(hole)
    sigma = max(2.0, 0.25 * max(np.ptp(rows) + 1, np.ptp(cols) + 1))
    weights = ndi.gaussian_filter(known.astype(np.float64), sigma, mode="constant")
    values = ndi.gaussian_filter(np.where(known, image, 0.0).astype(np.float64), sigma, mode="constant")
    out = image.copy()
    fill = values[hole] / np.maximum(weights[hole], 1e-12)
    out[hole] = np.where(weights[hole] > 1e-6, fill, 0.0).astype(image.dtype)
    return out


def inpaint_enclosed_labels(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace lead letters and markers enclosed by the breast with the skin around them.

    A candidate is a group of pixels at least ``_BRIGHT`` of the brightest
    breast pixel (on a block-averaged copy of at most 512 px), ``_MIN_AREA`` px
    to ``_MAX_FRACTION`` of the breast, at least ``_MIN_SIDE`` px tall and
    wide, and away from the crop's border (the film edge runs along it); it
    covers at most ``_SOLID`` of its convex hull (a letter has strokes and
    holes; a calcification speck, however bright and sharp, is solid) and lies
    within ``_SKIN`` px of the breast's edge (markers are put on the skin). It
    is a label when, around it (holes filled), at least ``_DARK`` of
    a ``_RIM``-px ring is darker than half its median, at least ``_ENCLOSED``
    of that ring lies inside the mask, and at full size its edge is sharp: the
    2 px just inside are brighter than the 2 px just outside by ``_SHARP`` of
    its median. A mass or the pectoral muscle fades into tissue of similar
    brightness; a calcification is smaller; the film edge is thinner or lies
    on the mask's border. Crops under ``_MIN_FILM_SIDE`` px on their longer
    side are left alone: a letter there is a few pixels, and the bright,
    lobed masses of 80-px phantoms passed every test above.

    Args:
        image: the cropped grey image, float, zero outside ``mask``.
        mask: the breast mask of the same shape.

    Returns:
        The image (a new array when something was repaired) and the number of
        labels repaired.
    """
    height, width = image.shape
    if max(height, width) < _MIN_FILM_SIDE:
        # lesions of 80-px phantoms passed every test and were painted over (8 of 8,000)
        return image, 0
    factor = max(1, int(np.ceil(max(height, width) / _WORK_SIDE)))
    small = _block_mean(image, factor) if factor > 1 else image.astype(np.float64)
    small_mask = mask[::factor, ::factor][: small.shape[0], : small.shape[1]]
    peak = float(small.max())
    if peak <= 0:
        return image, 0
    # sizes shrink with a larger film's copy, never below their 512-px values: on a
    # small image (a 256-px phantom) a calcification speck is as large as a letter would be
    scale = max(1.0, max(small.shape) / _WORK_SIDE)
    min_area = max(1, round(_MIN_AREA * scale * scale))
    min_side = max(2, round(_MIN_SIDE * scale))
    rim = max(1, round(_RIM * scale))
    skin_reach = max(1, round(_SKIN * scale))
    largest = _MAX_FRACTION * int(small_mask.sum())
    components, _ = ndi.label((small >= _BRIGHT * peak) & small_mask, structure=np.ones((3, 3)))
    areas = np.bincount(components.ravel())
    out, repaired = image, 0
    for index, box in enumerate(ndi.find_objects(components), start=1):
        if box is None or not min_area <= int(areas[index]) <= largest:
            continue
        if min(part.stop - part.start for part in box) < min_side:
            continue
        if any(
            part.start <= rim or part.stop + rim >= side for part, side in zip(box, small.shape, strict=True)
        ):
            continue  # at the crop's border: the film edge, which the breast does not enclose
        window = tuple(slice(part.start - rim - 1, part.stop + rim + 1) for part in box)
        own = components[window] == index
        if own.sum() > _SOLID * convex_hull_image(own).sum():
            continue
        skin = tuple(slice(max(part.start - skin_reach, 0), part.stop + skin_reach) for part in box)
        if small_mask[skin].all():
            continue  # deep inside the breast: not where a marker is placed
        piece = ndi.binary_fill_holes(own)
        ring = ndi.binary_dilation(piece, iterations=rim) & ~piece
        if not ring.any():
            continue
        level = float(np.median(small[window][piece]))
        around = small[window][ring]
        if float((around < 0.5 * level).mean()) < _DARK or float(small_mask[window][ring].mean()) < _ENCLOSED:
            continue
        hole = _label_pixels(out, mask, box, factor, level, float(np.median(around)))
        if hole is None:
            continue
        big, region = hole
        # the fill is taken a few pixels away from the letter, past its dark halo
        known = mask[big] & ~ndi.binary_dilation(region, iterations=_GROW)
        out = out.copy() if out is image else out
        out[big] = _hole_fill(out[big], region, known)
        repaired += 1
    return out, repaired


def _label_pixels(
    image: np.ndarray, mask: np.ndarray, box: tuple[slice, ...], factor: int, level: float, rim_level: float
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The full-size window around a candidate and its label pixels, or None when its edge is not sharp.

    Label pixels: brighter than halfway between the candidate and its rim,
    within a margin of its box (so a letter's separate stroke goes too), holes
    filled, grown by ``_GROW`` px for the blurred edge and its dark halo.
    """
    margin = 3 * factor + 2
    top, left = box[0].start * factor, box[1].start * factor
    bottom, right = box[0].stop * factor, box[1].stop * factor
    near = (slice(max(top - margin, 0), bottom + margin), slice(max(left - margin, 0), right + margin))
    bright = ndi.binary_fill_holes((image[near] > 0.5 * (level + rim_level)) & mask[near])
    if not bright.any():
        return None
    inner = bright & ~ndi.binary_erosion(bright, iterations=2)
    outer = ndi.binary_dilation(bright, iterations=2) & ~bright
    if not inner.any() or not outer.any():
        return None
    step = float(image[near][inner].mean() - image[near][outer].mean())
    if step < _SHARP * level:
        return None
    pad = 2 + 4 * margin  # room for the fill's Gaussian
    big = (
        slice(max(near[0].start - pad, 0), min(near[0].stop + pad, image.shape[0])),
        slice(max(near[1].start - pad, 0), min(near[1].stop + pad, image.shape[1])),
    )
    region = np.zeros((big[0].stop - big[0].start, big[1].stop - big[1].start), dtype=bool)
    offset = (near[0].start - big[0].start, near[1].start - big[1].start)
    grown = ndi.binary_dilation(bright, iterations=_GROW)
    region[offset[0] : offset[0] + grown.shape[0], offset[1] : offset[1] + grown.shape[1]] = grown
    return big, region & mask[big]
