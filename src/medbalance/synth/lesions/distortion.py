"""Architectural distortion (malignant): tissue pulled toward a point along radiating spokes.

A radial pull equivalent to scikit-image's ``swirl`` family of local warps, but
contracting rather than rotating: an output pixel at distance ``r < R`` from the
centre shows the tissue found at ``r (1 + strength (1 - r/R)^2 g(theta))``, so the
tissue converges on the centre; ``g`` rises along ``n_spokes`` random directions,
where the pull is stronger, and a small ``twist`` adds a swirl. The warp fades to
zero at ``R`` with zero slope, so no seam shows. Faint thin straight strands along
the spokes (opacity ``contrast``) complete the stellate look without a central mass.
``size_mm`` is the diameter ``2 R``, with ``R`` in 5-20 mm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from medbalance.constraints import check_constraints, option
from medbalance.synth.lesions._base import (
    LESIONS,
    LesionModel,
    LesionPatch,
    resolve_params,
)
from medbalance.synth.lesions._opacity import finish_opacity
from medbalance.synth.lesions.spicules import grow_spicules, render_spicules

__all__ = ["Distortion", "DistortionParams"]


@dataclass(frozen=True)
class DistortionParams:
    """Parameters of one distortion (sampled unless overridden)."""

    size_mm: float = option(gt=0.0)
    strength: float = option(ge=0.0, le=1.0)
    twist: float = option(ge=-1.5, le=1.5)
    n_spokes: int = option(ge=0, le=40)
    spoke_gain: float = option(ge=0.0, le=3.0)
    contrast: float = option(ge=0.0, le=0.5)
    strand_radius_mm: float = option(0.12, gt=0.0)

    def __post_init__(self) -> None:
        check_constraints(self, "distortion")


def _angle_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(np.angle(np.exp(1j * (a - b))))


def render_distortion(
    rng: np.random.Generator, spacing_mm: float, p: DistortionParams
) -> tuple[np.ndarray, np.ndarray | None]:
    """Displacement (2, h, h) in pixels and optional strand opacity of one distortion."""
    radius = p.size_mm / 2 / spacing_mm
    half = math.ceil(radius) + 1
    spokes = rng.uniform(0, 2 * math.pi, p.n_spokes)
    width = rng.uniform(0.08, 0.16, p.n_spokes)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    r = np.hypot(rows, cols)
    theta = np.arctan2(-rows, cols)
    fade = np.where(r < radius, (1 - r / radius) ** 2, 0.0)
    gain = np.ones_like(r)
    for angle, w in zip(spokes, width, strict=True):
        gain += p.spoke_gain * np.exp(-(_angle_gap(theta, angle) ** 2) / (2 * w**2))
    src_r = r * (1 + p.strength * fade * gain)
    src_theta = theta + p.twist * fade
    displacement = np.stack([-src_r * np.sin(src_theta) - rows, src_r * np.cos(src_theta) - cols])
    displacement[:, r >= radius] = 0.0

    opacity = None
    if p.n_spokes and p.contrast > 0:
        start = 0.15 * radius
        roots = np.column_stack([-np.sin(spokes) * start, np.cos(spokes) * start])
        tree = grow_spicules(
            rng,
            roots=roots,
            angles=spokes,
            radius_mm=p.strand_radius_mm,
            length_mm=rng.uniform(0.4, 0.9, p.n_spokes) * radius * spacing_mm / 6,
            spacing_mm=min(spacing_mm, p.strand_radius_mm),
            p_continue=1.0,
            taper=0.97,
            jitter_deg=2.0,
            max_segments=6 * p.n_spokes,
        )
        strands = render_spicules(tree, half=half, spacing_mm=spacing_mm) / (2 * p.strand_radius_mm)
        opacity = finish_opacity(p.contrast * np.clip(strands, 0, 1) * np.clip(1 - r / radius, 0, 1))
    return displacement.astype(np.float32), opacity


class Distortion(LesionModel):
    """Architectural distortion (malignant): radial pull along spokes, with faint radiating strands."""

    name = "distortion"
    malignant = True

    def _render(self, rng: np.random.Generator, spacing_mm: float, params: dict[str, Any]) -> LesionPatch:
        sampled = {
            "size_mm": 2 * rng.uniform(5.0, 20.0),
            "strength": rng.uniform(0.4, 0.8),
            "twist": rng.uniform(-0.3, 0.3),
            "n_spokes": int(rng.integers(5, 13)),
            "spoke_gain": rng.uniform(0.8, 2.0),
            "contrast": rng.uniform(0.06, 0.12),
        }
        p = resolve_params(DistortionParams, sampled, params, kind=self.name)
        displacement, opacity = render_distortion(rng, spacing_mm, p)
        return LesionPatch(
            kind=self.name,
            malignant=self.malignant,
            size_mm=float(p.size_mm),
            opacity=opacity,
            displacement=displacement,
            params={**asdict(p), "spacing_mm": spacing_mm},
        )


LESIONS.add(Distortion.name, Distortion())
