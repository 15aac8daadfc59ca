"""Aggregation of image-level predictions to breast, lesion and patient level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medbalance.errors import ConfigError, DataError
from medbalance.evaluation.aggregation import aggregate_predictions

CLASSES = ("benign", "malignant")


def _table() -> pd.DataFrame:
    # patient P1: left breast CC+MLO (malignant), right breast CC+MLO (benign); P2: one breast, 2 views
    pos = np.array([0.8, 0.4, 0.1, 0.3, 0.2, 0.6])
    return pd.DataFrame({
        "image_id": [f"i{k}" for k in range(6)],
        "patient_id": ["P1", "P1", "P1", "P1", "P2", "P2"],
        "study_id": ["s1"] * 4 + ["s2"] * 2,
        "breast_id": ["P1_L", "P1_L", "P1_R", "P1_R", "P2_L", "P2_L"],
        "lesion_id": ["", "", "", "", "", ""],
        "domain": ["a"] * 6,
        "split": ["test"] * 6,
        "label": ["malignant", "malignant", "benign", "benign", "benign", "benign"],
        "prob_benign": 1 - pos,
        "prob_malignant": pos,
        "logit_benign": np.zeros(6),
        "logit_malignant": np.log(pos / (1 - pos)),
    })  # fmt: skip


@pytest.mark.parametrize(
    ("level", "method", "units", "expected"),
    [
        ("breast", "mean", ["P1_L", "P1_R", "P2_L"], [0.6, 0.2, 0.4]),
        ("breast", "max", ["P1_L", "P1_R", "P2_L"], [0.8, 0.3, 0.6]),
        ("patient", "mean", ["P1", "P2"], [0.4, 0.4]),
        ("patient", "max", ["P1", "P2"], [0.8, 0.6]),
    ],
    ids=["breast-mean", "breast-max", "patient-mean", "patient-max"],
)
def test_golden_aggregates(level: str, method: str, units: list[str], expected: list[float]) -> None:
    table = _table()
    if level == "patient":
        table.loc[table["patient_id"] == "P1", "label"] = "malignant"
    agg = aggregate_predictions(
        table, classes=CLASSES, level=level, method=method, positive_class="malignant"
    )  # type: ignore[arg-type]
    assert agg.table["unit_id"].tolist() == units
    np.testing.assert_allclose(agg.table["prob_malignant"], expected)
    np.testing.assert_allclose(agg.proba.sum(axis=1), 1.0)
    # aggregated logits reproduce the aggregated probabilities through softmax
    z = agg.logits
    soft = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(soft / soft.sum(1, keepdims=True), agg.proba)
    assert agg.level == level and agg.method == method
    assert agg.table["n_images"].sum() == 6


def test_image_level_keeps_rows_and_model_logits() -> None:
    table = _table()
    agg = aggregate_predictions(table, classes=CLASSES, level="image")
    assert len(agg.table) == 6 and agg.method == "none"
    np.testing.assert_allclose(agg.logits[:, 1], table["logit_malignant"])
    assert agg.labels.tolist() == [1, 1, 0, 0, 0, 0]


def test_multiclass_max_is_renormalised() -> None:
    table = pd.DataFrame({
        "image_id": ["a", "b"], "patient_id": ["P", "P"], "breast_id": ["B", "B"], "label": ["x", "x"],
        "prob_x": [0.6, 0.2], "prob_y": [0.3, 0.3], "prob_z": [0.1, 0.5],
    })  # fmt: skip
    agg = aggregate_predictions(table, classes=("x", "y", "z"), level="breast", method="max")
    np.testing.assert_allclose(agg.proba[0], np.array([0.6, 0.3, 0.5]) / 1.4)


def test_conflicting_labels_error_names_the_group() -> None:
    table = _table()
    table.loc[0, "label"] = "benign"  # P1_L now has one benign and one malignant view
    with pytest.raises(DataError, match=r"different true labels, first \['P1_L'\]"):
        aggregate_predictions(table, classes=CLASSES, level="breast", positive_class="malignant")


def test_conflicting_labels_max_policy_takes_positive_with_warning() -> None:
    table = _table()
    table.loc[1, "label"] = "benign"
    with pytest.warns(UserWarning, match="took the positive label"):
        agg = aggregate_predictions(
            table, classes=CLASSES, level="breast", positive_class="malignant", on_conflict="max"
        )
    assert agg.table.set_index("unit_id").loc["P1_L", "label"] == "malignant"
    assert agg.notes and "P1_L" in agg.notes[0]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda t: t.drop(columns=["prob_malignant"]), DataError, "lacks column"),
        (lambda t: t.assign(lesion_id=""), DataError, "empty lesion_id"),
        (lambda t: t.assign(breast_id="same"), DataError, "several patients"),
        (lambda t: t.assign(label="Benign "), DataError, "not among the classes"),
    ],
    ids=["missing-column", "empty-ids", "shared-id", "unknown-label"],
)
def test_bad_tables(change, error, match) -> None:  # type: ignore[no-untyped-def]
    level = "lesion" if match == "empty lesion_id" else "breast"
    with pytest.raises(error, match=match):
        aggregate_predictions(change(_table()), classes=CLASSES, level=level, positive_class="malignant")  # type: ignore[arg-type]


def test_unknown_level_and_method() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'breast'"):
        aggregate_predictions(_table(), classes=CLASSES, level="brest")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="aggregation method"):
        aggregate_predictions(_table(), classes=CLASSES, level="breast", method="median")  # type: ignore[arg-type]
