"""Bad inputs of ../shared/BAD_INPUTS.md, end to end through the CLI and the library.

Each test names its BAD_INPUTS row (``row13_...``); docs/bad-inputs.md maps every
row to the tests that prove it. Tests marked ``xfail(strict=True)`` would pin a bug
found by the audit: they pass while the bug is there and fail (XPASS) once it
is fixed, so whoever fixes it removes the marker.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    BasicTextSRStorage,
    DigitalMammographyXRayImageStorageForPresentation,
)

from dicom_builders import mammo_dataset
from medbalance.cli import main
from medbalance.config import load_config
from medbalance.data.manifest import load_manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.errors import ConfigError
from medbalance.evaluation.metrics import compute_binary_metrics

SMALL_SPLIT = ("--fractions", "0.5,0.25,0.25")  # 4 internal folds: small test sets can be split


# ---- fixtures built in tmp_path ----------------------------------------------------------
def _png(path: Path, seed: int, size: int = 16) -> Path:
    """A PNG of random (hence distinct) content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _cohort(root: Path, labels: list[str], patients: list[str] | None = None, **columns: list[str]) -> Path:
    """Images ``root/images/img_NNN.png`` and ``root/list.csv`` (path,label,patient_id,...)."""
    patients = patients or [f"P{i:03d}" for i in range(len(labels))]
    rows = []
    for i, (label, patient) in enumerate(zip(labels, patients, strict=True)):
        _png(root / "images" / f"img_{i:03d}.png", seed=i)
        row = {"path": f"images/img_{i:03d}.png", "label": label, "patient_id": patient}
        row.update({name: values[i] for name, values in columns.items()})
        rows.append(row)
    return _csv(root / "list.csv", rows)


pytestmark = pytest.mark.usefixtures("wide_console")  # conftest.py


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Run ``medbalance ARGV`` in-process; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _error_line(err: str) -> str:
    """The single ``error:`` line of stderr (a clean message, no traceback)."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def _report(out_dir: Path) -> dict:
    return json.loads((out_dir / "validation.json").read_text(encoding="utf-8"))


def _problems(report: dict, code: str) -> list[dict]:
    return [p for p in report["problems"] if p["code"] == code]


def _flat(text: str) -> str:
    """Rich table text with borders and wrapping removed, for substring checks."""
    for char in "│┃║|":
        text = text.replace(char, " ")
    return " ".join(text.split())


def _dicom(path: Path, *, pixels: np.ndarray | None, sop_class: str, modality: str) -> Path:
    ds = mammo_dataset(sop_class=sop_class, modality=modality)
    if pixels is not None:
        ds.set_pixel_data(pixels, "MONOCHROME2", 12)
        ds.PixelData = ds.PixelData[:-10]  # truncated pixel data, header intact
    dcmwrite(path, ds, enforce_file_format=True)
    return path


def _huge_png_header(path: Path, width: int, height: int) -> Path:
    """A few-KB PNG whose IHDR declares width x height grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 2)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


# ---- row 13: missing files -------------------------------------------------------------
def test_row13_cli_data_lists_all_three_missing_files_in_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["malignant" if i < 30 else "benign" for i in range(100)]
    source = _cohort(tmp_path / "src", labels, [f"P{i // 2:03d}" for i in range(100)])
    removed = ("img_007.png", "img_042.png", "img_093.png")
    for name in removed:
        (tmp_path / "src" / "images" / name).unlink()
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, "data", "csv", source, "--out", out)
    assert code == 1
    report = _report(out)
    missing = _problems(report, "missing-file")
    assert len(missing) == 1 and report["n_errors"] == 1
    assert sorted(Path(p).name for p in missing[0]["paths"]) == list(removed)
    assert missing[0]["lines"] == [9, 44, 95]  # the source CSV's line numbers (header = line 1)
    assert "lines 9, 44, 95" in _flat(stdout) and "unsafe to train" in stdout
    written = load_manifest(out / "manifest.csv")
    assert len(written) == 100  # nothing dropped, nothing substituted
    assert sorted(p.name for p in written.paths() if not p.is_file()) == list(removed)


