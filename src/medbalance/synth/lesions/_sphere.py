"""Gaussian random sphere (Muinonen 1996; de Sisternes et al., Med Phys 2015) and its projection.

The log-radius is a real spherical-harmonic series
``s(u) = sum_{l=2..lmax} sum_m a_lm Y_lm(u)`` with ``a_lm ~ N(0, v_l)``. By the
addition theorem ``Var s(u) = sum_l v_l (2l + 1) / (4 pi)``; we choose
``v_l = beta^2 c_l 4 pi / (2l + 1)`` with ``c_l`` proportional to ``l^-4``
(``c_0 = c_1 = 0``, ``sum c_l = 1``), so ``Var s = beta^2 = ln(1 + sigma^2)``, where
``sigma^2`` is the relative variance of the radius. The radius is
``r(u) = alpha exp(s(u) - beta^2 / 2)``, whose mean is ``alpha``.

The body is projected along one axis by summing partial-volume voxel occupancy on a
fixed normalised grid; the spherical-harmonic basis at every voxel direction is
computed once per grid size and cached, so one lesion costs one small matrix product.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.special
from scipy import ndimage

__all__ = [
    "MAX_DEGREE",
    "evaluate_log_radius",
    "project_random_sphere",
    "real_sph_harm",
    "sample_log_radius_coefficients",
]

MAX_DEGREE = 4
_DEGREES = tuple(range(2, MAX_DEGREE + 1))


def real_sph_harm(degree: int, order: int, polar: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """Orthonormal real spherical harmonic ``Y_{degree,order}`` at the given angles.

    Uses ``scipy.special.sph_harm_y`` (SciPy >= 1.15) or the older ``sph_harm``.
    """
    m = abs(order)
    if hasattr(scipy.special, "sph_harm_y"):
        complex_y = scipy.special.sph_harm_y(degree, m, polar, azimuth)
    else:  # pragma: no cover - SciPy < 1.15
        complex_y = scipy.special.sph_harm(m, degree, azimuth, polar)
    if order == 0:
        return np.real(complex_y)
    part = np.real(complex_y) if order > 0 else np.imag(complex_y)
    return math.sqrt(2.0) * (-1.0) ** m * part


def _basis(polar: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """(n_points, n_terms) real harmonics for degrees 2..MAX_DEGREE."""
    columns = [real_sph_harm(d, m, polar, azimuth) for d in _DEGREES for m in range(-d, d + 1)]
    return np.stack(columns, axis=-1)


def _term_degrees() -> np.ndarray:
    return np.array([d for d in _DEGREES for _ in range(2 * d + 1)])


def sample_log_radius_coefficients(rng: np.random.Generator, *, lmax: int, sigma2: float) -> np.ndarray:
    """Draw the series coefficients ``a_lm`` (zero above ``lmax``), one per basis term.

    Args:
        rng: random generator.
        lmax: highest degree, 2..MAX_DEGREE.
        sigma2: relative variance of the radius (0.31 in de Sisternes et al.).
    """
    degrees = _term_degrees()
    beta2 = math.log1p(sigma2)
    weights = np.array([d**-4.0 for d in _DEGREES])
    c_l = {d: w / weights[: lmax - 1].sum() for d, w in zip(_DEGREES, weights, strict=True)}
    std = np.array(
        [math.sqrt(beta2 * c_l[d] * 4 * math.pi / (2 * d + 1)) if d <= lmax else 0.0 for d in degrees]
    )
    return rng.standard_normal(degrees.size) * std


def evaluate_log_radius(coefficients: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """The log-radius series ``s(u)`` at unit vectors ``directions`` (n, 3)."""
    polar = np.arccos(np.clip(directions[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(directions[:, 1], directions[:, 0])
    return np.asarray(_basis(polar, azimuth) @ coefficients)


@lru_cache(maxsize=4)
def _grid(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised voxel grid in [-1, 1]^3 (rows, cols, depth): radii, unit vectors, basis."""
    axis = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    y, x, z = np.meshgrid(axis, axis, axis, indexing="ij")
    points = np.stack([x.ravel(), -y.ravel(), z.ravel()], axis=1)
    radius = np.linalg.norm(points, axis=1)
    units = points / radius[:, None]
    polar = np.arccos(np.clip(units[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(units[:, 1], units[:, 0])
    basis = _basis(polar, azimuth).astype(np.float32)
    return radius.astype(np.float32), units.astype(np.float32), basis


def _grid_size(extent_px: float) -> int:
    return 32 if extent_px <= 48 else 48 if extent_px <= 120 else 64


def project_random_sphere(
    coefficients: np.ndarray,
    *,
    alpha_mm: float,
    sigma2: float,
    spacing_mm: float,
    bumps: np.ndarray | None = None,
) -> np.ndarray:
    """Thickness map (mm) of the random sphere projected onto the pixel grid.

    Args:
        coefficients: from :func:`sample_log_radius_coefficients`.
        alpha_mm: mean radius.
        sigma2: the relative variance the coefficients were drawn with.
        spacing_mm: output pixel spacing.
        bumps: optional (k, 5) rows ``(ux, uy, uz, height, width_rad)``: low-frequency
            surface bumps multiplying the radius by ``1 + height * exp((cos(angle) - 1) / width^2)``
            (about ``exp(-angle^2 / 2 width^2)`` near the bump's axis).

    Returns:
        (2h + 1, 2h + 1) float32 chord lengths in mm, centred on the lesion.
    """
    beta2 = math.log1p(sigma2)
    # a cheap first pass on a coarse grid fixes the extent, hence the grid size
    coarse_r = alpha_mm * np.exp(_grid(16)[2] @ coefficients.astype(np.float32) - beta2 / 2)
    n = _grid_size(2 * 1.2 * float(coarse_r.max()) / spacing_mm)
    radius, units, basis = _grid(n)
    surface = alpha_mm * np.exp(basis @ coefficients.astype(np.float32) - beta2 / 2)
    if bumps is not None and len(bumps):
        # von Mises kernel exp((cos a - 1) / w^2), which is exp(-a^2 / 2 w^2) for small angles
        table = bumps.astype(np.float32)
        for ux, uy, uz, height, width in table:
            cos_angle = units @ np.array([ux, uy, uz], dtype=np.float32)
            surface = surface * (1 + height * np.exp((cos_angle - 1) / width**2))
    r_max = float(surface.max()) * 1.02
    voxel = 2 * r_max / n
    occupancy = np.clip((surface - radius * r_max) / voxel + 0.5, 0.0, 1.0)
    thickness = occupancy.reshape(n, n, n).sum(axis=2) * voxel
    half = math.ceil(r_max / spacing_mm) + 1
    offsets_mm = np.arange(-half, half + 1) * spacing_mm
    index = (offsets_mm + r_max) / voxel - 0.5
    rows, cols = np.meshgrid(index, index, indexing="ij")
    out = ndimage.map_coordinates(thickness, [rows, cols], order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, None).astype(np.float32)
