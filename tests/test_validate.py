"""`validate_manifest` and `medbalance validate`: every problem at once, with row numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from medbalance.cli import main
from medbalance.data.manifest import Manifest
from medbalance.data.splits import split_manifest
from medbalance.data.validate import validate_manifest


def _write_set(root: Path, n_patients: int = 30, positives: int = 8, size: int = 16) -> Manifest:
    """Two images per patient, distinct random content, a few malignant patients."""
    rng = np.random.default_rng(0)
    rows = []
    for p in range(n_patients):
        for view in ("CC", "MLO"):
            name = f"p{p:02d}_{view}.png"
            Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(root / name)
            rows.append(
                {
                    "image_id": f"p{p:02d}_{view}",
                    "path": name,
                    "label": "malignant" if p < positives else "benign",
                    "patient_id": f"{p:03d}",
                    "breast_id": f"{p:03d}L",
                    "view": view,
                }
            )
    return Manifest(pd.DataFrame(rows), classes=("benign", "malignant"), root=root, source="test")


def _codes(report: object) -> set[str]:
    return {p.code for p in report.problems}  # type: ignore[attr-defined]


def test_clean_set_passes(tmp_path: Path) -> None:
    report = validate_manifest(split_manifest(_write_set(tmp_path), fractions=(0.6, 0.2, 0.2)))
    assert report.ok, [p.message for p in report.problems]
    assert report.facts["patients"] == 30


def test_all_missing_files_listed_in_one_error(tmp_path: Path) -> None:
    m = _write_set(tmp_path)
    for row in (3, 17, 42):
        (tmp_path / m.table.loc[row, "path"]).unlink()
    report = validate_manifest(m)
    missing = [p for p in report.problems if p.code == "missing-file"]
    assert len(missing) == 1 and missing[0].rows == (3, 17, 42)
    assert missing[0].lines == [5, 19, 44]
    assert not report.ok


def test_unknown_labels_reported_with_rows_not_dropped(tmp_path: Path) -> None:
    m = _write_set(tmp_path)
    table = m.table.copy()
    table.loc[4, "label"] = "Benign "
    table.loc[9, "label"] = "NA"
    report = validate_manifest(m.with_table(table))
    problem = next(p for p in report.problems if p.code == "unknown-label")
    assert problem.rows == (4, 9) and "'Benign '" in problem.message and "'NA'" in problem.message


def test_truncated_and_empty_and_constant_images(tmp_path: Path) -> None:
    m = _write_set(tmp_path, size=64)
    jpeg = tmp_path / "p05_CC.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)).save(
        jpeg, quality=95
    )
    data = jpeg.read_bytes()
    jpeg.write_bytes(data[: len(data) // 2])
    (tmp_path / "p06_CC.png").write_bytes(b"")
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(tmp_path / "p07_CC.png")
    table = m.table.copy()
    table.loc[10, "path"] = "p05_CC.jpg"
    report = validate_manifest(m.with_table(table))
    unreadable = next(p for p in report.problems if p.code == "unreadable-image")
    assert set(unreadable.rows) == {10, 12}
    constant = next(p for p in report.problems if p.code == "constant-image")
    assert constant.rows == (14,)
    assert not report.ok


def test_single_class_and_too_few_groups(tmp_path: Path) -> None:
    m = _write_set(tmp_path, positives=0)
    assert "single-class" in _codes(validate_manifest(m, check_images=False))
    one = _write_set(tmp_path, positives=1)
    report = validate_manifest(one, n_folds=5, check_images=False)
    problem = next(p for p in report.problems if p.code == "class-too-small")
    assert "'malignant' has 1 patient group(s), fewer than the 5 folds" in problem.message


def test_leaking_patient_and_copied_file_across_splits(tmp_path: Path) -> None:
    m = split_manifest(_write_set(tmp_path), fractions=(0.6, 0.2, 0.2))
    table = m.table.copy()
    table.loc[0, "split"], table.loc[1, "split"] = "train", "test"  # patient 000 leaks
    train_row = int(np.flatnonzero((table["split"] == "train") & (table.index > 1))[0])
    test_row = int(np.flatnonzero((table["split"] == "test") & (table.index > 1))[0])
    table.loc[test_row, "path"] = table.loc[train_row, "path"]  # the same file in two splits
    report = validate_manifest(m.with_table(table))
    assert {"leakage", "duplicate-across-splits", "duplicate-file"} <= _codes(report)
    assert not report.ok


def test_cli_validate_writes_json_and_exits_nonzero(tmp_path: Path) -> None:
    m = _write_set(tmp_path)
    (tmp_path / m.table.loc[0, "path"]).unlink()
    csv = m.save(tmp_path / "manifest.csv")
    assert main(["validate", str(csv)]) == 1
    report = json.loads((tmp_path / "manifest.validation.json").read_text())
    assert report["ok"] is False and report["problems"][0]["code"] == "missing-file"
    m2 = _write_set(tmp_path)
    m2.save(tmp_path / "clean.csv")
    assert main(["validate", str(tmp_path / "clean.csv"), "--folds", "2"]) == 0
