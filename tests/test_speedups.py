"""Speed changes (parallel cache build, breast mask, integer scaling) give the same outputs as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage as ndi
from skimage.transform import resize

from medbalance.data import orientation
from medbalance.data._cache_build import default_workers
from medbalance.data._image import ImageData
from medbalance.data._pixels import to_unit_float
from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import Manifest
from medbalance.data.preprocess import PreprocessConfig

CONFIG = PreprocessConfig(kind="mammography", size=24)


def _film(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 12, size=(50, 42), dtype=np.uint8)
    width = 14 + seed % 9
    pixels[5:45, :width] = rng.integers(90, 220, size=(40, width), dtype=np.uint8)
    pixels[2:6, 36:40] = 250  # a film label, not part of the breast
    image = pixels[:, ::-1] if seed % 2 else pixels
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path


def _manifest(root: Path, count: int) -> Manifest:
    names = [_film(root / f"f{i:02d}.png", i).name for i in range(count)]
    rows = [{"image_id": n, "path": n, "label": "a", "patient_id": n} for n in names]
    return Manifest(table=pd.DataFrame(rows), classes=("a", "b"), root=root)


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_parallel_build_writes_the_same_files_as_a_serial_one(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, 12)
    serial = PreprocessCache(tmp_path / "serial", CONFIG)
    parallel = PreprocessCache(tmp_path / "parallel", CONFIG)
    assert serial.build(manifest, workers=1).built == 12
    summary = parallel.build(manifest, workers=3)
    assert (summary.built, summary.already_cached) == (12, 0)
    assert _contents(serial.folder) == _contents(parallel.folder)
    assert len(_contents(parallel.folder)) == 2 * 12 + 1  # .npy + .json each, config.yaml


def test_default_build_uses_every_core_and_reports_failures_in_order(tmp_path: Path) -> None:
    assert default_workers() >= 1
    manifest = _manifest(tmp_path, 10)
    (tmp_path / "f03.png").write_bytes(b"not a png")
    (tmp_path / "f07.png").write_bytes(b"")
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    with pytest.raises(Exception, match=r"2 of 10 images") as caught:
        cache.build(manifest)  # workers=None: one per core
    text = str(caught.value)
    assert text.index("f03.png") < text.index("f07.png")
    assert len(list(cache.folder.glob("*/*.npy"))) == 8


@pytest.mark.parametrize("seed", range(6), ids=lambda s: f"seed{s}")
def test_fill_holes_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = ndi.binary_opening(rng.random((61, 47)) < 0.55)
    mask[20:30, 10:25] = True
    mask[23:26, 14:18] = False  # a hole
    assert np.array_equal(orientation._fill_holes(mask), ndi.binary_fill_holes(mask))


@pytest.mark.parametrize("factor", [2, 3, 4], ids=lambda f: f"x{f}")
def test_upsample_matches_skimage_nearest(factor: int) -> None:
    mask = np.random.default_rng(factor).random((19, 13)) < 0.5
    shape = (19 * factor - factor + 1, 13 * factor - 1)
    expected = resize(mask, (19 * factor, 13 * factor), order=0, anti_aliasing=False)[: shape[0], : shape[1]]
    assert np.array_equal(orientation._upsample(mask, factor, shape), expected)


@pytest.mark.parametrize(
    ("dtype", "kwargs"),
    [
        (np.uint8, {"bits": 8}),
        (np.uint16, {"bits": 12}),
        (np.uint16, {"bits": 16, "value_range": (100.0, 3000.0)}),
        (np.int16, {"bits": 16, "window": (40.0, 400.0)}),
        (np.int16, {"bits": 16, "window": (40.0, 400.0), "window_function": "SIGMOID"}),
        (np.int8, {"bits": 8, "window": (0.0, 1.0)}),
    ],
    ids=["u8", "u16-12bit", "u16-range", "i16-window", "i16-sigmoid", "i8-threshold"],
)
def test_integer_lookup_scaling_matches_direct_scaling(dtype: type, kwargs: dict) -> None:
    info = np.iinfo(dtype)
    pixels = np.random.default_rng(0).integers(info.min, int(info.max) + 1, size=(300, 900)).astype(dtype)
    image = ImageData(pixels=pixels, photometric="L", source_format="png", **kwargs)
    fast = image.to_float()
    assert fast.dtype == np.float32 and fast.shape == pixels.shape
    assert np.array_equal(fast, image._scale(pixels))
    assert np.array_equal(to_unit_float(image), fast)


@pytest.mark.parametrize(("shape", "factor"), [((64, 64), 2), ((64, 64), 4), ((50, 33), 3), ((7, 5), 4)])
def test_block_mean_matches_skimage_block_reduce(shape: tuple[int, int], factor: int) -> None:
    from skimage.measure import block_reduce

    rng = np.random.default_rng(factor)
    grey = (rng.integers(0, 256, shape) / 255).astype(np.float32)  # 8-bit film pixels as the pipeline has them
    expected = block_reduce(grey.astype(np.float64), (factor, factor), np.mean)
    np.testing.assert_array_equal(orientation._block_mean(grey, factor), expected)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((1024, 700), 128), ((1000, 333), 128), ((97, 40), 128), ((300, 301), 256), ((1024, 1), 128), ((1, 5), 4)],
)
def test_sparse_resize_matches_skimage_fit_into_square(shape: tuple[int, int], size: int) -> None:
    from medbalance.data._pixels import fit_into_square, fit_plane_into_square

    plane = np.random.default_rng(size).random(shape).astype(np.float32)
    expected, scale, resized, pad = fit_into_square(plane[None], size, anchor="top-left")
    array, new_scale, new_resized = fit_plane_into_square(plane, size)
    assert (new_scale, new_resized, pad) == (scale, resized, (0, 0))
    np.testing.assert_allclose(array, expected, rtol=0, atol=1e-6)  # float32 rounding only


@pytest.mark.parametrize("seed", range(6))
def test_disk_opening_and_dilation_match_distance_transforms(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = rng.integers(8, 70, 2)
    foreground = ndi.gaussian_filter(rng.random((height, width)), 1.0 + seed / 2) > 0.5
    for radius in (1, 3, 6, 12):
        inside = ndi.distance_transform_edt(np.pad(foreground, 1)) > radius
        expected = np.asarray(ndi.distance_transform_edt(~inside) <= radius)[1:-1, 1:-1]
        np.testing.assert_array_equal(orientation._open(foreground, radius), expected)
        if foreground.any():
            near = ndi.distance_transform_edt(~foreground) <= radius
            np.testing.assert_array_equal(orientation._dilate_disk(foreground, radius), near)


@pytest.mark.parametrize("seed", range(8))
def test_shared_histogram_thresholds_match_skimage(seed: int) -> None:
    from skimage.filters import threshold_otsu, threshold_triangle

    rng = np.random.default_rng(seed)
    grey = rng.random((60, 50)) ** (0.3 + seed / 2) * (1 + seed) - seed / 10
    assert orientation._triangle_and_otsu(grey) == (
        float(threshold_triangle(grey, nbins=orientation.TRIANGLE_BINS)),
        float(threshold_otsu(grey)),
    )
