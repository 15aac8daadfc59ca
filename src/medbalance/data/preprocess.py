"""Turn one decoded image into the square float array a model sees.

Two pipelines (``docs/preprocessing.md`` walks through both):

- ``mammography`` (Walsh & Tardy, 2023): triangle-threshold background removal,
  breast = largest connected component (labels and markers zeroed), flip so the
  chest wall is on the LEFT (found from the pixels), crop to the breast, resize
  keeping the aspect ratio, zero-pad right/bottom to a square, optional
  histogram equalisation over the breast, scale to [0, 1].
- ``generic``: grey/RGB channel handling, resize keeping the aspect ratio,
  centred zero padding, optional equalisation.

Per-dataset normalisation (``mean``/``std``) is NOT applied here: the cached
arrays stay in [0, 1] and the training dataset normalises with the stats
stored in the config (see :func:`compute_normalisation_stats`).

Example:
    >>> config = PreprocessConfig(kind="mammography", size=512)
    >>> array, info = preprocess_with_info(read_image("mdb001.png"), config)  # doctest: +SKIP
    >>> array.shape, info.flipped  # doctest: +SKIP
    ((1, 512, 512), True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from medbalance.constraints import check_constraints, option
from medbalance.data._pipelines import run_generic, run_mammography
from medbalance.data._pixels import FloatImage, to_unit_float
from medbalance.errors import ConfigError, DataError

__all__ = [
    "PreprocessConfig",
    "PreprocessInfo",
    "compute_normalisation_stats",
    "preprocess_image",
    "preprocess_with_info",
]

_MAX_SIZE = 16384


@dataclass(frozen=True)
class PreprocessConfig:
    """How images are preprocessed; its hash names the cache folder.

    Attributes:
        kind: "mammography" (breast pipeline) or "generic" (resize/pad only).
        size: side of the square output in pixels (e.g. 64, 256, 512, 2048).
        channels: 1 (grey) or 3 (grey repeated, or RGB kept for generic images).
        equalize: histogram equalisation (over the breast for mammography).
        flip_to_left: mammography: mirror images whose chest wall is on the right.
        crop: mammography: crop to the breast's bounding box before resizing.
        mean: per-channel mean for the training dataset to normalise with, or None.
        std: per-channel standard deviation (all > 0), or None; set both or neither.
    """

    kind: Literal["mammography", "generic"] = "mammography"
    size: int = option(512, ge=1, le=_MAX_SIZE, fix="give the side of the square output in pixels, e.g. 512.")
    channels: Literal[1, 3] = 1
    equalize: bool = False
    flip_to_left: bool = True
    crop: bool = True
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("mammography", "generic"):
            raise ConfigError(f"kind must be 'mammography' or 'generic', got {self.kind!r}.")
        check_constraints(self)
        object.__setattr__(self, "size", int(self.size))
        # YAML parsing may hand a Literal[1, 3] over as the string "1" or "3".
        channels = self.channels
        if isinstance(channels, str) and channels.strip() in ("1", "3"):
            channels = int(channels.strip())
        if isinstance(channels, bool) or channels not in (1, 3):
            raise ConfigError(f"channels must be 1 (grey) or 3 (RGB), got {self.channels!r}.")
        object.__setattr__(self, "channels", int(channels))
        for name in ("equalize", "flip_to_left", "crop"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        self._check_stats()

    def _check_stats(self) -> None:
        if (self.mean is None) != (self.std is None):
            raise ConfigError("set both mean and std (one value per channel) or neither.")
        if self.mean is None or self.std is None:
            return
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(mean) != self.channels or len(std) != self.channels:
            raise ConfigError(
                f"mean and std need one value per channel ({self.channels}), "
                f"got {len(mean)} and {len(std)}; recompute them with compute_normalisation_stats."
            )
        if not all(np.isfinite(mean)) or not all(np.isfinite(s) and s > 0 for s in std):
            raise ConfigError(f"mean must be finite and std finite and > 0, got mean={mean}, std={std}.")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)


@dataclass(frozen=True)
class PreprocessInfo:
    """What preprocessing did to one image, to map coordinates and spacing later.

    The steps run in this order: horizontal flip (``flipped``), crop to
    ``crop_box`` = (top, bottom, left, right), half-open, in the flipped image's
    coordinates; resize by ``scale``; pad by ``pad`` = (top, left).

    Attributes:
        kind: the pipeline used.
        original_shape: (H, W) of the input.
        chest_wall: side the chest wall was found on in the input (mammography;
            None for generic images or when no breast was found).
        flipped: whether the image was mirrored left-right.
        crop_box: (top, bottom, left, right) of the crop.
        scale: output pixels per input pixel.
        resized_shape: (h, w) of the content before padding.
        pad: (top, left) zero padding before the content.
        size: side of the square output.
        breast_fraction: share of the output covered by the breast (mammography).
    """

    kind: str
    original_shape: tuple[int, int]
    chest_wall: Literal["left", "right"] | None
    flipped: bool
    crop_box: tuple[int, int, int, int]
    scale: float
    resized_shape: tuple[int, int]
    pad: tuple[int, int]
    size: int
    breast_fraction: float | None = None

    def effective_spacing_mm(self, spacing_mm: float) -> float:
        """Pixel spacing of the output, given the input's (original spacing / scale)."""
        if not spacing_mm > 0:
            raise ValueError(f"spacing_mm must be > 0, got {spacing_mm}.")
        return float(spacing_mm) / self.scale

    def map_point(self, row: float, col: float) -> tuple[float, float]:
        """Map an input pixel position (row, col) to its position in the output array."""
        if self.flipped:
            col = self.original_shape[1] - 1 - col
        top, _, left, _ = self.crop_box
        out_row = (row - top + 0.5) * self.scale - 0.5 + self.pad[0]
        out_col = (col - left + 0.5) * self.scale - 0.5 + self.pad[1]
        return float(out_row), float(out_col)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessInfo:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        for key in ("original_shape", "crop_box", "resized_shape", "pad"):
            fields[key] = tuple(int(v) for v in fields[key])
        return cls(**fields)


