"""predict's inputs: folders, CSVs, files, DICOM MONOCHROME1, bad images, empty folders, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dicom_builders import dicom_file
from medbalance.cli import main
from medbalance.errors import DataError
from medbalance.inference import load_bundle
from medbalance.inference.inputs import collect_inputs


def _pngs(run: Path, n: int) -> list[str]:
    return pd.read_csv(run / "split.csv", dtype=str)["path"][:n].tolist()


def _dicom(path: Path, pixels: np.ndarray, photometric: str) -> Path:
    return dicom_file(path, pixels, photometric, 16)


def test_dicom_monochrome1_predicts_like_the_png(
    bundle_dir: Path, evaluated_run: Path, tmp_path: Path
) -> None:
    png = _pngs(evaluated_run, 1)[0]
    with Image.open(png) as image:
        pixels = np.asarray(image).astype(np.uint16)
    two = _dicom(tmp_path / "two.dcm", pixels, "MONOCHROME2")
    one = _dicom(tmp_path / "one.dcm", (65535 - pixels).astype(np.uint16), "MONOCHROME1")
    result = load_bundle(bundle_dir).predict([png, two, one])
    probs = result.images["prob_malignant"].to_numpy()
    assert result.errors.empty
    np.testing.assert_allclose(probs[1:], probs[0], atol=1e-6)


def test_a_corrupt_image_among_good_ones_is_listed_and_the_rest_predicted(
    bundle_dir: Path, evaluated_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, path in enumerate(_pngs(evaluated_run, 4)):
        (folder / f"good{i}.png").write_bytes(Path(path).read_bytes())
    (folder / "truncated.png").write_bytes(Path(_pngs(evaluated_run, 1)[0]).read_bytes()[:200])
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image, not looked at")
    out = tmp_path / "out" / "preds.csv"
    code = main(["predict", str(bundle_dir), str(folder), "--out", str(out), "--no-progress"])
    assert code == 1 and "2 image(s) could not be predicted" in capsys.readouterr().err
    preds = pd.read_csv(out)
    assert sorted(preds["image_id"]) == [f"good{i}" for i in range(4)]
    assert set(preds["decision"]) <= {"malignant", "non-malignant"}
    errors = pd.read_csv(tmp_path / "out" / "preds_errors.csv").set_index("image_id")
    assert sorted(errors.index) == ["empty", "truncated"]
    assert "empty" in errors.loc["empty", "reason"] and "truncated.png" in errors.loc["truncated", "reason"]
    assert (tmp_path / "out" / "preds_summary.json").is_file()


def test_an_empty_folder_is_refused(
    bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    code = main(["predict", str(bundle_dir), str(tmp_path / "empty"), "--out", str(tmp_path / "p.csv")])
    assert code == 3 and "holds no image files" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_inputs([tmp_path / "nowhere"])
    (tmp_path / "m.csv").write_text("file\nx.png\n")
    with pytest.raises(DataError, match="needs a 'path' column"):
        collect_inputs([tmp_path / "m.csv"])


def test_existing_output_and_bad_prevalence_are_refused(
    bundle_dir: Path, evaluated_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.csv"
    out.write_text("old")
    png = _pngs(evaluated_run, 1)[0]
    assert main(["predict", str(bundle_dir), png, "--out", str(out), "--no-progress"]) == 2
    assert out.read_text() == "old"
    assert (
        main(["predict", str(bundle_dir), png, "--out", str(tmp_path / "q.csv"), "--prevalence", "1.5"]) == 2
    )


def test_the_cache_is_reused_and_gives_the_same_predictions(
    bundle_dir: Path, evaluated_run: Path, tmp_path: Path
) -> None:
    bundle = load_bundle(bundle_dir)
    paths = _pngs(evaluated_run, 5)
    first = bundle.predict(paths, cache_dir=tmp_path / "cache")
    entries = sorted((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 5
    stamps = [p.stat().st_mtime_ns for p in entries]
    second = bundle.predict(paths, cache_dir=tmp_path / "cache")
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "cache").rglob("*.npy"))] == stamps
    pd.testing.assert_frame_equal(first.images, second.images)


def test_breast_and_patient_rows_use_evaluations_aggregation(bundle_dir: Path, evaluated_run: Path) -> None:
    from medbalance.evaluation.aggregation import aggregate_predictions

    bundle = load_bundle(bundle_dir)
    split = pd.read_csv(evaluated_run / "split.csv", dtype=str, keep_default_na=False)
    test = split[split["split"] == "test"].reset_index(drop=True)
    result = bundle.predict(test["path"].tolist(), table=test)
    assert result.breasts is not None and result.patients is not None
    table = test[["image_id", "patient_id", "breast_id", "label"]].copy()
    table["prob_malignant"] = result.images["score_uncalibrated"].to_numpy()
    table["prob_non-malignant"] = 1 - table["prob_malignant"]
    expected = aggregate_predictions(
        table, classes=bundle.classes, level="breast", positive_class="malignant"
    )
    np.testing.assert_allclose(result.breasts["score_uncalibrated"], expected.proba[:, 1], atol=1e-6)
    assert list(result.breasts["breast_id"]) == list(expected.table["unit_id"])
    assert set(result.patients["patient_id"]) == set(test["patient_id"])


def test_predict_to_files_reports_progress_through_a_callback(
    bundle_dir: Path, evaluated_run: Path, tmp_path: Path
) -> None:
    from medbalance.inference.predict_files import predict_to_files

    calls: list[tuple[int, int]] = []
    summary = predict_to_files(
        load_bundle(bundle_dir), _pngs(evaluated_run, 5), tmp_path / "preds.csv", batch_size=2,
        progress=lambda *c: calls.append(c),
    )  # fmt: skip
    assert summary.n_predicted == 5
    assert calls[0] == (0, 5) and calls[-1] == (5, 5)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    with pytest.raises(TypeError, match="progress takes a callback"):
        predict_to_files(load_bundle(bundle_dir), _pngs(evaluated_run, 1), tmp_path / "b.csv", progress=True)  # type: ignore[arg-type]
    assert not (tmp_path / "b.csv").exists()
