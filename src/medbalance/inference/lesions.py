"""Where the lesions are, in preprocessed-image pixels, from a manifest row.

Two sources are known: the phantom generator's ``lesions`` column (JSON list of
records with ``center`` (row, col) and ``size_mm``, with ``pixel_spacing_mm``)
and the mini-MIAS adapter's ``lesion_row``/``lesion_col``/``lesion_radius``
columns (``;``-joined, radius in pixels, from Info.txt). Both are mapped through
the image's :class:`~medbalance.data.preprocess.PreprocessInfo` (flip, crop,
resize, pad).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from medbalance.data.preprocess import PreprocessInfo
from medbalance.inference.explain import Circle

__all__ = ["lesion_circles"]


def _float(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if value == value else None


def _raw_circles(row: Mapping[str, object]) -> list[Circle]:
    circles: list[Circle] = []
    lesions = str(row.get("lesions", "") or "")
    if lesions.startswith("["):
        spacing = _float(row.get("pixel_spacing_mm")) or 1.0
        for record in json.loads(lesions):
            center, size = record.get("center"), _float(record.get("size_mm"))
            if center and size:
                circles.append((float(center[0]), float(center[1]), size / 2.0 / spacing))
    parts = [str(row.get(k, "") or "").split(";") for k in ("lesion_row", "lesion_col", "lesion_radius")]
    for r, c, rad in zip(*parts, strict=False):
        rv, cv, radv = _float(r), _float(c), _float(rad)
        if rv is not None and cv is not None:
            circles.append((rv, cv, radv or 5.0))
    return circles


def lesion_circles(row: Mapping[str, object], info: PreprocessInfo) -> list[Circle]:
    """The row's lesions as (row, col, radius) in the preprocessed image (empty when none are known)."""
    out = []
    for r, c, radius in _raw_circles(row):
        pr, pc = info.map_point(r, c)
        out.append((pr, pc, radius * info.scale))
    return out
