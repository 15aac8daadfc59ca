"""Acquisition "domains": vendors that differ in response curve, noise, blur and contrast.

A model trained on one vendor can then be tested out of distribution on another,
as Walsh & Tardy (2023) test across HMI, VinDr-Mammo, CMMD and INbreast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["DOMAINS", "Vendor", "acquire"]


@dataclass(frozen=True)
class Vendor:
    """How one vendor turns attenuation into displayed grey levels.

    Attributes:
        gamma: response curve exponent (display = signal ** gamma).
        gain: contrast gain around mid-grey.
        offset: brightness shift.
        noise: standard deviation of the Gaussian part of the noise.
        quantum: scale of the Poisson-like part (noise grows with signal).
        blur_mm: Gaussian point-spread sigma in millimetres.
    """

    gamma: float
    gain: float
    offset: float
    noise: float
    quantum: float
    blur_mm: float


DOMAINS: dict[str, Vendor] = {
    "vendor-a": Vendor(gamma=1.0, gain=1.0, offset=0.0, noise=0.008, quantum=0.004, blur_mm=0.10),
    "vendor-b": Vendor(gamma=0.75, gain=0.85, offset=0.05, noise=0.015, quantum=0.008, blur_mm=0.25),
    "vendor-c": Vendor(gamma=1.35, gain=1.2, offset=-0.04, noise=0.005, quantum=0.012, blur_mm=0.15),
    "vendor-d": Vendor(gamma=0.9, gain=0.7, offset=0.08, noise=0.025, quantum=0.004, blur_mm=0.4),
}


def acquire(
    image: np.ndarray, breast: np.ndarray, vendor: Vendor, spacing_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Apply a vendor's blur, response curve, contrast and noise; background stays 0."""
    signal = ndimage.gaussian_filter(image, sigma=vendor.blur_mm / spacing_mm) if vendor.blur_mm else image
    signal = np.clip(signal, 0.0, 1.0) ** vendor.gamma
    signal = 0.5 + vendor.gain * (signal - 0.5) + vendor.offset
    noise = rng.normal(0.0, 1.0, size=signal.shape) * np.sqrt(
        vendor.noise**2 + vendor.quantum * np.clip(signal, 0.0, None) * 0.01
    )
    out = np.clip(signal + noise, 1.0 / 65535, 1.0)
    return np.where(breast, out, 0.0).astype(np.float32)
