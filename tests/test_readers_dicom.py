"""DICOM reading: LUTs, MONOCHROME1, frames, colour, broken and compressed files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.pixels import apply_modality_lut, apply_voi_lut, convert_color_space, get_decoder
from pydicom.uid import (
    BasicTextSRStorage,
    JPEGLSLossless,
)

from dicom_builders import dicom_file, mammo_dataset
from medbalance.data.readers import available_dicom_decoders, inspect_image, read_image
from medbalance.errors import ImageReadError


def _ramp12() -> np.ndarray:
    return (np.arange(24 * 32).reshape(24, 32) * 5 % 4096).astype(np.uint16)


@pytest.mark.parametrize(
    "window",
    [
        {},
        {"WindowCenter": 1500, "WindowWidth": 1000},
        {"WindowCenter": 1500, "WindowWidth": 1000, "VOILUTFunction": "SIGMOID"},
    ],
    ids=["no-window", "linear-window", "sigmoid-window"],
)
def test_monochrome1_is_the_mirror_image_of_monochrome2(tmp_path: Path, window: dict[str, Any]) -> None:
    ramp = _ramp12()
    one = read_image(dicom_file(tmp_path / "m1.dcm", ramp, "MONOCHROME1", 12, **window))
    two = read_image(dicom_file(tmp_path / "m2.dcm", ramp, "MONOCHROME2", 12, **window))
    assert one.photometric == two.photometric == "MONOCHROME2"
    np.testing.assert_array_equal(one.pixels.astype(int), 4095 - two.pixels.astype(int))
    np.testing.assert_allclose(one.to_float(), 1.0 - two.to_float(), atol=1e-6)
    assert any("MONOCHROME1 inverted" in note for note in one.notes)
    assert not any("inverted" in note for note in two.notes)
    if not window:
        np.testing.assert_allclose(
            two.to_float(), ramp / 4095.0, atol=1e-6
        )  # scaled by BitsStored, not 65535


def test_rescale_intercept_gives_hounsfield_units_and_window_matches_pydicom(tmp_path: Path) -> None:
    raw = _ramp12()
    raw[0, 0] = 0
    path = dicom_file(
        tmp_path / "ct.dcm",
        raw,
        bits=12,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=[40, 400],
        WindowWidth=[400, 2000],
    )
    image = read_image(path)
    assert image.pixels.min() == -1024 and image.pixels.dtype == np.int16
    assert image.window == (40.0, 400.0) and image.value_range == (-1024.0, 3071.0)
    assert any("window centre 40 width 400 LINEAR (first of 2)" in note for note in image.notes)
    from pydicom import dcmread

    ds = dcmread(path)
    reference = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)  # spans the rescaled stored range
    np.testing.assert_allclose(image.to_float(), (reference + 1024.0) / 4095.0, atol=1e-6)


def test_signed_int16_keeps_negative_values(tmp_path: Path) -> None:
    values = np.array([[-32768, -1, 0, 32767]], np.int16).repeat(4, axis=0)
    image = read_image(dicom_file(tmp_path / "signed.dcm", values))
    assert image.pixels.dtype == np.int16
    np.testing.assert_array_equal(image.pixels, values)
    np.testing.assert_allclose(image.to_float()[0], (values[0] + 32768.0) / 65535.0, atol=1e-6)


@pytest.mark.parametrize("policy", ["reject", "first", "mean"], ids=["reject", "first", "mean"])
def test_multiframe_follows_frame_policy(tmp_path: Path, policy: str) -> None:
    frames = np.stack([np.full((8, 10), value, np.uint16) for value in (100, 200, 300)])
    path = dicom_file(tmp_path / "frames.dcm", frames, bits=12, NumberOfFrames=3)
    if policy == "reject":
        with pytest.raises(ImageReadError, match=r"3 frames.*frame_policy='first' or 'mean'"):
            read_image(path)
        assert "3 frames" in inspect_image(path).reason
        return
    image = read_image(path, frame_policy=policy)  # type: ignore[arg-type]
    assert image.pixels.shape == (8, 10)
    assert float(image.pixels.mean()) == {"first": 100.0, "mean": 200.0}[policy]
    np.testing.assert_allclose(image.to_float(), image.pixels / 4095.0, rtol=1e-6)


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"], ids=["rgb", "ybr-full"])
def test_colour_dicom_becomes_rgb(tmp_path: Path, photometric: str) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    stored = rgb if photometric == "RGB" else convert_color_space(rgb, "RGB", "YBR_FULL")
    image = read_image(dicom_file(tmp_path / "colour.dcm", stored, photometric))
    assert image.photometric == "RGB" and image.pixels.shape == (6, 7, 3)
    assert np.abs(image.pixels.astype(int) - rgb).max() <= 1  # YBR round trip rounds by at most 1
    assert float(image.to_float().max()) <= 1.0


def test_voi_lut_table_is_applied_like_pydicom(tmp_path: Path) -> None:
    raw = (np.arange(64).reshape(8, 8) * 60).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 8]
    item.LUTData = np.minimum(np.arange(4096) // 8, 255).astype(np.uint16).tobytes()
    path = dicom_file(tmp_path / "lut.dcm", raw, bits=12, VOILUTSequence=[item])
    image = read_image(path)
    from pydicom import dcmread

    ds = dcmread(path)
    np.testing.assert_array_equal(image.pixels, apply_voi_lut(ds.pixel_array, ds))
    assert image.window is None and image.bits == 8
    np.testing.assert_allclose(image.to_float(), image.pixels / 255.0, atol=1e-6)


def test_truncated_pixel_data_is_named(tmp_path: Path) -> None:
    ds = mammo_dataset()
    ds.set_pixel_data(_ramp12(), "MONOCHROME2", 12)
    ds.PixelData = ds.PixelData[:-10]
    path = tmp_path / "short.dcm"
    dcmwrite(path, ds, enforce_file_format=True)
    with pytest.raises(ImageReadError, match=r"PixelData is truncated: 1526 bytes.*declares 1536"):
        read_image(path)
    check = inspect_image(path)
    assert not check.ok and "truncated" in check.reason


def test_file_cut_short_fails_with_reason(tmp_path: Path) -> None:
    path = dicom_file(tmp_path / "cut.dcm", _ramp12(), bits=12)
    path.write_bytes(path.read_bytes()[:-500])
    assert not inspect_image(path).ok
    with pytest.raises(ImageReadError, match=r"cut\.dcm: PixelData is truncated"):
        read_image(path)


def test_dicom_without_pixel_data_names_sop_class_and_modality(tmp_path: Path) -> None:
    ds = mammo_dataset(sop_class=BasicTextSRStorage, modality="SR")
    path = tmp_path / "report.dcm"
    dcmwrite(path, ds, enforce_file_format=True)
    with pytest.raises(
        ImageReadError, match=r"no pixel data \(SOP class 'Basic Text SR Storage', modality 'SR'\)"
    ):
        read_image(path)


def test_dicom_without_preamble_is_refused(tmp_path: Path) -> None:
    ds = mammo_dataset()
    ds.set_pixel_data(_ramp12(), "MONOCHROME2", 12)
    path = tmp_path / "raw.dcm"
    dcmwrite(path, ds, enforce_file_format=False)  # a plain Dataset has no preamble
    assert path.read_bytes()[128:132] != b"DICM"
    with pytest.raises(ImageReadError, match=r"not a DICOM file.*force=False"):
        read_image(path)


@pytest.mark.skipif(get_decoder(JPEGLSLossless).is_available, reason="a JPEG-LS decoder is installed")
def test_compressed_syntax_without_decoder_names_the_package(tmp_path: Path) -> None:
    ds = mammo_dataset()
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 8, 8, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + b"\x00" * 60])
    path = tmp_path / "jpegls.dcm"
    dcmwrite(path, ds, enforce_file_format=True)
    with pytest.raises(ImageReadError, match=r"JPEG-LS Lossless.*pylibjpeg-libjpeg"):
        read_image(path)
    assert available_dicom_decoders()["JPEG-LS Lossless Image Compression"] == []


def test_pixel_limit_applies_to_dicom_header(tmp_path: Path) -> None:
    path = dicom_file(tmp_path / "big.dcm", _ramp12(), bits=12)
    with pytest.raises(ImageReadError, match=r"32x24 = 768 pixels.*limit of 700"):
        read_image(path, max_pixels=700)


def test_available_dicom_decoders_lists_compressed_syntaxes() -> None:
    decoders = available_dicom_decoders()
    assert "JPEG Baseline (Process 1)" in decoders and "RLE Lossless" in decoders
    assert all(isinstance(plugins, list) for plugins in decoders.values())
    assert "pydicom" in decoders["RLE Lossless"]  # pydicom's own RLE decoder is always there


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CT_small.dcm", {"dtype": np.int16, "min": -896, "max": 1167}),
        ("MR_small.dcm", {"dtype": np.int16, "window": (600.0, 1600.0)}),
        ("JPEG2000.dcm", {"shape": (1024, 256)}),
        ("MR_truncated.dcm", {"error": r"PixelData is truncated: 8130 bytes"}),
        ("rtplan.dcm", {"error": r"no pixel data \(SOP class 'RT Plan Storage', modality 'RTPLAN'\)"}),
    ],
    ids=["ct-int16-rescaled", "mr-window", "jpeg2000", "mr-truncated", "rtplan-no-pixels"],
)
def test_pydicom_bundled_files(name: str, expected: dict[str, Any]) -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not bundled with this pydicom")
    if "error" in expected:
        with pytest.raises(ImageReadError, match=expected["error"]):
            read_image(path)
        return
    image = read_image(path)
    scaled = image.to_float()
    assert np.all(np.isfinite(scaled)) and 0.0 <= scaled.min() < scaled.max() <= 1.0
    if "dtype" in expected:
        assert image.pixels.dtype == expected["dtype"]
    if "min" in expected:
        assert (image.pixels.min(), image.pixels.max()) == (expected["min"], expected["max"])
    if "window" in expected:
        assert image.window == expected["window"]
    if "shape" in expected:
        assert image.pixels.shape == expected["shape"]


def test_palette_colour_dicom_is_mapped_through_its_lut(tmp_path: Path) -> None:
    indices = np.arange(16, dtype=np.uint8).reshape(4, 4)
    ds = mammo_dataset()
    ds.set_pixel_data(indices, "PALETTE COLOR", 8)
    ramp = (np.arange(256, dtype=np.uint16) * 257).tobytes()  # 16-bit LUT entries
    for colour, data in (("Red", ramp), ("Green", bytes(512)), ("Blue", ramp[::-1])):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", data)
    path = tmp_path / "palette.dcm"
    dcmwrite(path, ds, enforce_file_format=True)
    image = read_image(path)
    assert image.pixels.shape == (4, 4, 3) and image.photometric == "RGB" and image.bits == 16
    np.testing.assert_array_equal(image.pixels[..., 0], indices.astype(np.uint16) * 257)
    np.testing.assert_array_equal(image.pixels[..., 1], 0)
    np.testing.assert_allclose(image.to_float()[..., 0], indices / 255.0, atol=1e-6)


def test_unsupported_photometric_is_rejected(tmp_path: Path) -> None:
    path = dicom_file(tmp_path / "hsv.dcm", _ramp12(), bits=12, PhotometricInterpretation="ARGB")
    with pytest.raises(ImageReadError, match=r"PhotometricInterpretation 'ARGB' is not supported"):
        read_image(path)
