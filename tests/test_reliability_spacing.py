"""Pixel spacing comes from the DICOM header, or is asked for (issue 13).

``synth insert`` used 0.2 mm whatever the header said (a lesion could come out 4x
too large) and the folder adapter left ``pixel_spacing_mm`` empty for DICOMs that
carry it. The DICOMs are made here with pydicom.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dicom_builders import dicom_file
from medbalance.cli import main
from medbalance.data.readers import read_pixel_spacing_mm


def _breast(size: int = 128) -> np.ndarray:
    """A bright half-disc on black, left chest wall: room for a lesion inside."""
    yy, xx = np.mgrid[:size, :size]
    inside = (xx / size) ** 2 + ((yy - size / 2) / (size / 2)) ** 2 < 0.8
    return np.where(inside, 2000, 0).astype(np.uint16)


def _dicom(path: Path, **header: object) -> Path:
    return dicom_file(path, _breast(), "MONOCHROME2", 12, **header)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"PixelSpacing": [0.1, 0.1]}, 0.1),
        ({"ImagerPixelSpacing": [0.085, 0.085]}, 0.085),
        ({"PixelSpacing": [0.05, 0.05], "ImagerPixelSpacing": [0.07, 0.07]}, 0.05),  # PixelSpacing first
        ({"PixelSpacing": [0.1, 0.2]}, 0.15),  # anisotropic: the mean
        ({}, None),
        ({"PixelSpacing": [0.0, 0.0]}, None),  # not a spacing
    ],
    ids=["pixel", "imager", "pixel-first", "anisotropic", "none", "zero"],
)
def test_read_pixel_spacing_from_the_header(tmp_path: Path, header: dict, expected: float | None) -> None:
    spacing = read_pixel_spacing_mm(_dicom(tmp_path / "a.dcm", **header))
    assert spacing == (None if expected is None else pytest.approx(expected))


def test_a_png_has_no_trusted_spacing(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    assert read_pixel_spacing_mm(tmp_path / "a.png") is None


def _insert(tmp_path: Path, image: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "out.png"
    args = ["synth", "insert", "--image", str(image), "--out", str(out), "--lesion", "mass", "--size-mm", "4"]
    code = main([*args, *extra])
    return code, out


def test_synth_insert_uses_the_header_spacing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coarse = _dicom(tmp_path / "coarse.dcm", PixelSpacing=[0.4, 0.4])
    code, out = _insert(tmp_path, coarse)
    assert code == 0, capsys.readouterr().err
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["spacing_mm"] == pytest.approx(0.4) and saved["spacing_source"] == "header"
    # the lesion's support radius in pixels follows the header: 0.4 mm/px, not 0.2
    lesion = saved["lesions"][0]
    assert lesion["params"]["support_radius_mm"] > 0


def test_synth_insert_lesion_size_in_pixels_follows_the_header(tmp_path: Path) -> None:
    """The same --size-mm covers 4x the pixel area at half the spacing (the bug: identical sizes)."""
    areas = {}
    for spacing in (0.4, 0.2):
        folder = tmp_path / str(spacing)
        image = _dicom(folder / "in.dcm", PixelSpacing=[spacing, spacing])
        code, out = _insert(folder, image, "--seed", "1")
        assert code == 0
        before = np.asarray(Image.open(out)).astype(float)  # written, 16 bit
        from medbalance.data.readers import read_image

        original = read_image(image).to_float() * 65535
        areas[spacing] = int((np.abs(before - np.round(original)) > 2).sum())
    assert areas[0.2] > 2.5 * areas[0.4], areas


@pytest.mark.parametrize("kind", ["dicom-without-spacing", "png"])
def test_synth_insert_refuses_without_any_spacing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    if kind == "png":
        image = tmp_path / "in.png"
        Image.fromarray((_breast() // 8).astype(np.uint8)).save(image)
    else:
        image = _dicom(tmp_path / "in.dcm")
    code, out = _insert(tmp_path, image)
    err = " ".join(capsys.readouterr().err.split())
    assert code == 3
    assert "no pixel spacing" in err and "--spacing-mm" in err and str(image.name) in err
    assert not out.exists() and not out.with_suffix(".json").exists()
    # the explicit option is the fix
    code, out = _insert(tmp_path, image, "--spacing-mm", "0.2")
    assert code == 0
    assert json.loads(out.with_suffix(".json").read_text())["spacing_source"] == "given"


def test_folder_adapter_records_header_spacing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    _dicom(source / "benign" / "a.dcm", PixelSpacing=[0.1, 0.1])
    _dicom(source / "benign" / "b.dcm", ImagerPixelSpacing=[0.085, 0.085])
    _dicom(source / "malignant" / "c.dcm")
    expected = {"benign/a.dcm": "0.1", "benign/b.dcm": "0.085", "malignant/c.dcm": ""}
    for i in range(12):
        label = "malignant" if i % 2 else "benign"
        Image.fromarray(np.zeros((16, 16), np.uint8) + 10 * i).save(source / label / f"p{i}.png")
        expected[f"{label}/p{i}.png"] = ""
    code = main(["data", "folder", str(source), "--out", str(tmp_path / "out"), "--no-check-images",
                 "--fractions", "0.5,0.25,0.25"])  # fmt: skip
    assert code in (0, 1), capsys.readouterr().err  # 1: few images give split warnings/errors
    table = pd.read_csv(tmp_path / "out" / "manifest.csv", dtype=str, keep_default_na=False)
    assert dict(zip(table["image_id"], table["pixel_spacing_mm"], strict=True)) == expected
