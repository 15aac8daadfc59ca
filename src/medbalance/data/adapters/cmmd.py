"""``cmmd`` adapter: the Chinese Mammography Database (TCIA) clinical table + DICOM tree.

Layout (NBIA download)::

    source/CMMD_clinicaldata_revision.csv (or .xlsx)   ID1, LeftRight, Age, number,
                                                        abnormality, classification, subtype
    source/CMMD/<ID1>/<study>/<series>/1-1.dcm ...

The clinical table has one row per breast with a lesion (ID1 + LeftRight); every
DICOM file is matched to its row by the PatientID and ImageLaterality in its
header (read without pixels), falling back to the ``<ID1>`` folder name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

from medbalance.data.adapters._common import (
    ADAPTERS,
    MALIGNANCY_CLASSES,
    check_unique,
    map_values,
    normalise_laterality,
    require_columns,
    shown,
)
from medbalance.data.manifest import Manifest, read_csv_as_strings
from medbalance.errors import DataError

__all__ = ["DicomHeader", "create_cmmd_manifest", "read_dicom_header"]

_CLINICAL_NAMES = ("CMMD_clinicaldata_revision.csv", "CMMD_clinicaldata_revision.xlsx")
_COLUMNS = ("ID1", "LeftRight", "classification")
_CLASSIFICATION = {"Benign": MALIGNANCY_CLASSES[0], "Malignant": MALIGNANCY_CLASSES[1]}
_VIEWS = {"cranio-caudal": "CC", "medio-lateral oblique": "MLO"}


@dataclass(frozen=True)
class DicomHeader:
    """The few header fields an adapter needs, read without the pixel data."""

    patient_id: str
    laterality: str
    view: str
    study_id: str


def read_dicom_header(path: Path) -> DicomHeader:
    """Patient, laterality (L/R/""), view (CC/MLO/...) and study UID of a DICOM file.

    Laterality comes from ImageLaterality, else Laterality; view from
    ViewPosition, else the ViewCodeSequence meaning.

    Raises:
        DataError: the file is not DICOM.
    """
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError) as exc:
        raise DataError(f"{path}: not a readable DICOM file ({exc}).") from exc
    laterality = normalise_laterality(str(ds.get("ImageLaterality", "") or ds.get("Laterality", "") or ""))
    view = str(ds.get("ViewPosition", "") or "")
    if not view and "ViewCodeSequence" in ds and len(ds.ViewCodeSequence):
        meaning = str(ds.ViewCodeSequence[0].get("CodeMeaning", "")).lower()
        view = _VIEWS.get(meaning, meaning)
    return DicomHeader(str(ds.get("PatientID", "")), laterality, view, str(ds.get("StudyInstanceUID", "")))


def _read_clinical(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        return read_csv_as_strings(path)
    try:
        table = pd.read_excel(path, engine="openpyxl", dtype=str, keep_default_na=False, na_filter=False)
    except ImportError as exc:
        raise DataError(
            f"{path}: reading .xlsx needs the openpyxl package; install it (pip install openpyxl) "
            "or save the sheet as CSV and pass clinical=<file>.csv."
        ) from exc
    except (ValueError, OSError, KeyError) as exc:
        raise DataError(f"{path}: cannot be read as an Excel sheet ({exc}); save it as CSV.") from exc
    return table.astype(str)


def _clinical_file(source: Path, clinical: Path | None) -> Path:
    if clinical is not None:
        path = clinical if clinical.is_absolute() else source / clinical
        if not path.is_file():
            raise DataError(f"clinical table {path} does not exist.")
        return path
    for name in _CLINICAL_NAMES:
        if (source / name).is_file():
            return source / name
    raise DataError(f"{source}: no {' or '.join(_CLINICAL_NAMES)}; pass clinical=<file>.")


@ADAPTERS.register("cmmd", description="Chinese Mammography Database: clinical table + DICOM tree")
def create_cmmd_manifest(
    source: Path,
    *,
    clinical: Path | None = None,
    dicom_dir: str = "CMMD",
    domain: str = "cmmd",
) -> Manifest:
    """Manifest of CMMD, one row per DICOM image, labelled benign/malignant by biopsy.

    Args:
        source: the download folder.
        clinical: the clinical table (CSV, or XLSX with openpyxl installed);
            default: ``CMMD_clinicaldata_revision.csv|.xlsx`` in ``source``.
        dicom_dir: folder under ``source`` with the DICOM tree.
        domain: the domain written in every row.

    Raises:
        DataError: missing columns, unknown classification or laterality values,
            no DICOM files, or images whose patient and side have no clinical row.
    """
    source = Path(source)
    table_path = _clinical_file(source, clinical)
    table = _read_clinical(table_path)
    require_columns(table, _COLUMNS, source=table_path)
    table["LeftRight"] = map_values(
        [v.strip().upper() for v in table["LeftRight"]],
        {"L": "L", "R": "R"},
        what="LeftRight",
        source=table_path,
    )
    table["label"] = map_values(
        [v.strip() for v in table["classification"]],
        _CLASSIFICATION,
        what="classification",
        source=table_path,
    )
    table["breast_id"] = table["ID1"] + "_" + table["LeftRight"]
    check_unique(list(table["breast_id"]), what="ID1 + LeftRight row", source=table_path)
    rows_by_breast = table.set_index("breast_id")
    images = source / dicom_dir
    files = sorted(images.rglob("*.dcm")) if images.is_dir() else []
    if not files:
        raise DataError(
            f"{images}: no .dcm files; point the cmmd adapter at the folder holding {dicom_dir}/."
        )
    known = set(table["ID1"])
    records, unmatched = [], []
    for path in files:
        header = read_dicom_header(path)
        relative = path.relative_to(source)
        patient = header.patient_id if header.patient_id in known else relative.parts[1]
        sides = list(table.loc[table["ID1"] == patient, "LeftRight"])
        side = header.laterality or (sides[0] if len(sides) == 1 else "")
        breast = f"{patient}_{side}"
        if breast not in rows_by_breast.index:
            unmatched.append(f"{relative.as_posix()} (patient {patient!r}, side {side or '?'})")
            continue
        clinical_row = rows_by_breast.loc[breast]
        record = {
            "image_id": relative.with_suffix("").as_posix(),
            "path": relative.as_posix(),
            "label": clinical_row["label"],
            "patient_id": patient,
            "study_id": header.study_id,
            "breast_id": breast,
            "view": header.view,
            "laterality": side,
            "domain": domain,
        }
        for column in ("Age", "abnormality", "classification", "subtype"):
            if column in table.columns:
                record[column.lower()] = clinical_row[column]
        records.append(record)
    if unmatched:
        raise DataError(
            f"{images}: {len(unmatched)} DICOM file(s) match no (ID1, LeftRight) row of {table_path.name}: "
            f"{shown(unmatched)}. Check the clinical table or remove the files; none is dropped silently."
        )
    return Manifest(
        table=pd.DataFrame(records),
        classes=MALIGNANCY_CLASSES,
        root=source.resolve(),
        positive_class=MALIGNANCY_CLASSES[1],
        task="malignancy",
        source=f"cmmd:{source}",
    )
