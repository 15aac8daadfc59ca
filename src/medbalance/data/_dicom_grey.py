"""Grey DICOM after the modality LUT: VOI, MONOCHROME1 inversion, dtype.

MONOCHROME1 is inverted here and nowhere else. The inversion maps a value x to
``low + high - x`` over the range the stored bits can represent after the
modality LUT, and mirrors the window centre with it, so that ``to_float`` of a
MONOCHROME1 image is exactly ``1 -`` that of the same values read as MONOCHROME2.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_voi_lut

from medbalance.data._image import ImageData, WindowFunction, integer_range

__all__ = ["finish_grey"]

_WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
_INTEGER_TYPES = (np.uint8, np.uint16, np.int16, np.int32)


def finish_grey(
    ds: Dataset, values: np.ndarray, photometric: str, notes: list[str], *, stored: np.dtype
) -> ImageData:
    """Apply VOI (table) or keep the window, invert MONOCHROME1, pick a compact dtype.

    Args:
        ds: the dataset the values come from.
        values: pixel values after the modality LUT (and frame policy).
        photometric: "MONOCHROME1" or "MONOCHROME2".
        notes: the reader's notes; appended to.
        stored: dtype pydicom decoded the stored values to (kept when it fits).

    Returns:
        The image, reported as MONOCHROME2 (dense tissue bright).
    """
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    low, high = _modality_range(ds, bits)
    window: tuple[float, float] | None = None
    function: WindowFunction = "LINEAR"
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        if values.dtype.kind == "f":
            values = np.rint(values).astype(np.int64)  # a LUT is indexed by integers
        values = apply_voi_lut(values, ds, index=0, prefer_lut=True)
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        low, high = integer_range(bits, signed=False)
        notes.append(f"VOI LUT table applied (first of {len(ds.VOILUTSequence)})")
    else:
        window, function = _read_window(ds, notes)
    if str(ds.get("PresentationLUTShape", "")).upper() == "INVERSE" and photometric == "MONOCHROME2":
        notes.append("PresentationLUTShape INVERSE with MONOCHROME2 ignored: only MONOCHROME1 is inverted")
    if photometric == "MONOCHROME1":
        values = (low + high) - values.astype(np.float64)
        if window is not None:
            shift = 1.0 if function == "LINEAR" else 0.0  # keeps LINEAR's half-value offsets symmetric
            window = (low + high - window[0] + shift, window[1])
            notes.append(f"window centre mirrored to {window[0]:g} with the inversion")
        notes.append("MONOCHROME1 inverted once so dense tissue is bright (reported as MONOCHROME2)")
    return ImageData(
        pixels=_compact(values, stored),
        bits=bits,
        photometric="MONOCHROME2",
        source_format="dicom",
        window=window,
        notes=tuple(notes),
        value_range=(low, high),
        window_function=function,
    )


def _modality_range(ds: Dataset, bits: int) -> tuple[float, float]:
    """Values the stored bits can represent, after the modality LUT."""
    if "ModalityLUTSequence" in ds and len(ds.ModalityLUTSequence):
        return integer_range(int(ds.ModalityLUTSequence[0].LUTDescriptor[2]), signed=False)
    low, high = integer_range(bits, signed=int(ds.get("PixelRepresentation", 0) or 0) == 1)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    ends = sorted((low * slope + intercept, high * slope + intercept))
    return ends[0], ends[1]


def _read_window(ds: Dataset, notes: list[str]) -> tuple[tuple[float, float] | None, WindowFunction]:
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None, "LINEAR"
    centers, widths = _as_list(ds.WindowCenter), _as_list(ds.WindowWidth)
    if not centers or not widths:
        return None, "LINEAR"
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in _WINDOW_FUNCTIONS:
        notes.append(f"unknown VOILUTFunction {function!r}; LINEAR used")
        function = "LINEAR"
    center, width = centers[0], widths[0]
    if width <= 0 or (function == "LINEAR" and width < 1):
        notes.append(f"window ignored: width {width:g} is not valid for {function}")
        return None, "LINEAR"
    extra = f" (first of {len(centers)})" if len(centers) > 1 else ""
    notes.append(f"window centre {center:g} width {width:g} {function}{extra}")
    return (center, width), cast(WindowFunction, function)


def _as_list(value: Any) -> list[float]:
    """WindowCenter/WindowWidth hold one number or several (MultiValue)."""
    if isinstance(value, int | float):
        return [float(value)]
    return [float(item) for item in value]


def _compact(values: np.ndarray, stored: np.dtype) -> np.ndarray:
    """Smallest integer dtype holding the values when they are whole numbers, else float32.

    pydicom returns float64 whenever a rescale is present; HU from int16 stored
    values go back to int16 so memory and the "dtype kept" promise hold.
    """
    if values.size == 0:
        return values
    if values.dtype.kind == "f" and not np.array_equal(values, np.rint(values)):
        return values.astype(np.float32)
    lo, hi = float(values.min()), float(values.max())
    for dtype in (stored, *_INTEGER_TYPES) if stored.kind in "iu" else _INTEGER_TYPES:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype)
    return values.astype(np.float64)
