"""Grouped stratified splits, k-fold, and the leakage check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medbalance.data.manifest import Manifest
from medbalance.data.splits import (
    assert_no_leakage,
    assign_folds,
    check_leakage,
    split_counts,
    split_manifest,
)
from medbalance.errors import ConfigError, DataError, LeakageError


def _manifest(
    n_patients: int = 60, images_per_patient: int = 4, prevalence: float = 0.2, seed: int = 0
) -> Manifest:
    rng = np.random.default_rng(seed)
    rows = []
    positive_patients = set(rng.choice(n_patients, size=max(1, int(prevalence * n_patients)), replace=False))
    for p in range(n_patients):
        for i in range(images_per_patient):
            malignant = p in positive_patients and i < 2  # one breast (two views) malignant
            rows.append(
                {
                    "image_id": f"p{p:03d}_{i}",
                    "path": f"p{p:03d}_{i}.png",
                    "label": "malignant" if malignant else "benign",
                    "patient_id": f"{p:05d}",
                }
            )
    return Manifest(pd.DataFrame(rows), classes=("benign", "malignant"))


def test_split_keeps_patients_together_and_is_stratified() -> None:
    m = split_manifest(_manifest(n_patients=200), fractions=(0.7, 0.15, 0.15), seed=1)
    assert set(m.table["split"]) == {"train", "val", "test"}
    assert check_leakage(m) == []
    assert m.table.groupby("patient_id")["split"].nunique().max() == 1
    counts = split_counts(m)
    share = counts["malignant"] / counts["total"]
    overall = (m.table["label"] == "malignant").mean()
    assert np.allclose(share, overall, atol=0.03)
    assert abs(counts.loc["train", "total"] / len(m) - 0.7) < 0.08


def test_split_is_seeded() -> None:
    a = split_manifest(_manifest(), seed=3).table["split"]
    b = split_manifest(_manifest(), seed=3).table["split"]
    c = split_manifest(_manifest(), seed=4).table["split"]
    assert a.equals(b) and not a.equals(c)


def test_existing_split_is_kept_and_partial_split_refused() -> None:
    m = split_manifest(_manifest(), seed=0)
    assert split_manifest(m, seed=99).table["split"].equals(m.table["split"])
    table = m.table.copy()
    table.loc[0, "split"] = ""
    with pytest.raises(DataError, match="no split while others do"):
        split_manifest(m.with_table(table))


@pytest.mark.parametrize(
    ("fractions", "match"),
    [((0.5, 0.2, 0.2), "summing to 1"), ((1.2, -0.1, -0.1), "non-negative"), ((0.5, 0.5), "three")],
    ids=["sum", "negative", "two-values"],
)
def test_bad_fractions(fractions: tuple[float, ...], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        split_manifest(_manifest(), fractions=fractions)


def test_group_by_patient_without_ids_names_the_fix() -> None:
    m = _manifest()
    table = m.table.copy()
    table["patient_id"] = ""
    with pytest.raises(DataError, match="--group-by study"):
        split_manifest(m.with_table(table))


def test_hand_made_leaking_split_is_caught() -> None:
    m = split_manifest(_manifest(), seed=0)
    table = m.table.copy()
    first_patient = table.loc[0, "patient_id"]
    rows = table.index[table["patient_id"] == first_patient]
    table.loc[rows[0], "split"] = "train"
    table.loc[rows[1], "split"] = "test"
    leaky = m.with_table(table)
    problems = check_leakage(leaky)
    assert [p.key for p in problems] == [first_patient]
    with pytest.raises(LeakageError, match=first_patient):
        assert_no_leakage(leaky)


def test_identical_files_across_splits_are_leaks() -> None:
    m = split_manifest(_manifest(), seed=0)
    hashes = [f"h{i}" for i in range(len(m))]
    train_row = int(np.flatnonzero(m.table["split"] == "train")[0])
    test_row = int(np.flatnonzero(m.table["split"] == "test")[0])
    hashes[test_row] = hashes[train_row]
    problems = check_leakage(m, file_hashes=hashes)
    assert [(p.kind, p.rows) for p in problems] == [("file", tuple(sorted((train_row, test_row))))]


def test_class_missing_from_train_is_an_error() -> None:
    m = _manifest(n_patients=40, prevalence=0.025)  # one malignant patient
    with pytest.raises(DataError, match=r"\[.malignant.\] have no image in the train split"):
        # With one positive patient some split must lack the class; train is an error,
        # val/test only warn, so try seeds until the patient lands outside train.
        for seed in range(20):
            split_manifest(m, seed=seed)


def test_folds_are_grouped_and_refuse_tiny_classes() -> None:
    m = assign_folds(split_manifest(_manifest(), seed=0), 3, seed=0)
    pool = m.table[m.table["split"] != "test"]
    assert set(pool["fold"]) == {"0", "1", "2"}
    assert (m.table.loc[m.table["split"] == "test", "fold"] == "").all()
    assert pool.groupby("patient_id")["fold"].nunique().max() == 1
    one_positive = _manifest(n_patients=40, prevalence=0.025)
    with pytest.raises(DataError, match="fewer than the 5 folds"):
        assign_folds(one_positive, 5)
