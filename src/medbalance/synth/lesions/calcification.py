"""Calcifications: a malignant cluster of fine pleomorphic specks, or a few coarse benign ones.

``calcification``: 5-30 bright convex specks (irregular convex polygons, elongated
up to 2:1), each of equivalent-circle diameter 0.25-1.0 mm, scattered uniformly in
an elongated (up to 2:1) cluster region of diameter ``size_mm`` (5-15 mm) and kept
at least one pixel apart; small specks outnumber large ones and are dimmer
(thinner). A speck that finds no free place after a few tries is dropped
(``n_specks`` records what was drawn, ``n_specks_requested`` what was asked).
``coarse-calcification``: 1-5 smooth round or "popcorn" specks (unions of 2-5
overlapping discs) of 1-3 mm, scattered over a region of 10-30 mm: the benign
pattern radiologists dismiss. Coverage is rendered with 4x4 supersampling, so
specks smaller than a pixel show with partial brightness, then softened by a
half-pixel Gaussian (the imaging system's blur).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.synth.lesions._base import (
    LESIONS,
    LesionModel,
    LesionPatch,
    resolve_params,
)
from medbalance.synth.lesions._opacity import finish_opacity

__all__ = ["CalcificationParams", "CoarseCalcification", "FineCalcification"]

_SUPER = 4


@dataclass(frozen=True)
class CalcificationParams:
    """Parameters of one calcification group (sampled unless overridden)."""

    size_mm: float = option(gt=0.0)
    n_specks: int = option(ge=1, le=100)
    min_diameter_mm: float = option(gt=0.0)
    max_diameter_mm: float = option(gt=0.0)
    contrast: float = option(ge=0.0, le=0.99)

    def __post_init__(self) -> None:
        kind = "calcification"
        check_constraints(self, kind)
        if self.min_diameter_mm > self.max_diameter_mm:
            raise ConfigError(
                f"{kind}: min_diameter_mm ({self.min_diameter_mm}) exceeds max_diameter_mm ({self.max_diameter_mm})."
            )
        if self.max_diameter_mm >= self.size_mm:
            raise ConfigError(
                f"{kind}: specks ({self.max_diameter_mm} mm) must be smaller than the region size_mm ({self.size_mm})."
            )


def _supersampled_grid(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Sub-pixel sample points of the pixel box [low, high] (row, col ints, inclusive)."""
    rows = low[0] + (np.arange((high[0] - low[0] + 1) * _SUPER) + 0.5) / _SUPER - 0.5
    cols = low[1] + (np.arange((high[1] - low[1] + 1) * _SUPER) + 0.5) / _SUPER - 0.5
    grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
    return grid_r, grid_c, (high[0] - low[0] + 1, high[1] - low[1] + 1)


