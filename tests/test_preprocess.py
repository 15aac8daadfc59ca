"""Breast mask, chest-wall side and preprocessing, on synthetic and real films."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.data.orientation import breast_mask, chest_wall_side


def make_film(side: str, *, size: int = 64, dtype: type = np.uint8, label: bool = True) -> np.ndarray:
    """A half-ellipse "breast" against one edge, plus a bright disconnected label square."""
    height, width = size, size
    rows, cols = np.mgrid[0:height, 0:width]
    centre_row, radius_rows, radius_cols = height / 2, height * 0.42, width * 0.55
    inside = ((rows - centre_row) / radius_rows) ** 2 + (cols / radius_cols) ** 2 <= 1.0
    top = inside & (rows < centre_row - radius_rows * 0.4)  # a brighter band: the pectoral muscle
    peak = 255 if dtype == np.uint8 else 4095
    film = np.zeros((height, width), dtype=np.float64)
    film[inside] = 0.45 * peak
    film[top] = 0.7 * peak
    if label:
        film[size - 12 : size - 4, width - 12 : width - 4] = peak  # opposite corner, well apart
    film = film.astype(dtype)
    return film if side == "left" else film[:, ::-1].copy()


@pytest.mark.parametrize("side", ["left", "right"], ids=["wall-left", "wall-right"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=["8bit", "16bit"])
def test_chest_wall_side_synthetic(side: str, dtype: type) -> None:
    assert chest_wall_side(make_film(side, dtype=dtype)) == side


@pytest.mark.parametrize("side", ["left", "right"], ids=["wall-left", "wall-right"])
def test_breast_mask_drops_label(side: str) -> None:
    film = make_film(side)
    mask = breast_mask(film)
    label_box = (slice(52, 60), slice(4, 12)) if side == "right" else (slice(52, 60), slice(52, 60))
    assert mask.shape == film.shape and mask.dtype == bool
    assert not mask[label_box].any()
    breast = make_film(side, label=False) > 0
    assert (mask & breast).sum() / breast.sum() > 0.95


def test_breast_mask_constant_and_bad_input() -> None:
    assert not breast_mask(np.full((16, 16), 7, dtype=np.uint8)).any()
    assert chest_wall_side(np.zeros((16, 16))) == "left"
    with pytest.raises(ValueError, match="2-D grey image"):
        breast_mask(np.zeros((2, 8, 8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        breast_mask(np.full((8, 8), np.nan))


@pytest.mark.parametrize(("number", "side"), [(1, "right"), (2, "left")], ids=["mdb001", "mdb002"])
def test_chest_wall_side_mini_mias(mini_mias_dir: Path, number: int, side: str) -> None:
    pixels = np.asarray(Image.open(mini_mias_dir / "images" / f"mdb{number:03d}.png"))
    assert chest_wall_side(pixels) == side


# ---- preprocessing ---------------------------------------------------------------------------

from medbalance.config import parse_config  # noqa: E402
from medbalance.data.preprocess import (  # noqa: E402
    PreprocessConfig,
    PreprocessInfo,
    compute_normalisation_stats,
    preprocess_image,
    preprocess_with_info,
)
from medbalance.data.readers import ImageData  # noqa: E402
from medbalance.errors import ConfigError, DataError  # noqa: E402

MAMMO = PreprocessConfig(kind="mammography", size=48)


def content_box(array: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(array.any(axis=1))
    cols = np.flatnonzero(array.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


@pytest.mark.parametrize("side", ["left", "right"], ids=["wall-left", "wall-right"])
def test_mammography_output_and_orientation(side: str) -> None:
    array, info = preprocess_with_info(make_film(side), MAMMO)
    assert array.shape == (1, 48, 48) and array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() == pytest.approx(1.0)
    assert info.flipped is (side == "right") and info.chest_wall == side
    # the chest wall (straight edge) touches column 0; the nipple side tapers
    grey = array[0]
    top, bottom, _, right = content_box(grey)
    assert grey[:, 0].astype(bool).sum() > 0.8 * (bottom - top)
    assert grey[:, right - 1].astype(bool).sum() < 0.3 * (bottom - top)


def test_mammography_same_result_for_both_orientations() -> None:
    left = preprocess_image(make_film("left"), MAMMO)
    right = preprocess_image(make_film("right"), MAMMO)
    np.testing.assert_allclose(left, right, atol=1e-5)


def test_mammography_removes_label_keeps_tissue_and_aspect() -> None:
    with_label = preprocess_image(make_film("left", size=64), MAMMO)
    without = preprocess_image(make_film("left", size=64, label=False), MAMMO)
    np.testing.assert_allclose(with_label, without, atol=1e-5)
    breast = make_film("left", size=64, label=False) > 0
    b_top, b_bottom, b_left, b_right = content_box(breast)
    top, bottom, left, right = content_box(with_label[0] > 0)
    # cropped to the breast, then the longer side (height) fills the output: nothing cut or squashed
    assert (top, left, bottom) == (0, 0, 48)
    expected_width = 48 * (b_right - b_left) / (b_bottom - b_top)
    assert abs((right - left) - expected_width) <= 1.0
    assert with_label[0, :, right:].max() == 0.0  # zero padding on the right


def test_info_maps_points_and_spacing() -> None:
    film = make_film("right", size=64, label=False)
    film[30:33, 50:53] = 255  # a bright dot inside the breast (wall on the right)
    array, info = preprocess_with_info(film, PreprocessConfig(size=64))
    row, col = np.unravel_index(int(np.argmax(array[0])), array[0].shape)
    mapped = info.map_point(31, 51)
    assert abs(row - mapped[0]) <= 1.5 and abs(col - mapped[1]) <= 1.5
    assert info.effective_spacing_mm(0.2) == pytest.approx(0.2 / info.scale)
    assert PreprocessInfo.from_dict(info.to_dict()) == info
    with pytest.raises(ValueError, match="spacing_mm must be > 0"):
        info.effective_spacing_mm(0.0)


@pytest.mark.parametrize("kind", ["mammography", "generic"])
@pytest.mark.parametrize(
    "pixels",
    [np.zeros((20, 30), np.uint8), np.full((20, 30), 1000, np.uint16), np.full((20, 30, 3), 0.5)],
    ids=["zeros-u8", "constant-u16", "constant-rgb"],
)
def test_constant_image_gives_zeros_not_nan(kind: str, pixels: np.ndarray) -> None:
    array = preprocess_image(pixels, PreprocessConfig(kind=kind, size=32, equalize=True))  # type: ignore[arg-type]
    assert array.shape == (1, 32, 32) and np.isfinite(array).all()
    assert array.max() <= 1.0


@pytest.mark.parametrize("kind", ["mammography", "generic"])
@pytest.mark.parametrize("framed", [False, True], ids=["whole", "breast-on-black"])
def test_nearly_constant_float_image_equalizes_without_error(kind: str, framed: bool) -> None:
    # A float image whose values differ by rounding noise only: NumPy cannot cut a
    # float32 range of 1e-7 into 256 bins, so equalisation used to raise "Too many bins".
    rng = np.random.default_rng(0)
    pixels = 0.5 + rng.normal(0.0, 1e-7, (40, 30))
    if framed:
        pixels = np.pad(pixels, ((12, 12), (0, 34)))
    array = preprocess_image(pixels, PreprocessConfig(kind=kind, size=32, equalize=True))  # type: ignore[arg-type]
    assert array.shape == (1, 32, 32) and np.isfinite(array).all()


def test_sixteen_bit_and_image_data_match_eight_bit() -> None:
    eight = make_film("right")
    twelve = make_film("right", dtype=np.uint16)  # values up to 4095 in uint16
    from_u8 = preprocess_image(eight, MAMMO)
    from_u16 = preprocess_image(twelve, MAMMO)
    data = ImageData(pixels=twelve, bits=12, photometric="MONOCHROME2", source_format="png")
    from_data = preprocess_image(data, MAMMO)
    np.testing.assert_allclose(from_u16, from_data, atol=1e-6)
    assert np.abs(from_u8 - from_u16).max() < 0.02


def test_equalize_stays_in_breast() -> None:
    array = preprocess_image(make_film("left"), PreprocessConfig(size=48, equalize=True, channels=3))
    plain = preprocess_image(make_film("left"), PreprocessConfig(size=48, channels=3))
    assert array.shape == (3, 48, 48)
    np.testing.assert_array_equal(array[0] > 0, plain[0] > 0)  # background stays zero
    np.testing.assert_array_equal(array[0], array[2])


@pytest.mark.parametrize(
    ("shape", "channels"),
    [((20, 40), 3), ((20, 40, 3), 1), ((40, 20, 4), 3), ((40, 20, 1), 1)],
    ids=["grey-to-rgb", "rgb-to-grey", "rgba-to-rgb", "hw1-to-grey"],
)
def test_generic_channels_aspect_and_centring(shape: tuple[int, ...], channels: int) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(1, 255, size=shape, dtype=np.uint8)
    array, info = preprocess_with_info(pixels, PreprocessConfig(kind="generic", size=32, channels=channels))  # type: ignore[arg-type]
    assert array.shape == (channels, 32, 32)
    top, bottom, left, right = content_box(array.max(axis=0) > 0)
    height, width = shape[:2]
    assert (bottom - top, right - left) == (
        round(height * 32 / max(height, width)),
        round(width * 32 / max(height, width)),
    )
    assert info.pad == (top, left) and abs(top - (32 - bottom)) <= 1 and abs(left - (32 - right)) <= 1
    if channels == 3 and len(shape) == 2:
        np.testing.assert_array_equal(array[0], array[1])


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"size": 0}, r"size must be an integer in \[1, 16384\], got 0"),
        ({"size": 2.5}, "size must be an integer"),
        ({"channels": 2}, "channels must be 1"),
        ({"kind": "ct"}, "kind must be"),
        ({"mean": (0.5,)}, "set both mean and std"),
        ({"mean": (0.5, 0.5), "std": (0.2, 0.2)}, "one value per channel"),
        ({"mean": (0.5,), "std": (0.0,)}, "std finite and > 0"),
        ({"crop": "yes"}, "crop must be true or false"),
    ],
    ids=["size0", "size-float", "channels2", "kind", "mean-only", "wrong-length", "std0", "crop-str"],
)
def test_config_rejects_bad_values(fields: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PreprocessConfig(**fields)  # type: ignore[arg-type]


def test_config_parses_from_yaml_values() -> None:
    config = parse_config(
        PreprocessConfig, {"kind": "generic", "channels": 3, "mean": [0.1, 0.2, 0.3], "std": [1, 1, 1]}
    )
    assert config.channels == 3 and config.mean == (0.1, 0.2, 0.3) and config.std == (1.0, 1.0, 1.0)
    with pytest.raises(ConfigError, match=r"Did you mean 'size'"):
        parse_config(PreprocessConfig, {"sise": 64})


def test_bad_image_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="channel-first"):
        preprocess_image(np.zeros((3, 2, 8, 8)), MAMMO)
    with pytest.raises(ValueError, match="NaN"):
        preprocess_image(np.full((8, 8), np.inf), PreprocessConfig(kind="generic", size=8))
    with pytest.raises(TypeError, match="PreprocessConfig"):
        preprocess_image(np.zeros((8, 8)), {"size": 8})  # type: ignore[arg-type]


def test_normalisation_stats_match_numpy() -> None:
    rng = np.random.default_rng(1)
    arrays = [rng.random((3, 8, 8), dtype=np.float32) for _ in range(4)]
    mean, std = compute_normalisation_stats(iter(arrays))
    stacked = np.concatenate([a.reshape(3, -1) for a in arrays], axis=1)
    np.testing.assert_allclose(mean, stacked.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(std, stacked.std(axis=1), rtol=1e-5)
    with pytest.raises(DataError, match="no arrays"):
        compute_normalisation_stats([])
    with pytest.raises(DataError, match="channels"):
        compute_normalisation_stats([arrays[0], arrays[0][:1]])


@pytest.mark.parametrize(("number", "flipped"), [(1, True), (2, False)], ids=["mdb001", "mdb002"])
def test_mini_mias_films(mini_mias_dir: Path, number: int, flipped: bool) -> None:
    from medbalance.data.readers import read_image

    image = read_image(mini_mias_dir / "images" / f"mdb{number:03d}.png")
    array, info = preprocess_with_info(image, PreprocessConfig(size=64))
    assert array.shape == (1, 64, 64) and info.flipped is flipped
    assert info.crop_box[1] - info.crop_box[0] > 800  # the breast's full height is kept
    assert chest_wall_side(array[0]) == "left"