def test_row13_cli_validate_and_cache_list_every_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["malignant" if i % 3 == 0 else "benign" for i in range(12)]
    source = _cohort(tmp_path / "src", labels)
    out = tmp_path / "out"
    assert _run(capsys, "data", "csv", source, "--out", out, *SMALL_SPLIT)[0] == 0
    for name in ("img_001.png", "img_005.png", "img_010.png"):
        (tmp_path / "src" / "images" / name).unlink()
    code, _, _ = _run(capsys, "validate", out / "manifest.csv", "--folds", "2")
    assert code == 1
    report = json.loads((out / "manifest.validation.json").read_text())
    assert [Path(p).name for p in _problems(report, "missing-file")[0]["paths"]] == [
        "img_001.png",
        "img_005.png",
        "img_010.png",
    ]
    cache = tmp_path / "cache"
    code, _, err = _run(
        capsys,
        "cache",
        "--data",
        out / "manifest.csv",
        "--cache-dir",
        cache,
        "--image-size",
        16,
        "--preprocess",
        "generic",
    )
    assert code == 3
    assert "3 of 12 images could not be preprocessed" in _error_line(err)
    assert all(name in err for name in ("img_001.png", "img_005.png", "img_010.png"))


def test_row13_adapter_with_missing_films_names_all_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mias"
    lines = [f"mdb{i:03d} G NORM" for i in range(1, 11)]
    (source / "images").mkdir(parents=True)
    (source / "Info.txt").write_text("\n".join(lines) + "\n")
    for i in range(1, 11):
        if i not in (3, 5, 8):
            _png(source / "images" / f"mdb{i:03d}.png", seed=i)
    code, _, err = _run(capsys, "data", "mini-mias", source, "--out", tmp_path / "out")
    assert code == 3
    line = _error_line(err)
    assert "3 film(s)" in line and all(f"mdb00{i}" in line for i in (3, 5, 8))


# ---- row 14: unknown labels ------------------------------------------------------------
def test_row14_cli_data_reports_unknown_labels_with_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cohort(tmp_path / "src", ["Benign", "Benign ", "Malignant", "NA", "Malignant"])
    code, _, err = _run(
        capsys, "data", "csv", source, "--out", tmp_path / "a", "--classes", "Benign,Malignant"
    )
    line = _error_line(err)
    assert code == 3 and str(source) in line
    assert "'Benign ' (lines 3)" in line and "'NA' (lines 5)" in line and "never drops rows" in line
    code, _, err = _run(capsys, "data", "csv", source, "--out", tmp_path / "b")  # classes derived
    assert code == 3 and "line 5 ('NA')" in _error_line(err)


def test_row14_cli_validate_reports_unknown_labels_of_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["Benign", "Malignant"] * 4 + ["Benign ", "NA"]
    source = _cohort(tmp_path, labels)
    table = pd.read_csv(source, dtype=str, keep_default_na=False)
    table.insert(0, "image_id", [f"i{i}" for i in range(len(table))])
    table.to_csv(tmp_path / "manifest.csv", index=False)
    code, _, _ = _run(
        capsys, "validate", tmp_path / "manifest.csv", "--classes", "Benign,Malignant", "--folds", "2"
    )
    assert code == 1
    problem = _problems(json.loads((tmp_path / "manifest.validation.json").read_text()), "unknown-label")
    assert problem[0]["lines"] == [10, 11]
    assert "'Benign '" in problem[0]["message"] and "'NA'" in problem[0]["message"]


def test_row14_validate_without_declared_classes_still_flags_na_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["Benign", "Malignant"] * 4 + ["NA"] * 4
    source = _cohort(tmp_path, labels)
    table = pd.read_csv(source, dtype=str, keep_default_na=False)
    table.insert(0, "image_id", [f"i{i}" for i in range(len(table))])
    table.to_csv(tmp_path / "manifest.csv", index=False)
    code, _, _ = _run(capsys, "validate", tmp_path / "manifest.csv", "--folds", "2")
    assert code == 1


