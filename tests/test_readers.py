"""Readers for PNG, JPEG, TIFF, PGM/PPM (Pillow) and the shared ImageData contract."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from medbalance.data.readers import DEFAULT_MAX_PIXELS, ImageData, inspect_image, read_image
from medbalance.errors import ImageReadError


def _ramp16(height: int = 32, width: int = 48) -> np.ndarray:
    return (np.arange(height * width).reshape(height, width) * 37 % 65536).astype(np.uint16)


def _write_huge_png_header(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose IHDR declares width x height grey pixels (data left short)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 2)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    ("suffix", "pil_format", "expected_format"),
    [(".png", "PNG", "png"), (".tif", "TIFF", "tiff"), (".pgm", "PPM", "pgm")],
    ids=["png", "tiff", "pgm"],
)
def test_16bit_ramp_keeps_more_than_256_levels(
    tmp_path: Path, suffix: str, pil_format: str, expected_format: str
) -> None:
    ramp = _ramp16()
    path = tmp_path / f"ramp{suffix}"
    Image.fromarray(ramp).save(path, format=pil_format)
    image = read_image(path)
    assert image.pixels.dtype == np.uint16
    assert image.bits == 16
    assert image.source_format == expected_format
    np.testing.assert_array_equal(image.pixels, ramp)
    assert len(np.unique(image.pixels)) > 256
    np.testing.assert_allclose(image.to_float(), ramp / 65535.0, atol=1e-6)


@pytest.mark.parametrize(
    ("mode", "shape"),
    [("L", (32, 40)), ("RGB", (32, 40, 3))],
    ids=["grey", "rgb"],
)
def test_8bit_png_and_jpeg_roundtrip(tmp_path: Path, mode: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(pixels, mode=mode).save(tmp_path / "a.png")
    Image.fromarray(pixels, mode=mode).save(tmp_path / "a.jpg", quality=95)
    png, jpeg = read_image(tmp_path / "a.png"), read_image(tmp_path / "a.jpg")
    np.testing.assert_array_equal(png.pixels, pixels)
    assert (png.bits, png.photometric, jpeg.source_format) == (8, mode, "jpeg")
    assert jpeg.pixels.shape == shape and jpeg.pixels.dtype == np.uint8


def test_format_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(path, format="PNG")
    assert read_image(path).source_format == "png"


@pytest.mark.parametrize("kind", ["jpeg", "png"], ids=["jpeg", "png"])
def test_truncated_file_fails_in_read_and_inspect(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(buffer, format=kind.upper())
    data = buffer.getvalue()
    path = tmp_path / f"half.{kind}"
    path.write_bytes(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(ImageReadError, match="half") as info:
        read_image(path)
    assert "truncated" in info.value.reason or "cannot" in info.value.reason
    check = inspect_image(path)
    assert not check.ok and check.reason == info.value.reason


def test_header_declaring_200_megapixels_fails_fast_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _write_huge_png_header(path, 20000, 10000)
    assert path.stat().st_size < 30_000
    start = time.perf_counter()
    with pytest.raises(
        ImageReadError, match=rf"200000000 pixels.*limit of {DEFAULT_MAX_PIXELS} pixels.*max_pixels"
    ):
        read_image(path)
    assert time.perf_counter() - start < 2.0


def test_own_pixel_limit_applies_below_pillows(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    with pytest.raises(ImageReadError, match=r"50x40 = 2000 pixels"):
        read_image(path, max_pixels=1999)
    assert read_image(path, max_pixels=2000).pixels.shape == (40, 50)
    assert read_image(path, max_pixels=None).pixels.shape == (40, 50)


def test_refuses_when_load_truncated_images_was_switched_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageReadError, match="LOAD_TRUNCATED_IMAGES"):
        read_image(path)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.png", b"", "empty"),
        ("garbage.png", b"this is not an image at all" * 10, "not an image format"),
        ("x.dcm", None, "not a DICOM file"),
    ],
    ids=["empty-png", "garbage-png", "random-bytes-dcm"],
)
def test_empty_garbage_and_fake_dicom_fail_with_reason(
    tmp_path: Path, name: str, content: bytes | None, match: str
) -> None:
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(3).bytes(400) if content is None else content)
    with pytest.raises(ImageReadError, match=match):
        read_image(path)
    check = inspect_image(path)
    assert not check.ok and match in check.reason


@pytest.mark.parametrize(
    ("name", "match"),
    [("missing.png", "file not found"), ("folder", "is a folder")],
    ids=["missing", "folder"],
)
def test_missing_file_or_folder(tmp_path: Path, name: str, match: str) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(ImageReadError, match=match):
        read_image(tmp_path / name)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((16, 16), np.uint8), np.full((16, 16), 900, np.uint16), np.full((16, 16), 3.5, np.float32)],
    ids=["zeros-uint8", "constant-uint16", "constant-float"],
)
def test_constant_image_gives_finite_float_and_is_flagged(tmp_path: Path, pixels: np.ndarray) -> None:
    path = tmp_path / "flat.tif"
    Image.fromarray(pixels).save(path)
    image = read_image(path)
    scaled = image.to_float()
    assert scaled.dtype == np.float32 and np.all(np.isfinite(scaled))
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0
    if pixels.dtype.kind == "f":
        np.testing.assert_array_equal(scaled, 0.0)
    assert inspect_image(path).constant


def test_to_float_scales_by_stored_bits_and_min_max_for_float() -> None:
    twelve_bit = ImageData(
        pixels=np.array([[0, 4095]], np.uint16), bits=12, photometric="MONOCHROME2", source_format="dicom"
    )
    np.testing.assert_allclose(twelve_bit.to_float(), [[0.0, 1.0]])
    floats = ImageData(
        pixels=np.array([[2.0, 4.0, 3.0]], np.float32), bits=32, photometric="F", source_format="tiff"
    )
    np.testing.assert_allclose(floats.to_float(), [[0.0, 1.0, 0.5]])


def test_exif_orientation_6_jpeg_is_rotated_to_display(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40), np.uint8)
    pixels[:, :10] = 255  # bright band on the left of the stored image
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be turned 90 degrees clockwise for display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=100)
    image = read_image(path)
    assert image.pixels.shape == (40, 20)
    assert image.pixels[:10].mean() > 200 and image.pixels[-10:].mean() < 50  # left band is now on top
    assert "EXIF orientation 6 applied" in image.notes


def test_rgba_png_is_composited_onto_black(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:, :4, 3] = 255  # left half opaque
    rgba[:, 4:, 3] = 0  # right half transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    image = read_image(path)
    assert image.pixels.shape == (8, 8, 3) and image.photometric == "RGB"
    assert np.all(image.pixels[:, :4] == 200) and np.all(image.pixels[:, 4:] == 0)
    assert any(n.startswith("alpha not fully opaque: 50.0% of pixels") for n in image.notes), image.notes


@pytest.mark.parametrize(
    ("palette", "expected_shape", "photometric"),
    [
        ([v for i in range(256) for v in (i, i, i)], (8, 8), "L"),
        ([v for i in range(256) for v in (i, 0, 255 - i)], (8, 8, 3), "RGB"),
    ],
    ids=["grey-palette", "colour-palette"],
)
def test_palette_png_becomes_l_or_rgb(
    tmp_path: Path, palette: list[int], expected_shape: tuple[int, ...], photometric: str
) -> None:
    indices = np.arange(64, dtype=np.uint8).reshape(8, 8)
    image = Image.fromarray(indices, mode="L").convert("P")
    image.putpalette(palette)
    path = tmp_path / "palette.png"
    image.save(path)
    result = read_image(path)
    assert result.pixels.shape == expected_shape and result.photometric == photometric
    np.testing.assert_array_equal(
        result.pixels.reshape(64, -1)[:, 0], np.asarray(palette).reshape(256, 3)[:64, 0]
    )


@pytest.mark.parametrize("policy", ["reject", "first", "mean"], ids=["reject", "first", "mean"])
def test_multipage_tiff_follows_frame_policy(tmp_path: Path, policy: str) -> None:
    pages = [Image.fromarray(np.full((6, 6), value, np.uint8)) for value in (10, 30)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    if policy == "reject":
        with pytest.raises(ImageReadError, match=r"2 frames.*frame_policy"):
            read_image(path, frame_policy=policy)  # type: ignore[arg-type]
        return
    image = read_image(path, frame_policy=policy)  # type: ignore[arg-type]
    assert float(image.pixels.mean()) == {"first": 10.0, "mean": 20.0}[policy]
    np.testing.assert_allclose(image.to_float().mean(), image.pixels.mean() / 255.0, rtol=1e-6)


def test_unknown_frame_policy_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Did you mean 'first'"):
        read_image(tmp_path / "a.png", frame_policy="frist")  # type: ignore[arg-type]


def test_unicode_path_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "données patient é"
    folder.mkdir()
    path = folder / "乳房 X 線 ü.png"
    Image.fromarray(np.full((5, 7), 42, np.uint8)).save(path)
    image = read_image(str(path))
    assert image.pixels.shape == (5, 7) and int(image.pixels[0, 0]) == 42
    assert inspect_image(path).ok


def test_real_mini_mias_png(mini_mias_dir: Path) -> None:
    image = read_image(mini_mias_dir / "images" / "mdb001.png")
    assert image.pixels.shape == (1024, 1024) and image.pixels.dtype == np.uint8
    assert image.bits == 8 and image.source_format == "png"
    check = inspect_image(mini_mias_dir / "images" / "mdb001.png")
    assert check.ok and check.shape == (1024, 1024) and check.dtype == "uint8" and not check.constant


@pytest.mark.parametrize(
    ("max_pixels", "readable"),
    [(None, True), (5000, True), (1999, False)],
    ids=["no-limit", "limit-above-image", "limit-below-image"],
)
def test_own_limit_decides_even_above_pillows_bomb_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_pixels: int | None, readable: bool
) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(np.ones((40, 50), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow alone would raise DecompressionBombError
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning may leak out either
        if readable:
            assert read_image(path, max_pixels=max_pixels).pixels.shape == (40, 50)
        else:
            with pytest.raises(ImageReadError, match=r"2000 pixels.*limit of 1999 pixels"):
                read_image(path, max_pixels=max_pixels)
    assert Image.MAX_IMAGE_PIXELS == 100  # Pillow's global is left as it was