def preprocess_with_info(
    image: FloatImage | np.ndarray, config: PreprocessConfig
) -> tuple[np.ndarray, PreprocessInfo]:
    """Preprocess one image and say what was done.

    Args:
        image: an ``ImageData`` (scaled by its own bit depth or window) or an
            array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) of uint8, uint16,
            signed integers, floats or bool (see ``to_unit_float`` in
            ``medbalance.data._pixels`` for how a bare array is scaled).
        config: the preprocessing settings.

    Returns:
        float32 (channels, size, size) in [0, 1], never NaN, and its
        :class:`PreprocessInfo`.

    Raises:
        ValueError: the image has an unsupported shape or dtype, or holds NaN/inf.
    """
    if not isinstance(config, PreprocessConfig):
        raise TypeError(f"config must be a PreprocessConfig, got {type(config).__name__}.")
    values = to_unit_float(image)
    original = (int(values.shape[0]), int(values.shape[1])) if values.ndim >= 2 else (0, 0)
    run = run_mammography if config.kind == "mammography" else run_generic
    array, fields = run(values, config)
    array = np.nan_to_num(np.clip(array, 0.0, 1.0), nan=0.0).astype(np.float32)
    return array, PreprocessInfo(kind=config.kind, original_shape=original, size=config.size, **fields)


def preprocess_image(image: FloatImage | np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """float32 (channels, size, size) in [0, 1]; see :func:`preprocess_with_info`."""
    return preprocess_with_info(image, config)[0]


def compute_normalisation_stats(arrays: Iterable[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation over all pixels of preprocessed arrays.

    Streams: each (C, H, W) array is reduced to sums at once, so a whole
    dataset's cache can be passed as a generator. Padding pixels count like any
    other (the network sees them too). Compute the stats on the TRAINING split
    only, then store them in ``PreprocessConfig(mean=..., std=...)``.

    Args:
        arrays: (C, H, W) arrays with the same C, e.g. from
            ``PreprocessCache.iter_arrays(manifest.subset("train"))``.

    Returns:
        (mean, std), one float per channel; std is at least 1e-6.

    Raises:
        DataError: no arrays, mixed channel counts, or non-finite values.
    """
    total: np.ndarray | None = None
    squares: np.ndarray | None = None
    count = 0
    for index, array in enumerate(arrays):
        planes = np.asarray(array, dtype=np.float64)
        if planes.ndim != 3:
            raise DataError(f"array {index}: expected (C, H, W), got shape {planes.shape}.")
        if not np.all(np.isfinite(planes)):
            raise DataError(f"array {index}: holds NaN or infinite values; rebuild the cache.")
        if total is None or squares is None:
            total, squares = np.zeros(planes.shape[0]), np.zeros(planes.shape[0])
        elif planes.shape[0] != total.shape[0]:
            raise DataError(f"array {index}: {planes.shape[0]} channels, the first had {total.shape[0]}.")
        total += planes.sum(axis=(1, 2))
        squares += (planes**2).sum(axis=(1, 2))
        count += planes.shape[1] * planes.shape[2]
    if total is None or squares is None or count == 0:
        raise DataError("no arrays to compute normalisation stats from; is the training split empty?")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return tuple(float(m) for m in mean), tuple(float(max(s, 1e-6)) for s in std)
