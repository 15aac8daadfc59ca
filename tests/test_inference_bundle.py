"""Bundles end to end: train -> evaluate -> export -> predict reproduces evaluation; bad bundles refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medbalance.cli import main
from medbalance.errors import DataError, MedbalanceError
from medbalance.inference import BundleError, export_bundle, load_bundle
from medbalance.inference.bundle import BUNDLE_FILE, WEIGHTS_FILE, spec_digest


def _test_manifest(run: Path, out: Path) -> Path:
    split = pd.read_csv(run / "split.csv", dtype=str, keep_default_na=False)
    split[split["split"] == "test"].to_csv(out, index=False)
    return out


def test_bundle_json_records_everything_needed(bundle_dir: Path, evaluated_run: Path) -> None:
    spec = json.loads((bundle_dir / BUNDLE_FILE).read_text())
    assert spec["format_version"] == 1 and spec["classes"] == ["non-malignant", "malignant"]
    assert spec["model"] == {"name": "small-cnn", "in_chans": 1, "num_classes": 2, "input_size": 32,
                             "weights": WEIGHTS_FILE, "head": "linear"}  # fmt: skip
    assert spec["preprocessing"]["size"] == 32 and len(spec["normalisation"]["mean"]) == 1
    assert spec["calibration"]["method"] in ("none", "temperature", "platt", "isotonic")
    threshold = spec["threshold"]
    metrics = json.loads((evaluated_run / "evaluation" / "metrics.json").read_text())
    point = metrics["operating_points"]["target-sensitivity:0.9"]
    assert threshold["value"] == point["operating_point"]["threshold"]
    assert threshold["rule"] == "target-sensitivity:0.9" and threshold["chosen_on"] == "validation"
    assert threshold["test"]["sensitivity"]["low"] == point["test"]["sensitivity"]["low"]
    assert threshold["validation"]["sensitivity"]["estimate"] >= 0.9
    assert 0 < spec["prevalence"]["training"] < 1
    assert set(spec["files"]) == {"model.safetensors", "model.onnx"}
    assert spec["onnx"]["max_abs_diff"] <= 1e-4
    assert spec["spec_sha256"] == spec_digest(spec)


def test_round_trip_reproduces_the_evaluation(bundle_dir: Path, evaluated_run: Path, tmp_path: Path) -> None:
    """predict on the test images == predictions_test.csv, evaluation's calibration map and its decisions."""
    from medbalance.evaluation.recalibration import fit_calibrator

    spec = json.loads((bundle_dir / BUNDLE_FILE).read_text())
    manifest = _test_manifest(evaluated_run, tmp_path / "test.csv")
    out = tmp_path / "preds.csv"
    assert main(["predict", str(bundle_dir), str(manifest), "--out", str(out), "--no-progress"]) == 0
    preds = pd.read_csv(out, dtype={"image_id": str})
    ref = pd.read_csv(evaluated_run / "predictions_test.csv", dtype={"image_id": str})
    merged = ref.merge(preds, on="image_id", suffixes=("_ref", ""))
    assert len(merged) == len(ref) > 0
    # Bit-for-bit on CPU; a GPU's kernels (TF32 convolutions, cuDNN's choice of algorithm) differ by ~1e-4
    # (5e-5 measured on an H200): there, decisions are compared away from the threshold.
    on_cpu = json.loads((evaluated_run / "summary.json").read_text()).get("device", "cpu") == "cpu"
    atol = 1e-6 if on_cpu else 1e-3
    np.testing.assert_allclose(merged["score_uncalibrated"], merged["prob_malignant_ref"], atol=atol)
    val = pd.read_csv(evaluated_run / "predictions_val.csv")
    method = spec["calibration"]["method"]
    expected = (
        merged["prob_malignant_ref"].to_numpy()
        if method == "none"
        else fit_calibrator((val["label"] == "malignant").astype(int), val["prob_malignant"], method).apply(
            merged["prob_malignant_ref"]
        )
    )
    np.testing.assert_allclose(merged["prob_malignant"], expected, atol=1e-6 if on_cpu else 1e-2)
    decided = np.where(
        merged["prob_malignant_ref"] >= spec["threshold"]["value"], "malignant", "non-malignant"
    )
    clear = on_cpu | ((merged["prob_malignant_ref"] - spec["threshold"]["value"]).abs() > atol).to_numpy()
    assert (merged["decision"].to_numpy() == decided)[clear].all()
    if not clear.all():
        return  # a GPU score within its rounding of the threshold: the counts may differ by that image
    metrics = json.loads((evaluated_run / "evaluation" / "metrics.json").read_text())
    counts = metrics["operating_points"]["target-sensitivity:0.9"]["test_confusion_matrix"]["counts"]
    y, d = merged["label"] == "malignant", merged["decision"] == "malignant"
    assert [[int((~y & ~d).sum()), int((~y & d).sum())], [int((y & ~d).sum()), int((y & d).sum())]] == counts
    for level in ("breast", "patient"):
        assert (tmp_path / f"preds_{level}.csv").is_file()
    assert pd.read_csv(tmp_path / "preds_errors.csv").empty


