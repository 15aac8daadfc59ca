"""Breast- and patient-level rows, and PPV/NPV at a deployment prevalence, for ``predict``.

Images are combined exactly as evaluation does (:func:`medbalance.evaluation.aggregation.aggregate_predictions`,
with the bundle's ``mean``/``max``) on the model's uncalibrated probabilities;
the calibration map and the threshold are then applied to the combined score.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from medbalance.evaluation.aggregation import aggregate_predictions
from medbalance.inference.bundle import Bundle

__all__ = ["aggregate_levels", "metrics_at_prevalence"]


def _filled(images: pd.DataFrame, column: str) -> bool:
    return column in images.columns and bool(len(images)) and bool((images[column].astype(str) != "").all())


def _aggregate(bundle: Bundle, images: pd.DataFrame, level: str, prevalence: float | None) -> pd.DataFrame:
    from medbalance.inference.predict import score_columns

    classes = bundle.classes
    has_labels = "label" in images.columns and set(images["label"]).issubset(classes)
    table = pd.DataFrame({
        "image_id": images["image_id"], "patient_id": images["patient_id"].astype(str),
        "breast_id": images["breast_id"].astype(str) if "breast_id" in images.columns else "",
        "label": images["label"] if has_labels else classes[0],
    })  # fmt: skip
    for c in classes:
        table[f"prob_{c}"] = images[f"raw_prob_{c}"].to_numpy(dtype=np.float64)
    method = str((bundle.spec.get("threshold") or {}).get("aggregate", "mean"))
    with warnings.catch_warnings():  # a patient with one malignant breast is not a conflict here
        warnings.simplefilter("ignore", UserWarning)
        agg = aggregate_predictions(
            table, classes=classes, level=level, method=method,  # type: ignore[arg-type]
            positive_class=bundle.positive_class, on_conflict="max",
        )  # fmt: skip
    columns = ["unit_id", "n_images"] if level == "patient" else ["unit_id", "patient_id", "n_images"]
    out = agg.table[columns].rename(columns={"unit_id": f"{level}_id"})
    if has_labels:
        out["label"] = agg.table["label"].to_numpy()
    out["level"] = level
    for name, values in score_columns(bundle, agg.proba, prevalence).items():
        out[name] = values
    return out.reset_index(drop=True)


def aggregate_levels(
    bundle: Bundle, images: pd.DataFrame, prevalence: float | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(breast rows, patient rows); None for a level whose ids the inputs do not give."""
    if not _filled(images, "patient_id"):
        return None, None
    breasts = _aggregate(bundle, images, "breast", prevalence) if _filled(images, "breast_id") else None
    return breasts, _aggregate(bundle, images, "patient", prevalence)


def metrics_at_prevalence(bundle: Bundle, prevalence: float) -> dict[str, Any]:
    """PPV and NPV at ``prevalence`` from the operating point's sensitivity and specificity.

    Computed twice: from the validation values the threshold was chosen on, and from
    the test estimates evaluation reported (with their intervals, in the bundle).
    """
    from medbalance.evaluation.prevalence import compute_metrics_at_prevalence

    threshold = bundle.spec.get("threshold") or {}
    out: dict[str, Any] = {"prevalence": prevalence, "threshold_rule": threshold.get("rule")}
    for source in ("validation", "test"):
        entry = threshold.get(source) or {}
        sens, spec = (entry.get(m) or {} for m in ("sensitivity", "specificity"))
        if sens.get("estimate") is None or spec.get("estimate") is None:
            out[source] = {"defined": False, "reason": f"no {source} sensitivity/specificity in the bundle"}
            continue
        values = compute_metrics_at_prevalence(float(sens["estimate"]), float(spec["estimate"]), prevalence)
        out[source] = {
            "sensitivity": sens["estimate"], "specificity": spec["estimate"],
            **{k: v.value for k, v in values.items()},
        }  # fmt: skip
    return out
