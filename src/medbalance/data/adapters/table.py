"""``csv`` adapter: a user CSV with one row per image and mapped column names."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from medbalance.data.adapters._common import (
    ADAPTERS,
    check_unique,
    map_values,
    require_columns,
    shown,
)
from medbalance.data.manifest import MISSING_LOOKING_LABELS, STANDARD_COLUMNS, Manifest, read_csv_as_strings
from medbalance.errors import ConfigError, DataError

__all__ = ["SPLIT_SPELLINGS", "check_labels", "create_csv_manifest"]

log = logging.getLogger(__name__)

#: Accepted split spellings -> the manifest's split names ("" = not assigned).
SPLIT_SPELLINGS: dict[str, str] = {
    "": "",
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
_LATERALITY_SPELLINGS = {"": "", "L": "L", "R": "R", "LEFT": "L", "RIGHT": "R"}


def check_labels(labels: pd.Series, classes: tuple[str, ...], *, source: object) -> tuple[str, ...]:
    """Validate labels against the declared classes, or derive the class list.

    Without declared classes the sorted distinct labels become the classes, but
    blank or missing-looking labels ("NA", "None", ...) and labels that differ
    only by spaces or case are refused: they are almost always typos.

    Raises:
        DataError: listing every offending label with its CSV line numbers.
    """
    if classes:
        map_values(list(labels), {c: c for c in classes}, what="label", source=source)
        return classes
    lines = pd.Series(range(2, len(labels) + 2), index=labels.index)
    suspicious = labels[labels.str.strip().str.lower().isin(MISSING_LOOKING_LABELS)]
    if len(suspicious):
        items = [f"line {lines[i]} ({v!r})" for i, v in suspicious.items()]
        raise DataError(
            f"{source}: {len(suspicious)} blank or missing-looking label(s): {shown(items)}. "
            "Fix those rows, or declare the classes (--classes) if such a value is a real class."
        )
    distinct = sorted(set(labels))
    normalised: dict[str, list[str]] = {}
    for label in distinct:
        normalised.setdefault(label.strip().lower(), []).append(label)
    clashes = [group for group in normalised.values() if len(group) > 1]
    if clashes:
        raise DataError(
            f"{source}: labels differ only by spaces or case: {shown([repr(g) for g in clashes])}. "
            "Make them identical, or declare the classes (--classes) to see the offending rows."
        )
    return tuple(distinct)


def _optional(table: pd.DataFrame, column: str, default: str, *, source: Path) -> pd.Series | None:
    """The mapped column, None when the default-named column is absent, error when a named one is."""
    if column in table.columns:
        return table[column]
    if column != default:
        require_columns(table, [column], source=source, hint="Check the column mapping option.")
    return None


@ADAPTERS.register("csv", description="a user CSV with one row per image (column names mappable)")
def create_csv_manifest(
    source: Path,
    *,
    path_col: str = "path",
    label_col: str = "label",
    patient_col: str = "patient_id",
    image_id_col: str = "image_id",
    study_col: str = "study_id",
    breast_col: str = "breast_id",
    lesion_col: str = "lesion_id",
    view_col: str = "view",
    laterality_col: str = "laterality",
    domain_col: str = "domain",
    split_col: str = "split",
    spacing_col: str = "pixel_spacing_mm",
    classes: tuple[str, ...] = (),
    positive_class: str | None = None,
    keep_columns: tuple[str, ...] = (),
    task: str = "classification",
) -> Manifest:
    """Manifest of a CSV file; paths resolve relative to the CSV's folder.

    Every cell is read as a string (``00123`` stays ``00123``, ``NA`` stays
    ``NA``). Optional columns left at their default names may be absent; a
    column named explicitly must exist.

    Args:
        source: the CSV file.
        path_col, label_col: columns with the image path and the class label (required).
        patient_col: patient ids; when absent each image is its own patient (a
            warning is logged, since patient-grouped splits are then impossible).
        image_id_col: image ids; when absent the path is the id.
        study_col, breast_col, lesion_col, view_col, laterality_col, domain_col,
            split_col, spacing_col: the other standard columns.
        classes: the ordered class list; default: the sorted distinct labels.
        positive_class: the finding of a binary task (default: the second class).
        keep_columns: extra columns copied as metadata.
        task: the task name stored in the manifest.

    Raises:
        DataError: missing columns, unknown or blank labels, duplicate image
            ids, unknown laterality or split values (all offenders listed).
        ConfigError: ``keep_columns`` names a standard column.
    """
    source = Path(source)
    table = read_csv_as_strings(source)
    require_columns(table, [path_col, label_col], source=source, hint="Map them with --path-col/--label-col.")
    if not len(table):
        raise DataError(f"{source}: the CSV has a header but no rows.")
    require_columns(table, keep_columns, source=source, hint="Check keep_columns.")
    clashing = [c for c in keep_columns if c in STANDARD_COLUMNS]
    if clashing:
        raise ConfigError(f"keep_columns {clashing} are standard manifest columns; map them with --*-col.")
    out = pd.DataFrame({"path": table[path_col], "label": table[label_col]})
    empty_paths = [i + 2 for i, p in enumerate(out["path"]) if not p.strip()]
    if empty_paths:
        raise DataError(f"{source}: empty path in {len(empty_paths)} row(s), lines {shown(empty_paths)}.")
    ids = _optional(table, image_id_col, "image_id", source=source)
    out["image_id"] = ids if ids is not None else out["path"]
    check_unique(list(out["image_id"]), what="image id", source=source)
    patients = _optional(table, patient_col, "patient_id", source=source)
    if patients is None:
        log.warning("%s: no %r column; every image is treated as its own patient.", source, patient_col)
    out["patient_id"] = patients if patients is not None else out["image_id"]
    for column, name, default in (
        ("study_id", study_col, "study_id"),
        ("breast_id", breast_col, "breast_id"),
        ("lesion_id", lesion_col, "lesion_id"),
        ("view", view_col, "view"),
        ("domain", domain_col, "domain"),
        ("pixel_spacing_mm", spacing_col, "pixel_spacing_mm"),
    ):
        values = _optional(table, name, default, source=source)
        out[column] = values if values is not None else ""
    laterality = _optional(table, laterality_col, "laterality", source=source)
    if laterality is not None:
        upper = [v.strip().upper() for v in laterality]
        out["laterality"] = map_values(upper, _LATERALITY_SPELLINGS, what="laterality", source=source)
    split = _optional(table, split_col, "split", source=source)
    if split is not None:
        lower = [v.strip().lower() for v in split]
        out["split"] = map_values(lower, SPLIT_SPELLINGS, what="split", source=source)
    for column in keep_columns:
        out[column] = table[column]
    declared = check_labels(out["label"], tuple(classes), source=source)
    return Manifest(
        table=out,
        classes=declared,
        root=source.parent.resolve(),
        positive_class=positive_class,
        task=task,
        source=f"csv:{source}",
    )
