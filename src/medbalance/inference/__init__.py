"""Apply a trained model to new images: bundles, predictions, explanations.

Example:
    >>> from medbalance.inference import export_bundle, load_bundle
    >>> export_bundle("runs/baseline", "model", rule="target-sensitivity:0.9")  # doctest: +SKIP
    >>> load_bundle("model").predict(["new.png"]).images  # doctest: +SKIP
"""

from __future__ import annotations

from medbalance.inference.bundle import Bundle, BundleError, load_bundle
from medbalance.inference.export import ExportResult, create_bundle, export_bundle, export_recommended
from medbalance.inference.predict import PredictionResult, predict_images

__all__ = [
    "Bundle",
    "BundleError",
    "ExportResult",
    "PredictionResult",
    "create_bundle",
    "export_bundle",
    "export_recommended",
    "load_bundle",
    "predict_images",
]