def test_onnx_graph_gives_the_pytorch_probabilities(bundle_dir: Path, evaluated_run: Path) -> None:
    import onnxruntime as ort
    import torch

    from medbalance.inference.predict import make_loader

    bundle = load_bundle(bundle_dir)
    split = pd.read_csv(evaluated_run / "split.csv", dtype=str, keep_default_na=False)
    load = make_loader(bundle, None)
    arrays = np.stack([load(p)[0] for p in split["path"][:6]]).astype(np.float32)
    session = ort.InferenceSession(str(bundle_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": arrays})[0]
    with torch.inference_mode():
        want = torch.softmax(bundle.network(torch.from_numpy(arrays)), dim=1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_python_api_takes_paths_and_arrays(bundle_dir: Path, evaluated_run: Path) -> None:
    from medbalance.data.readers import read_image

    bundle = load_bundle(bundle_dir)
    paths = pd.read_csv(evaluated_run / "split.csv", dtype=str)["path"][:3].tolist()
    from_paths = bundle.predict(paths)
    from_arrays = bundle.predict([read_image(p).to_float() for p in paths])
    assert list(from_arrays.images["image_id"]) == ["array-0", "array-1", "array-2"]
    np.testing.assert_allclose(
        from_paths.images["prob_malignant"], from_arrays.images["prob_malignant"], atol=1e-6
    )
    assert from_paths.errors.empty and from_paths.breasts is None


def test_prevalence_adjusts_probabilities_and_reports_ppv(bundle_dir: Path, evaluated_run: Path) -> None:
    from medbalance.evaluation.prevalence import correct_binary_prior

    bundle = load_bundle(bundle_dir)
    paths = pd.read_csv(evaluated_run / "split.csv", dtype=str)["path"][:4].tolist()
    result = bundle.predict(paths, prevalence=0.01)
    base = bundle.spec["prevalence"]["validation"]
    np.testing.assert_allclose(result.images["prob_malignant_at_prevalence"],
                               correct_binary_prior(result.images["prob_malignant"], base, 0.01))  # fmt: skip
    val = bundle.spec["threshold"]["validation"]
    sens, spec = val["sensitivity"]["estimate"], val["specificity"]["estimate"]
    assert result.at_prevalence is not None
    assert result.at_prevalence["validation"]["ppv"] == pytest.approx(
        sens * 0.01 / (sens * 0.01 + (1 - spec) * 0.99)
    )


# -- bad bundles -----------------------------------------------------------------------------------


def _copy(bundle_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle_dir, tmp_path / "copy"))


def _rewrite(folder: Path, edit: Any) -> None:
    spec = json.loads((folder / BUNDLE_FILE).read_text())
    edit(spec)
    spec["spec_sha256"] = spec_digest(spec)
    (folder / BUNDLE_FILE).write_text(json.dumps(spec))


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: (d / WEIGHTS_FILE).unlink(), r"model\.safetensors is missing from the bundle"),
        (lambda d: (d / "model.onnx").unlink(), r"model\.onnx is missing"),
        (lambda d: _flip_byte(d / WEIGHTS_FILE), r"model\.safetensors does not match the SHA-256"),
        (lambda d: (d / BUNDLE_FILE).write_text((d / BUNDLE_FILE).read_text().replace('"positive_class": "malignant"', '"positive_class": "non-malignant"')),
         r"bundle\.json was modified after export"),
        (lambda d: _rewrite(d, lambda s: s.update(classes=["benign", "malignant", "c"])), r"do not fit 3 classes"),
        (lambda d: _rewrite(d, lambda s: s.update(format_version=99)), r"format_version 99, newer than"),
        (lambda d: (d / BUNDLE_FILE).unlink(), r"bundle\.json does not exist"),
    ],
    ids=["missing-weights", "missing-onnx", "tampered-weights", "tampered-json", "wrong-class-count",
         "newer-format", "no-json"],
)  # fmt: skip
def test_load_bundle_refuses_damaged_bundles(
    bundle_dir: Path, tmp_path: Path, damage: Any, match: str
) -> None:
    folder = _copy(bundle_dir, tmp_path)
    damage(folder)
    with pytest.raises(BundleError, match=match):
        load_bundle(folder)


