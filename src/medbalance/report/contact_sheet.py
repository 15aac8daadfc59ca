"""A grid of images with titles, written as one PNG: the quickest visual check of a pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medbalance.io import atomic_save

if TYPE_CHECKING:
    from medbalance.data.manifest import Manifest
    from medbalance.data.preprocess import PreprocessConfig

__all__ = ["make_contact_sheet", "select_preview_rows", "write_preprocessing_preview"]


def _as_displayable(image: np.ndarray, index: int) -> np.ndarray:
    """(H, W) grey or (H, W, 3) RGB float in [0, 1] from (H, W), (C, H, W) or (H, W, C)."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3) or array.size == 0:
        raise ValueError(
            f"image {index}: expected (H, W), (1|3, H, W) or (H, W, 1|3), got shape {np.shape(image)}."
        )
    array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:  # not already in [0, 1]: stretch for display only
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array


def make_contact_sheet(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None,
    path: str | Path,
    *,
    columns: int = 4,
    tile_inches: float = 2.5,
    suptitle: str | None = None,
    dpi: int = 100,
) -> Path:
    """Write a grid of images (grey or RGB) with a title over each, as a PNG.

    Images in [0, 1] are shown as they are (0 black, 1 white), so the
    background zeroed by preprocessing stays black; other ranges are stretched
    for display.

    Args:
        images: (H, W), (C, H, W) or (H, W, C) arrays, C in {1, 3}.
        titles: one per image, or None for none.
        path: the PNG to write (atomically; folders are created).
        columns: images per row.
        tile_inches: width and height of one tile.
        suptitle: a title over the whole sheet.
        dpi: resolution of the PNG.

    Returns:
        The path written.

    Raises:
        ValueError: no images, a titles/images count mismatch, a bad shape or columns < 1.
    """
    if len(images) == 0:
        raise ValueError("no images to put on the contact sheet; pass at least one.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images; pass one per image or None.")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}.")
    tiles = [_as_displayable(image, index) for index, image in enumerate(images)]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(columns * tile_inches, rows * tile_inches + (0.4 if suptitle else 0.0)),
        squeeze=False,
    )
    try:
        for axis in axes.ravel():
            axis.axis("off")
        for index, tile in enumerate(tiles):
            axis = axes.ravel()[index]
            axis.imshow(tile, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
        if suptitle:
            figure.suptitle(suptitle, fontsize=10)
        figure.tight_layout()
        out = Path(path)
        atomic_save(out, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi, facecolor="white"))
    finally:
        plt.close(figure)
    return out


def select_preview_rows(manifest: Manifest, n: int, *, seed: int | None = None) -> list[int]:
    """Row positions of ``n`` images, taken in turn from each class so every class shows.

    Without ``seed`` each class contributes its first rows in manifest order;
    with a seed the rows within each class are shuffled first.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    rng = np.random.default_rng(seed) if seed is not None else None
    labels = manifest.table["label"].tolist()
    order = list(manifest.classes) + sorted({lab for lab in labels if lab not in manifest.classes})
    queues = []
    for name in order:
        rows = [i for i, lab in enumerate(labels) if lab == name]
        if rng is not None:
            rows = [rows[i] for i in rng.permutation(len(rows))]
        queues.append(rows)
    chosen: list[int] = []
    while len(chosen) < min(n, len(labels)):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return sorted(chosen)


def write_preprocessing_preview(
    manifest: Manifest,
    path: str | Path,
    config: PreprocessConfig,
    *,
    n: int = 12,
    seed: int | None = None,
    columns: int = 4,
) -> Path:
    """Preprocess ``n`` images of a manifest and show each original beside its result.

    Args:
        manifest: the images (any split).
        path: the PNG to write.
        config: the preprocessing to preview.
        n: how many images (classes mixed, see :func:`select_preview_rows`).
        seed: None for the first rows of each class, else a seeded sample.
        columns: original/preprocessed pairs per row.

    Returns:
        The PNG path.

    Raises:
        ImageReadError: an image cannot be read.
    """
    from medbalance.data.preprocess import preprocess_with_info
    from medbalance.data.readers import read_image

    paths = manifest.paths()
    images: list[np.ndarray] = []
    titles: list[str] = []
    for row in select_preview_rows(manifest, n, seed=seed):
        record = manifest.table.iloc[row]
        image = read_image(paths[row])
        array, info = preprocess_with_info(image, config)
        original = image.to_float()
        step = max(1, max(original.shape[:2]) // max(config.size, 256))
        images += [original[::step, ::step], array]
        wall = f", wall was {info.chest_wall}" if info.chest_wall else ""
        titles += [
            f"{record['image_id']} ({record['label']}) original",
            f"{'flipped' if info.flipped else 'kept'}{wall}, {config.size}px",
        ]
    suptitle = f"{config.kind} preprocessing: original | preprocessed (chest wall should be on the left)"
    return make_contact_sheet(images, titles, path, columns=2 * columns, suptitle=suptitle)
