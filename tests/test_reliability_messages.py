"""Messages that point the right way, names checked first, the positive class said (issue 13).

Each defect a new user hit is tested at the command where it was hit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medbalance.cli import main
from medbalance.data.manifest import load_manifest

pytestmark = pytest.mark.usefixtures("wide_console")  # conftest.py


def _png(path: Path, seed: int, size: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size), dtype=np.uint8)).save(path)


def _manifest(root: Path, labels: list[str], patients: list[str] | None = None, sep: str = ",") -> Path:
    """``root/manifest.csv`` (no sidecar) over distinct random PNGs in ``root/images``."""
    rows = []
    for i, label in enumerate(labels):
        _png(root / "images" / f"img_{i:03d}.png", seed=i)
        patient = patients[i] if patients else f"P{i:03d}"
        rows.append(
            {
                "image_id": f"i{i:03d}",
                "path": f"images/img_{i:03d}.png",
                "label": label,
                "patient_id": patient,
            }
        )
    path = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False, sep=sep)
    return path


def _text(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return " ".join((captured.out + captured.err).replace("│", " ").split())


def _train_args(csv: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(csv), "--out", str(out), "--epochs", "1", "--image-size", "16",
            "--batch-size", "8", "--fractions", "0.5,0.25,0.25", "--no-progress", "--cache-dir", str(cache),
            *extra]  # fmt: skip


def _codes(report: Path) -> dict[str, list[dict]]:
    problems: dict[str, list[dict]] = {}
    for p in json.loads(report.read_text())["problems"]:
        problems.setdefault(p["code"], []).append(p)
    return problems


# ---- the positive class ------------------------------------------------------------------
def _folder(root: Path, n_malignant: int = 6, n_normal: int = 18) -> Path:
    for i in range(n_malignant):
        _png(root / "malignant" / f"m{i}.png", seed=i)
    for i in range(n_normal):
        _png(root / "normal" / f"n{i}.png", seed=100 + i)
    return root


def test_data_prints_the_positive_class_and_warns_when_it_reads_backwards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _folder(tmp_path / "src")
    main(["data", "folder", str(source), "--out", str(tmp_path / "out"), "--fractions", "0.5,0.25,0.25"])
    text = _text(capsys)
    # sorted folder names: 'normal' is the second class, hence positive by default
    assert "positive class: 'normal'" in text and "set it with --positive-class" in text
    warnings = [p["message"] for p in _codes(tmp_path / "out" / "validation.json")["positive-class"]]
    assert any("reads like the absence of a finding" in w for w in warnings)
    assert any("is the majority (75% of 24 images)" in w for w in warnings)

    main(["data", "folder", str(source), "--out", str(tmp_path / "fixed"), "--fractions", "0.5,0.25,0.25",
          "--positive-class", "malignant"])  # fmt: skip
    assert "positive class: 'malignant'" in _text(capsys)
    assert "positive-class" not in _codes(tmp_path / "fixed" / "validation.json")
    main(["validate", str(tmp_path / "fixed" / "manifest.csv"), "--folds", "2"])
    assert "positive class: 'malignant' (of 'malignant', 'normal'; declared)" in _text(capsys)


def test_train_prints_the_positive_class_and_warns_when_it_is_the_majority(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _manifest(tmp_path / "data", ["malignant"] * 8 + ["normal"] * 24)
    code = main(_train_args(csv, tmp_path / "run", tmp_path / "cache"))
    text = _text(capsys)
    assert code == 0, text
    assert "positive class 'normal'" in text
    assert "is the majority" in text and "choose it with --positive-class" in text
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["positive_class"] == "normal" and len(summary["positive_class_warnings"]) == 2


def test_evaluate_prints_the_positive_class(
    evaluated_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(evaluated_run), "--out", str(tmp_path / "ev"), "--n-bootstrap", "20"]) == 0
    assert "positive class: 'malignant'" in _text(capsys)


# ---- reader notes ------------------------------------------------------------------------
def test_validate_reports_alpha_and_palette_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _manifest(tmp_path, ["malignant", "benign"] * 6)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = 180
    rgba[:, :8, 3] = 255  # left half opaque, right half transparent: it turns black
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "images" / "img_000.png")
    palette = Image.fromarray(np.random.default_rng(5).integers(0, 255, (16, 16, 3), dtype=np.uint8)).convert(
        "P"
    )
    palette.save(tmp_path / "images" / "img_001.png")
    opaque = rgba.copy()
    opaque[..., 3] = 255
    Image.fromarray(opaque, mode="RGBA").save(tmp_path / "images" / "img_002.png")
    main(["validate", str(csv), "--folds", "2"])
    text = _text(capsys)
    notes = [p["message"] for p in _codes(tmp_path / "manifest.validation.json")["reader-note"]]
    assert any("img_000.png: alpha not fully opaque: 50.0% of pixels" in n for n in notes), notes
    assert any("img_001.png: palette converted to RGB" in n for n in notes), notes
    assert not any("img_002.png" in n for n in notes)  # fully opaque alpha changes nothing
    assert "alpha not fully opaque" in text


# ---- names and options checked before any work or folder -------------------------------
@pytest.mark.parametrize(
    ("option", "value", "match"),
    [("--model", "resnet1", "unknown model 'resnet1'"), ("--augment", "mammo", "mammography"),
     ("--strategy", "focall", "focal")],
    ids=["model", "augment", "strategy"],
)  # fmt: skip
def test_misspelt_name_fails_before_preprocessing_and_before_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, match: str
) -> None:
    csv = _manifest(tmp_path / "data", ["malignant", "benign"] * 8)
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert main(_train_args(csv, out, cache, option, value)) == 2
    assert match in _text(capsys)
    assert not out.exists() and not cache.exists()  # no folder, no preprocessing


def test_train_failing_before_the_first_epoch_leaves_no_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _manifest(tmp_path / "data", ["malignant", "benign"] * 8)
    (tmp_path / "data" / "images" / "img_003.png").write_bytes(b"not a png")  # fails while preprocessing
    out = tmp_path / "run"
    assert main(_train_args(csv, out, tmp_path / "cache")) == 3  # a data error
    assert "img_003.png" in _text(capsys)
    assert not out.exists()
    _png(tmp_path / "data" / "images" / "img_003.png", seed=3)  # fixed: the same command now runs
    assert main(_train_args(csv, out, tmp_path / "cache")) == 0


def test_train_runs_with_unicode_and_spaces_in_every_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _manifest(tmp_path / "données brutes é", ["malignant", "benign"] * 8)
    out, cache = tmp_path / "résultats 01" / "run ü", tmp_path / "cache 患者"
    assert main(_train_args(csv, out, cache)) == 0
    _text(capsys)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed"
    assert (out / "predictions_test.csv").exists() and any(cache.iterdir())


# ---- messages that point the right way ---------------------------------------------------
def test_semicolon_csv_is_read_with_its_delimiter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _manifest(tmp_path / "src", ["malignant", "benign"] * 8, sep=";")
    assert (
        main(["data", "csv", str(csv), "--out", str(tmp_path / "out"), "--fractions", "0.5,0.25,0.25"]) == 0
    )
    assert len(load_manifest(tmp_path / "out" / "manifest.csv")) == 16
    assert main(["validate", str(csv), "--folds", "2"]) == 0  # a hand-made ;-manifest too
    _text(capsys)


def test_train_with_one_positive_patient_does_not_suggest_a_missing_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["malignant"] * 3 + ["benign"] * 15
    patients = ["PM"] * 3 + [f"B{i}" for i in range(15)]
    csv = _manifest(tmp_path / "data", labels, patients)
    assert main(_train_args(csv, tmp_path / "run", tmp_path / "cache")) == 3
    text = _text(capsys)
    assert "--folds" not in text  # train has no such option
    assert "at least 2 patient groups of class 'malignant' (one for validation, one for test)" in text


def test_windows_backslash_paths_are_named_with_the_separator_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _manifest(tmp_path, ["malignant", "benign"] * 6)
    table = pd.read_csv(csv, dtype=str)
    table["path"] = table["path"].str.replace("/", "\\")
    table.to_csv(csv, index=False)
    assert main(["validate", str(csv), "--folds", "2"]) == 1
    text = _text(capsys)
    assert "12 image file(s) referenced by the manifest do not exist, e.g. 'images\\img_000.png'" in text
    assert "Windows backslashes" in text and "with '/'" in text


def test_data_writes_paths_relative_to_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = _manifest(tmp_path / "project" / "src", ["malignant", "benign"] * 8)
    out = tmp_path / "project" / "out"
    assert main(["data", "csv", str(csv), "--out", str(out), "--fractions", "0.5,0.25,0.25"]) == 0
    _text(capsys)
    written = pd.read_csv(out / "manifest.csv", dtype=str)["path"]
    assert all(p.startswith("../src/images/img_") for p in written), list(written)
    moved = tmp_path / "elsewhere"
    (tmp_path / "project").rename(moved)  # the manifest moves with its images
    monkeypatch.chdir(moved / "src")  # and is read relative to its own folder, not the working directory
    manifest = load_manifest(moved / "out" / "manifest.csv")
    assert all(p.is_file() for p in manifest.paths())
    assert os.path.commonpath([str(p.resolve()) for p in manifest.paths()]) == str(
        (moved / "src" / "images").resolve()
    )


def test_square_brackets_in_messages_and_paths_are_printed_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rich markup must not eat text: "pip install 'medbalance[explain]'" or a folder named run[bold]."""
    missing = tmp_path / "run[bold]" / "no-such-run"
    assert main(["evaluate", str(missing)]) != 0
    assert "run[bold]" in capsys.readouterr().err

    assert main(["strategies"]) == 0
    assert "[binary tasks only]" in capsys.readouterr().out.replace("\n", " ")


def test_missing_explain_extra_is_named_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without captum, explain and predict --explain stop at once with the extra to install, writing nothing."""
    import sys

    monkeypatch.setitem(sys.modules, "captum", None)  # import captum -> ImportError
    out = tmp_path / "explained"
    assert main(["explain", str(tmp_path / "no-run-needed"), "--out", str(out)]) == 2
    assert "pip install 'medbalance[explain]'" in capsys.readouterr().err
    assert not out.exists()
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(tmp_path / "no-bundle-needed"), str(tmp_path), "-o", str(preds), "--explain"]) == 2
    assert "pip install 'medbalance[explain]'" in capsys.readouterr().err
    assert not preds.exists()
