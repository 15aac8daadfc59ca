"""Image-level predictions aggregated to breast, lesion or patient level before metrics.

Walsh & Tardy (2023) report breast-level results: the malignancy scores of the
CC and MLO views of one breast are averaged. ``aggregate_predictions`` groups
the rows of a predictions table by ``breast_id``, ``lesion_id`` or
``patient_id`` and combines each group's class probabilities by

* ``mean``: the average of each class's probability (rows still sum to 1);
* ``max``: for a binary task the largest positive-class probability (the
  negative one is 1 minus it: a breast is as suspicious as its most
  suspicious view); for multi-class the per-class maximum, renormalised to sum 1.

Aggregated logits are ``log(p)`` of the aggregated probabilities (softmax of
them gives back p), so temperature scaling and logit adjustment work on any level;
at image level the model's own logits are kept.

A group whose images carry different true labels is an error naming the
group (``on_conflict="error"``), or takes the "max" label with a warning
(``on_conflict="max"``): the positive class for a binary task (a breast with
one malignant view is malignant), the class listed last for multi-class
(meaningful when classes are ordered by severity or density).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from medbalance.contract import LEVEL_COLUMNS
from medbalance.errors import DataError
from medbalance.registry import look_up_option

__all__ = [
    "AGGREGATION_LEVELS",
    "AggregatedPredictions",
    "AggregationLevel",
    "AggregationMethod",
    "aggregate_predictions",
]

AggregationLevel = Literal["image", "breast", "lesion", "patient"]
AggregationMethod = Literal["mean", "max"]
AGGREGATION_LEVELS: dict[str, str] = {
    level: LEVEL_COLUMNS[level] for level in ("image", "breast", "lesion", "patient")
}
_METHODS = ("mean", "max")
_CONFLICT = ("error", "max")


@dataclass(frozen=True)
class AggregatedPredictions:
    """Predictions at one level: one row per unit (image, breast, lesion or patient).

    Attributes:
        table: columns unit_id, patient_id, domain, split, label, n_images,
            prob_<class>..., logit_<class>...
        level: "image", "breast", "lesion" or "patient".
        method: "mean" or "max" ("none" at image level).
        classes: class names in order.
        notes: what was done that a reader should know (label conflicts resolved).
    """

    table: pd.DataFrame
    level: str
    method: str
    classes: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def labels(self) -> np.ndarray:
        """True class index per unit."""
        return np.array([self.classes.index(v) for v in self.table["label"]], dtype=np.int64)

    @property
    def proba(self) -> np.ndarray:
        """(units, K) probabilities."""
        return self.table[[f"prob_{c}" for c in self.classes]].to_numpy(dtype=np.float64)

    @property
    def logits(self) -> np.ndarray:
        """(units, K) logits."""
        return self.table[[f"logit_{c}" for c in self.classes]].to_numpy(dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary of the level."""
        return {
            "level": self.level,
            "method": self.method,
            "n_units": len(self.table),
            "n_images": int(self.table["n_images"].sum()),
            "notes": list(self.notes),
        }


def _check_columns(table: pd.DataFrame, classes: Sequence[str], id_column: str) -> None:
    needed = ["image_id", "patient_id", "label", id_column] + [f"prob_{c}" for c in classes]
    missing = [c for c in dict.fromkeys(needed) if c not in table.columns]
    if missing:
        raise DataError(
            f"predictions table lacks column(s) {missing}; a predictions file needs image_id, patient_id, "
            f"study_id, breast_id, lesion_id, domain, split, label, prob_<class> and logit_<class> columns."
        )
    blank = table[id_column].astype(str).str.strip().isin(["", "nan", "None"])
    if blank.any():
        rows = table.loc[blank, "image_id"].astype(str).head(5).tolist()
        raise DataError(
            f"{int(blank.sum())} prediction row(s) have an empty {id_column} (first image ids: {rows}), so they "
            f"cannot be grouped at this level; fill {id_column} in the manifest, or choose --level image."
        )


