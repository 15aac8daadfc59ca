"""Find film labels, markers and scanner bands left in a preprocessed mammogram.

A check on the model's input, independent of how the breast mask was found:
it looks only at the preprocessed array (chest wall on the left, background
zeroed), so it can audit any pipeline. The kinds of leftover:

- ``label``: a bright object with a sharp dark rim. Take the pixels at least
  ``BRIGHT`` (a fraction of the image's brightest pixel); a connected group of
  at least ``MIN_AREA`` of them, and at most ``MAX_SHARE`` of the foreground
  (a label is small beside the breast), is a label when most (``DARK_RIM``) of the ring
  of pixels just around it (``RIM`` px wide, inside the image) is darker than
  ``RIM_CONTRAST`` x the object's own median. A label card, a lead letter or a
  strip of tape is bright and sits on background or thin skin; dense tissue,
  a mass or the pectoral muscle is bright but surrounded by tissue of similar
  brightness. The ring ignores the image border, so a label cut by the edge
  still counts.
- ``band``: a strip along the top or bottom edge that the breast does not
  explain: in the outer ``EDGE_ROWS`` of the content's rows the foreground
  reaches more than ``BAND_OVERHANG`` of the width further right (away from the
  chest wall) than the breast does anywhere in its middle 80% of rows. A breast
  is widest in its middle; a scanner band or film edge runs across the frame.
- ``strip``: a thin strip of foreground along a border of the image: at least
  ``STRIP_LENGTH`` consecutive pixels along the border whose outer
  ``STRIP_WIDTH`` rows hold foreground while the row ``STRIP_GAP`` further in
  is background. The film edge below the breast at the chest wall, or a sliver
  of a band along the top, looks like this; a breast meets the border with
  tissue behind it.
- ``band_edge``: a straight horizontal step in brightness across the breast near
  its top or bottom (in the outer ``STEP_ROWS`` of its rows, not the first or
  last row, where resizing blurs the crop's edge): between two neighbouring
  rows at least ``STEP_SHARE`` of the columns (and ``STEP_WIDTH`` of them)
  where both rows are foreground change by more than ``STEP`` the same way. A
  scanner band laid over the tissue (mdb002's top) leaves such an edge; tissue
  has no straight horizontal edge across the breast. The pipeline evens such a
  band out rather than cutting it, since the tissue under it is real
  (``data._film_bands``, docs/preprocessing.md).
- ``sliver``: a band too thin for ``band_edge``, along the top: the first
  ``SLIVER_ROWS`` rows of the content differ from the ``SLIVER_ROWS`` rows
  ``SLIVER_GAP`` further down by more than ``SLIVER_STEP`` the same way, over
  a run of at least ``SLIVER_LENGTH`` columns that is at least
  ``SLIVER_SHARE`` of the columns that are foreground in both. Tissue at the
  top of the crop darkens a little towards its edge (about 0.1 on most
  films); a sliver of a band (mdb273, mdb301) by 0.3 or more, and across
  most of the breast (the breast's own upper contour, as on mdb090, covers
  a third at most).
- ``edge_gap``: at least ``GAP_COLUMNS`` columns along the chest wall (the
  left edge) that are foreground in under ``GAP_SHARE`` of the content's
  rows, before a column that is foreground in most of them: the crop reached
  past the chest wall for a film-edge speck, and the model sees a black line
  the full height of the chest wall (mdb015, mdb197, mdb207, mdb211, ...).

Validated by eye on contact sheets of the 322 mini-MIAS films (every flagged
film, and unflagged ones): see ``benchmarks/film_artifacts.py`` and
docs/preprocessing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

__all__ = ["Leftover", "find_film_leftovers"]

BRIGHT = 0.6
MIN_AREA = 12
MAX_SHARE = 0.05
RIM = 3
RIM_CONTRAST = 0.5
DARK_RIM = 0.75
EDGE_ROWS = 0.04
BAND_OVERHANG = 0.05
STRIP_WIDTH = 3
STRIP_GAP = 6
STRIP_LENGTH = 10
STEP = 0.06
STEP_SHARE = 0.8
STEP_WIDTH = 30
STEP_ROWS = 0.2
SLIVER_ROWS = 2
SLIVER_GAP = 4
SLIVER_STEP = 0.2
SLIVER_LENGTH = 20
SLIVER_SHARE = 0.5
GAP_COLUMNS = 2
GAP_SHARE = 0.05


@dataclass(frozen=True)
class Leftover:
    """One leftover: its kind, bounding box (top, bottom, left, right) and area in pixels."""

    kind: Literal["label", "band", "strip", "band_edge", "sliver", "edge_gap"]
    box: tuple[int, int, int, int]
    area: int


def _labels(image: np.ndarray) -> list[Leftover]:
    peak = float(image.max())
    if peak <= 0:
        return []
    bright = image >= BRIGHT * peak
    largest = MAX_SHARE * int((image > 0).sum())
    components, _ = ndi.label(bright, structure=np.ones((3, 3)))
    found = []
    for index, box in enumerate(ndi.find_objects(components), start=1):
        if box is None:
            continue
        top = max(box[0].start - RIM, 0)
        left = max(box[1].start - RIM, 0)
        window = (slice(top, box[0].stop + RIM), slice(left, box[1].stop + RIM))
        piece = components[window] == index
        area = int(piece.sum())
        if not MIN_AREA <= area <= largest:
            continue
        ring = ndi.binary_dilation(piece, iterations=RIM) & ~piece
        level = float(np.median(image[window][piece]))
        dark = float((image[window][ring] < RIM_CONTRAST * level).mean()) if ring.any() else 0.0
        if dark >= DARK_RIM:
            found.append(Leftover("label", (box[0].start, box[0].stop, box[1].start, box[1].stop), area))
    return found


def _right_extent(rows: np.ndarray) -> np.ndarray:
    """Per row, one past the rightmost foreground column (0 for an empty row)."""
    width = rows.shape[1]
    flipped = rows[:, ::-1]
    return np.where(rows.any(axis=1), width - flipped.argmax(axis=1), 0)


def _bands(image: np.ndarray) -> list[Leftover]:
    foreground = image > 0
    rows = np.flatnonzero(foreground.any(axis=1))
    if rows.size < 10:
        return []
    first, last = int(rows[0]), int(rows[-1]) + 1
    height = last - first
    extent = _right_extent(foreground[first:last])
    body = extent[int(0.1 * height) : int(0.9 * height) + 1]
    reach = int(body.max()) if body.size else 0
    edge = max(1, round(EDGE_ROWS * height))
    margin = BAND_OVERHANG * image.shape[1]
    found = []
    for start, stop in ((0, edge), (height - edge, height)):
        over = extent[start:stop] > reach + margin
        if over.any():
            hit = np.flatnonzero(over)
            top, bottom = first + start + int(hit[0]), first + start + int(hit[-1]) + 1
            left = reach
            right = int(extent[start:stop].max())
            area = int(foreground[top:bottom, left:right].sum())
            found.append(Leftover("band", (top, bottom, left, right), area))
    return found


def _strips(image: np.ndarray) -> list[Leftover]:
    foreground = image > 0
    found = []
    # each border seen as the top rows of a rotated view; the box is mapped back
    for turns in range(4):
        view = np.rot90(foreground, turns)
        outer = view[:STRIP_WIDTH].any(axis=0)
        inner = (
            view[STRIP_WIDTH + STRIP_GAP] if view.shape[0] > STRIP_WIDTH + STRIP_GAP else np.zeros_like(outer)
        )
        thin = outer & ~inner
        runs, count = ndi.label(thin)
        for index in range(1, count + 1):
            columns = np.flatnonzero(runs == index)
            if columns.size < STRIP_LENGTH:
                continue
            piece = np.zeros_like(view)
            piece[:STRIP_WIDTH, columns[0] : columns[-1] + 1] = view[
                :STRIP_WIDTH, columns[0] : columns[-1] + 1
            ]
            back = np.rot90(piece, -turns)
            rows, cols = np.nonzero(back)
            box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
            found.append(Leftover("strip", box, int(back.sum())))
    return found


def _band_edges(image: np.ndarray) -> list[Leftover]:
    foreground = image > 0
    rows = np.flatnonzero(foreground.any(axis=1))
    if rows.size < 10:
        return []
    first, last = int(rows[0]), int(rows[-1])
    reach = int(STEP_ROWS * (last - first + 1))
    found = []
    for row in [*range(first + 1, first + reach), *range(last - reach, last - 1)]:
        both = foreground[row] & foreground[row + 1]
        if both.sum() < STEP_WIDTH:
            continue
        change = image[row + 1][both] - image[row][both]
        for sign in (1.0, -1.0):
            share = float((sign * change > STEP).mean())
            if share >= STEP_SHARE and share * both.sum() >= STEP_WIDTH:
                columns = np.flatnonzero(both)
                box = (row, row + 2, int(columns[0]), int(columns[-1]) + 1)
                found.append(Leftover("band_edge", box, int(both.sum())))
                break
        if found:  # one edge per film is enough to flag it
            break
    return found


def _slivers(image: np.ndarray) -> list[Leftover]:
    foreground = image > 0
    rows = np.flatnonzero(foreground.any(axis=1))
    if rows.size < 4 * (SLIVER_ROWS + SLIVER_GAP):
        return []
    top = slice(int(rows[0]), int(rows[0]) + SLIVER_ROWS)
    below = slice(top.start + SLIVER_GAP, top.start + SLIVER_GAP + SLIVER_ROWS)
    both = foreground[top].all(axis=0) & foreground[below].all(axis=0)
    change = image[top].mean(axis=0) - image[below].mean(axis=0)
    for sign in (1.0, -1.0):
        runs, count = ndi.label(both & (sign * change > SLIVER_STEP))
        if not count:
            continue
        sizes = np.bincount(runs.ravel())
        sizes[0] = 0
        best = int(sizes.argmax())
        if sizes[best] >= SLIVER_LENGTH and sizes[best] >= SLIVER_SHARE * both.sum():
            columns = np.flatnonzero(runs == best)
            box = (top.start, top.stop, int(columns[0]), int(columns[-1]) + 1)
            return [Leftover("sliver", box, int(sizes[best]) * SLIVER_ROWS)]
    return []


def _edge_gaps(image: np.ndarray) -> list[Leftover]:
    foreground = image > 0
    rows = np.flatnonzero(foreground.any(axis=1))
    if rows.size < 10:
        return []
    share = foreground[rows[0] : rows[-1] + 1].mean(axis=0)
    full = np.flatnonzero(share >= 0.5)
    if not full.size or full[0] < GAP_COLUMNS or np.any(share[: full[0]] >= GAP_SHARE):
        return []
    box = (int(rows[0]), int(rows[-1]) + 1, 0, int(full[0]))
    return [Leftover("edge_gap", box, int(foreground[:, : full[0]].sum()))]


def find_film_leftovers(image: np.ndarray) -> list[Leftover]:
    """Labels and bands left in a preprocessed mammogram (see the module docstring).

    Args:
        image: the model's input, (H, W) or (C, H, W) with C in {1, 3}, background
            zero, chest wall on the left.

    Returns:
        The leftovers found; empty when the image is clean.
    """
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected (H, W) or (C, H, W), got shape {np.shape(image)}.")
    return (
        _labels(array)
        + _bands(array)
        + _strips(array)
        + _band_edges(array)
        + _slivers(array)
        + _edge_gaps(array)
    )
