"""Inputs the fuzz harnesses (tests/fuzz/) crashed on, kept as regression tests at the CLI.

Each one raised something other than medbalance's own clear errors (AttributeError,
ValueError, NotImplementedError, BytesLengthException, TypeError) before its fix.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dicom_builders import dicom_file
from medbalance.cli import main
from medbalance.data.readers import read_image, read_pixel_spacing_mm
from medbalance.errors import ImageReadError


def _text(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return " ".join((captured.out + captured.err).replace("│", " ").split())


def _dicom_bytes() -> bytes:
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 50
    return dicom_file(None, pixels, "MONOCHROME2", 12, uid="1.2.826.0.1.3680043.8.498.1", PixelSpacing=[0.1, 0.1])


def _patched(old: bytes, new: bytes) -> bytes:
    data = _dicom_bytes()
    assert data.count(old) == 1
    return data.replace(old, new)


DAMAGED = {
    # group of the first file-meta element zeroed: no transfer syntax, '' had no .is_compressed
    "no-transfer-syntax": lambda: (lambda d: d[:132] + b"\x00" + d[133:])(_dicom_bytes()),
    # SamplesPerPixel (0028,0002) declared UL with 2 bytes: BytesLengthException when first used
    "wrong-length-value": lambda: _patched(b"\x28\x00\x02\x00US", b"\x28\x00\x02\x00UL"),
    # PixelSpacing (0028,0030) with an unknown VR: NotImplementedError from the lazy parser
    "unknown-vr": lambda: _patched(b"\x28\x00\x30\x00DS", b"\x28\x00\x30\x00D\x00"),
}


@pytest.mark.parametrize(
    ("damage", "reader"),
    [
        ("no-transfer-syntax", read_image),
        ("wrong-length-value", read_image),
        ("unknown-vr", read_pixel_spacing_mm),
    ],
    ids=list(DAMAGED),
)
def test_damaged_dicom_header_is_an_image_read_error(tmp_path: Path, damage: str, reader: object) -> None:
    path = tmp_path / "x.dcm"
    path.write_bytes(DAMAGED[damage]())
    with pytest.raises(ImageReadError, match=r"x\.dcm"):
        reader(path)  # type: ignore[operator]


def test_damaged_dicoms_are_listed_by_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = []
    for i, damage in enumerate(DAMAGED):
        (tmp_path / f"{damage}.dcm").write_bytes(DAMAGED[damage]())
        rows.append({"image_id": damage, "path": f"{damage}.dcm", "label": "a", "patient_id": f"P{i}"})
    for i in range(3):
        Image.fromarray(np.full((8, 8), 10 * i + 5, np.uint8)).save(tmp_path / f"ok{i}.png")
        rows.append({"image_id": f"ok{i}", "path": f"ok{i}.png", "label": "b", "patient_id": f"Q{i}"})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    assert main(["validate", str(tmp_path / "manifest.csv"), "--folds", "2"]) == 1
    report = json.loads((tmp_path / "manifest.validation.json").read_text())
    unreadable = next(p for p in report["problems"] if p["code"] == "unreadable-image")
    assert unreadable["message"].startswith("2 image(s) cannot be decoded")  # unknown-vr: only its spacing
    _text(capsys)


def test_damaged_dicom_spacing_leaves_the_folder_adapter_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "src"
    for label in ("a", "b"):
        (source / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 20 * i + (label == "b") * 7, np.uint8)).save(
                source / label / f"{i}.png"
            )
    (source / "a" / "bad.dcm").write_bytes(DAMAGED["unknown-vr"]())
    main(["data", "folder", str(source), "--out", str(tmp_path / "out"), "--fractions", "0.5,0.25,0.25"])
    table = pd.read_csv(tmp_path / "out" / "manifest.csv", dtype=str, keep_default_na=False)
    assert table.loc[table["image_id"] == "a/bad.dcm", "pixel_spacing_mm"].tolist() == [""]
    _text(capsys)


@pytest.mark.parametrize(
    "sidecar", ["0", "[1, 2]", '{"classes": "ab"}'], ids=["number", "list", "classes-string"]
)
def test_a_sidecar_that_is_not_an_object_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sidecar: str
) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    pd.DataFrame([{"image_id": "a", "path": "a.png", "label": "x", "patient_id": "1"}]).to_csv(
        tmp_path / "manifest.csv", index=False
    )
    (tmp_path / "manifest.meta.json").write_text(sidecar)
    assert main(["validate", str(tmp_path / "manifest.csv")]) == 3  # a data error
    assert "manifest.meta.json: must hold a JSON object" in _text(capsys)


def test_a_bundle_with_infinity_in_its_json_is_a_clear_error(
    bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(bundle_dir, bundle)
    spec = json.loads((bundle / "bundle.json").read_text())
    spec["task"] = float("inf")  # json.dumps writes Infinity; the digest check raised ValueError
    (bundle / "bundle.json").write_text(json.dumps(spec))
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "x.png")
    assert main(["predict", str(bundle), str(tmp_path / "x.png"), "--out", str(tmp_path / "p.csv")]) == 4  # a checkpoint (bundle) error
    assert "Infinity is not a JSON number" in _text(capsys)


@pytest.mark.parametrize(
    "changes",
    [{"classes": None}, {"classes": ["a"]}, {"model": {"name": 3}}, {"positive_class": "zzz"},
     {"preprocessing": [1]}, {"logit_map": {"scale": "x"}}],
    ids=["classes-null", "one-class", "model-name-number", "positive-unknown", "preprocessing-list", "logit-map"],
)  # fmt: skip
def test_a_malformed_bundle_is_a_clear_error(
    bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict
) -> None:
    from medbalance.inference.bundle import spec_digest

    bundle = tmp_path / "bundle"
    shutil.copytree(bundle_dir, bundle)
    spec = json.loads((bundle / "bundle.json").read_text())
    spec.update(changes)
    spec["spec_sha256"] = spec_digest(spec)  # as if exported so: the checks past the digest must catch it
    (bundle / "bundle.json").write_text(json.dumps(spec))
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "x.png")
    assert main(["predict", str(bundle), str(tmp_path / "x.png"), "--out", str(tmp_path / "p.csv")]) == 4  # a checkpoint (bundle) error
    assert "re-export the bundle" in _text(capsys).lower()
