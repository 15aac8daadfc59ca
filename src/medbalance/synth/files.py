"""Insert lesions into an image file and write the result (the ``synth insert`` command's library side)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from medbalance.errors import DataError
from medbalance.io import atomic_save, atomic_write_text
from medbalance.synth.insertion import LesionRecord, insert_lesion
from medbalance.synth.lesions import LESIONS

__all__ = ["insert_lesions_into_file", "pectoral_exclusion", "save_png16"]

log = logging.getLogger(__name__)


def pectoral_exclusion(mask: np.ndarray, *, width: float = 0.5, height: float = 0.75) -> np.ndarray:
    """A conservative triangle over where an MLO view's pectoral muscle lies.

    The muscle fills the upper corner of the breast on the chest-wall side
    (found from the mask's shape by :func:`medbalance.data.orientation.chest_wall_side_from_mask`).
    The triangle spans ``width`` of the breast's bounding-box width along the top
    and ``height`` of its height down the chest wall: on mini-MIAS MLO films it covers
    the muscle; on CC views it only costs some placement room.
    """
    from medbalance.data.orientation import chest_wall_side_from_mask

    out = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return out
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    wall = cols[-1] if chest_wall_side_from_mask(mask) == "right" else cols[0]
    grid_r, grid_c = np.mgrid[: mask.shape[0], : mask.shape[1]]
    across = np.abs(grid_c - wall) / max(width * (cols[-1] - cols[0] + 1), 1.0)
    down = (grid_r - rows[0]) / max(height * (rows[-1] - rows[0] + 1), 1.0)
    out[(down >= 0) & (across + down <= 1.0)] = True
    return out


def save_png16(path: Path, image: np.ndarray) -> None:
    """Write a float image in [0, 1] as a 16-bit greyscale PNG, atomically."""
    from PIL import Image

    values = np.round(np.clip(image, 0.0, 1.0) * 65535).astype(np.uint16)
    atomic_save(Path(path), lambda tmp: Image.fromarray(values).save(tmp, format="PNG"))


def insert_lesions_into_file(
    image_path: Path,
    out_path: Path,
    *,
    kind: str,
    spacing_mm: float | None = None,
    seed: int = 0,
    n: int = 1,
    avoid_pectoral: bool = True,
    **params: Any,
) -> list[LesionRecord]:
    """Read an image, insert ``n`` lesions of ``kind`` inside its breast, write PNG + JSON.

    The breast is found with :func:`medbalance.data.orientation.breast_mask`. The
    result is a 16-bit PNG at ``out_path``; the records go to ``out_path`` with a
    ``.json`` suffix. Lesions never overlap one another.

    Args:
        image_path: a mammogram any reader of :func:`medbalance.data.readers.read_image` decodes.
        out_path: the PNG to write.
        kind: a name in ``LESIONS``.
        spacing_mm: the image's pixel spacing; ``None`` reads it from the DICOM header
            (PixelSpacing, then ImagerPixelSpacing) and refuses a file without one.
        seed: seed of the generator; the same seed writes the same file.
        n: how many lesions.
        avoid_pectoral: keep lesions off :func:`pectoral_exclusion` (MLO views).
        **params: lesion parameter overrides (``size_mm``, ``contrast``, ...).

    Raises:
        ImageReadError: the image cannot be read.
        DataError: the image is not greyscale or has no room for the lesions, or no
            spacing was given and the file's header carries none.
        ConfigError: unknown kind or bad parameters.
    """
    from medbalance.data.orientation import breast_mask
    from medbalance.data.readers import read_image
    from medbalance.synth._placement import remove_footprint

    LESIONS.get(kind)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 50:
        raise DataError(f"the number of lesions must be an integer in [1, 50], got {n!r}.")
    spacing_mm, source = _resolve_spacing(Path(image_path), spacing_mm)
    image = read_image(Path(image_path)).to_float()
    if image.ndim == 3:
        image = image.mean(axis=-1).astype(np.float32)
    breast = breast_mask(image)
    rng = np.random.default_rng(seed)
    allowed = breast & ~pectoral_exclusion(breast) if avoid_pectoral else breast
    records: list[LesionRecord] = []
    for _ in range(n):
        image, record = insert_lesion(
            image, breast, kind=kind, spacing_mm=spacing_mm, rng=rng, exclude_mask=~allowed, **params
        )
        records.append(record)
        allowed = remove_footprint(allowed, _footprint_disc(record, spacing_mm, breast.shape), record.center)
    save_png16(Path(out_path), image)
    payload = {
        "image": str(image_path),
        "spacing_mm": spacing_mm,
        "spacing_source": source,
        "seed": seed,
        "lesions": [r.to_dict() for r in records],
    }
    atomic_write_text(Path(out_path).with_suffix(".json"), json.dumps(payload, indent=2) + "\n")
    return records


def _resolve_spacing(path: Path, given: float | None) -> tuple[float, str]:
    """The spacing to use and where it came from; never a silent default (lesion sizes are in mm)."""
    from medbalance.data.readers import read_pixel_spacing_mm

    header = read_pixel_spacing_mm(path)
    if given is not None:
        if not given > 0:
            raise DataError(f"--spacing-mm must be a positive number of millimetres, got {given}.")
        if header is not None and abs(header - given) > 0.01 * header:
            log.warning(
                "%s: --spacing-mm %.4g overrides the header's pixel spacing %.4g mm", path, given, header
            )
        return float(given), "given"
    if header is None:
        raise DataError(
            f"{path}: no pixel spacing in the file (a DICOM's PixelSpacing or ImagerPixelSpacing; other "
            "formats carry none), and lesion sizes are in millimetres: pass --spacing-mm "
            "(mini-MIAS: 0.2, CBIS-DDSM: about 0.05)."
        )
    return header, "header"


def _footprint_disc(record: LesionRecord, spacing_mm: float, shape: tuple[int, ...]) -> np.ndarray:
    """A disc covering the lesion's support, to keep the next lesion clear of it."""
    radius = int(np.ceil(float(record.params.get("support_radius_mm", 0.0)) / spacing_mm)) + 1
    offsets = np.arange(-radius, radius + 1)
    return np.asarray(offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2)
