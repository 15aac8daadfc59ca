"""Even out scanner bands over the breast and crop the film's edges, keeping the tissue.

Leftovers the breast mask cannot drop because they lie over the breast or
because the crop reaches them (the chest wall on the left, as after the
pipeline's flip):

- ``even_out_bands``: a scanner band laid across the top of the breast
  (mdb002, mdb155, ...) darkens or fogs the tissue under it with a straight
  edge. The tissue under it is real and stays; the band's brightness is
  mapped onto the brightness the same tissue has just past its edge.
- ``repair_scanner_lines``: a scanner's 1-px line along a whole column or
  row (mdb013's column, the line near row 987 of many films), to fill in
  from its neighbours.
- ``top_sliver_rows``: the film's edge along the top (a bright first row, a
  strip too thin to even out), to crop.
- ``chest_wall_gap_columns``: columns past the chest wall that the crop took
  in for a film-edge speck, to crop.

Sizes are full-size pixels of a mini-MIAS film (1024 px, 0.2 mm);
docs/preprocessing.md gives the measurements on its 322 films.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["chest_wall_gap_columns", "even_out_bands", "even_out_slivers", "repair_scanner_lines", "top_sliver_rows"]

_BAND_REACH = 0.25  # a band's edge lies in the outer quarter of the breast's rows
_BAND_GAP = 3  # full-size rows skipped on each side of an edge (the scan blurs it over ~2 rows)
_BAND_ROWS = 8  # full-size rows averaged on each side of the edge to compare
_BAND_SMOOTH = 15  # full-size columns averaged along a row (the band's grain)
_BAND_STEP = 0.04  # brightness change across the edge (of the image's [0, 1] scale) ...
_BAND_SHARE = 0.8  # ... the same way over at least this share of the columns ...
_BAND_WIDTH = 60  # ... and at least this many columns, full size
_BAND_BINS = 16  # quantile bins of the brightness map from band to tissue
_BAND_MAX_SLOPE = 12.0  # steepest piece of that map; steeper (mdb283: 32, band over tape) is opaque
_OPAQUE_LAYERS = 3  # opaque bands laid over each other (mdb283's tape) are cut one by one ...
_UNDER_OPAQUE_SHARE = 0.6  # ... and a layer under a cut one may cover less of the width (mdb283: 0.6-0.7)
_OFF_TOP = 0.75  # a band lies over a breast that runs off the film's top: as wide there as at the edge


def _band_edge(image: np.ndarray, mask: np.ndarray, share_needed: float = _BAND_SHARE) -> int | None:
    """Row index of the first row past a band along the top, or None.

    The edge is where, between the row ``_BAND_GAP`` above and the row
    ``_BAND_GAP - 1`` below, at least ``_BAND_SHARE`` of the columns that are
    breast on both (and ``_BAND_WIDTH`` of them) change by more than
    ``_BAND_STEP`` the same way (``share_needed``), on the image's median over 5 rows (a thin
    scanner line is no edge) averaged over ``_BAND_SMOOTH`` columns; the
    strongest such row wins. Tissue has no straight horizontal
    edge across the breast; the pectoral muscle's edge is diagonal.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size < 4 * (_BAND_GAP + _BAND_ROWS):
        return None
    first = int(rows[0])
    stop = first + max(int(_BAND_REACH * rows.size), _BAND_GAP + _BAND_ROWS + 1)
    low = first + _BAND_GAP + _BAND_ROWS  # room for the rows compared above the edge
    if stop <= low:
        return None
    # every third column (the average over _BAND_SMOOTH columns follows anyway); the median
    # of 5 rows, so a thin scanner line (1-2 rows, mini-MIAS row 988) is no edge
    step = 3
    part = image[first : stop + _BAND_GAP, ::step]
    smooth = ndi.uniform_filter1d(ndi.median_filter(part, size=(5, 1)), _BAND_SMOOTH // step, axis=1)
    inside = mask[first : stop + _BAND_GAP, ::step]
    above = slice(low - first - _BAND_GAP, stop - first - _BAND_GAP)
    below = slice(low - first + _BAND_GAP - 1, stop - first + _BAND_GAP - 1)
    both = inside[above] & inside[below]
    change = smooth[below] - smooth[above]
    counts = both.sum(axis=1)
    best, edge = 0.0, None
    for sign in (1.0, -1.0):
        hits = ((sign * change > _BAND_STEP) & both).sum(axis=1)
        share = np.where(counts * step >= _BAND_WIDTH, hits / np.maximum(counts, 1), 0.0)
        index = int(share.argmax())
        if share[index] >= share_needed and share[index] > best:
            best, edge = float(share[index]), low + index
    return edge


def _band_columns(band: np.ndarray, tissue: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Columns under the band: breast on both sides of the edge with a step there, in runs of ``_BAND_WIDTH``.

    A band need not span the breast (mdb010's covers its middle): columns
    beside it have no step and are left alone. Gaps up to ``_BAND_SMOOTH``
    columns inside a run are closed.
    """
    sign = 1.0 if np.median((tissue - band)[columns]) > 0 else -1.0
    under = columns & (sign * (tissue - band) > 0.5 * _BAND_STEP)
    reach = 2 * _BAND_SMOOTH + 1
    # edge padding: a run reaching the crop's border is not eroded there
    under = ndi.binary_closing(np.pad(under, reach, mode="edge"), structure=np.ones(reach))[reach:-reach]
    under &= columns
    runs, count = ndi.label(under)
    sizes = np.bincount(runs.ravel(), minlength=count + 1)
    keep = sizes >= _BAND_WIDTH
    keep[0] = False
    return np.asarray(keep[runs], dtype=bool)


def _monotone_map(band: np.ndarray, tissue: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Medians of ``tissue`` per quantile bin of ``band``, made non-decreasing: (keys, values), or None."""
    edges = np.quantile(band, np.linspace(0.0, 1.0, _BAND_BINS + 1))
    which = np.clip(np.searchsorted(edges, band, side="right") - 1, 0, _BAND_BINS - 1)
    keys, values = [], []
    for index in range(_BAND_BINS):
        chosen = which == index
        if chosen.any():
            keys.append(float(np.median(band[chosen])))
            values.append(float(np.median(tissue[chosen])))
    keys_array = np.asarray(keys)
    if keys_array.size < 2 or np.any(np.diff(keys_array) <= 0):
        return None
    return keys_array, np.maximum.accumulate(np.asarray(values))


def _too_steep(keys: np.ndarray, values: np.ndarray) -> bool:
    """A steep piece would blow the band's grain up into noise: the tissue does not show through."""
    return float(np.max(np.diff(values) / np.diff(keys))) > _BAND_MAX_SLOPE


def _apply_map(values: np.ndarray, keys: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """``np.interp`` inside the keys; beyond them a straight line with the map's overall slope, never below 0."""
    slope = (mapped[-1] - mapped[0]) / (keys[-1] - keys[0])
    out = np.interp(values, keys, mapped)
    out = np.where(values < keys[0], mapped[0] + slope * (values - keys[0]), out)
    out = np.where(values > keys[-1], mapped[-1] + slope * (values - keys[-1]), out)
    return np.maximum(out, 0.0)


def _fit_band(
    image: np.ndarray, mask: np.ndarray, inner: slice, outer: slice
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
    """The band's columns and its brightness map (keys, values), pairing ``inner`` with ``outer`` rows; or None."""
    columns = np.asarray(mask[inner].all(axis=0) & mask[outer].all(axis=0), dtype=bool)
    band = ndi.uniform_filter1d(image[inner].mean(axis=0, dtype=np.float64), _BAND_SMOOTH)
    tissue = ndi.uniform_filter1d(image[outer].mean(axis=0, dtype=np.float64), _BAND_SMOOTH)
    under = _band_columns(band, tissue, columns)
    if under.sum() < _BAND_WIDTH:
        return None
    fitted = _monotone_map(band[under], tissue[under])
    return None if fitted is None else (np.flatnonzero(under), fitted)


def _map_band_rows(
    image: np.ndarray, mask: np.ndarray, inner: slice, outer: slice, cols: np.ndarray, fitted: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Map rows 0 to ``inner.stop - 1`` of ``cols`` through ``fitted``; the rows up to ``outer`` (the edge) are bridged linearly."""
    out = image.copy()
    last = inner.stop - 1  # the last band row clear of the edge's blur
    first_clean = outer.start
    rows = out[: last + 1, cols]
    # never brighter than the brightest tissue past the band: the band must not set the image's peak
    peak = float(image[first_clean:].max()) if image.shape[0] > first_clean else float(image.max())
    mapped = np.minimum(_apply_map(rows, *fitted), peak).astype(image.dtype)
    out[: last + 1, cols] = np.where(mask[: last + 1, cols], mapped, rows)
    # the edge itself (a dark or bright line a few rows thick): bridged row by row
    # between the last band row and the first clean row, in the band's columns
    span = first_clean - last
    for step in range(1, span):
        weight = step / span
        row = last + step
        bridged = (1 - weight) * out[last, cols] + weight * out[first_clean, cols]
        out[row, cols] = np.where(mask[row, cols], bridged, out[row, cols]).astype(image.dtype)
    # past the band's last evened column, away from the chest wall (on the left), the band lies
    # over the dim skin line and the background (mdb002's right end): no tissue pairs with it
    # there, and left as it is it would be a grey patch beside the breast; it becomes background
    out[:first_clean, int(cols[-1]) + 1 :] = 0.0
    return out


_LINE_STEP = 0.03  # a scanner line differs from the pixels 2 away on each side by more than this ...
_LINE_SHARE = 0.5  # ... in at least this share of the rows where its 7-pixel neighbourhood is breast ...
_LINE_LENGTH = 48  # ... over at least this many full-size rows (1 cm at 1024 px; scaled with the longer side)
_LINE_BORDER = 24  # full-size pixels from the crop's edges where no line is looked for (film and band edges)
_LINE_EVERY = 4  # every 4th row is looked at to find a column's line (a line spans hundreds)
_LINE_RUN = 8  # ... and the differences averaged over 8 of those rows (32 full-size rows)
_LINE_MIN_SIDE = 512  # pixels: a smaller crop is no full-resolution scan (phantoms' noise made "lines" at 128-256 px)


def _line_columns(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Columns holding a 1-px line: off their neighbours 2 away in most breast rows, unlike the columns beside them."""
    if max(image.shape) < _LINE_MIN_SIDE or image.shape[1] < 2 * _LINE_BORDER + 7:
        return np.zeros(0, dtype=int)
    part = image[:: _LINE_EVERY].astype(np.float32, copy=False)
    diff = part[:, 3:-3] - 0.5 * (part[:, 1:-5] + part[:, 5:-1])  # index j is column j + 3
    # a line is off by about the same along its length; pixel noise (phantoms) averages out
    diff = ndi.uniform_filter1d(diff, _LINE_RUN, axis=0)
    inside = ndi.minimum_filter1d(mask[:: _LINE_EVERY].astype(np.uint8), 7, axis=1)[:, 3:-3].astype(bool)
    rows = inside.sum(axis=0)
    size = np.abs(diff) * inside
    share = (size > _LINE_STEP).sum(axis=0) / np.maximum(rows, 1)
    # the length scales with the film (its longer side), not with the side the line runs along
    off = (share >= _LINE_SHARE) & (rows * _LINE_EVERY >= _LINE_LENGTH * max(image.shape) / 1024)
    padded = np.pad(off, 1)
    alone = off & ~padded[:-2] & ~padded[2:]  # one column wide: a band's edge or a fold is wider
    # a line also makes the columns 2 away look off (by half as much): keep the strongest
    strength = np.pad(np.where(alone, size.sum(axis=0) / np.maximum(rows, 1), 0.0), 2)
    line = alone & (strength[2:-2] >= strength[:-4]) & (strength[2:-2] >= strength[4:])
    columns = np.flatnonzero(line) + 3
    return columns[(columns >= _LINE_BORDER) & (columns < image.shape[1] - _LINE_BORDER)]


def repair_scanner_lines(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill a scanner's 1-px lines along whole columns or rows from the pixels beside them.

    A line is a column (or row) that differs from the pixels 2 away on each
    side by more than ``_LINE_STEP`` in at least ``_LINE_SHARE`` of the rows
    where its 7-pixel neighbourhood is breast, over at least ``_LINE_LENGTH``
    full-size rows, while the columns next to it do not (1 px wide: no vessel,
    duct or fold is that thin and straight for 2 cm), at least
    ``_LINE_BORDER`` px from the crop's edges, on crops of at least
    ``_LINE_MIN_SIDE`` px. Its pixels with breast on both sides become the
    mean of those two neighbours. mini-MIAS: mdb013's column (bright at the
    top, dark in the middle), a few other columns and the line near row 987
    of many films (docs/preprocessing.md).

    Returns:
        The image (a new array when a line was filled) and the number of lines.
    """
    columns = _line_columns(image, mask)
    rows = _line_columns(image.T, mask.T)
    if columns.size == 0 and rows.size == 0:
        return image, 0
    out = image.copy()
    for column in columns:
        beside = 0.5 * (out[:, column - 1] + out[:, column + 1])
        inside = mask[:, column - 1] & mask[:, column] & mask[:, column + 1]
        out[:, column] = np.where(inside, beside, out[:, column])
    for row in rows:
        beside = 0.5 * (out[row - 1] + out[row + 1])
        out[row] = np.where(mask[row - 1] & mask[row] & mask[row + 1], beside, out[row])
    return out, int(columns.size + rows.size)


_SLIVER_ROWS = 12  # full-size rows (at 1024 px; scaled with the image): a thinner strip along the top ...
_SLIVER_SHARE = 0.9  # ... whose edge changes by _BAND_STEP the same way over this share of its columns


def top_sliver_rows(image: np.ndarray, mask: np.ndarray) -> int:
    """Rows of a thin strip along the top of the crop that carry the film's edge, not tissue (0 if none).

    A band thinner than ``_SLIVER_ROWS`` (mdb002's bright top strip, the dark
    slivers of mdb273 and mdb317, the bright first row of many films) leaves
    no room for ``even_out_bands`` to pair band and tissue. Each of the first
    rows is compared with the mean of the 4 rows just past ``_SLIVER_ROWS``
    (averaged over ``_BAND_SMOOTH`` columns, breast in both, at least
    ``_BAND_WIDTH`` columns): the strip is the run of rows from the top in
    which at least ``_SLIVER_SHARE`` of the columns differ by more than
    ``_BAND_STEP`` the same way, plus the next row when half of its columns
    do (the blurred edge). The pipeline crops these rows away: a line of 1-3
    rows (the film's bright top edge) holds no tissue; under a dark sliver
    (mdb273, mdb317) up to ``_SLIVER_ROWS`` rows of the breast's top edge (2.4
    mm on mini-MIAS) go with it (docs/preprocessing.md).
    """
    reach = max(2, round(_SLIVER_ROWS * mask.shape[0] / 1024))
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size < 8 * reach or rows[0] != 0:
        return 0
    reference_rows = slice(reach + 1, reach + 5)
    reference = ndi.uniform_filter1d(image[reference_rows].mean(axis=0, dtype=np.float64), _BAND_SMOOTH)
    # breast = in the mask and not already cleared (a band's end past the breast, even_out_bands)
    in_reference = (mask[reference_rows] & (image[reference_rows] > 0)).all(axis=0)
    end = 0
    for row in range(reach + 1):
        both = mask[row] & (image[row] > 0) & in_reference
        if both.sum() < _BAND_WIDTH:
            break
        change = (ndi.uniform_filter1d(image[row].astype(np.float64), _BAND_SMOOTH) - reference)[both]
        share = max(float((change > _BAND_STEP).mean()), float((change < -_BAND_STEP).mean()))
        if share >= _SLIVER_SHARE and row < reach:
            end = row + 1
            continue
        if end and share >= 0.5:
            end = row + 1  # the blurred edge
        break
    return end


_THIN_ROWS = 24  # full-size rows (at 1024 px; scaled): a dark sliver over part of the width is this thin at most ...
_THIN_STEP = 0.1  # ... darker than the tissue below it by more than this (tissue darkens less towards the top) ...
_THIN_SHARE = 0.4  # ... over at least this share of a row's breast columns
_GAIN_LIMIT = 3.0  # the most a sliver's pixels are brightened


def even_out_slivers(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Brighten a thin dark band along the top, over part of the width, to the tissue just below it.

    The slivers of mdb273, mdb301 and mdb317 (8 to 18 rows, 2 to 4 mm) cover
    too little of the width for ``top_sliver_rows`` (crop) and are too thin
    for ``even_out_bands`` (pair band and tissue rows). A sliver is the run of
    rows from the top (the film's first row may differ) in which at least
    ``_THIN_SHARE`` of the breast columns (and ``_BAND_WIDTH`` of them) are
    darker than the mean of the 4 rows past ``_THIN_ROWS`` by more than
    ``_THIN_STEP``, averaged over ``_BAND_SMOOTH`` columns, plus the rows of its
    blurred edge. In the columns it covers (those dark in half of its rows,
    widened by ``_BAND_SMOOTH``) each pixel is multiplied by the ratio of the
    reference to its row's smoothed brightness (at most ``_GAIN_LIMIT``): the
    tissue under the sliver stays, its level matches the tissue below. Only
    dark slivers, and only where the breast runs off the film's top: a bright
    strip at the top is the film's edge (cropped) or anatomy (mdb090's
    axillary fold, which a bright rule darkened).

    Returns:
        The image (a new array when a sliver was evened out) and the rows evened out.
    """
    reach = max(2, round(_THIN_ROWS * mask.shape[0] / 1024))
    if mask.shape[0] < 8 * reach or mask[0].sum() < _OFF_TOP * mask[reach].sum():
        return image, 0
    reference_rows = slice(reach + 1, reach + 5)
    reference = ndi.uniform_filter1d(image[reference_rows].mean(axis=0, dtype=np.float64), _BAND_SMOOTH)
    in_reference = (mask[reference_rows] & (image[reference_rows] > 0)).all(axis=0)
    smooth = ndi.uniform_filter1d(image[:reach].astype(np.float64), _BAND_SMOOTH, axis=1)
    breast = mask[:reach] & (image[:reach] > 0) & in_reference
    dark = breast & (reference - smooth > _THIN_STEP)
    enough = dark.sum(axis=1) >= np.maximum(_BAND_WIDTH, _THIN_SHARE * breast.sum(axis=1))
    start = 1 if not enough[0] and enough[1] else 0  # the film's first row may be a line of its own
    end = start
    while end < reach and enough[end]:
        end += 1
    if end - start < 2 or end >= reach:
        return image, 0
    columns = ndi.binary_dilation(dark[start:end].sum(axis=0) >= 0.5 * (end - start), iterations=_BAND_SMOOTH)
    while end < reach and (dark[end] & columns).sum() >= 0.1 * columns.sum():
        end += 1  # the blurred edge
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.clip(np.where(smooth[:end] > 0, reference / smooth[:end], 1.0), 1.0, _GAIN_LIMIT)
    gain = np.where(columns & breast[:end], gain, 1.0)
    out = image.copy()
    out[:end] = np.where(mask[:end], image[:end] * gain, image[:end]).astype(image.dtype)
    return out, end


def even_out_bands(
    image: np.ndarray, mask: np.ndarray, *, cut_opaque: bool = False
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Map the brightness of a scanner band across the top of the breast onto the tissue's.

    A band laid over the breast changes the brightness of everything under it
    and leaves a straight horizontal edge (``_band_edge``). Just past the
    edge the tissue is the same as just inside it, so the columns there pair
    a band brightness with a tissue brightness (``_BAND_ROWS`` rows on each
    side, ``_BAND_GAP`` rows away from the blurred edge, averaged over
    ``_BAND_SMOOTH`` columns against the band's grain). Their medians per
    quantile bin, made non-decreasing, give a monotone map that is applied
    to every breast pixel of the band's rows in the columns the band covers
    (``_band_columns``): the band's contrast is stretched or compressed back
    to the tissue's, nothing is cut. The few rows of the edge itself (the
    band's border line and the scan's blur) are bridged linearly between the
    last band row and the first clean row.

    A band whose map has a piece steeper than ``_BAND_MAX_SLOPE`` is opaque
    (mdb283's tape: the tissue's contrast under it is crushed into the
    band's grain, so no map can bring it back). With ``cut_opaque`` its rows
    down to the first clean row are cut from the top, and the next band
    under it, if any, is looked for again (up to ``_OPAQUE_LAYERS`` times),
    over ``_UNDER_OPAQUE_SHARE`` of the columns (tape laid in layers: the
    lower layer is narrower), and cut too: under mdb283's first layer the
    second one's map (steepest piece 5.4) blows its grain up into a noisy
    patch with an edge still showing. Without ``cut_opaque`` the image is
    left as it is.

    A band is looked for only where the breast runs off the film's top edge
    (its top row at least ``_OFF_TOP`` as wide as the row of the edge; 0.91
    to 1.13 on the mini-MIAS band films): on the rounded top of a
    cranio-caudal view (0.05 to 0.5 on CC phantoms) the breast's own upper
    contour gave straight "edges" that were no bands, and evening them out
    painted a flat rectangle over the tissue.

    Only the top: the 7 mini-MIAS films with a band over the breast have it
    there, and at the bottom the breast's lower contour and the film below
    it gave straight "edges" that are not bands (mdb039, mdb259, mdb317).

    Args:
        image: the cropped grey image, float, zero outside ``mask``.
        mask: the breast mask of the same shape.
        cut_opaque: cut opaque bands from the top (the pipeline does when it crops).

    Returns:
        The image (a new array when a band was evened out), the mask (shorter
        by the rows cut), the number of bands evened out (0 or 1) and the
        number of rows cut from the top.
    """
    cut = 0
    for _ in range(_OPAQUE_LAYERS):
        edge = _band_edge(image, mask, _UNDER_OPAQUE_SHARE if cut else _BAND_SHARE)
        if edge is None or mask[0].sum() < _OFF_TOP * mask[edge].sum():
            break
        inner = slice(edge - _BAND_GAP - _BAND_ROWS, edge - _BAND_GAP)
        outer = slice(edge + _BAND_GAP - 1, edge + _BAND_GAP - 1 + _BAND_ROWS)
        found = _fit_band(image, mask, inner, outer)
        if found is None:
            break
        cols, fitted = found
        if not cut and not _too_steep(*fitted):
            return _map_band_rows(image, mask, inner, outer, cols, fitted), mask, 1, cut
        if not cut_opaque:
            break
        image, mask = image[outer.start :], mask[outer.start :]
        cut += outer.start
    return image, mask, 0, cut


_GAP_ROWS = 0.01  # a column at the chest wall with breast in fewer than this share of the rows is no breast


def chest_wall_gap_columns(mask: np.ndarray) -> int:
    """Leading columns (chest wall on the left) where the mask holds almost nothing, to crop away.

    On several mini-MIAS films (mdb015, mdb165, mdb197, mdb207, mdb211) the
    mask's bounding box reaches 12-20 columns past the chest wall for a
    corner of 2 rows (a film-edge speck); those columns come out black over
    the whole height, a dark line along the chest wall. Columns from the left
    with breast in fewer than ``_GAP_ROWS`` of the rows are cropped; the
    first column with more stops it, so nothing inside the breast goes.
    """
    counts = mask.sum(axis=0)
    enough = np.flatnonzero(counts >= max(1.0, _GAP_ROWS * mask.shape[0]))
    return int(enough[0]) if enough.size else 0
