"""The manifest: one data model for every source, one row per image.

Every adapter produces a :class:`Manifest`; every later stage (validate, split,
preprocess, train, evaluate) consumes one. All columns are kept as strings:
``00123`` stays ``00123`` and "NA" stays "NA" (it is a label typo to report, not
a missing value). A missing optional value is the empty string.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from medbalance.contract import ID_COLUMNS
from medbalance.errors import DataError
from medbalance.io import atomic_write_text

__all__ = [
    "GROUP_COLUMNS",
    "ID_COLUMNS",
    "MISSING_LOOKING_LABELS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "STANDARD_COLUMNS",
    "Manifest",
    "load_manifest",
    "read_csv_as_strings",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("image_id", "path", "label", "patient_id")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "study_id",
    "breast_id",
    "lesion_id",
    "view",
    "laterality",
    "domain",
    "split",
    "pixel_spacing_mm",
)
STANDARD_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: Columns predictions can be aggregated to, finest last.
GROUP_COLUMNS: tuple[str, ...] = ("patient_id", "study_id", "breast_id", "lesion_id", "image_id")
SPLITS: tuple[str, ...] = ("train", "val", "test")
LATERALITIES: tuple[str, ...] = ("L", "R", "")
#: Label values that look like a missing value, compared after strip().lower().
MISSING_LOOKING_LABELS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "none", "null", "-", "?"})


def infer_classes(labels: Iterable[str]) -> list[str]:
    """Sorted distinct labels, leaving out missing-looking or space-padded ones.

    Those are left out of an inferred class list so validation reports them as
    unknown labels with their line numbers instead of training a class "NA".
    """
    return sorted(
        {lab for lab in labels if lab == lab.strip() and lab.strip().lower() not in MISSING_LOOKING_LABELS}
    )


def read_csv_as_strings(path: str | Path, **kwargs: object) -> pd.DataFrame:
    """Read a CSV with every cell as a string and nothing coerced to NaN.

    pandas by default turns "NA", "None" and "" into NaN and ``00123`` into 123;
    both lose information a medical data set depends on. A header without a comma
    but with a semicolon, tab or bar (a spreadsheet saved in a locale whose list
    separator is ";") is read with that delimiter.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file {path} does not exist; check the path.")
    if "sep" not in kwargs and "delimiter" not in kwargs:
        kwargs["sep"] = sniff_delimiter(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot be read as CSV ({exc}).") from exc


def sniff_delimiter(path: Path) -> str:
    """``,`` unless the header line has none and has ``;``, a tab or ``|`` instead."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return ","
    if "," in header:
        return ","
    return next((sep for sep in (";", "\t", "|") if sep in header), ",")


@dataclass(frozen=True)
class Manifest:
    """A table of images with a declared, ordered class list.

    Args:
        table: one row per image; the standard columns plus free metadata
            columns, all strings.
        classes: the class names in order; labels must be one of these.
        root: the folder relative paths are resolved against (the manifest
            file's folder once saved).
        positive_class: for a binary task, the finding of interest (the class
            whose recall is "sensitivity"); defaults to the second class.
        task: a short name of the task, e.g. ``malignancy`` or ``density``.
        ordinal: whether the classes are ordered grades (e.g. density A-D),
            which turns on quadratic kappa in evaluation.
        source: the adapter or file the manifest came from.
    """

    table: pd.DataFrame
    classes: tuple[str, ...]
    root: Path = field(default_factory=Path.cwd)
    positive_class: str | None = None
    task: str = ""
    ordinal: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.table.columns]
        if missing:
            raise DataError(
                f"manifest is missing required column(s) {', '.join(missing)}; "
                f"it has {', '.join(map(str, self.table.columns))}. "
                f"Required: {', '.join(REQUIRED_COLUMNS)}."
            )
        if len(self.classes) < 1 or len(set(self.classes)) != len(self.classes):
            raise DataError(f"class list must be non-empty and without repeats, got {self.classes}.")
        if self.positive_class is not None and self.positive_class not in self.classes:
            raise DataError(
                f"positive class {self.positive_class!r} is not in the class list {list(self.classes)}."
            )
        table = self.table.copy()
        for column in OPTIONAL_COLUMNS:
            if column not in table.columns:
                table[column] = ""
        table = table.fillna("").astype(str).reset_index(drop=True)
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "root", Path(self.root))

    # ---- basic views -------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    @property
    def is_binary(self) -> bool:
        """True for two-class tasks."""
        return len(self.classes) == 2

    @property
    def positive(self) -> str:
        """The positive class of a binary task (the second class unless declared)."""
        if not self.is_binary:
            raise DataError(f"task has {len(self.classes)} classes; 'positive class' needs 2.")
        return self.positive_class or self.classes[1]

    @property
    def positive_index(self) -> int:
        """Index of :attr:`positive` in :attr:`classes`."""
        return self.classes.index(self.positive)

    @property
    def metadata_columns(self) -> list[str]:
        """Columns beyond the standard ones."""
        return [c for c in self.table.columns if c not in STANDARD_COLUMNS]

    def resolve_path(self, path: str) -> Path:
        """An absolute path for a ``path`` cell (relative ones resolve against :attr:`root`)."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.root / candidate

    def paths(self) -> list[Path]:
        """Resolved image paths, in row order."""
        return [self.resolve_path(p) for p in self.table["path"]]

    def unknown_label_rows(self) -> list[int]:
        """Row indices (0-based) whose label is not in :attr:`classes`."""
        known = set(self.classes)
        return [i for i, lab in enumerate(self.table["label"]) if lab not in known]

    def label_indices(self) -> np.ndarray:
        """Integer labels (index into :attr:`classes`).

        Raises:
            DataError: some labels are not in the class list (row numbers given).
        """
        bad = self.unknown_label_rows()
        if bad:
            shown = ", ".join(f"line {i + 2} ({self.table['label'][i]!r})" for i in bad[:10])
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            raise DataError(
                f"{len(bad)} label(s) not in the class list {list(self.classes)}: {shown}{more}. "
                "Fix the labels or declare the classes with --classes."
            )
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[lab] for lab in self.table["label"]], dtype=np.int64)

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        """Images per class (every declared class, zero included), optionally in one split."""
        labels = (
            self.table["label"] if split is None else self.table.loc[self.table["split"] == split, "label"]
        )
        counts = labels.value_counts()
        return {c: int(counts.get(c, 0)) for c in self.classes}

    def group_ids(self, column: str = "patient_id") -> pd.Series:
        """Group ids for a column; empty cells fall back to the image id (a group of one)."""
        values = self.table[column]
        return values.where(values != "", "image:" + self.table["image_id"])

    # ---- derived manifests -------------------------------------------------
    def with_table(self, table: pd.DataFrame) -> Manifest:
        """The same manifest metadata around another table."""
        return replace(self, table=table)

    def subset(self, split: str | Iterable[str]) -> Manifest:
        """Rows whose ``split`` is ``split`` (or one of several)."""
        wanted = {split} if isinstance(split, str) else set(split)
        return self.with_table(self.table[self.table["split"].isin(wanted)].reset_index(drop=True))

    def with_root(self, root: Path, *, relative: bool = False) -> Manifest:
        """Rebase relative paths onto another folder, keeping each file where it is.

        Args:
            root: the new folder.
            relative: write every path relative to ``root`` (``../images/a.png``), not only
                those inside it; absolute only where no relative path exists (another drive).
        """
        root = Path(root).resolve()
        table = self.table.copy()
        table["path"] = [
            _relative_or_absolute(self.resolve_path(p).resolve(), root, anywhere=relative)
            for p in table["path"]
        ]
        return replace(self, table=table, root=root)

    # ---- persistence -------------------------------------------------------
    def save(self, path: str | Path, *, relative: bool = False) -> Path:
        """Write ``path`` (CSV) and its sidecar ``<stem>.meta.json`` atomically.

        Paths of images inside the CSV's folder are written relative to it, so the
        folder can be moved together with its images; with ``relative`` every path
        is (``../source/a.png``), which ``medbalance data`` uses: the manifest and
        its source then move together.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rebased = self.with_root(path.parent, relative=relative)
        columns = list(STANDARD_COLUMNS) + rebased.metadata_columns
        atomic_write_text(path, rebased.table[columns].to_csv(index=False))
        meta = {
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "task": self.task,
            "ordinal": self.ordinal,
            "source": self.source,
        }
        atomic_write_text(sidecar_path(path), json.dumps(meta, indent=2) + "\n")
        return path


def sidecar_path(path: Path) -> Path:
    """The metadata sidecar of a manifest CSV."""
    return path.with_name(path.stem + ".meta.json")


def _relative_or_absolute(path: Path, root: Path, *, anywhere: bool = False) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        pass
    if anywhere:
        try:
            return Path(os.path.relpath(path, root)).as_posix()
        except ValueError:  # another drive (Windows): no relative path exists
            pass
    return str(path)


def load_manifest(
    path: str | Path,
    *,
    classes: Sequence[str] | None = None,
    positive_class: str | None = None,
) -> Manifest:
    """Read a manifest CSV (and its ``.meta.json`` sidecar when present).

    Args:
        path: the CSV file.
        classes: the ordered class list; overrides the sidecar. Without either,
            the sorted distinct labels are used, except missing-looking
            ("NA", "None", ...) or space-padded ones, which stay unknown.
        positive_class: overrides the sidecar's positive class.

    Raises:
        FileNotFoundError: the CSV does not exist.
        DataError: a required column is missing or the sidecar is unreadable.
    """
    path = Path(path)
    table = read_csv_as_strings(path)
    meta: dict[str, object] = {}
    side = sidecar_path(path)
    if side.is_file():
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{side}: not valid JSON ({exc}); delete it or fix it.") from exc
        # found by fuzzing: a sidecar holding a number or a list crashed with AttributeError
        if not isinstance(meta, dict) or not isinstance(meta.get("classes") or [], list):
            raise DataError(
                f"{side}: must hold a JSON object with a 'classes' list (written by `medbalance data`); "
                "delete it or fix it."
            )
    chosen: list[str] = [str(c) for c in (classes or meta.get("classes") or [])]  # type: ignore[attr-defined]
    if not chosen and "label" in table.columns:
        chosen = infer_classes(table["label"])
    return Manifest(
        table=table,
        classes=tuple(chosen),
        root=path.parent.resolve(),
        positive_class=positive_class or meta.get("positive_class") or None,  # type: ignore[arg-type]
        task=str(meta.get("task", "")),
        ordinal=bool(meta.get("ordinal", False)),
        source=str(meta.get("source", path.name)),
    )