# ---- row 15: ids with leading zeros ----------------------------------------------------
def test_row15_ids_stay_strings_through_data_manifest_and_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patients = ["00123", "0123", "123", "1e3", "1000", "NA", "None", "007"]
    labels = ["benign", "malignant"] * 4
    source = _cohort(tmp_path / "src", labels, patients, image_id=["00123", "0123", *patients[2:]])
    out = tmp_path / "out"
    assert _run(capsys, "data", "csv", source, "--out", out, *SMALL_SPLIT, "--folds", "2")[0] == 0
    raw = list(csv.reader((out / "manifest.csv").read_text(encoding="utf-8").splitlines()))
    header = raw[0]
    written = {(r[header.index("image_id")], r[header.index("patient_id")]) for r in raw[1:]}
    assert {("00123", "00123"), ("0123", "0123"), ("1e3", "1e3"), ("NA", "NA")} <= written  # as typed
    back = load_manifest(out / "manifest.csv")
    assert sorted(back.table["patient_id"]) == sorted(patients)
    assert sorted(back.table["image_id"]) == sorted(["00123", "0123", *patients[2:]])
    assert back.table["patient_id"].nunique() == 8  # 00123, 0123 and 123 are three patients
    assert back.table.set_index("image_id").loc["0123", "label"] == "malignant"


# ---- row 16: many images per patient, leaking splits, conflicting labels -------------------
def test_row16_cli_data_keeps_each_patient_in_one_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patients = [f"P{i // 3:02d}" for i in range(36)]  # 12 patients x 3 images
    labels = ["malignant" if int(p[1:]) % 3 == 0 else "benign" for p in patients]
    out = tmp_path / "out"
    source = _cohort(tmp_path / "src", labels, patients)
    assert _run(capsys, "data", "csv", source, "--out", out, *SMALL_SPLIT)[0] == 0
    table = load_manifest(out / "manifest.csv").table
    assert table.groupby("patient_id")["split"].nunique().max() == 1
    assert set(table["split"]) == {"train", "val", "test"}


def test_row16_cli_data_refuses_a_hand_made_leaking_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patients = [f"P{i // 2:02d}" for i in range(16)]
    labels = ["malignant" if i % 4 < 2 else "benign" for i in range(16)]
    splits = ["train"] * 8 + ["val"] * 4 + ["test"] * 4
    splits[1] = "test"  # patient P00 has one image in train and one in test
    source = _cohort(tmp_path / "src", labels, patients, split=splits)
    out = tmp_path / "leaky"
    code, _, _ = _run(capsys, "data", "csv", source, "--out", out, "--folds", "2")
    assert code == 1
    leak = _problems(_report(out), "leakage")
    assert len(leak) == 1 and "'P00' is in splits test, train" in leak[0]["message"]
    assert leak[0]["lines"] == [2, 3] and "--resplit" in leak[0]["fix"]
    fixed = tmp_path / "resplit"
    assert _run(capsys, "data", "csv", source, "--out", fixed, "--resplit", *SMALL_SPLIT)[0] == 0
    assert not _problems(_report(fixed), "leakage")


def test_row16_conflicting_labels_within_a_breast_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patients = [f"P{i // 2:02d}" for i in range(16)]
    labels = ["malignant" if i % 4 < 2 else "benign" for i in range(16)]
    labels[1] = "benign"  # P00: CC malignant, MLO benign, same breast
    breasts = [f"{p}L" for p in patients]
    source = _cohort(tmp_path / "src", labels, patients, breast_id=breasts)
    out = tmp_path / "out"
    assert _run(capsys, "data", "csv", source, "--out", out, *SMALL_SPLIT)[0] == 0
    conflict = _problems(_report(out), "conflicting-labels")
    assert conflict[0]["severity"] == "warning" and "P00L" in conflict[0]["message"]
    assert conflict[0]["lines"] == [2, 3]


