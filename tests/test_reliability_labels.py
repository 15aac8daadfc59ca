"""The same label rules wherever a manifest enters: validate, train, benchmark (issue 13).

A hand-made manifest without its sidecar used to pass ``BENIGN`` and ``benign`` as two
classes (and train a 3-class model); one file listed twice with two labels was only
a "duplicate" warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medbalance.cli import main

pytestmark = pytest.mark.usefixtures("wide_console")  # conftest.py


def _manifest(root: Path, labels: list[str], paths: list[str] | None = None) -> Path:
    """``root/manifest.csv`` (no sidecar) over distinct random PNGs, one patient per image."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, label in enumerate(labels):
        name = paths[i] if paths else f"img_{i:03d}.png"
        if not (root / name).exists():
            Image.fromarray(np.random.default_rng(i).integers(0, 255, (16, 16), dtype=np.uint8)).save(
                root / name
            )
        rows.append({"image_id": f"i{i:03d}", "path": name, "label": label, "patient_id": f"P{i:03d}"})
    path = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _labels(n: int = 30, positives: int = 10) -> list[str]:
    return ["malignant" if i < positives else "benign" for i in range(n)]


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return " ".join((captured.out + captured.err).replace("│", " ").split())


def _codes(report: Path) -> dict[str, str]:
    return {p["code"]: p["severity"] for p in json.loads(report.read_text())["problems"]}


@pytest.mark.parametrize(
    "spelling", ["BENIGN", "benign ", "Benign"], ids=["upper", "trailing-space", "title"]
)
def test_validate_refuses_labels_differing_by_case_or_space(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: str
) -> None:
    labels = _labels()
    labels[20:24] = [spelling] * 4
    csv = _manifest(tmp_path, labels)
    assert main(["validate", str(csv), "--folds", "2", "--no-check-images"]) == 1
    text = _err(capsys)
    assert f"{spelling!r} (4 rows)" in text and "'benign' (16 rows)" in text and "one spelling" in text
    assert _codes(tmp_path / "manifest.validation.json")["label-spelling"] == "error"


@pytest.mark.parametrize("command", ["train", "benchmark"])
def test_train_and_benchmark_refuse_labels_differing_by_case_before_any_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    labels = _labels()
    labels[20:24] = ["BENIGN"] * 4
    csv, out = _manifest(tmp_path / "data", labels), tmp_path / "out"
    extra = {
        "train": ["--epochs", "1", "--image-size", "16", "--no-progress", "--cache-dir", str(tmp_path / "cache")],
        "benchmark": ["--strategies", "none", "--seeds", "1"],
    }[command]
    assert main([command, "--data", str(csv), "--out", str(out), *extra]) == 3  # a data error
    text = _err(capsys)
    assert "'BENIGN' (4 rows) and 'benign' (16 rows)" in text
    assert command != "train" or "cannot be trained on" in text
    assert not out.exists()  # failed before any work: nothing left to block the corrected command


def test_one_file_with_two_labels_is_an_error_and_same_label_twice_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = [*_labels(), "benign"]
    paths = [f"img_{i:03d}.png" for i in range(30)] + ["img_000.png"]  # img_000 (malignant) again
    csv = _manifest(tmp_path / "conflict", labels, paths)
    assert main(["validate", str(csv), "--folds", "2", "--no-check-images"]) == 1
    text = _err(capsys)
    assert "img_000.png: 'benign' vs 'malignant'" in text and "one image cannot be both" in text
    codes = _codes(tmp_path / "conflict" / "manifest.validation.json")
    assert codes["conflicting-file-labels"] == "error" and "duplicate-file" not in codes

    labels[-1] = "malignant"  # the same file twice with the same label stays a warning
    csv = _manifest(tmp_path / "same", labels, paths)
    main(["validate", str(csv), "--folds", "2", "--no-check-images"])
    codes = _codes(tmp_path / "same" / "manifest.validation.json")
    assert codes["duplicate-file"] == "warning" and "conflicting-file-labels" not in codes
