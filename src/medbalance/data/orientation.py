"""Where the breast is in a mammogram, and which side its chest wall lies on.

Both answers come from the pixels, never from metadata: mini-MIAS numbers its
films left/right but the displayed orientation does not always follow, and
DICOM laterality tags are often missing or wrong.

The breast mask follows Walsh & Tardy (2023): a triangle threshold separates
the dark background, the largest connected component is the breast (film
labels, markers and bright film edges are separate, smaller objects and are
dropped), and holes inside it are filled. Two steps keep leftovers that touch
the breast out of it: bright labels with a dark rim are cut out first, and an
opening separates anything joined through a part narrower than ~10 mm (film
edges, band rims) before the largest component is taken; the breast's own rim
is then given back (docs/preprocessing.md, tests/test_film_leftovers.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu, threshold_triangle
from skimage.measure import label

__all__ = ["TRIANGLE_BINS", "breast_mask", "chest_wall_side", "chest_wall_side_from_mask", "work_side_for"]

Side = Literal["left", "right"]

TRIANGLE_BINS = 32
"""Histogram bins for the triangle threshold.

A coarse histogram puts the background's grain noise (digitised film is not
zero outside the breast) into the background peak; with 256 bins the threshold
lands inside that noise and the whole film becomes "breast". Chosen on the 322
mini-MIAS films: with 256 bins whole films became "breast".
"""

_WORK_SIDE = 512  # the mask is found on a copy at most this large; it needs no fine detail
_TOP_FRACTION = 0.3
_OPEN_RADIUS = 12
"""Pixels at the working scale (512): parts narrower than ~25 px (about 10 mm on a
mini-MIAS film) are cut from the breast before its largest component is taken:
film-edge strips, the bright rim of a scanner band, the neck between breast and
label. Everything within ``_OPEN_RADIUS + 1`` px of the remaining breast is given
back, so the skin line and nipple are kept (measured on the 322 mini-MIAS films:
benchmarks/film_artifacts.py)."""

_LABEL_BRIGHT = 0.6  # label candidates: at least this fraction of the brightest pixel
_LABEL_RIM = 0.5  # ... whose rim is darker than this fraction of their own median
_LABEL_DARK_RIM = 0.75  # ... over at least this fraction of the rim
_LABEL_MIN_AREA = 20  # pixels at the working scale
_LABEL_MAX_FRACTION = 0.05  # of the foreground: a label is small beside the breast (the pectoral is not)
_LABEL_MARGIN = 3  # pixels removed around a label (its edge and shadow)


def _as_grey(pixels: np.ndarray) -> np.ndarray:
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3].mean(axis=-1)
    if array.ndim != 2:
        raise ValueError(
            f"expected a 2-D grey image (H, W) or colour (H, W, 3), got shape {array.shape}; "
            "pass one image, not a batch or a volume."
        )
    if array.size == 0:
        raise ValueError("the image is empty (0 pixels); check that the file decoded correctly.")
    # float32 stays float32 (the block mean below sums in float64): no float64 copy of a full film
    grey = array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)
    if not np.all(np.isfinite(grey)):
        raise ValueError("the image holds NaN or infinite values; fix the reader or the file.")
    return grey


def _block_mean(grey: np.ndarray, factor: int) -> np.ndarray:
    """float64 mean over ``factor`` x ``factor`` blocks, the last ones zero-padded.

    What ``skimage.measure.block_reduce(grey, (factor, factor), np.mean)`` gives
    (tested), as ``factor``**2 strided additions instead of a mean over a 4-D view.
    """
    height, width = grey.shape
    pad_h, pad_w = -height % factor, -width % factor
    if pad_h or pad_w:
        grey = np.pad(grey, ((0, pad_h), (0, pad_w)))
    total = np.zeros((grey.shape[0] // factor, grey.shape[1] // factor))
    for row in range(factor):
        for col in range(factor):
            total += grey[row::factor, col::factor]
    return total / float(factor * factor)


_OTSU_BINS = 256  # skimage's default for threshold_otsu


def _triangle_from_histogram(hist: np.ndarray, centres: np.ndarray) -> float:
    """``skimage.filters.threshold_triangle`` on a histogram already made (its steps, line by line)."""
    nbins = len(hist)
    arg_peak = int(np.argmax(hist))
    peak_height = float(hist[arg_peak])
    arg_low, arg_high = np.flatnonzero(hist)[[0, -1]]
    flip = arg_peak - arg_low < arg_high - arg_peak
    if flip:
        hist = hist[::-1]
        arg_low = nbins - arg_high - 1
        arg_peak = nbins - arg_peak - 1
    width = arg_peak - arg_low
    x1 = np.arange(width)
    y1 = hist[x1 + arg_low]
    norm = np.sqrt(peak_height**2 + width**2)
    length = (peak_height / norm) * x1 - (width / norm) * y1
    arg_level = int(np.argmax(length)) + arg_low
    if flip:
        arg_level = nbins - arg_level - 1
    return float(centres[arg_level])


def _triangle_and_otsu(grey: np.ndarray) -> tuple[float, float]:
    """``threshold_triangle(grey, nbins=TRIANGLE_BINS)`` and ``threshold_otsu(grey)`` from one histogram.

    Both histograms span the image's range; 256 bins are 8 x 32 with the same
    edges (numpy scales by a power of two, exactly), so the 32-bin histogram
    is the 256-bin one summed in groups of 8: the same counts (tested), one
    pass over the pixels instead of two. ``grey`` must not be constant.
    """
    low, high = float(grey.min()), float(grey.max())
    counts, edges = np.histogram(grey, bins=_OTSU_BINS, range=(low, high))
    otsu = float(threshold_otsu(hist=(counts, (edges[:-1] + edges[1:]) / 2.0)))
    coarse_edges = np.linspace(low, high, TRIANGLE_BINS + 1)
    coarse = counts.reshape(TRIANGLE_BINS, -1).sum(axis=1)
    triangle = _triangle_from_histogram(coarse, (coarse_edges[:-1] + coarse_edges[1:]) / 2.0)
    return triangle, otsu


def _background_threshold(grey: np.ndarray) -> float:
    """Triangle threshold, kept below the tissue.

    The triangle method assumes the background is the histogram's main peak.
    When the breast fills most of the frame its own peak dominates and the
    triangle threshold lands inside the tissue (above Otsu's threshold, which
    splits background from tissue); the triangle is then taken over the darker
    Otsu class only, where the background peak is the main one again.
    """
    threshold, otsu = _triangle_and_otsu(grey)
    if threshold > otsu:
        dark = grey[grey <= otsu]
        if dark.size and dark.max() > dark.min():
            threshold = float(threshold_triangle(dark, nbins=TRIANGLE_BINS))
    return threshold


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndi.binary_fill_holes`` (4-connected background reached from the border stays), by labelling.

    One labelling pass instead of scipy's iterated dilation; the same pixels
    (tested), about 5x faster at 512 px.
    """
    background, count = ndi.label(~mask)
    edges = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    outside = np.zeros(count + 1, dtype=bool)
    outside[edges] = True
    outside[0] = False
    return np.asarray(mask | ((background > 0) & ~outside[background]))