# ---- row 17: identical files ----------------------------------------------------------
@pytest.mark.parametrize(
    ("copy_split", "code", "error"),
    [("test", 1, True), ("train", 0, False)],
    ids=["copy-in-test-refused", "copy-in-same-split-warned"],
)
def test_row17_same_file_under_two_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], copy_split: str, code: int, error: bool
) -> None:
    labels = ["malignant", "benign"] * 8
    splits = ["train"] * 8 + ["val"] * 4 + ["test"] * 4
    source = _cohort(tmp_path / "src", labels, split=splits)
    images = tmp_path / "src" / "images"
    shutil.copyfile(images / "img_000.png", images / "copy of img_000.png")
    table = pd.read_csv(source, dtype=str, keep_default_na=False)
    extra = {"path": "images/copy of img_000.png", "label": "malignant", "patient_id": "OTHER"}
    table = pd.concat([table, pd.DataFrame([{**extra, "split": copy_split}])], ignore_index=True)
    table.to_csv(source, index=False)
    out = tmp_path / "out"
    assert _run(capsys, "data", "csv", source, "--out", out, "--folds", "2")[0] == code
    report = _report(out)
    assert _problems(report, "duplicate-file")[0]["lines"] == [2, 18]
    crossing = _problems(report, "duplicate-across-splits")
    assert bool(crossing) is error
    if error:
        assert crossing[0]["severity"] == "error" and "identical file" in crossing[0]["message"]


# ---- row 18: a class absent from a split ----------------------------------------------------
def test_row18_class_absent_from_val_is_an_explicit_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["malignant", "benign"] * 4 + ["benign"] * 4 + ["malignant", "benign"] * 2
    splits = ["train"] * 8 + ["val"] * 4 + ["test"] * 4
    source = _cohort(tmp_path / "src", labels, split=splits)
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, "data", "csv", source, "--out", out, "--folds", "2")
    assert code == 0  # training is possible; the gap is reported, not hidden
    absent = _problems(_report(out), "class-missing-from-split")
    assert len(absent) == 1 and absent[0]["severity"] == "warning"
    assert "['malignant'] have no image in the val split" in absent[0]["message"]
    assert "have no image in the val split" in _flat(stdout)
    assert _report(out)["facts"]["split_counts"]["val"] == {"benign": 4, "malignant": 0}
    # What evaluation makes of that val split: AUROC "undefined" with a reason, never NaN.
    val = load_manifest(out / "manifest.csv").subset("val")
    y = (val.label_indices() == val.positive_index).astype(int)
    metrics = compute_binary_metrics(y, np.linspace(0.1, 0.9, len(y)))
    assert metrics["auc_roc"].value is None and not metrics["auc_roc"].defined
    assert "no positive" in metrics["auc_roc"].reason


def test_row18_class_absent_from_train_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["benign"] * 8 + ["malignant", "benign"] * 4
    splits = ["train"] * 8 + ["val"] * 4 + ["test"] * 4
    out = tmp_path / "out"
    code, _, _ = _run(capsys, "data", "csv", _cohort(tmp_path / "src", labels, split=splits), "--out", out)
    assert code == 1
    absent = _problems(_report(out), "class-missing-from-split")
    assert absent[0]["severity"] == "error" and "train split" in absent[0]["message"]


# ---- row 19: single-class data -------------------------------------------------------------
def test_row19_single_class_fails_with_more_than_one_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _run(
        capsys, "data", "csv", _cohort(tmp_path / "src", ["benign"] * 8), "--out", out, *SMALL_SPLIT
    )
    assert code == 1 and "unsafe to train" in stdout
    single = _problems(_report(out), "single-class")
    assert "a classifier needs more than 1 class" in single[0]["message"]
    assert "more than 1 class" in _flat(stdout)
    code, _, _ = _run(capsys, "validate", out / "manifest.csv", "--folds", "2")
    assert code == 1