def _pool(inside: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.asarray(inside.reshape(shape[0], _SUPER, shape[1], _SUPER).mean(axis=(1, 3)))


def _paste_max(canvas: np.ndarray, values: np.ndarray, low: np.ndarray, half: int) -> None:
    r, c = int(low[0]) + half, int(low[1]) + half
    view = canvas[r : r + values.shape[0], c : c + values.shape[1]]
    np.maximum(view, values, out=view)


def _polygon_speck(rng: np.random.Generator, diameter_px: float) -> np.ndarray:
    """CCW vertices (k, 2) of a random convex polygon with equivalent diameter ``diameter_px``."""
    k = int(rng.integers(5, 9))
    angles = np.sort(rng.uniform(0, 2 * math.pi, k))
    radii = rng.uniform(0.7, 1.0, k)
    stretch, turn = rng.uniform(1.0, 2.0), rng.uniform(0, math.pi)
    pts = np.column_stack([radii * np.cos(angles) * stretch, radii * np.sin(angles)])
    rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    pts = pts @ rot.T
    hull = ConvexHull(pts)
    pts = pts[hull.vertices]  # counter-clockwise
    scale = math.sqrt(math.pi * diameter_px**2 / 4 / hull.volume)  # 2-D "volume" is the area
    return np.asarray(pts * scale)


def _polygon_coverage(vertices: np.ndarray, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = vertices + center
    low = np.floor(pts.min(axis=0)).astype(int) - 1
    high = np.ceil(pts.max(axis=0)).astype(int) + 1
    grid_r, grid_c, shape = _supersampled_grid(low, high)
    inside = np.ones(grid_r.shape, dtype=bool)
    for a, b in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        inside &= (b[0] - a[0]) * (grid_c - a[1]) - (b[1] - a[1]) * (grid_r - a[0]) >= 0
    return _pool(inside, shape), low


def _popcorn_coverage(
    rng: np.random.Generator, diameter_px: float, center: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lobes = int(rng.integers(1, 6))  # 1 = round, 2-5 = popcorn
    offsets = rng.normal(0.0, 0.18 * diameter_px, (lobes, 2)) if lobes > 1 else np.zeros((1, 2))
    radii = (0.5 if lobes == 1 else 0.32) * diameter_px * rng.uniform(0.85, 1.15, lobes)
    low = np.floor(center - diameter_px).astype(int)
    high = np.ceil(center + diameter_px).astype(int)
    grid_r, grid_c, shape = _supersampled_grid(low, high)
    inside = np.zeros(grid_r.shape, dtype=bool)
    for (dr, dc), radius in zip(offsets, radii, strict=True):
        inside |= (grid_r - center[0] - dr) ** 2 + (grid_c - center[1] - dc) ** 2 <= radius**2
    return _pool(inside, shape), low


def render_calcifications(
    rng: np.random.Generator, spacing_mm: float, p: CalcificationParams, *, coarse: bool
) -> tuple[np.ndarray, int]:
    """Opacity grid of one calcification group and the number of specks drawn."""
    region_px = p.size_mm / 2 / spacing_mm
    max_px = p.max_diameter_mm / spacing_mm
    half = math.ceil(region_px + 2 * max_px) + 3
    canvas = np.zeros((2 * half + 1,) * 2, dtype=np.float32)
    # an elongated cluster (up to 2:1) at a random angle, inside the size_mm disc
    squash, tilt = rng.uniform(0.5, 1.0), rng.uniform(0, math.pi)
    centers: list[np.ndarray] = []
    sizes: list[float] = []
    for _ in range(p.n_specks):
        # more small specks than large ones, and thinner (dimmer) small ones, as in real clusters
        diameter_mm = p.min_diameter_mm + (p.max_diameter_mm - p.min_diameter_mm) * rng.random() ** 1.5
        diameter = diameter_mm / spacing_mm
        brightness = (
            p.contrast * rng.uniform(0.75, 1.0) * min(1.0, math.sqrt(diameter_mm / p.max_diameter_mm) + 0.3)
        )
        for _try in range(12):
            radius = (region_px - diameter / 2) * math.sqrt(rng.random())
            theta = rng.uniform(0, 2 * math.pi)
            along, across = radius * math.cos(theta), squash * radius * math.sin(theta)
            center = np.array(
                [
                    along * math.sin(tilt) + across * math.cos(tilt),
                    along * math.cos(tilt) - across * math.sin(tilt),
                ]
            )
            # bounding radius of a 2:1 speck is < diameter; keep one clear pixel between specks
            if all(np.hypot(*(center - c)) > diameter + s + 1.5 for c, s in zip(centers, sizes, strict=True)):
                break
        else:
            continue
        if coarse:
            coverage, low = _popcorn_coverage(rng, diameter, center)
        else:
            coverage, low = _polygon_coverage(_polygon_speck(rng, diameter), center)
        _paste_max(canvas, brightness * coverage.astype(np.float32), low, half)
        centers.append(center)
        sizes.append(diameter)
    # the imaging system's blur: edges soften over about half a pixel
    return ndimage.gaussian_filter(canvas, 0.5, truncate=3.0), len(centers)


class _CalcificationModel(LesionModel):
    coarse = False
    ranges: ClassVar[dict[str, tuple[float, float]]] = {}

    def _render(self, rng: np.random.Generator, spacing_mm: float, params: dict[str, Any]) -> LesionPatch:
        r = self.ranges
        sampled = {
            "size_mm": rng.uniform(*r["size_mm"]),
            "n_specks": int(rng.integers(int(r["n_specks"][0]), int(r["n_specks"][1]) + 1)),
            "min_diameter_mm": r["diameter_mm"][0],
            "max_diameter_mm": r["diameter_mm"][1],
            "contrast": rng.uniform(*r["contrast"]),
        }
        p = resolve_params(CalcificationParams, sampled, params, kind=self.name)
        opacity, drawn = render_calcifications(rng, spacing_mm, p, coarse=self.coarse)
        record = {**asdict(p), "n_specks": drawn, "n_specks_requested": p.n_specks, "spacing_mm": spacing_mm}
        return LesionPatch(
            kind=self.name,
            malignant=self.malignant,
            size_mm=float(p.size_mm),
            opacity=finish_opacity(opacity),
            params=record,
        )


class FineCalcification(_CalcificationModel):
    """Calcification cluster (malignant): 5-30 fine pleomorphic specks of 0.25-1.0 mm in 5-15 mm."""

    name = "calcification"
    malignant = True
    coarse = False
    ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "size_mm": (5.0, 15.0),
        "n_specks": (5, 30),
        "diameter_mm": (0.25, 1.0),
        "contrast": (0.4, 0.7),
    }


class CoarseCalcification(_CalcificationModel):
    """Coarse calcifications (benign): 1-5 round or popcorn specks of 1-3 mm, scattered over 10-30 mm."""

    name = "coarse-calcification"
    malignant = False
    coarse = True
    ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "size_mm": (10.0, 30.0),
        "n_specks": (1, 5),
        "diameter_mm": (1.0, 3.0),
        "contrast": (0.5, 0.8),
    }


LESIONS.add(FineCalcification.name, FineCalcification())
LESIONS.add(CoarseCalcification.name, CoarseCalcification())