def test_predict_cli_refuses_a_tampered_bundle(bundle_dir: Path, evaluated_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    folder = _copy(bundle_dir, tmp_path)
    _flip_byte(folder / WEIGHTS_FILE)
    code = main(["predict", str(folder), str(evaluated_run / "split.csv"), "--out", str(tmp_path / "p.csv")])
    assert code == 4 and "does not match the SHA-256" in capsys.readouterr().err  # a checkpoint error
    assert not (tmp_path / "p.csv").exists()


def test_export_refuses_bad_runs(evaluated_run: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"rule 'max-mcc' was not evaluated.*medbalance evaluate"):
        export_bundle(evaluated_run, tmp_path / "a", rule="max-mcc")
    with pytest.raises(FileNotFoundError, match="evaluate the run first"):
        export_bundle(evaluated_run, tmp_path / "b", evaluation_dir=tmp_path / "nowhere")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "old.txt").write_text("x")
    with pytest.raises(MedbalanceError, match="overwrite"):
        export_bundle(evaluated_run, tmp_path / "c")
    broken = Path(shutil.copytree(evaluated_run, tmp_path / "run"))
    summary = json.loads((broken / "summary.json").read_text())
    (broken / "summary.json").write_text(json.dumps({**summary, "status": "failed"}))
    with pytest.raises(DataError, match="only a completed run can be exported"):
        export_bundle(broken, tmp_path / "d")
    (broken / "summary.json").write_text(json.dumps(summary))
    (broken / summary["best_checkpoint"]).unlink()
    with pytest.raises(FileNotFoundError, match="best checkpoint"):
        export_bundle(broken, tmp_path / "e")
    assert not any((tmp_path / n).exists() for n in ("a", "b", "d", "e"))


def test_export_cli_and_recommended(
    evaluated_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "bench"
    (bench / "cells").mkdir(parents=True)
    shutil.copytree(evaluated_run, bench / "cells" / "none-s0")
    (bench / "recommendation.json").write_text(json.dumps({"cell_id": "none-s0", "rule": "youden"}))
    assert main(["export", str(bench), "--recommended", "--out", str(tmp_path / "m")]) == 0
    assert "threshold" in capsys.readouterr().out
    assert load_bundle(tmp_path / "m").spec["threshold"]["rule"] == "youden"
    assert main(["export", str(tmp_path / "nobench"), "--recommended", "--out", str(tmp_path / "n")]) == 3


def test_an_onnx_graph_that_disagrees_is_not_kept(
    evaluated_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medbalance.inference.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "check_onnx", lambda *a, **k: 0.5)
    with pytest.raises(BundleError, match=r"differ from PyTorch.s by 5\.00e-01"):
        export_bundle(evaluated_run, tmp_path / "m", onnx=True)
    assert not (tmp_path / "m").exists() and not list(tmp_path.glob(".m.staging*"))


def test_isotonic_calibration_is_stored_and_applied_like_evaluation(
    evaluated_run: Path, tmp_path: Path
) -> None:
    from medbalance.evaluation.recalibration import fit_calibrator

    out = tmp_path / "iso"
    assert (
        main(
            ["export", str(evaluated_run), "--out", str(out), "--calibration", "isotonic", "--rule", "youden"]
        )
        == 0
    )
    bundle = load_bundle(out)
    assert bundle.spec["calibration"]["method"] == "isotonic" and bundle.spec["calibration"]["params"]["x"]
    val = pd.read_csv(evaluated_run / "predictions_val.csv")
    reference = fit_calibrator((val["label"] == "malignant").astype(int), val["prob_malignant"], "isotonic")
    result = bundle.predict(pd.read_csv(evaluated_run / "split.csv", dtype=str)["path"][:8].tolist())
    np.testing.assert_allclose(
        result.images["prob_malignant"], reference.apply(result.images["score_uncalibrated"]), atol=1e-12
    )


def test_export_refuses_a_calibration_that_differs_from_metrics_json(
    evaluated_run: Path, tmp_path: Path
) -> None:
    run = Path(shutil.copytree(evaluated_run, tmp_path / "run"))
    metrics_file = run / "evaluation" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics["calibration"]["recalibrated"]["platt"]["params"]["slope"] += 0.5
    metrics_file.write_text(json.dumps(metrics))
    with pytest.raises(DataError, match=r"platt calibration refitted on predictions_val\.csv .* differs"):
        export_bundle(run, tmp_path / "m", calibration="platt")
