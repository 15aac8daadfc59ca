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
