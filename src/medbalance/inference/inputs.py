"""What ``predict`` reads: folders, manifest CSVs and single image files, as one table.

Each row has ``image_id`` and ``path`` and, when a manifest CSV gave them, its
metadata (``patient_id``, ``breast_id``, ``label``, ``view``, ``laterality``,
...), all kept as strings. A folder is searched recursively for image files by
suffix; an empty folder is an error, since predicting nothing is never what a
user meant.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from medbalance.data.manifest import read_csv_as_strings
from medbalance.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "collect_inputs"]

IMAGE_SUFFIXES: tuple[str, ...] = (
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".bmp", ".dcm", ".dicom",
)  # fmt: skip


def _from_csv(path: Path) -> pd.DataFrame:
    table = read_csv_as_strings(path)
    if "path" not in table.columns:
        raise DataError(
            f"{path}: a manifest CSV needs a 'path' column (columns found: {list(table.columns)}); "
            "add it, or pass the image folder instead."
        )
    table = table.copy()
    table["path"] = [str(p if Path(p).is_absolute() else (path.parent / p)) for p in table["path"]]
    if "image_id" not in table.columns:
        table["image_id"] = [Path(p).stem for p in table["path"]]
    return table


def _from_folder(folder: Path) -> pd.DataFrame:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"{folder} holds no image files (looked recursively for {', '.join(IMAGE_SUFFIXES)}); "
            "pass a folder with images, a manifest CSV, or the files themselves."
        )
    ids = [p.relative_to(folder).with_suffix("").as_posix() for p in files]
    return pd.DataFrame({"image_id": ids, "path": [str(p) for p in files]})


def collect_inputs(inputs: Sequence[str | Path]) -> pd.DataFrame:
    """One table of every image named by ``inputs`` (folders, ``.csv`` manifests, files).

    Image ids are made unique by appending ``#2``, ``#3`` ... to repeats.

    Raises:
        FileNotFoundError: an input does not exist.
        DataError: no input, an empty folder, or a CSV without a ``path`` column.
    """
    if not inputs:
        raise DataError("no input given; pass image files, folders or a manifest CSV.")
    tables = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            tables.append(_from_folder(path))
        elif path.is_file() and path.suffix.lower() == ".csv":
            tables.append(_from_csv(path))
        elif path.is_file():
            tables.append(pd.DataFrame({"image_id": [path.stem], "path": [str(path)]}))
        else:
            raise FileNotFoundError(f"input {path} does not exist; check the path.")
    table = pd.concat(tables, ignore_index=True).fillna("").astype(str)
    counts: dict[str, int] = {}
    ids = []
    for image_id in table["image_id"]:
        counts[image_id] = counts.get(image_id, 0) + 1
        ids.append(image_id if counts[image_id] == 1 else f"{image_id}#{counts[image_id]}")
    table["image_id"] = ids
    first = ["image_id", "path"]
    return table[first + [c for c in table.columns if c not in first]]
