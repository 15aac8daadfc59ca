"""``medmnist`` adapter: a local MedMNIST ``.npz`` (train/val/test images and labels).

The arrays are written out as PNG files once (MedMNIST ships no files per
image). MedMNIST has no patient ids, so each image is its own patient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from medbalance.data.adapters._common import ADAPTERS
from medbalance.data.manifest import Manifest
from medbalance.errors import DataError

__all__ = ["MEDMNIST_SPLITS", "create_medmnist_manifest"]

MEDMNIST_SPLITS: tuple[str, ...] = ("train", "val", "test")


def _load(source: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        archive = np.load(source, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{source}: not a readable .npz archive ({exc}).") from exc
    with archive:
        wanted = [f"{s}_{kind}" for s in MEDMNIST_SPLITS for kind in ("images", "labels")]
        absent = [k for k in wanted if k not in archive.files]
        if absent:
            raise DataError(
                f"{source}: missing array(s) {absent}; a MedMNIST .npz has {wanted}, this one has {archive.files}."
            )
        data = {s: (archive[f"{s}_images"], archive[f"{s}_labels"]) for s in MEDMNIST_SPLITS}
    for split, (images, labels) in data.items():
        if labels.ndim == 2 and labels.shape[1] > 1:
            raise DataError(
                f"{source}: {split}_labels has shape {labels.shape}: {labels.shape[1]} labels per image "
                "(multi-label, e.g. ChestMNIST). medbalance trains single-label classifiers; "
                "build a CSV with one label per image and use the csv adapter."
            )
        if labels.reshape(len(labels), -1).shape[1] != 1 or len(labels) != len(images):
            raise DataError(
                f"{source}: {split} has {len(images)} images but labels of shape {labels.shape}; expected ({len(images)}, 1)."
            )
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
            raise DataError(
                f"{source}: {split}_images has shape {images.shape}; expected (N,H,W) or (N,H,W,3)."
            )
        if images.dtype != np.uint8:
            raise DataError(f"{source}: {split}_images has dtype {images.dtype}; MedMNIST images are uint8.")
    return data


@ADAPTERS.register("medmnist", description="a local MedMNIST .npz, extracted to PNG files")
def create_medmnist_manifest(
    source: Path,
    *,
    image_dir: Path,
    classes: tuple[str, ...] = (),
    positive_class: str | None = None,
) -> Manifest:
    """Manifest of a MedMNIST archive, keeping its official split.

    Args:
        source: the ``.npz`` file (e.g. ``breastmnist.npz``; the name becomes the task).
        image_dir: where the PNG files are written (``<split>/<split>_<index>.png``).
        classes: names for label 0, 1, ...; default ``"0"``, ``"1"``, ...
        positive_class: the finding of a binary task (default: the second class).

    Raises:
        DataError: missing arrays, multi-label or mismatched labels, label values
            that are negative, non-integer or beyond ``classes``.
    """
    source = Path(source)
    data = _load(source)
    values = np.concatenate([labels.reshape(-1) for _, labels in data.values()])
    if not np.issubdtype(values.dtype, np.integer) and not np.all(np.mod(values, 1) == 0):
        raise DataError(f"{source}: labels are not whole numbers (dtype {values.dtype}).")
    values = values.astype(np.int64)
    n_classes = len(classes) if classes else int(values.max()) + 1
    bad = sorted({int(v) for v in values if v < 0 or v >= n_classes})
    if bad:
        raise DataError(
            f"{source}: label value(s) {bad} are outside 0..{n_classes - 1}"
            f"{f' (classes {list(classes)})' if classes else ''}; declare one name per label value."
        )
    names = tuple(classes) or tuple(str(i) for i in range(n_classes))
    image_dir = Path(image_dir).resolve()
    rows = []
    for split, (images, labels) in data.items():
        (image_dir / split).mkdir(parents=True, exist_ok=True)
        for index, (pixels, label) in enumerate(zip(images, labels.reshape(-1), strict=True)):
            image_id = f"{split}_{index:05d}"
            relative = f"{split}/{image_id}.png"
            Image.fromarray(pixels.squeeze(-1) if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels).save(
                image_dir / relative
            )
            rows.append(
                {
                    "image_id": image_id,
                    "path": relative,
                    "label": names[int(label)],
                    "patient_id": image_id,
                    "split": split,
                }
            )
    return Manifest(
        table=pd.DataFrame(rows),
        classes=names,
        root=image_dir,
        positive_class=positive_class,
        task=source.stem,
        source=f"medmnist:{source}",
    )
