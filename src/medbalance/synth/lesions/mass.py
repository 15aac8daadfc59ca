"""Masses: a projected Gaussian random sphere, with spicules (malignant) or a smooth margin (benign).

``size_mm`` is the mean diameter ``2 alpha`` (alpha, the mean radius, is sampled in
2.5-10 mm). The opacity is the body's thickness normalised by its maximum, plus the
spicules' thickness normalised by their root chord times ``spicule_gain``, clipped
to 1 and scaled by ``contrast``: a thin strand is displayed far brighter than its
physical thickness relative to the body would give, as clinical image processing
shows it, so the two are normalised separately.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from medbalance.constraints import check_constraints, option
from medbalance.synth.lesions._base import (
    LESIONS,
    LesionModel,
    LesionPatch,
    resolve_params,
)
from medbalance.synth.lesions._opacity import finish_opacity, pad_to
from medbalance.synth.lesions._sphere import (
    MAX_DEGREE,
    project_random_sphere,
    sample_log_radius_coefficients,
)
from medbalance.synth.lesions.spicules import grow_spicules, render_spicules

__all__ = ["CircumscribedMass", "MassParams", "SpiculatedMass"]


@dataclass(frozen=True)
class MassParams:
    """Parameters of one mass (sampled unless overridden)."""

    size_mm: float = option(gt=0.0)
    contrast: float = option(ge=0.0, le=0.95)
    sigma2: float = option(0.31, ge=0.0, le=2.0)
    lmax: int = option(4, ge=2, le=MAX_DEGREE)
    n_bumps: int = option(0, ge=0, le=8)
    n_spicules: int = option(0, ge=0, le=200)
    spicule_radius_mm: float = option(0.25, gt=0.0)
    spicule_length_mm: float = option(1.5, gt=0.0)
    spicule_gain: float = option(0.7, ge=0.0, le=5.0)
    p_continue: float = option(0.72, ge=0.0, le=0.95)
    branch_angle_deg: float = option(6.5, ge=0.0, le=90.0)
    max_segments: int = option(1200, ge=1, le=20000)

    def __post_init__(self) -> None:
        check_constraints(self, "mass")


def _boundary_radius(body: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Distance (px) from the centre to the body's outline along each angle."""
    half = (body.shape[0] - 1) // 2
    inside = (body > 0.05 * body.max()).astype(np.float32)
    steps = np.arange(0, half, 0.5)
    rows = half - np.sin(angles)[:, None] * steps[None, :]
    cols = half + np.cos(angles)[:, None] * steps[None, :]
    hit = ndimage.map_coordinates(inside, [rows, cols], order=1) > 0.5
    last = np.where(hit.any(axis=1), hit.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1), 0)
    return np.asarray(steps[last])


def _random_bumps(rng: np.random.Generator, count: int) -> np.ndarray:
    units = rng.standard_normal((count, 3))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    height = rng.uniform(0.1, 0.3, count)
    width = rng.uniform(0.35, 0.7, count)
    return np.column_stack([units, height, width])


def render_mass(
    rng: np.random.Generator, spacing_mm: float, p: MassParams, *, kind: str, malignant: bool
) -> LesionPatch:
    """Render the body (and spicules when ``p.n_spicules > 0``) of one mass."""
    coefficients = sample_log_radius_coefficients(rng, lmax=p.lmax, sigma2=p.sigma2)
    bumps = _random_bumps(rng, p.n_bumps)
    body = project_random_sphere(
        coefficients, alpha_mm=p.size_mm / 2, sigma2=p.sigma2, spacing_mm=spacing_mm, bumps=bumps
    )
    strength = body / max(float(body.max()), 1e-12)
    n_segments = 0
    if p.n_spicules:
        k = p.n_spicules
        angles = rng.uniform(0.0, 2 * math.pi, k)
        start = rng.uniform(0.7, 1.0, k) * _boundary_radius(body, angles)
        roots = np.column_stack([-np.sin(angles) * start, np.cos(angles) * start])
        directions = angles + rng.normal(0.0, math.radians(20.0), k)
        tree = grow_spicules(
            rng,
            roots=roots,
            angles=directions,
            radius_mm=p.spicule_radius_mm * rng.uniform(0.5, 1.5, k),
            length_mm=p.spicule_length_mm * rng.uniform(0.5, 1.5, k),
            spacing_mm=spacing_mm,
            p_continue=p.p_continue,
            branch_angle_deg=p.branch_angle_deg,
            taper=0.93,
            max_segments=p.max_segments,
        )
        n_segments = len(tree)
        margin = 3 * max(1.0, 0.95 * p.spicule_radius_mm / spacing_mm) + 2
        half = max((body.shape[0] - 1) // 2, math.ceil(tree.extent_px() + margin))
        strength = pad_to(strength, half)
        strands = render_spicules(tree, half=half, spacing_mm=spacing_mm)
        strength = strength + p.spicule_gain * strands / (2 * p.spicule_radius_mm)
    record = {**asdict(p), "n_segments": n_segments, "spacing_mm": spacing_mm}
    return LesionPatch(
        kind=kind,
        malignant=malignant,
        size_mm=float(p.size_mm),
        opacity=finish_opacity(p.contrast * np.clip(strength, 0.0, 1.0)),
        params=record,
    )


class SpiculatedMass(LesionModel):
    """Spiculated mass (malignant): lobulated random-sphere body with branching spicules."""

    name = "mass"
    malignant = True

    def _render(self, rng: np.random.Generator, spacing_mm: float, params: dict[str, Any]) -> LesionPatch:
        sampled = {
            "size_mm": 2 * rng.uniform(2.5, 10.0),
            "contrast": rng.uniform(0.2, 0.4),
            "lmax": int(rng.integers(3, MAX_DEGREE + 1)),
            "n_bumps": int(rng.integers(0, 3)),
            "n_spicules": int(rng.integers(15, 41)),
            "spicule_radius_mm": rng.uniform(0.15, 0.35),
            "spicule_length_mm": 0.0,  # set from the size below
            "spicule_gain": rng.uniform(0.3, 0.6),
            "max_segments": int(rng.integers(1000, 1401)),
        }
        length_factor = rng.uniform(0.06, 0.12)
        size = params.get("size_mm", sampled["size_mm"])
        sampled["spicule_length_mm"] = length_factor * size if isinstance(size, int | float) else 1.0
        p = resolve_params(MassParams, sampled, params, kind=self.name)
        return render_mass(rng, spacing_mm, p, kind=self.name, malignant=self.malignant)


class CircumscribedMass(LesionModel):
    """Circumscribed mass (benign): smooth oval random-sphere body (sigma^2 0.08, lmax 2-3), no spicules."""

    name = "circumscribed-mass"
    malignant = False

    def _render(self, rng: np.random.Generator, spacing_mm: float, params: dict[str, Any]) -> LesionPatch:
        sampled = {
            "size_mm": 2 * rng.uniform(2.5, 10.0),
            "contrast": rng.uniform(0.2, 0.4),
            "sigma2": 0.08,
            "lmax": int(rng.integers(2, 4)),
        }
        p = resolve_params(MassParams, sampled, params, kind=self.name)
        return render_mass(rng, spacing_mm, p, kind=self.name, malignant=self.malignant)


LESIONS.add(SpiculatedMass.name, SpiculatedMass())
LESIONS.add(CircumscribedMass.name, CircumscribedMass())