def _upsample(mask: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour upsampling by an integer factor, cropped to ``shape``.

    Each pixel becomes a ``factor`` x ``factor`` block: what ``skimage``'s
    ``resize(order=0)`` gives for an integer factor (tested), without its float copies.
    """
    big = np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1)
    return big[: shape[0], : shape[1]]


def _largest_component(foreground: np.ndarray) -> np.ndarray:
    labels = label(foreground, connectivity=2)
    if labels.max() == 0:
        return np.zeros_like(foreground, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == sizes.argmax())


def _labels_with_dark_rim(small: np.ndarray, foreground: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Bright objects (label cards, lead letters, tape) that sit on a dark rim.

    A label is bright and lies on background or thin skin, so most of the ring
    of pixels around it is far darker than it; dense tissue, a mass or the
    pectoral muscle is bright too, but surrounded by tissue of similar
    brightness. Returned grown by ``_LABEL_MARGIN`` so the card's edge goes too.
    ``scale``: the working copy's side over ``_WORK_SIDE``; the sizes in pixels
    (least area, rim width, margin) are set for 512 px and scaled with it.
    """
    min_area = max(1, round(_LABEL_MIN_AREA * scale * scale))
    rim = max(1, round(3 * scale))
    margin = max(1, round(_LABEL_MARGIN * scale))
    peak = float(small.max())
    largest = _LABEL_MAX_FRACTION * int(foreground.sum())
    components, _ = ndi.label(small >= _LABEL_BRIGHT * peak, structure=np.ones((3, 3)))
    labels = np.zeros(small.shape, dtype=bool)
    # areas first, so the loop only visits objects of a label's size (most are grain specks)
    areas = np.bincount(components.ravel())
    for index, box in enumerate(ndi.find_objects(components), start=1):
        if box is None or not min_area <= int(areas[index]) <= largest:
            continue
        window = tuple(slice(max(part.start - 3, 0), part.stop + 3) for part in box)
        piece = components[window] == index
        ring = ndi.binary_dilation(piece, iterations=rim) & ~piece
        level = float(np.median(small[window][piece]))
        if ring.any() and float((small[window][ring] < _LABEL_RIM * level).mean()) >= _LABEL_DARK_RIM:
            labels[window] |= piece
    if labels.any():
        labels = ndi.binary_dilation(labels, iterations=margin)
    return labels


def _row_distance(mask: np.ndarray, cap: int) -> np.ndarray:
    """Per pixel, the distance along its row to the nearest True pixel, at most ``cap`` (int32)."""
    width = mask.shape[1]
    columns = np.arange(width, dtype=np.int32)
    far = np.int32(width + cap + 1)
    left = np.maximum.accumulate(np.where(mask, columns, -far), axis=1)
    right = np.minimum.accumulate(np.where(mask, columns, width + far)[:, ::-1], axis=1)[:, ::-1]
    return np.minimum(np.minimum(columns - left, right - columns), cap)


def _dilate_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within Euclidean distance ``radius`` of a True pixel of ``mask`` (nothing outside the image).

    ``ndi.distance_transform_edt(~mask) <= radius`` for a mask with a True pixel
    (tested), without the full transform: the distance along each row, then
    the smallest ``row distance**2 + dy**2`` over the ``2 * radius + 1`` rows
    around, which is all a disk of ``radius`` can reach. Integer squares, so
    the comparison is exact.
    """
    height = mask.shape[0]
    along = _row_distance(mask, radius + 1) ** 2
    best = along.copy()
    for dy in range(1, min(radius, height - 1) + 1):
        step = np.int32(dy * dy)
        np.minimum(best[dy:], along[:-dy] + step, out=best[dy:])
        np.minimum(best[:-dy], along[dy:] + step, out=best[:-dy])
    return best <= radius * radius


def _open(foreground: np.ndarray, radius: int) -> np.ndarray:
    """Binary opening by a disk of ``radius``: what two distance transforms give (tested), faster.

    ``inside`` (the erosion) is every pixel farther than ``radius`` from the
    background, the image's surround counting as background; the opening is
    everything within ``radius`` of ``inside``.
    """
    inside = ~_dilate_disk(np.pad(~foreground, 1, constant_values=True), radius)[1:-1, 1:-1]
    if not inside.any():
        # scipy's transform of an image with no zero measures from a corner; keep its answer
        inside = ndi.distance_transform_edt(np.pad(foreground, 1)) > radius
        return np.asarray(ndi.distance_transform_edt(~inside) <= radius)[1:-1, 1:-1]
    return _dilate_disk(inside, radius)


def work_side_for(size: int) -> int:
    """Side of the working copy the breast mask is found on, for an output of ``size`` px.

    Twice the output side, between 256 and ``_WORK_SIDE`` (512): a mask pixel
    is then at most half an output pixel, so the mask is as fine as the output
    can show, and a 128-px output costs a 256-px mask (a quarter of the pixels,
    ~3x faster). Outputs of 256 px and more keep the 512-px mask.
    """
    return int(min(_WORK_SIDE, max(256, 2 * int(size))))


def breast_mask(pixels: np.ndarray, *, work_side: int = _WORK_SIDE) -> np.ndarray:
    """The breast as a boolean mask of the same height and width as ``pixels``.

    Triangle threshold (on a block-averaged copy at most 512 px on a side, with
    ``TRIANGLE_BINS`` bins; see ``_background_threshold`` for frame-filling
    breasts); then, on a block-averaged copy at most ``work_side`` px on a side,
    dark-rimmed labels cut out, opening, largest connected component,
    rim given back, holes filled, scaled back to full size. Everything outside
    (labels, markers, film edges) is False.

    Args:
        pixels: a grey (H, W) or colour (H, W, 3) image of any numeric dtype,
            dense tissue bright.
        work_side: the largest side of the working copy (default 512); the
            sizes in pixels (opening radius, label area, rim and margin) scale
            with it. The mammography pipeline passes :func:`work_side_for` its
            output size.

    Returns:
        A bool array (H, W); all False for a constant image (nothing to find).

    Raises:
        ValueError: the array is not one 2-D image or holds NaN/inf.
    """
    grey = _as_grey(pixels)
    height, width = grey.shape
    if grey.max() <= grey.min():
        return np.zeros((height, width), dtype=bool)
    if work_side < 16:
        raise ValueError(f"work_side must be at least 16 px, got {work_side}.")
    # The threshold is always taken on the copy of at most _WORK_SIDE px: the
    # triangle/Otsu pair can jump between two levels on a coarser histogram
    # (mdb204, mdb240 lost their skin line on a 256-px copy). A coarser working
    # copy is then made from that one: block means of block means, the same numbers.
    coarse = max(1, int(np.ceil(max(height, width) / _WORK_SIDE)))
    reference = _block_mean(grey, coarse) if coarse > 1 else grey.astype(np.float64, copy=False)
    if reference.max() <= reference.min():
        return np.zeros((height, width), dtype=bool)
    threshold = _background_threshold(reference)
    factor = max(coarse, int(np.ceil(max(height, width) / work_side)))
    if factor == coarse:
        small = reference
    elif factor % coarse == 0:
        small = _block_mean(reference, factor // coarse)
    else:
        small = _block_mean(grey, factor)
    if small.max() <= small.min():
        return np.zeros((height, width), dtype=bool)
    foreground = small > threshold
    foreground &= ~_labels_with_dark_rim(small, foreground, work_side / _WORK_SIDE)
    # Open before picking the largest component so a label, film-edge strip or
    # band touching the breast through a narrow part becomes a separate object;
    # then give the breast back the rim the opening took (within the foreground).
    # the radius is set for a 512 px working copy; smaller copies get a smaller one, never below 3
    radius = max(3, round(_OPEN_RADIUS * max(small.shape) / _WORK_SIDE))
    core = _largest_component(_open(foreground, radius))
    if not core.any():
        core = _largest_component(foreground)
    near = _dilate_disk(core, radius + 1) if core.any() else ndi.distance_transform_edt(~core) <= radius + 1
    grown = near & foreground
    mask = _fill_holes(_largest_component(grown))
    if factor > 1:
        # block_reduce pads the last block; crop the upsampled mask back to size.
        mask = _upsample(mask, factor, (height, width))
    return np.asarray(mask, dtype=bool)


def _centre_balance(mask: np.ndarray, x: np.ndarray) -> float:
    """Mean of ``x`` (one value per column) over the mask's pixels."""
    per_column = np.count_nonzero(mask, axis=0)
    return float((per_column * x).sum() / max(int(per_column.sum()), 1))


def chest_wall_side(pixels: np.ndarray) -> Side:
    """``"left"`` or ``"right"``: the image edge the chest wall (pectoral side) lies on.

    Two cues from the breast mask, added: where its area lies within its own
    bounding box (the breast is widest at the chest wall and tapers to the
    nipple), and the same over its top 30% of rows, where the pectoral muscle
    and axilla hug the chest-wall side. The second settles films whose breast
    fills the frame. On all 322 mini-MIAS films the answer matches the odd =
    right / even = left film numbering (see docs/preprocessing.md).

    Args:
        pixels: a grey (H, W) or colour (H, W, 3) mammogram, dense tissue bright.

    Returns:
        The side; ``"left"`` when there is no breast to judge (constant image),
        so that callers leave such an image unflipped.

    Raises:
        ValueError: the array is not one 2-D image or holds NaN/inf.
    """
    return chest_wall_side_from_mask(breast_mask(pixels))


def chest_wall_side_from_mask(mask: np.ndarray) -> Side:
    """:func:`chest_wall_side` for a breast mask already computed (see there).

    Args:
        mask: a bool (H, W) breast mask, e.g. from :func:`breast_mask`.

    Returns:
        The side; ``"left"`` for an empty mask.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask (H, W), got shape {mask.shape}.")
    if not mask.any():
        return "left"
    rows = np.flatnonzero(mask.any(axis=1))
    top_rows = max(1, int(_TOP_FRACTION * (rows[-1] - rows[0] + 1)))
    top = mask[rows[0] : rows[0] + top_rows]
    columns = np.flatnonzero(mask.any(axis=0))
    # column position relative to the breast's bounding box: -0.5 left edge, 0.5 right edge
    x = (np.arange(mask.shape[1]) - (columns[0] + columns[-1]) / 2) / max(columns[-1] - columns[0], 1)
    score = _centre_balance(mask, x) + _centre_balance(top, x)
    return "right" if score > 0 else "left"
