"""``vindr-mammo`` adapter: VinDr-Mammo's breast-level annotations and DICOM tree.

Layout (PhysioNet release)::

    source/breast-level_annotations.csv   study_id, series_id, image_id, laterality,
                                          view_position, height, width,
                                          breast_birads, breast_density, split
    source/images/<study_id>/<image_id>.dicom
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from medbalance.data.adapters._common import (
    ADAPTERS,
    MALIGNANCY_CLASSES,
    check_unique,
    map_values,
    raise_if_missing_files,
    require_columns,
)
from medbalance.data.manifest import Manifest, read_csv_as_strings
from medbalance.errors import DataError
from medbalance.registry import look_up_option

__all__ = ["BIRADS_TO_MALIGNANCY", "DENSITY_CLASSES", "create_vindr_mammo_manifest"]

_ANNOTATIONS = "breast-level_annotations.csv"
_COLUMNS = ("study_id", "image_id", "laterality", "view_position", "breast_birads", "breast_density", "split")
#: BI-RADS 4-5 (suspicious, highly suggestive of malignancy) -> malignant; 1-3 -> not.
BIRADS_TO_MALIGNANCY: dict[str, str] = {
    f"BI-RADS {n}": MALIGNANCY_CLASSES[1] if n >= 4 else MALIGNANCY_CLASSES[0] for n in range(1, 6)
}
DENSITY_CLASSES: tuple[str, ...] = ("A", "B", "C", "D")
_SPLITS = {"training": "train", "train": "train", "test": "test"}


def _annotations(source: Path) -> Path:
    path = source if source.is_file() else source / _ANNOTATIONS
    if not path.is_file():
        raise DataError(f"{source}: no {_ANNOTATIONS}; point the vindr-mammo adapter at the release folder.")
    return path


@ADAPTERS.register("vindr-mammo", description="VinDr-Mammo breast-level annotations + DICOM tree")
def create_vindr_mammo_manifest(
    source: Path,
    *,
    task: Literal["malignancy", "density"] = "malignancy",
    dicom_dir: str = "images",
    domain: str = "vindr-mammo",
) -> Manifest:
    """Manifest of VinDr-Mammo, one row per image.

    Args:
        source: the release folder (or ``breast-level_annotations.csv`` itself).
        task: ``malignancy`` (BI-RADS 4-5 -> malignant, 1-3 -> non-malignant: a
            radiologist's suspicion, not biopsy truth) or ``density`` (A-D, ordinal).
        dicom_dir: folder, relative to the CSV's folder, holding ``<study_id>/<image_id>.dicom``.
        domain: the domain written in every row.

    Raises:
        DataError: missing columns, unknown BI-RADS / density / laterality /
            split values (all listed), duplicate image ids, or missing images.
    """
    csv = _annotations(Path(source))
    table = read_csv_as_strings(csv)
    require_columns(table, _COLUMNS, source=csv)
    root = csv.parent.resolve()
    look_up_option(task, ("malignancy", "density"), what="vindr-mammo task")
    check_unique(list(table["image_id"]), what="image id", source=csv)
    out = pd.DataFrame(
        {
            "image_id": table["image_id"],
            "path": [
                f"{dicom_dir}/{s}/{i}.dicom"
                for s, i in zip(table["study_id"], table["image_id"], strict=True)
            ],
            "patient_id": table["study_id"],
            "study_id": table["study_id"],
            "view": table["view_position"],
        }
    )
    out["laterality"] = map_values(
        list(table["laterality"]), {"L": "L", "R": "R"}, what="laterality", source=csv
    )
    out["breast_id"] = out["study_id"] + "_" + out["laterality"]
    out["split"] = map_values(list(table["split"]), _SPLITS, what="split", source=csv)
    out["domain"] = domain
    birads = map_values(list(table["breast_birads"]), BIRADS_TO_MALIGNANCY, what="breast_birads", source=csv)
    densities = {f"DENSITY {c}": c for c in DENSITY_CLASSES}
    density = map_values(list(table["breast_density"]), densities, what="breast_density", source=csv)
    out["label"] = birads if task == "malignancy" else density
    out["birads"] = table["breast_birads"].str.removeprefix("BI-RADS ")
    out["density"] = density
    for column in ("series_id", "height", "width"):
        if column in table.columns:
            out[column] = table[column]
    raise_if_missing_files(
        [root / p for p in out["path"]], source=csv, hint=f"Expected {dicom_dir}/<study_id>/<image_id>.dicom."
    )
    return Manifest(
        table=out,
        classes=MALIGNANCY_CLASSES if task == "malignancy" else DENSITY_CLASSES,
        root=root,
        positive_class=MALIGNANCY_CLASSES[1] if task == "malignancy" else None,
        task=task,
        ordinal=task == "density",
        source=f"vindr-mammo:{csv}",
    )
