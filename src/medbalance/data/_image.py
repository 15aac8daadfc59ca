"""The decoded image every reader returns, and its scaling to [0, 1].

Kept apart from ``readers`` so the format-specific modules (``_pillow``,
``_dicom``) can build an :class:`ImageData` without importing the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["EPSILON", "ImageCheck", "ImageData", "WindowFunction", "apply_window", "integer_range"]

WindowFunction = Literal["LINEAR", "LINEAR_EXACT", "SIGMOID"]

#: Smallest value span treated as non-constant by min-max scaling.
EPSILON = 1e-12


@dataclass(frozen=True)
class ImageData:
    """Pixels of one image as stored, with what is needed to scale them.

    Attributes:
        pixels: (H, W) grey or (H, W, 3) RGB array; dtype as decoded (uint8,
            uint16, int16, float32, ...). Grey images are always "dense is bright":
            DICOM MONOCHROME1 has already been inverted once.
        bits: bit depth of the stored values (BitsStored for DICOM, 8 or 16 for PNG).
        photometric: the interpretation of ``pixels`` ("MONOCHROME2", "RGB", "L", "I;16").
        source_format: "png", "jpeg", "tiff", "pgm", "ppm", "dicom", ...
        window: (center, width) that ``to_float`` applies, or None.
        notes: what the reader did that changes the stored values or geometry
            (inversion, alpha compositing, EXIF rotation, frame policy, ...).
        value_range: (low, high) values the stored bit depth can represent after the
            modality LUT; ``to_float`` maps it to [0, 1] when there is no window.
        window_function: the DICOM VOI LUT function used with ``window``.
    """

    pixels: np.ndarray
    bits: int
    photometric: str
    source_format: str
    window: tuple[float, float] | None = None
    notes: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None
    window_function: WindowFunction = "LINEAR"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``pixels``."""
        return tuple(self.pixels.shape)

    def to_float(self) -> np.ndarray:
        """Scale the pixels to float32 in [0, 1].

        The scale is, in order of preference: the DICOM window (``window``), the
        range of the stored bit depth (``value_range``, or ``bits`` for integer
        pixels: a 12-bit image in uint16 is divided by 4095), or, for float pixels
        with neither, the image's own min-max. A constant image becomes zeros,
        never NaN or inf.

        Returns:
            float32 array with the shape of ``pixels``.
        """
        pixels = self.pixels
        if np.issubdtype(pixels.dtype, np.integer) and pixels.dtype.itemsize <= 2:
            info = np.iinfo(pixels.dtype)
            if pixels.size > 4 * (int(info.max) - int(info.min) + 1):
                # Integer pixels are scaled value by value, never by the image's own
                # range: scale each possible value once and look the pixels up (the
                # same numbers, without five float64 passes over a large image).
                table = self._scale(np.arange(info.min, int(info.max) + 1, dtype=pixels.dtype))
                return table.take(pixels if info.min == 0 else pixels.astype(np.int32) - int(info.min))
        return self._scale(pixels)

    def _scale(self, pixels: np.ndarray) -> np.ndarray:
        """``to_float`` computed on ``pixels`` directly."""
        values = pixels.astype(np.float64, copy=False)
        if self.window is not None:
            center, width = self.window
            scaled = apply_window(values, center, width, self.window_function)
        else:
            low_high = self.value_range
            if low_high is None and np.issubdtype(pixels.dtype, np.integer):
                low_high = integer_range(self.bits, signed=np.issubdtype(pixels.dtype, np.signedinteger))
            if low_high is None:
                finite = values[np.isfinite(values)]
                low_high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
            low, high = low_high
            span = high - low
            scaled = np.zeros_like(values) if span <= EPSILON else (values - low) / span
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(scaled, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class ImageCheck:
    """Outcome of fully decoding one file (``medbalance validate`` uses it).

    Attributes:
        ok: the file decodes into a trustworthy pixel array.
        reason: why not (empty when ``ok``).
        shape: shape of the decoded pixels (empty when not ``ok``).
        dtype: numpy dtype name of the decoded pixels ("" when not ``ok``).
        constant: every pixel has the same value (max == min).
        source_format: format detected from the content ("" when unknown).
        notes: what the reader did beyond plain decoding (alpha, palette, frames, ...).
    """

    ok: bool
    reason: str = ""
    shape: tuple[int, ...] = ()
    dtype: str = ""
    constant: bool = False
    source_format: str = ""
    notes: tuple[str, ...] = ()


def integer_range(bits: int, *, signed: bool) -> tuple[float, float]:
    """Smallest and largest value an integer of ``bits`` bits can hold."""
    if signed:
        return (-float(2 ** (bits - 1)), float(2 ** (bits - 1) - 1))
    return (0.0, float(2**bits - 1))


def apply_window(values: np.ndarray, center: float, width: float, function: WindowFunction) -> np.ndarray:
    """Map values through a DICOM VOI window onto [0, 1] (PS3.3 C.11.2.1.2).

    Args:
        values: pixel values after the modality LUT.
        center: Window Center.
        width: Window Width (>= 1 for LINEAR, > 0 otherwise).
        function: the VOI LUT Function of the dataset.

    Returns:
        float64 array in [0, 1].
    """
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if width <= 1.0:
        # A one-value-wide LINEAR window is a threshold at center - 0.5.
        return (values > center - 0.5).astype(np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)
