"""Synthetic lesion models, registered by name in ``LESIONS``.

Names: ``mass`` (spiculated, malignant), ``circumscribed-mass`` (benign),
``calcification`` (fine pleomorphic cluster, malignant), ``coarse-calcification``
(benign), ``distortion`` (architectural distortion, malignant).

Example:
    >>> import numpy as np
    >>> patch = LESIONS.get("mass").render(np.random.default_rng(0), spacing_mm=0.2)
    >>> patch.malignant
    True
"""

from __future__ import annotations

from medbalance.synth.lesions import calcification, distortion, mass
from medbalance.synth.lesions._base import LESIONS, LesionModel, LesionPatch, check_spacing

__all__ = [
    "LESIONS",
    "LesionModel",
    "LesionPatch",
    "calcification",
    "check_spacing",
    "distortion",
    "list_lesions",
    "mass",
]


def list_lesions() -> list[str]:
    """Registered lesion names, sorted."""
    return LESIONS.names()
