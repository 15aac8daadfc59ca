"""Breast anatomy of the phantoms: silhouette, pectoral muscle, skin, parenchyma.

Everything is drawn with the chest wall on the LEFT edge (a left breast in the
standard display); right breasts are mirrored by the caller. Shapes are in
millimetres and converted with the pixel spacing, so a phantom keeps its
physical size whatever the image size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

__all__ = ["DENSITY_FRACTIONS", "Anatomy", "draw_anatomy", "power_law_noise"]

View = Literal["CC", "MLO"]
Density = Literal["A", "B", "C", "D"]

#: Share of the breast that is fibroglandular for BI-RADS density A-D
#: (A < 25%, B 25-50%, C 50-75%, D > 75%; the middle of each band).
DENSITY_FRACTIONS: dict[str, float] = {"A": 0.12, "B": 0.37, "C": 0.62, "D": 0.85}

_SKIN_MM = 1.5
_FAT_LEVEL = 0.25
_DENSE_GAIN = 0.20
_PECTORAL_LEVEL = 0.80


@dataclass(frozen=True)
class Anatomy:
    """One breast image before lesions and acquisition.

    Attributes:
        image: float32 (H, W) in [0, 1], background exactly 0.
        breast: bool mask of the breast (pectoral muscle included).
        pectoral: bool mask of the pectoral muscle (empty for CC).
        glandular: float32 fibroglandular weight map in [0, 1].
    """

    image: np.ndarray
    breast: np.ndarray
    pectoral: np.ndarray
    glandular: np.ndarray


def power_law_noise(size: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Isotropic 1/f^beta noise (power spectrum), zero mean, unit variance, float32."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = np.inf  # no DC component
    amplitude = radius ** (-beta / 2.0)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=amplitude.shape)
    field = np.fft.irfft2(amplitude * np.exp(1j * phase), s=(size, size))
    field -= field.mean()
    return (field / (field.std() + 1e-12)).astype(np.float32)


def _silhouette(view: View, size: int, spacing_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Breast outline against the left edge: a perturbed half-ellipse (CC) or tilted teardrop (MLO)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    span_mm = size * spacing_mm
    if view == "CC":
        centre_r = size * rng.uniform(0.46, 0.54)
        half_height = min(rng.uniform(70.0, 95.0) / spacing_mm, 0.47 * size)
        depth = min(rng.uniform(0.55, 0.8) * span_mm / spacing_mm, 0.92 * size)
        tilt = 0.0
    else:
        centre_r = size * rng.uniform(0.52, 0.6)
        half_height = min(rng.uniform(85.0, 110.0) / spacing_mm, 0.56 * size)
        depth = min(rng.uniform(0.5, 0.72) * span_mm / spacing_mm, 0.9 * size)
        tilt = rng.uniform(0.15, 0.3)  # the MLO breast droops: the outline leans downwards
    dr = rows - centre_r - tilt * cols
    angle = np.arctan2(dr / half_height, cols / depth)
    # Low-order Fourier perturbation of the outline keeps every breast a little different.
    wobble = 1.0 + sum(
        rng.normal(0, 0.025) * np.cos(k * angle + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4)
    )
    radius = np.sqrt((dr / half_height) ** 2 + (cols / depth) ** 2)
    mask = (radius <= wobble) & (cols >= 0)
    if view == "MLO":
        # The axillary tail: the breast reaches the top of the image along the chest wall.
        tail_width = rng.uniform(0.18, 0.3) * size
        mask |= (cols < tail_width * (1 - rows / max(centre_r, 1.0))) & (rows < centre_r)
    return mask


def _pectoral(size: int, rng: np.random.Generator) -> np.ndarray:
    """A triangle in the top chest-wall corner (MLO)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    width = rng.uniform(0.22, 0.38) * size
    height = rng.uniform(0.4, 0.65) * size
    return cols / width + rows / height < 1.0


def draw_anatomy(
    view: View, density: Density, size: int, spacing_mm: float, rng: np.random.Generator
) -> Anatomy:
    """Draw one breast (chest wall on the left) with parenchyma of a BI-RADS density."""
    breast = _silhouette(view, size, spacing_mm, rng)
    pectoral = _pectoral(size, rng) & breast if view == "MLO" else np.zeros_like(breast)
    inside = ndimage.distance_transform_edt(breast) * spacing_mm
    # Compressed thickness falls off within ~10 mm of the skin: the edge is darker.
    thickness = 1.0 - np.exp(-inside / 10.0)
    coarse = power_law_noise(size, 3.0, rng)
    # Glandular tissue sits behind the nipple, away from the skin and the chest wall.
    cols = np.arange(size, dtype=np.float32)[None, :]
    reach = max(float(np.nonzero(breast.any(axis=0))[0].max()) if breast.any() else 1.0, 1.0)
    depth = cols / reach
    prior = np.exp(-(((depth - 0.35) / 0.4) ** 2)) * np.clip(inside / 8.0, 0.0, 1.0)
    score = coarse + 1.2 * prior
    fraction = DENSITY_FRACTIONS[density]
    inner = breast & ~pectoral
    threshold = float(np.quantile(score[inner], 1.0 - fraction)) if inner.any() else 0.0
    spread = float(score[inner].std()) if inner.any() else 1.0
    # A soft edge (logistic) instead of a hard threshold: parenchyma fades into fat.
    glandular = 1.0 / (1.0 + np.exp(-(score - threshold) / (0.25 * spread)))
    glandular = ndimage.gaussian_filter(glandular, sigma=max(0.5, 1.0 / spacing_mm)) * breast
    # Fine structure (ducts, Cooper's ligaments) is visible mostly inside dense tissue.
    fine = power_law_noise(size, 2.2, rng)
    strands = ndimage.gaussian_filter(power_law_noise(size, 1.6, rng), sigma=max(0.4, 0.6 / spacing_mm))
    tissue = (
        _FAT_LEVEL
        + _DENSE_GAIN * glandular
        + 0.035 * fine * (0.3 + glandular)
        + 0.03 * strands / (strands.std() + 1e-6) * glandular
    )
    tissue = tissue * (0.55 + 0.45 * thickness)
    tissue = np.where(pectoral, _PECTORAL_LEVEL + 0.04 * fine, tissue)
    skin = breast & (inside <= _SKIN_MM)
    tissue = np.where(skin, tissue + 0.08, tissue)
    image = np.clip(np.where(breast, tissue, 0.0), 0.0, 1.0).astype(np.float32)
    return Anatomy(image=image, breast=breast, pectoral=pectoral, glandular=glandular.astype(np.float32))