# ---- row 20: one positive, five folds ------------------------------------------------------
def test_row20_one_positive_with_five_folds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = ["malignant"] + ["benign"] * 39
    source = _cohort(tmp_path / "src", labels)
    code, _, err = _run(
        capsys, "data", "csv", source, "--out", tmp_path / "a", "--fractions", "1,0,0", "--folds", "5"
    )
    assert code == 3
    assert "class 'malignant' has 1 patient group(s), fewer than the 5 folds" in _error_line(err)
    # validate on a manifest of the same data, checked for 5 folds, says the same and exits 1
    out = tmp_path / "b"
    assert _run(capsys, "data", "csv", source, "--out", out, "--fractions", "1,0,0")[0] == 1
    code, _, _ = _run(capsys, "validate", out / "manifest.csv", "--folds", "5", "--no-check-images")
    assert code == 1
    report = json.loads((out / "manifest.validation.json").read_text())
    assert "fewer than the 5 folds" in _problems(report, "class-too-small")[0]["message"]


def test_row20_few_positive_patients_warn_about_wide_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["malignant"] * 4 + ["benign"] * 12
    out = tmp_path / "out"
    assert _run(capsys, "data", "csv", _cohort(tmp_path / "src", labels), "--out", out, *SMALL_SPLIT)[0] == 0
    small = [p for p in _problems(_report(out), "small-class") if "'malignant'" in p["message"]]
    assert (
        small[0]["severity"] == "warning" and "'malignant' has only 4 patient group(s)" in small[0]["message"]
    )


def test_row20_small_data_with_default_fractions_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cohort(tmp_path / "src", ["malignant"] * 4 + ["benign"] * 16)  # 20 groups, no class of 20
    code, _, err = _run(capsys, "data", "csv", source, "--out", tmp_path / "out")
    assert code == 3 and "--fractions" in _error_line(err)


# ---- row 25: output folder with old results --------------------------------------------------
def test_row25_existing_output_folder_is_refused_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cohort(tmp_path / "src", ["malignant", "benign"] * 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old_result.json").write_text('{"auc": 0.9}')
    code, _, err = _run(capsys, "data", "csv", source, "--out", out, *SMALL_SPLIT)
    line = _error_line(err)
    assert code == 2 and str(out) in line and "--overwrite" in line
    assert [p.name for p in out.iterdir()] == ["old_result.json"]  # nothing written, nothing removed
    assert (out / "old_result.json").read_text() == '{"auc": 0.9}'
    assert _run(capsys, "data", "csv", source, "--out", out, *SMALL_SPLIT, "--overwrite")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.csv",
        "manifest.meta.json",
        "split_counts.csv",
        "validation.json",
    ]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_row25_read_only_output_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _cohort(tmp_path / "src", ["malignant", "benign"] * 4)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = _run(capsys, "data", "csv", source, "--out", locked / "out", *SMALL_SPLIT)
    finally:
        locked.chmod(0o700)
    assert code == 2 and "cannot write to output folder" in _error_line(err)


_FAILING_DATA_RUNS = {
    "unknown-label": (["--classes", "benign,malignant"], ["benign", "malignant", "NA", "benign"]),
    "missing-source": (["--classes", "benign,malignant"], None),
    "bad-fractions": (["--fractions", "0.5,0.5"], ["benign", "malignant"] * 4),
    "too-many-folds": (["--fractions", "1,0,0", "--folds", "5"], ["malignant"] + ["benign"] * 7),
}
# Exit codes (errors.EXIT_CODES): 2 for an option or config value, 3 for the data.
_EXIT = {"bad-fractions": 2}


def _failing_run(tmp_path: Path, case: str) -> list[object]:
    options, labels = _FAILING_DATA_RUNS[case]
    source = _cohort(tmp_path / "src", labels) if labels else tmp_path / "absent.csv"
    return ["data", "csv", source, *options]


@pytest.mark.parametrize("case", list(_FAILING_DATA_RUNS), ids=list(_FAILING_DATA_RUNS))
def test_row25_failing_data_run_exits_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    code, _, err = _run(capsys, *_failing_run(tmp_path, case), "--out", tmp_path / "out")
    assert code == _EXIT.get(case, 3) and _error_line(err)
    assert not (tmp_path / "out" / "manifest.csv").exists()


