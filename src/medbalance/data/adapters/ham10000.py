"""``ham10000`` adapter: HAM10000 dermoscopy metadata + JPEG folders.

Layout (Harvard Dataverse / Kaggle)::

    source/HAM10000_metadata.csv        lesion_id, image_id, dx, dx_type, age, sex,
                                        localization[, dataset]
    source/HAM10000_images_part_1/ISIC_0024306.jpg ...
    source/HAM10000_images_part_2/...

HAM10000 has no patient ids; several images show one lesion, so the lesion is
the grouping unit (``patient_id`` = ``lesion_id``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from medbalance.data.adapters._common import (
    ADAPTERS,
    check_unique,
    find_image,
    map_values,
    require_columns,
    shown,
)
from medbalance.data.manifest import Manifest, read_csv_as_strings
from medbalance.errors import DataError
from medbalance.registry import look_up_option

__all__ = ["DX_CLASSES", "MELANOMA_CLASSES", "create_ham10000_manifest"]

_METADATA = "HAM10000_metadata.csv"
_DEFAULT_DIRS = ("HAM10000_images_part_1", "HAM10000_images_part_2", "HAM10000_images", "images", ".")
#: The seven diagnoses, in the dataset's usual (alphabetical) order.
DX_CLASSES: tuple[str, ...] = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
MELANOMA_CLASSES: tuple[str, str] = ("other", "melanoma")


@ADAPTERS.register("ham10000", description="HAM10000 dermoscopy metadata + JPEG folders")
def create_ham10000_manifest(
    source: Path,
    *,
    task: Literal["melanoma", "dx"] = "melanoma",
    image_dirs: tuple[str, ...] = _DEFAULT_DIRS,
) -> Manifest:
    """Manifest of HAM10000, one row per image, grouped by lesion.

    Args:
        source: the folder with ``HAM10000_metadata.csv`` (or the CSV itself).
        task: ``melanoma`` (mel -> melanoma, the six others -> other) or ``dx``
            (the seven diagnoses).
        image_dirs: folders under ``source`` searched, in order, for ``<image_id>.jpg``.

    Raises:
        DataError: missing columns, unknown dx values, duplicate image ids, or
            images not found in any folder (all listed).
    """
    look_up_option(task, ("melanoma", "dx"), what="ham10000 task")
    source = Path(source)
    csv = source if source.is_file() else source / _METADATA
    if not csv.is_file():
        raise DataError(f"{source}: no {_METADATA}; point the ham10000 adapter at the folder holding it.")
    folder = csv.parent
    table = read_csv_as_strings(csv)
    require_columns(table, ("lesion_id", "image_id", "dx"), source=csv)
    check_unique(list(table["image_id"]), what="image id", source=csv)
    dx = map_values(list(table["dx"]), {d: d for d in DX_CLASSES}, what="dx", source=csv)
    folders = [folder / d for d in image_dirs]
    paths = [
        find_image(folders, image_id, (".jpg", ".jpeg", ".JPG", ".png")) for image_id in table["image_id"]
    ]
    missing = [i for i, p in zip(table["image_id"], paths, strict=True) if p is None]
    if missing:
        raise DataError(
            f"{csv}: {len(missing)} image(s) not found as <image_id>.jpg in {', '.join(image_dirs)}: "
            f"{shown(missing)}."
        )
    out = pd.DataFrame(
        {
            "image_id": table["image_id"],
            "path": [p.resolve().relative_to(folder.resolve()).as_posix() for p in paths if p is not None],
            "patient_id": table["lesion_id"],
            "lesion_id": table["lesion_id"],
            "dx": dx,
        }
    )
    out["label"] = [MELANOMA_CLASSES[d == "mel"] for d in dx] if task == "melanoma" else dx
    out["domain"] = table["dataset"] if "dataset" in table.columns else ""
    for column in ("dx_type", "age", "sex", "localization"):
        if column in table.columns:
            out[column] = table[column]
    return Manifest(
        table=out,
        classes=MELANOMA_CLASSES if task == "melanoma" else DX_CLASSES,
        root=folder.resolve(),
        positive_class=MELANOMA_CLASSES[1] if task == "melanoma" else None,
        task=task,
        source=f"ham10000:{csv}",
    )
