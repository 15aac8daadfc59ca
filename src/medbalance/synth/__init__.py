"""Synthetic mammography: lesion models and their insertion (and phantom mammograms)."""

from __future__ import annotations

from medbalance.synth.insertion import LesionRecord, insert_lesion, insert_lesions
from medbalance.synth.lesions import LESIONS, LesionModel, LesionPatch, list_lesions
from medbalance.synth.phantoms import PhantomConfig, PhantomSet, generate_phantoms, prevalence_from_ratio

__all__ = [
    "LESIONS",
    "LesionModel",
    "LesionPatch",
    "LesionRecord",
    "PhantomConfig",
    "PhantomSet",
    "generate_phantoms",
    "insert_lesion",
    "insert_lesions",
    "list_lesions",
    "prevalence_from_ratio",
]
