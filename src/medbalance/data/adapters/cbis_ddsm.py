"""``cbis-ddsm`` adapter: CBIS-DDSM case-description CSVs and the TCIA DICOM tree.

The four published CSVs (``mass_case_description_train_set.csv``,
``mass_case_description_test_set.csv``, ``calc_case_description_train_set.csv``,
``calc_case_description_test_set.csv``) hold one row per ABNORMALITY; the
manifest has one row per FILM. A film (patient, side, view) is malignant if any
of its abnormalities is. Mass and calcification rows of the same film are
merged, so one film never appears twice.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

import pandas as pd

from medbalance.data.adapters._common import (
    ADAPTERS,
    MALIGNANCY_CLASSES,
    map_values,
    require_columns,
    shown,
)
from medbalance.data.manifest import Manifest, read_csv_as_strings
from medbalance.errors import DataError
from medbalance.registry import look_up_option

__all__ = ["PATHOLOGY_TO_MALIGNANCY", "create_cbis_ddsm_manifest"]

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(mass|calc)_case_description_(train|test)_set\.csv$", re.IGNORECASE)
PATHOLOGY_TO_MALIGNANCY: dict[str, str] = {
    "MALIGNANT": MALIGNANCY_CLASSES[1],
    "BENIGN": MALIGNANCY_CLASSES[0],
    "BENIGN_WITHOUT_CALLBACK": MALIGNANCY_CLASSES[0],
}
_DENSITY_CLASSES = ("1", "2", "3", "4")
# Column names after normalisation: mass files say "breast_density", calc files "breast density".
_COLUMNS = (
    "patient id",
    "breast density",
    "left or right breast",
    "image view",
    "abnormality id",
    "pathology",
    "image file path",
)


def _read_description(path: Path) -> pd.DataFrame:
    table = read_csv_as_strings(path)
    table.columns = [re.sub(r"[\s_]+", " ", str(c).strip().lower()) for c in table.columns]
    require_columns(table, _COLUMNS, source=path)
    kind, split = _FILE.match(path.name).groups()  # type: ignore[union-attr]
    table["abnormality kind"] = kind.lower()
    table["split"] = split.lower()
    table["csv"] = path.name
    table["line"] = [f"{path.name}:{i + 2}" for i in range(len(table))]
    return table


def _resolve(roots: list[Path], given: str) -> Path | None:
    """The DICOM a CSV path points to, also in NBIA downloads whose UID folders differ."""
    relative = given.strip().replace("\\", "/")
    for root in roots:
        if (root / relative).is_file():
            return root / relative
    folder = relative.split("/")[0]
    for root in roots:
        if (root / folder).is_dir():
            files = sorted((root / folder).rglob("*.dcm"))
            if len(files) == 1:
                return files[0]
            if len(files) > 1:
                raise DataError(
                    f"{root / folder}: {len(files)} DICOM files, expected the one full mammogram; "
                    f"cannot tell which one {given!r} means."
                )
    return None


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


@ADAPTERS.register("cbis-ddsm", description="CBIS-DDSM case-description CSVs + DICOM tree")
def create_cbis_ddsm_manifest(
    source: Path,
    *,
    task: Literal["malignancy", "density"] = "malignancy",
    abnormality: Literal["both", "mass", "calc"] = "both",
    domain: str = "cbis-ddsm",
) -> Manifest:
    """Manifest of CBIS-DDSM, one row per film.

    Args:
        source: the folder with the case-description CSVs and the ``CBIS-DDSM``
            image folder (or the images directly under it).
        task: ``malignancy`` (any MALIGNANT abnormality -> malignant; BENIGN and
            BENIGN_WITHOUT_CALLBACK -> non-malignant) or ``density`` (BI-RADS
            breast density 1-4, ordinal).
        abnormality: read the mass CSVs, the calcification CSVs, or both.
        domain: the domain written in every row.

    Raises:
        DataError: no CSVs, missing columns, unknown pathology or density values,
            or image files that cannot be found (all listed).
    """
    look_up_option(task, ("malignancy", "density"), what="cbis-ddsm task")
    look_up_option(abnormality, ("both", "mass", "calc"), what="cbis-ddsm abnormality")
    source = Path(source)
    folder = source if source.is_dir() else source.parent
    csvs = sorted(p for p in folder.iterdir() if _FILE.match(p.name))
    csvs = [p for p in csvs if abnormality == "both" or p.name.lower().startswith(abnormality)]
    if not csvs:
        raise DataError(
            f"{folder}: no CBIS-DDSM case-description CSVs ({abnormality}); expected files like "
            "mass_case_description_train_set.csv and calc_case_description_test_set.csv."
        )
    rows = pd.concat([_read_description(p) for p in csvs], ignore_index=True)
    rows["malignancy"] = map_values(
        list(rows["pathology"].str.strip()),
        PATHOLOGY_TO_MALIGNANCY,
        what="pathology",
        source=folder,
        lines=list(rows["line"]),
    )
    densities = {c: c for c in _DENSITY_CLASSES}
    map_values(
        list(rows["breast density"]),
        densities,
        what="breast density",
        source=folder,
        lines=list(rows["line"]),
    )
    laterality = {"LEFT": "L", "RIGHT": "R"}
    rows["side"] = map_values(
        list(rows["left or right breast"].str.strip().str.upper()),
        laterality,
        what="left or right breast",
        source=folder,
        lines=list(rows["line"]),
    )
    rows["film"] = (
        rows["patient id"] + "_" + rows["left or right breast"].str.upper() + "_" + rows["image view"]
    )
    roots = [folder / "CBIS-DDSM", folder]
    films, missing = [], []
    for film, group in rows.groupby("film", sort=True):
        paths = [_resolve(roots, given) for given in dict.fromkeys(group["image file path"])]
        found = [p for p in paths if p is not None]
        if not found:
            missing.append(f"{film} ({group['image file path'].iloc[0].strip()})")
            continue
        splits = sorted(set(group["split"]))
        if len(splits) > 1:
            log.warning("%s: film %s is in both the train and test CSVs; it is put in test.", folder, film)
        density = sorted(set(group["breast density"]))
        if len(density) > 1:
            log.warning("%s: film %s has breast density %s; the highest is used.", folder, film, density)
        malignant = (group["malignancy"] == MALIGNANCY_CLASSES[1]).any()
        films.append(
            {
                "image_id": film,
                "path": _relative(found[0], folder),
                "patient_id": group["patient id"].iloc[0],
                "breast_id": f"{group['patient id'].iloc[0]}_{group['side'].iloc[0]}",
                "view": group["image view"].iloc[0],
                "laterality": group["side"].iloc[0],
                "split": "test" if "test" in splits else "train",
                "malignancy": MALIGNANCY_CLASSES[1] if malignant else MALIGNANCY_CLASSES[0],
                "breast_density": density[-1],
                "abnormality_type": ";".join(group["abnormality kind"]),
                "pathology": ";".join(group["pathology"].str.strip()),
                "abnormality_count": str(len(group)),
                "source_csv": ";".join(dict.fromkeys(group["csv"])),
            }
        )
    if missing:
        raise DataError(
            f"{folder}: {len(missing)} film(s) have no DICOM file under {roots[0]} or {roots[1]}: "
            f"{shown(missing)}. Download the full mammograms from TCIA into {roots[0]}."
        )
    table = pd.DataFrame(films)
    table["label"] = table["malignancy"] if task == "malignancy" else table["breast_density"]
    table["domain"] = domain
    return Manifest(
        table=table,
        classes=MALIGNANCY_CLASSES if task == "malignancy" else _DENSITY_CLASSES,
        root=folder.resolve(),
        positive_class=MALIGNANCY_CLASSES[1] if task == "malignancy" else None,
        task=task,
        ordinal=task == "density",
        source=f"cbis-ddsm:{folder}",
    )