def _resolve_labels(
    grouped: pd.core.groupby.DataFrameGroupBy,
    classes: tuple[str, ...],
    positive: str | None,
    on_conflict: str,
) -> tuple[pd.Series, list[str]]:
    n_labels = grouped["label"].nunique()
    conflicts = n_labels[n_labels > 1].index.tolist()
    if conflicts and on_conflict == "error":
        raise DataError(
            f"{len(conflicts)} group(s) hold images with different true labels, first {conflicts[:5]}; "
            "fix the labels, or aggregate with on_conflict='max' (the positive / last class wins)."
        )
    order = {c: i for i, c in enumerate(classes)}
    if positive is not None and len(classes) == 2:
        order = {c: int(c == positive) for c in classes}
    labels = grouped["label"].agg(lambda s: max(s, key=lambda v: order[v]))
    notes = []
    if conflicts:
        note = (
            f"{len(conflicts)} group(s) had images with different labels and took the "
            f"{'positive' if positive is not None and len(classes) == 2 else 'last-listed'} label: {conflicts[:5]}"
        )
        warnings.warn(note, stacklevel=3)
        notes.append(note)
    return labels, notes


def aggregate_predictions(
    table: pd.DataFrame,
    *,
    classes: Sequence[str],
    level: AggregationLevel = "image",
    method: AggregationMethod = "mean",
    positive_class: str | None = None,
    on_conflict: Literal["error", "max"] = "error",
) -> AggregatedPredictions:
    """Aggregate image-level predictions to ``level`` by ``method``.

    Args:
        table: predictions (one row per image) with float prob_<class> columns.
        classes: class names in column order.
        level: "image" (no aggregation), "breast", "lesion" or "patient".
        method: "mean" or "max".
        positive_class: the positive class of a binary task (used by "max").
        on_conflict: "error" or "max" for groups with different true labels.

    Raises:
        DataError: missing columns, empty group ids, unknown labels, label
            conflicts (with "error"), or a group spanning several patients.
    """
    level = look_up_option(level, AGGREGATION_LEVELS, what="aggregation level")  # type: ignore[assignment]
    method = look_up_option(method, _METHODS, what="aggregation method")  # type: ignore[assignment]
    on_conflict = look_up_option(on_conflict, _CONFLICT, what="label-conflict policy")  # type: ignore[assignment]
    classes = tuple(classes)
    id_column = AGGREGATION_LEVELS[level]
    _check_columns(table, classes, id_column)
    unknown = sorted(set(table["label"]) - set(classes))
    if unknown:
        raise DataError(
            f"predictions hold label(s) {unknown} that are not among the classes {list(classes)}."
        )
    binary = len(classes) == 2 and positive_class in classes
    df = table.copy()
    df["unit_id"] = df[id_column].astype(str)
    for column in ("domain", "split"):
        if column not in df.columns:
            df[column] = ""
    prob_cols = [f"prob_{c}" for c in classes]
    if level == "image":
        out = df[["unit_id", "patient_id", "domain", "split", "label", *prob_cols]].copy()
        out["n_images"] = 1
        notes: list[str] = []
        method = "none"  # type: ignore[assignment]
    else:
        grouped = df.groupby("unit_id", sort=True)
        n_patients = grouped["patient_id"].nunique()
        shared = n_patients[n_patients > 1].index.tolist()
        if shared:
            raise DataError(
                f"{len(shared)} {id_column} value(s) belong to several patients, first {shared[:5]}; "
                f"{id_column} must be unique across patients (e.g. '<patient>_<laterality>')."
            )
        labels, notes = _resolve_labels(grouped, classes, positive_class if binary else None, on_conflict)
        out = pd.DataFrame({
            "unit_id": labels.index,
            "patient_id": grouped["patient_id"].first().to_numpy(),
            "domain": grouped["domain"].agg(lambda s: "+".join(sorted(set(s)))).to_numpy(),
            "split": grouped["split"].agg(lambda s: "+".join(sorted(set(s)))).to_numpy(),
            "label": labels.to_numpy(),
        })  # fmt: skip
        probs = grouped[prob_cols].agg(method)
        if method == "max" and binary:
            pos = f"prob_{positive_class}"
            for col in prob_cols:
                probs[col] = probs[pos] if col == pos else 1.0 - probs[pos]
        elif method == "max":
            probs = probs.div(probs.sum(axis=1), axis=0)
        out = pd.concat([out, probs.reset_index(drop=True)], axis=1)
        out["n_images"] = grouped.size().to_numpy()
    for c in classes:
        if level == "image" and f"logit_{c}" in df.columns:  # the model's own logits
            out[f"logit_{c}"] = df[f"logit_{c}"].to_numpy(dtype=np.float64)
        else:
            out[f"logit_{c}"] = np.log(np.clip(out[f"prob_{c}"].to_numpy(dtype=np.float64), 1e-12, None))
    return AggregatedPredictions(out.reset_index(drop=True), level, method, classes, tuple(notes))