@pytest.mark.parametrize("case", list(_FAILING_DATA_RUNS), ids=list(_FAILING_DATA_RUNS))
def test_row25_failing_data_run_leaves_no_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    assert _run(capsys, *_failing_run(tmp_path, case), "--out", tmp_path / "out")[0] == _EXIT.get(case, 3)
    assert not (tmp_path / "out").exists()


def test_row25_failing_overwrite_keeps_the_old_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    good = _cohort(tmp_path / "good", ["malignant", "benign"] * 4)
    assert _run(capsys, "data", "csv", good, "--out", out, *SMALL_SPLIT)[0] == 0
    before = (out / "manifest.csv").read_text()
    code, _, _ = _run(capsys, *_failing_run(tmp_path, "unknown-label"), "--out", out, "--overwrite")
    assert code == 3
    assert (out / "manifest.csv").is_file() and (out / "manifest.csv").read_text() == before


def test_row25_output_path_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cohort(tmp_path / "src", ["malignant", "benign"] * 4)
    (tmp_path / "out").write_text("not a folder")
    code, _, err = _run(capsys, "data", "csv", source, "--out", tmp_path / "out", *SMALL_SPLIT)
    assert code == 2 and "out" in _error_line(err)


# ---- row 26: configuration typos ---------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _TrainLike:
    learning_rate: float = 0.001
    epochs: int = 10


@pytest.mark.parametrize(
    ("cls", "yaml_text", "match"),
    [
        (_TrainLike, "lerning_rate: 0.1\n", r"lerning_rate.*Did you mean 'learning_rate'"),
        (_TrainLike, "epochs: ten\n", r"epochs: expected an integer, got 'ten'"),
        (PreprocessConfig, "kind: generic\nsise: 64\n", r"sise.*Did you mean 'size'"),
        (PreprocessConfig, "kind: mamography\n", r"Did you mean 'mammography'"),
        (PreprocessConfig, "size: [1, 2\n", "not valid YAML"),
    ],
    ids=["unknown-key", "wrong-type", "preprocess-unknown-key", "preprocess-bad-literal", "broken-yaml"],
)
def test_row26_yaml_config_is_strict(tmp_path: Path, cls: type, yaml_text: str, match: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=match):
        load_config(cls, path)


# ---- row 27: unicode, spaces, relative and absolute paths, symlinks ------------------------------
def test_row27_unicode_spaces_and_relative_paths_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "données brutes"
    names = ["bénin 01.png", "患者 02.png", "naïve 03.png", "x y 04.png"] * 2
    rows = []
    for i, name in enumerate(names):
        folder = data / ("images" if i < 6 else "autres")
        _png(folder / f"{i}_{name}", seed=i)
        # relative to the CSV for most rows, absolute for the last two
        path = (folder / f"{i}_{name}").as_posix() if i >= 6 else f"{folder.name}/{i}_{name}"
        rows.append({"path": path, "label": ("malin", "bénin")[i % 2], "patient_id": f"é{i}"})
    _csv(data / "liste é.csv", rows)
    monkeypatch.chdir(tmp_path)  # relative source and output on the command line
    code, _, _ = _run(capsys, "data", "csv", "données brutes/liste é.csv", "--out", "sortie ü", *SMALL_SPLIT)
    assert code == 0
    monkeypatch.chdir(data / "images")  # loading does not depend on the working directory
    back = load_manifest(tmp_path / "sortie ü" / "manifest.csv")
    assert back.classes == ("bénin", "malin")
    assert [p.resolve() for p in back.paths()] == [
        (data / ("images" if i < 6 else "autres") / f"{i}_{n}").resolve() for i, n in enumerate(names)
    ]
    report = _report(tmp_path / "sortie ü")
    assert (
        report["ok"] and not _problems(report, "missing-file") and not _problems(report, "unreadable-image")
    )


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_row27_symlinked_image_is_recorded_by_its_resolved_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _png(tmp_path / "store" / "real.png", seed=99)
    root = tmp_path / "set"
    for i in range(4):
        _png(root / "benign" / f"b{i}.png", seed=i)
        _png(root / "malignant" / f"m{i}.png", seed=10 + i)
    (root / "malignant" / "link.png").symlink_to(target)
    out = tmp_path / "out"
    assert _run(capsys, "data", "folder", root, "--out", out, *SMALL_SPLIT, "--group-by", "image")[0] == 0
    back = load_manifest(out / "manifest.csv")
    row = back.table.index[back.table["image_id"] == "malignant/link.png"][0]
    # the file itself, not the link, relative to the manifest's folder (README: paths are relative to it)
    assert back.table.loc[row, "path"] == "../store/real.png"
    assert back.paths()[row].resolve() == target.resolve()


