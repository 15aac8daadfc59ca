"""The lesion-model contract shared by every lesion type, and the ``LESIONS`` registry.

A lesion model turns a random generator and a pixel spacing into a
:class:`LesionPatch`: the lesion's geometry rendered once on a small local grid
(the expensive part: random sphere, spicule tree, speck polygons, warp field),
which :mod:`medbalance.synth.insertion` then pastes into any image at any centre.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbalance.errors import ConfigError
from medbalance.registry import Registry, look_up_option

__all__ = [
    "LESIONS",
    "LesionModel",
    "LesionPatch",
    "check_spacing",
    "resolve_params",
]


@dataclass(frozen=True, eq=False)
class LesionPatch:
    """One lesion's geometry on a local square grid centred on the lesion.

    Attributes:
        kind: the registered lesion name.
        malignant: whether the finding counts as malignant.
        size_mm: the lesion's characteristic diameter in millimetres.
        opacity: (h, h) float32 in [0, 1): the fraction of the remaining headroom
            ``1 - image`` the lesion fills (see :func:`medbalance.synth.insertion.insert_lesion`),
            or None for a pure warp.
        displacement: (2, h, h) float32 source offsets in pixels (row, col) for a warp,
            or None for an additive lesion.
        params: the sampled parameters, JSON-ready, recorded with the sample.
    """

    kind: str
    malignant: bool
    size_mm: float
    opacity: np.ndarray | None
    displacement: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grid = self.opacity if self.opacity is not None else self.displacement
        if grid is None or grid.shape[-1] % 2 != 1 or grid.shape[-1] != grid.shape[-2]:
            raise ValueError("a LesionPatch needs an opacity or displacement grid of odd square shape.")

    @property
    def half(self) -> int:
        """Half the side of the local grid: the centre pixel is ``[half, half]``."""
        grid = self.opacity if self.opacity is not None else self.displacement
        return 0 if grid is None else (grid.shape[-1] - 1) // 2

    def footprint(self) -> np.ndarray:
        """Boolean (h, h) mask of the pixels the lesion changes."""
        changed = np.zeros((2 * self.half + 1,) * 2, dtype=bool)
        if self.opacity is not None:
            changed |= self.opacity > 0
        if self.displacement is not None:
            changed |= np.any(self.displacement != 0, axis=0)
        return changed

    def support_radius_px(self) -> float:
        """Distance from the centre to the farthest changed pixel (0 when nothing changes)."""
        rows, cols = np.nonzero(self.footprint())
        if rows.size == 0:
            return 0.0
        return float(np.sqrt(((rows - self.half) ** 2 + (cols - self.half) ** 2).max()))


def check_spacing(spacing_mm: object) -> float:
    """Return the pixel spacing as a positive float, or raise naming the fix."""
    if spacing_mm is None:
        raise ConfigError(
            "pixel spacing is missing: lesion sizes are in millimetres, so pass spacing_mm "
            "(e.g. 0.2 for mini-MIAS, --spacing-mm on the command line)."
        )
    if isinstance(spacing_mm, bool) or not isinstance(spacing_mm, int | float | np.floating | np.integer):
        raise ConfigError(f"pixel spacing must be a number of millimetres per pixel, got {spacing_mm!r}.")
    value = float(spacing_mm)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"pixel spacing must be a positive number of millimetres per pixel, got {spacing_mm!r}; "
            "typical mammograms use 0.05-0.2 mm."
        )
    return value


def resolve_params(cls: type[Any], sampled: dict[str, Any], overrides: dict[str, Any], *, kind: str) -> Any:
    """Build the frozen parameter dataclass ``cls`` from sampled values and user overrides.

    Every parameter is sampled first (so the generator is consumed the same way
    whatever the overrides), then overrides replace sampled values. Unknown names
    raise with "did you mean"; the dataclass checks its declared bounds
    (:func:`medbalance.constraints.check_constraints` in ``__post_init__``).
    """
    names = [f.name for f in dataclasses.fields(cls)]
    for key in overrides:
        look_up_option(key, names, what=f"{kind} parameter")
    values = {**sampled, **{k: v for k, v in overrides.items() if v is not None}}
    return cls(**values)


class LesionModel(ABC):
    """A registered lesion type: shared checks in :meth:`render`, geometry in ``_render``.

    Subclasses set :attr:`name` and :attr:`malignant` and implement ``_render``.
    """

    name: str = ""
    malignant: bool = False
    description: str = ""

    def render(self, rng: np.random.Generator, *, spacing_mm: float, **params: Any) -> LesionPatch:
        """Sample one lesion and render its geometry at ``spacing_mm``.

        Args:
            rng: the generator every random choice draws from.
            spacing_mm: pixel spacing of the target image, mm per pixel.
            **params: overrides of sampled parameters (e.g. ``size_mm=8``, ``contrast=0.2``).

        Raises:
            ConfigError: missing or non-positive spacing, unknown or out-of-range parameters.
        """
        spacing = check_spacing(spacing_mm)
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}.")
        return self._render(rng, spacing, params)

    @abstractmethod
    def _render(self, rng: np.random.Generator, spacing_mm: float, params: dict[str, Any]) -> LesionPatch:
        """Sample parameters, build the geometry, return the patch."""


LESIONS: Registry[LesionModel] = Registry("lesion type")
