"""Helpers shared by the dataset adapters: the registry, label mapping, checks.

Every adapter maps a published layout to a :class:`Manifest` and must never
drop a row silently: unknown labels, missing columns, duplicate ids and
missing files all raise :class:`DataError` listing every offender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from medbalance.data.manifest import Manifest
from medbalance.errors import DataError
from medbalance.registry import Registry

__all__ = [
    "ADAPTERS",
    "IMAGE_EXTENSIONS",
    "MALIGNANCY_CLASSES",
    "check_unique",
    "find_image",
    "list_missing_files",
    "map_values",
    "normalise_laterality",
    "raise_if_missing_files",
    "require_columns",
    "shown",
]

#: Adapter name -> ``function(source, *, options) -> Manifest``.
ADAPTERS: Registry[Callable[..., Manifest]] = Registry("dataset adapter")

#: File extensions (lower case, with the dot) recognised as images.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".pgm",
    ".ppm",
    ".dcm",
    ".dicom",
    ".bmp",
)

#: Classes of every mammography ``malignancy`` task, shared so that a model
#: trained on one data set can be tested on another.
MALIGNANCY_CLASSES: tuple[str, str] = ("non-malignant", "malignant")

_MAX_SHOWN = 10
_LATERALITY = {"L": "L", "LEFT": "L", "R": "R", "RIGHT": "R"}


def shown(items: Sequence[object], limit: int = _MAX_SHOWN) -> str:
    """``a, b, c and 7 more``: a readable, bounded list for error messages."""
    head = ", ".join(str(i) for i in items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def require_columns(table: pd.DataFrame, columns: Iterable[str], *, source: object, hint: str = "") -> None:
    """Raise naming every column of ``columns`` that ``table`` lacks.

    Raises:
        DataError: with the missing columns, the columns present and ``hint``.
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, map(str, table.columns)))}.{(' ' + hint) if hint else ''}"
        )


def map_values(
    values: Sequence[str],
    mapping: Mapping[str, str],
    *,
    what: str,
    source: object,
    lines: Sequence[object] | None = None,
) -> list[str]:
    """Map every value through ``mapping``; list every unmapped value with its rows.

    Args:
        values: the raw cells.
        mapping: raw value -> output value.
        what: a noun for the message ("pathology", "BI-RADS").
        source: the file named in the message.
        lines: a row label per value (default: CSV line numbers, header = 1).

    Raises:
        DataError: naming each unmapped value, where it occurs, and the accepted values.
    """
    where = list(lines) if lines is not None else [i + 2 for i in range(len(values))]
    unmapped: dict[str, list[object]] = {}
    for value, line in zip(values, where, strict=True):
        if value not in mapping:
            unmapped.setdefault(value, []).append(line)
    if unmapped:
        parts = [f"{value!r} (lines {shown(rows, 5)})" for value, rows in unmapped.items()]
        raise DataError(
            f"{source}: {sum(map(len, unmapped.values()))} row(s) have an unknown {what}: "
            f"{'; '.join(parts)}. Accepted values: {', '.join(map(repr, mapping))}. "
            "Fix the file; medbalance never drops rows with unknown labels."
        )
    return [mapping[v] for v in values]


def check_unique(values: Sequence[str], *, what: str, source: object) -> None:
    """Raise listing every repeated value.

    Raises:
        DataError: when a value occurs more than once.
    """
    counts = pd.Series(list(values), dtype=str).value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        items = [f"{v!r} x{n}" for v, n in repeated.items()]
        raise DataError(
            f"{source}: {len(repeated)} duplicate {what}(s): {shown(items)}. Each image must appear once; "
            "remove the repeated rows or choose another id column."
        )


def normalise_laterality(value: str) -> str:
    """``L``/``R`` for the usual spellings (L, LEFT, R, RIGHT, any case), else ``""``."""
    return _LATERALITY.get(value.strip().upper(), "")


def list_missing_files(paths: Iterable[Path]) -> list[Path]:
    """The paths that are not existing files."""
    return [p for p in paths if not p.is_file()]


def raise_if_missing_files(paths: Iterable[Path], *, source: object, hint: str = "") -> None:
    """Raise one error listing every missing file (never just the first).

    Raises:
        DataError: naming the missing files and how many.
    """
    missing = list_missing_files(paths)
    if missing:
        raise DataError(
            f"{source}: {len(missing)} image file(s) listed but not found: {shown(missing)}."
            f"{(' ' + hint) if hint else ''}"
        )


def find_image(folders: Sequence[Path], stem: str, extensions: Sequence[str]) -> Path | None:
    """The first ``folder/stem<ext>`` that exists, trying folders then extensions in order."""
    for folder in folders:
        for ext in extensions:
            candidate = folder / f"{stem}{ext}"
            if candidate.is_file():
                return candidate
    return None