# ---- rows 3, 4, 5, 9, 10, 11, 12, 28: every bad image of a folder in one validation ----------
def test_rows_3_to_12_every_bad_image_listed_in_one_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "set"
    for i in range(4):
        _png(root / "benign" / f"good_b{i}.png", seed=i, size=32)
        _png(root / "malignant" / f"good_m{i}.png", seed=20 + i, size=32)
    bad = root / "benign"
    jpeg = bad / "truncated.jpg"  # row 9
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (64, 64), dtype=np.uint8)).save(
        jpeg, quality=95
    )
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    (bad / "empty.png").write_bytes(b"")  # row 11
    (bad / "garbage.png").write_bytes(b"not an image" * 20)  # row 11
    (bad / "random.dcm").write_bytes(np.random.default_rng(3).bytes(400))  # row 3
    _dicom(
        bad / "short.dcm",  # row 4
        pixels=(np.arange(24 * 32).reshape(24, 32) * 5 % 4096).astype(np.uint16),
        sop_class=DigitalMammographyXRayImageStorageForPresentation,
        modality="MG",
    )
    _dicom(bad / "report.dcm", pixels=None, sop_class=BasicTextSRStorage, modality="SR")  # row 5
    _huge_png_header(bad / "bomb.png", 20000, 10000)  # row 10
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "malignant" / "blank.png")  # row 12
    rgba = np.zeros((32, 32, 4), np.uint8)  # row 28: readable, not reported
    rgba[..., 0], rgba[..., 3] = np.arange(32, dtype=np.uint8)[None] * 8, 255
    Image.fromarray(rgba, mode="RGBA").save(root / "malignant" / "alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.random.default_rng(8).integers(0, 255, (16, 32), dtype=np.uint8)).save(
        root / "malignant" / "rotated.jpg", exif=exif
    )
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, "data", "folder", root, "--out", out, *SMALL_SPLIT, "--group-by", "image")
    assert code == 1 and "unsafe to train" in stdout
    report = _report(out)
    unreadable = _problems(report, "unreadable-image")
    assert len(unreadable) == 1
    names = sorted(Path(p).name for p in unreadable[0]["paths"])
    assert names == [
        "bomb.png",
        "empty.png",
        "garbage.png",
        "random.dcm",
        "report.dcm",
        "short.dcm",
        "truncated.jpg",
    ]
    message = unreadable[0]["message"]
    assert message.startswith("7 image(s) cannot be decoded")
    constant = _problems(report, "constant-image")
    assert [Path(p).name for p in constant[0]["paths"]] == ["blank.png"]
    assert constant[0]["severity"] == "warning"


def test_rows_3_to_12_reasons_name_each_failure(tmp_path: Path) -> None:
    from medbalance.data.readers import inspect_image

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "random.dcm").write_bytes(np.random.default_rng(3).bytes(400))
    _huge_png_header(tmp_path / "bomb.png", 20000, 10000)
    _dicom(tmp_path / "report.dcm", pixels=None, sop_class=BasicTextSRStorage, modality="SR")
    reasons = {
        name: inspect_image(tmp_path / name).reason
        for name in ("empty.png", "random.dcm", "bomb.png", "report.dcm")
    }
    assert "empty" in reasons["empty.png"]
    assert "not a DICOM file" in reasons["random.dcm"]
    assert "200000000 pixels" in reasons["bomb.png"]
    assert "no pixel data" in reasons["report.dcm"] and "SR" in reasons["report.dcm"]


