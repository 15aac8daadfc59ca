"""Pixel helpers shared by the preprocessing pipelines: scaling, channels, resize and pad."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from scipy import sparse
from skimage.color import rgb2gray
from skimage.transform import resize

__all__ = ["FloatImage", "fit_into_square", "fit_plane_into_square", "to_channels", "to_grey", "to_unit_float"]

_EPSILON = 1e-12


@runtime_checkable
class FloatImage(Protocol):
    """Anything with ``to_float()`` (e.g. :class:`medbalance.data.readers.ImageData`)."""

    def to_float(self) -> np.ndarray: ...


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low <= _EPSILON:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def to_unit_float(image: FloatImage | np.ndarray) -> np.ndarray:
    """float32 pixels in [0, 1], shape kept.

    An object with ``to_float()`` (ImageData) scales itself by its bit depth or
    window. A bare array: bool as 0/1; unsigned integers divided by the largest
    value their observed bit depth holds (at least 8 bits, so a 12-bit mammogram
    in uint16 is divided by 4095 and uint8 by 255); floats already in [0, 1] as
    they are; anything else (signed integers, floats outside [0, 1]) min-max
    scaled. A constant image becomes zeros, never NaN.

    Raises:
        ValueError: the pixels hold NaN or infinite values.
    """
    if isinstance(image, FloatImage) and not isinstance(image, np.ndarray):
        values = np.asarray(image.to_float())
        if values.dtype == np.float32:  # clipping in float32 gives the same numbers without a float64 copy
            return np.clip(values, 0.0, 1.0)
        values = values.astype(np.float64)
    else:
        array = np.asarray(image)
        if array.size == 0:
            raise ValueError("the image is empty (0 pixels); check that the file decoded correctly.")
        if array.dtype == bool:
            values = array.astype(np.float64)
        elif np.issubdtype(array.dtype, np.unsignedinteger):
            bits = max(8, int(array.max()).bit_length())
            values = array.astype(np.float64) / float(2**bits - 1)
        elif np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating):
            values = array.astype(np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError("the image holds NaN or infinite values; fix the reader or the file.")
            if values.min() < 0.0 or values.max() > 1.0:
                values = _min_max(values)
        else:
            raise ValueError(f"unsupported pixel dtype {array.dtype}; expected integers, floats or bool.")
    return np.clip(values, 0.0, 1.0).astype(np.float32)


def _check_layout(values: np.ndarray) -> None:
    if values.ndim == 2 or (values.ndim == 3 and values.shape[-1] in (1, 3, 4)):
        return
    raise ValueError(
        f"expected an image shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {values.shape}; "
        "channel-first arrays and batches are not accepted here."
    )


def to_grey(values: np.ndarray) -> np.ndarray:
    """(H, W) from (H, W), (H, W, 1), RGB (luminance) or RGBA (alpha dropped)."""
    _check_layout(values)
    if values.ndim == 2:
        return values
    if values.shape[-1] == 1:
        return values[..., 0]
    return np.asarray(rgb2gray(values[..., :3]), dtype=np.float32)


def to_channels(values: np.ndarray, channels: int) -> np.ndarray:
    """(C, H, W) with ``channels`` = 1 (grey) or 3 (grey repeated, or RGB kept)."""
    _check_layout(values)
    if channels == 1:
        return to_grey(values)[None]
    if values.ndim == 2 or values.shape[-1] == 1:
        grey = values if values.ndim == 2 else values[..., 0]
        return np.repeat(grey[None], 3, axis=0)
    return np.moveaxis(values[..., :3], -1, 0)


def fit_into_square(
    planes: np.ndarray, size: int, *, anchor: str, order: int = 1
) -> tuple[np.ndarray, float, tuple[int, int], tuple[int, int]]:
    """Resize (C, H, W) so its longer side is ``size``, keeping the aspect ratio; zero-pad to square.

    Args:
        planes: (C, H, W) float array.
        size: output side.
        anchor: "top-left" (padding right and bottom) or "centre" (padding split evenly).
        order: spline order; 0 for masks.

    Returns:
        The (C, size, size) array, the scale (output px per input px), the
        resized (h, w) and the (top, left) padding.
    """
    _, height, width = planes.shape
    scale = size / max(height, width)
    new_h = min(size, max(1, round(height * scale)))
    new_w = min(size, max(1, round(width * scale)))
    resized = resize(
        planes,
        (planes.shape[0], new_h, new_w),
        order=order,
        anti_aliasing=order > 0 and scale < 1.0,
        preserve_range=True,
        mode="edge",
    )
    top, left = ((size - new_h) // 2, (size - new_w) // 2) if anchor == "centre" else (0, 0)
    out = np.zeros((planes.shape[0], size, size), dtype=np.float32)
    out[:, top : top + new_h, left : left + new_w] = resized
    return out, scale, (new_h, new_w), (top, left)


_TRUNCATE = 4.0  # scipy's gaussian_filter default, used by skimage's anti-aliasing


def _resize_matrix(n_in: int, n_out: int, sigma: float) -> sparse.csr_matrix:
    """(n_out, n_in) sparse float32: the 1-D operator of ``skimage.transform.resize`` along one axis.

    A Gaussian of ``sigma`` with edge extension (``scipy.ndimage.gaussian_filter``,
    mode "nearest"), then linear interpolation at the pixel centres of the
    output (``scipy.ndimage.zoom``, ``grid_mode=True``, mode "nearest"), folded
    into one matrix: each output pixel is a weighted sum of a few dozen input
    pixels.
    """
    centres = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    low = np.floor(centres).astype(np.intp)
    high = np.minimum(low + 1, n_in - 1)
    frac = centres - low
    sources = np.stack([low, high], axis=1)  # (n_out, 2)
    weights = np.stack([1.0 - frac, frac], axis=1)
    if sigma > 1e-15:
        radius = int(_TRUNCATE * sigma + 0.5)
        offsets = np.arange(-radius, radius + 1)
        kernel = np.exp(-0.5 / (sigma * sigma) * offsets**2)
        kernel /= kernel.sum()
        sources = np.clip(sources[:, :, None] + offsets, 0, n_in - 1)
        weights = weights[:, :, None] * kernel
    # every row has the same number of entries; a source repeated by the edge
    # extension stays a repeated entry, which the product adds up as it should
    per_row = sources[0].size
    indptr = np.arange(0, n_out * per_row + 1, per_row)
    data = weights.reshape(n_out, per_row).astype(np.float32)
    return sparse.csr_matrix((data.ravel(), sources.reshape(n_out, per_row).ravel(), indptr), shape=(n_out, n_in))


def fit_plane_into_square(plane: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """``fit_into_square(plane[None], size, anchor="top-left")`` for one plane, as two sparse products.

    The same operator (anti-aliasing Gaussian, then linear interpolation; the
    same numbers to float32 rounding, tested), but the Gaussian is never run
    over the full-resolution plane: each separable 1-D step is folded into a
    sparse (out, in) matrix and applied as ``rows @ plane @ columns.T``, so only
    the input pixels that reach an output pixel are touched (at 1024 -> 128 px,
    ~30 per output row instead of a 29-tap filter over every input pixel).

    Returns:
        The (1, size, size) float32 array, the scale and the resized (h, w); the padding is (0, 0).
    """
    height, width = plane.shape
    scale = size / max(height, width)
    new_h = min(size, max(1, round(height * scale)))
    new_w = min(size, max(1, round(width * scale)))
    smooth = scale < 1.0
    rows = _resize_matrix(height, new_h, max(0.0, (height / new_h - 1) / 2) if smooth else 0.0)
    cols = _resize_matrix(width, new_w, max(0.0, (width / new_w - 1) / 2) if smooth else 0.0)
    tall = np.asarray(rows @ np.asarray(plane, dtype=np.float32))  # (new_h, width)
    out = np.zeros((1, size, size), dtype=np.float32)
    out[0, :new_h, :new_w] = np.asarray(cols @ tall.T).T
    return out, scale, (new_h, new_w)
