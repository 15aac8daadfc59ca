"""Synthetic mammography: lesion models and their insertion (and phantom mammograms)."""

from __future__ import annotations

from medbalance.synth.insertion import LesionRecord, insert_lesion, insert_lesions
from medbalance.synth.lesions import LESIONS, LesionModel, LesionPatch, list_lesions

__all__ = [
    "LESIONS",
    "LesionModel",
    "LesionPatch",
    "LesionRecord",
    "insert_lesion",
    "insert_lesions",
    "list_lesions",
]