# ---- every entry point: a clean one-line error ----------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["data", "csv", "{tmp}/nowhere.csv", "--out", "{tmp}/o"],
            "data source {tmp}/nowhere.csv does not exist",
        ),
        (["validate", "{tmp}/nowhere.csv"], "CSV file {tmp}/nowhere.csv does not exist"),
        (
            ["data", "foldr", "{tmp}", "--out", "{tmp}/o"],
            "unknown dataset adapter 'foldr'. Did you mean 'folder'?",
        ),
        (
            ["data", "folder", "{tmp}", "--out", "{tmp}/o", "--path-col", "x"],
            "adapter 'folder' does not take --path-col",
        ),
        (
            ["data", "csv", "{tmp}/list.csv", "--out", "{tmp}/o", "--option", "clases=a,b"],
            "adapter 'csv' does not take --clases",
        ),
        (["data", "csv", "{tmp}/list.csv", "--out", "{tmp}/o", "--option", "classes"], "expects KEY=VALUE"),
        (
            ["data", "csv", "{tmp}/list.csv", "--out", "{tmp}/o", "--group-by", "patiant"],
            "Did you mean 'patient'",
        ),
        (
            ["data", "mini-mias", "{tmp}", "--out", "{tmp}/o", "--task", "densty"],
            "Did you mean 'density'",
        ),
        (["preview", "--data", "{tmp}/nowhere.csv", "--out", "{tmp}/p.png"], "nowhere.csv does not exist"),
        (["cache", "--data", "{tmp}/nowhere.csv", "--cache-dir", "{tmp}/c"], "nowhere.csv does not exist"),
    ],
    ids=[
        "data-missing-source",
        "validate-missing-manifest",
        "unknown-adapter",
        "option-adapter-does-not-take",
        "unknown-option-via-option",
        "option-without-value",
        "bad-group-by",
        "bad-task",
        "preview-missing-manifest",
        "cache-missing-manifest",
    ],
)
def test_cli_errors_are_one_clean_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], match: str
) -> None:
    _cohort(tmp_path, ["benign", "malignant"] * 2)
    code, _, err = _run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    missing_input = "does not exist" in match  # a data error (3); a misspelt name or option is 2
    assert code == (3 if missing_input else 2)
    assert match.format(tmp=tmp_path) in _error_line(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "csv"],
        ["no-such-command"],
        ["data", "csv", "{tmp}/list.csv", "--out", "{tmp}/o", "--fractons", "1"],
        ["data", "csv", "{tmp}/list.csv", "--out", "{tmp}/o", "--folds", "abc"],
    ],
    ids=["missing-argument", "unknown-command", "unknown-flag", "bad-integer"],
)
def test_cli_usage_errors_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    _cohort(tmp_path, ["benign", "malignant"] * 2)
    code, _, err = _run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2 and "error" in err.lower()


def test_cli_non_numeric_fractions_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cohort(tmp_path, ["benign", "malignant"] * 4)
    code, _, err = _run(capsys, "data", "csv", source, "--out", tmp_path / "o", "--fractions", "a,b,c")
    assert code == 2 and "--fractions" in _error_line(err)


def test_exit_codes_are_documented_and_a_stray_value_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """2 usage/config, 3 data, 4 training/checkpoint; a ValueError from elsewhere is no traceback."""
    import medbalance.strategies
    from medbalance.cli import main
    from medbalance.errors import (
        EXIT_CODES,
        CheckpointError,
        ConfigError,
        DataError,
        LeakageError,
        TrainingError,
    )

    assert (ConfigError.exit_code, DataError.exit_code, LeakageError.exit_code) == (2, 3, 3)
    assert TrainingError.exit_code == CheckpointError.exit_code == 4
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 130}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert all(f"| {code} |" in readme for code in EXIT_CODES), "README's exit-code table is out of date"

    def broken() -> list:
        raise ValueError("something inside went wrong")

    monkeypatch.setattr(medbalance.strategies, "list_strategies", broken)
    assert main(["strategies"]) == 2
    err = capsys.readouterr().err
    assert "something inside went wrong" in err and "Traceback" not in err and "MEDBALANCE_DEBUG" in err
