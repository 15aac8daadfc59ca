"""Pre-flight validation: every problem with a data set, all at once.

``validate_manifest`` never stops at the first problem. It collects missing
files, unreadable or truncated images, unknown labels (with CSV line numbers),
single-class data, classes too small for the folds, duplicate ids and files,
leaking patients, conflicting labels and constant images into one
:class:`ValidationReport`, readable as a table and as JSON. ``report.ok`` is
False when training would be unsafe.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from medbalance.data.manifest import LATERALITIES, SPLITS, Manifest
from medbalance.data.splits import GroupBy, check_leakage
from medbalance.errors import DataError
from medbalance.io import atomic_write_text, file_sha256

__all__ = ["Problem", "ValidationReport", "check_label_spelling", "validate_manifest"]

Severity = Literal["error", "warning"]
#: Below this many positive groups a 95% CI of sensitivity is wider than about +-0.2.
SMALL_CLASS_WARNING = 20


@dataclass(frozen=True)
class Problem:
    """One finding of the validation, with the rows and files it concerns."""

    severity: Severity
    code: str
    message: str
    fix: str
    rows: tuple[int, ...] = ()
    paths: tuple[str, ...] = ()

    @property
    def lines(self) -> list[int]:
        """CSV line numbers (header is line 1) of :attr:`rows`."""
        return [r + 2 for r in self.rows]


@dataclass
class ValidationReport:
    """All problems found, and the facts counted on the way."""

    source: str
    n_images: int
    classes: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        """Problems that make training unsafe."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth knowing that do not block training."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no error was found."""
        return not self.errors

    def add(self, severity: Severity, code: str, message: str, fix: str, **where: Sequence[object]) -> None:
        """Record a problem."""
        rows = tuple(int(r) for r in where.get("rows", ()))  # type: ignore[call-overload]
        paths = tuple(str(p) for p in where.get("paths", ()))
        self.problems.append(Problem(severity, code, message, fix, rows, paths))

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict (machine-readable report)."""
        return {
            "source": self.source,
            "ok": self.ok,
            "n_images": self.n_images,
            "classes": list(self.classes),
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "facts": self.facts,
            "problems": [{**asdict(p), "lines": p.lines} for p in self.problems],
        }

    def save(self, path: str | Path) -> Path:
        """Write the JSON report atomically."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return path


def validate_manifest(
    manifest: Manifest,
    *,
    n_folds: int = 5,
    group_by: GroupBy = "patient",
    check_images: bool = True,
    max_pixels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    too_small_fix: str | None = None,
) -> ValidationReport:
    """Check a manifest (and its image files) for everything that makes training unsafe.

    Args:
        manifest: the data set to check.
        n_folds: the number of cross-validation folds (or bootstrap strata)
            each class needs at least one group for.
        group_by: the unit that must not cross splits.
        check_images: decode every image fully (slow on big sets, but the only
            way to catch truncated files before training).
        max_pixels: the pixel limit passed to the reader.
        progress: called with (done, total) while images are checked.
        too_small_fix: the fix shown for a class with fewer groups than ``n_folds``
            (default: names ``--folds``, the option of ``data`` and ``validate``);
            ``{cls}``, ``{count}``, ``{group_by}`` are filled in.

    Returns:
        The report; ``report.ok`` is False when training would be unsafe.
    """
    table = manifest.table
    report = ValidationReport(str(manifest.source or manifest.root), len(table), manifest.classes)
    report.facts["images"] = len(table)
    report.facts["patients"] = int(table.loc[table["patient_id"] != "", "patient_id"].nunique())
    report.facts["class_counts"] = manifest.class_counts()
    if len(table) == 0:
        report.add("error", "empty", "the manifest has no rows", "point to a folder or CSV with images")
        return report
    _check_labels(manifest, report)
    _check_columns(manifest, report)
    hashes = _check_files(manifest, report, check_images, max_pixels, progress)
    _check_groups(manifest, report, n_folds, group_by, hashes, too_small_fix)
    return report


def _check_labels(manifest: Manifest, report: ValidationReport) -> None:
    table = manifest.table
    bad = manifest.unknown_label_rows()
    if bad:
        values = sorted({table["label"][i] for i in bad})
        report.add(
            "error",
            "unknown-label",
            f"{len(bad)} row(s) have a label outside the class list {list(manifest.classes)}: "
            f"{', '.join(repr(v) for v in values[:10])}",
            "correct the labels (watch for spaces and case) or declare the classes with --classes",
            rows=bad,
        )
    _check_label_spelling(manifest, report)
    if manifest.is_binary:
        from medbalance.data.positive import positive_class_warnings

        report.facts["positive_class"] = manifest.positive
        declared = manifest.positive_class is not None
        for text in positive_class_warnings(manifest.positive, manifest.class_counts(), declared=declared):
            report.add(
                "warning", "positive-class", text, "pass --positive-class with the finding of interest"
            )
    present = [c for c, n in manifest.class_counts().items() if n > 0]
    if len(present) < 2:
        report.add(
            "error",
            "single-class",
            f"only {present or 'no'} class present; a classifier needs more than 1 class",
            "add images of the other class(es) or check the label column mapping",
        )
    dup_ids = table.index[table["image_id"].duplicated(keep=False)]
    if len(dup_ids):
        report.add(
            "error",
            "duplicate-image-id",
            f"{len(dup_ids)} rows share an image_id ({', '.join(sorted(set(table.loc[dup_ids, 'image_id']))[:5])})",
            "give every image a unique image_id",
            rows=dup_ids,
        )
    breasts = table[(table["breast_id"] != "") & ~table.index.isin(bad)]
    conflict = breasts.groupby("breast_id")["label"].nunique()
    conflicting = conflict[conflict > 1].index
    if len(conflicting):
        rows = breasts.index[breasts["breast_id"].isin(conflicting)]
        report.add(
            "warning",
            "conflicting-labels",
            f"{len(conflicting)} breast/lesion group(s) have images with different labels "
            f"({', '.join(list(conflicting)[:5])}); aggregation to that level will mix them",
            "check the labels of those images",
            rows=rows,
        )


def check_label_spelling(manifest: Manifest, *, what: str = "the manifest") -> None:
    """Refuse labels that differ only by case or spaces, before a split counts them as classes.

    Raises:
        DataError: naming every pair of spellings, their row counts and the fix.
    """
    report = ValidationReport(str(manifest.source), len(manifest), manifest.classes)
    _check_label_spelling(manifest, report)
    if report.errors:
        raise DataError(f"{what}: " + "; ".join(f"{p.message} (fix: {p.fix})" for p in report.errors))


def _check_label_spelling(manifest: Manifest, report: ValidationReport) -> None:
    """Labels (or classes) that differ only by case or spaces: ``BENIGN`` and ``benign`` are one class typed twice."""
    labels = manifest.table["label"]
    counts = labels.value_counts()
    spellings: dict[str, set[str]] = {}
    for value in [*manifest.classes, *counts.index]:
        spellings.setdefault(" ".join(str(value).split()).casefold(), set()).add(str(value))
    for group in (sorted(g) for g in spellings.values() if len(g) > 1):
        described = " and ".join(f"{v!r} ({int(counts.get(v, 0))} rows)" for v in group)
        keep = max(group, key=lambda v: (v in manifest.classes, int(counts.get(v, 0))))
        report.add(
            "error",
            "label-spelling",
            f"labels differ only by case or spaces: {described}; they would train as "
            f"{len(group)} different classes",
            f"write one spelling in every row (e.g. replace {', '.join(repr(v) for v in group if v != keep)} "
            f"with {keep!r}), or declare the classes with --classes",
            rows=labels.index[labels.isin(group)],
        )


def _check_columns(manifest: Manifest, report: ValidationReport) -> None:
    table = manifest.table
    rows = table.index[~table["laterality"].isin(LATERALITIES)]
    if len(rows):
        report.add(
            "error",
            "bad-laterality",
            f"laterality must be L, R or empty; found {sorted(set(table.loc[rows, 'laterality']))[:5]}",
            "map the laterality column to L/R",
            rows=rows,
        )
    rows = table.index[~table["split"].isin((*SPLITS, ""))]
    if len(rows):
        report.add(
            "error",
            "bad-split",
            f"split must be train, val, test or empty; found {sorted(set(table.loc[rows, 'split']))[:5]}",
            "fix the split column or pass --resplit",
            rows=rows,
        )
    spacing = pd.to_numeric(table["pixel_spacing_mm"].replace("", "nan"), errors="coerce")
    rows = table.index[(table["pixel_spacing_mm"] != "") & ~(spacing > 0)]
    if len(rows):
        report.add(
            "error",
            "bad-spacing",
            "pixel_spacing_mm must be a positive number of millimetres",
            "fix or empty the pixel_spacing_mm column",
            rows=rows,
        )


def _check_files(
    manifest: Manifest,
    report: ValidationReport,
    check_images: bool,
    max_pixels: int | None,
    progress: Callable[[int, int], None] | None,
) -> list[str] | None:
    paths = manifest.paths()
    missing = [i for i, p in enumerate(paths) if not p.is_file()]
    if missing:
        written = [manifest.table["path"].iloc[i] for i in missing]
        examples = ", ".join(
            f"'{w}'" for w in written[:3]
        )  # as written: repr() would double backslashes + (" ..." if len(written) > 3 else "")
        fix = f"restore the files or remove their rows; paths are relative to the manifest's folder ({manifest.root})"
        if any("\\" in w for w in written) and os.sep != "\\":
            fix = (
                "the paths use Windows backslashes ('\\'), which name no folder here: write them with '/' "
                "(e.g. images/a.png), relative to the manifest's folder"
            )
        report.add(
            "error",
            "missing-file",
            f"{len(missing)} image file(s) referenced by the manifest do not exist, e.g. {examples}",
            fix,
            rows=missing,
            paths=[paths[i] for i in missing],
        )
    hashes: list[str] = []
    unreadable: list[int] = []
    reasons: list[str] = []
    constant: list[int] = []
    noted: dict[str, list[tuple[int, str]]] = {}
    missing_rows = set(missing)
    for i, path in enumerate(paths):
        if progress is not None:
            progress(i, len(paths))
        if i in missing_rows:
            hashes.append("")
            continue
        hashes.append(file_sha256(path))
        if not check_images:
            continue
        from medbalance.data.readers import DEFAULT_MAX_PIXELS, inspect_image

        check = inspect_image(path, max_pixels=max_pixels if max_pixels is not None else DEFAULT_MAX_PIXELS)
        if not check.ok:
            unreadable.append(i)
            reasons.append(f"{path.name}: {check.reason}")
        else:
            if check.constant:
                constant.append(i)
            for note in check.notes:
                if not note.startswith(_ROUTINE_NOTES):
                    noted.setdefault(re.sub(r"\d+(\.\d+)?", "#", note), []).append((i, note))
    if progress is not None:
        progress(len(paths), len(paths))
    if unreadable:
        report.add(
            "error",
            "unreadable-image",
            f"{len(unreadable)} image(s) cannot be decoded: " + "; ".join(reasons[:5]),
            "re-export or remove those files (a truncated download is the usual cause)",
            rows=unreadable,
            paths=[paths[i] for i in unreadable],
        )
    for entries in noted.values():
        rows = [i for i, _ in entries]
        examples = "; ".join(f"{paths[i].name}: {note}" for i, note in entries[:3])
        report.add(
            "warning",
            "reader-note",
            f"{len(rows)} image(s) were changed while reading ({examples})",
            _NOTE_FIXES.get(entries[0][1].split(":")[0], "check that the reading matches what you expect"),
            rows=rows,
            paths=[paths[i] for i in rows],
        )
    if constant:
        report.add(
            "warning",
            "constant-image",
            f"{len(constant)} image(s) have a single pixel value (blank)",
            "check the export; blank images carry no information",
            rows=constant,
            paths=[paths[i] for i in constant],
        )
    seen: dict[str, list[int]] = {}
    for i, h in enumerate(hashes):
        if h:
            seen.setdefault(h, []).append(i)
    for i, path in enumerate(paths):  # a missing file listed twice is still listed twice
        if not hashes[i]:
            seen.setdefault(f"path:{path}", []).append(i)
    groups = [rows for rows in seen.values() if len(rows) > 1]
    labels = manifest.table["label"]
    conflicts = [rows for rows in groups if labels.iloc[rows].nunique() > 1]
    copies = [rows for rows in groups if labels.iloc[rows].nunique() == 1]
    if conflicts:
        rows = [r for group in conflicts for r in group]
        shown_ = "; ".join(
            f"{paths[g[0]].name}: " + " vs ".join(repr(v) for v in sorted(set(labels.iloc[g])))
            for g in conflicts[:5]
        )
        report.add(
            "error",
            "conflicting-file-labels",
            f"{len(conflicts)} image file(s) are listed more than once with different labels ({shown_}); "
            "one image cannot be both",
            "keep one row per image with its correct label",
            rows=rows,
            paths=[paths[r] for r in rows],
        )
    if copies:
        rows = [r for group in copies for r in group]
        report.add(
            "warning",
            "duplicate-file",
            f"{len(copies)} file content(s) appear under several rows; duplicates inflate metrics",
            "remove the copies (copies in different splits are reported as leakage)",
            rows=rows,
            paths=[paths[r] for r in rows],
        )
    return hashes


#: Reader notes that describe the standard reading of a file, not a surprise: not reported.
_ROUTINE_NOTES = (
    "MONOCHROME1 inverted",
    "window centre ",
    "VOI LUT table applied",
    "grey palette converted to L",
    "alpha channel fully opaque",
)
_NOTE_FIXES = {
    "alpha not fully opaque": "re-export the images without transparency (a mask or overlay saved in the alpha "
    "channel turns tissue black)",
    "palette converted to RGB": "re-export as greyscale or RGB; a palette image may have lost grey levels",
}


def _check_groups(
    manifest: Manifest,
    report: ValidationReport,
    n_folds: int,
    group_by: GroupBy,
    hashes: Sequence[str] | None,
    too_small_fix: str | None = None,
) -> None:
    from medbalance.data.splits import GROUP_BY_COLUMN

    table = manifest.table
    column = GROUP_BY_COLUMN[group_by]
    if group_by != "image" and (table[column] == "").all():
        report.add(
            "warning",
            "no-groups",
            f"the {column} column is empty; every image counts as its own {group_by}",
            f"fill {column} so images of one {group_by} stay in one split",
        )
    known = table[~table.index.isin(manifest.unknown_label_rows())]
    groups = manifest.group_ids(column)[known.index]
    per_class = groups.groupby(known["label"]).nunique()
    for cls in manifest.classes:
        count = int(per_class.get(cls, 0))
        if 0 < count < n_folds:
            report.add(
                "error",
                "class-too-small",
                f"class {cls!r} has {count} {group_by} group(s), fewer than the {n_folds} folds",
                (too_small_fix or "add data or use at most {count} folds (--folds)").format(
                    cls=cls, count=count, group_by=group_by
                ),
            )
        elif 0 < count < SMALL_CLASS_WARNING:
            report.add(
                "warning",
                "small-class",
                f"class {cls!r} has only {count} {group_by} group(s); confidence intervals will be wide",
                "report intervals, not point estimates, and prefer patient-clustered bootstrap",
            )
    if (table["split"] != "").any():
        for split in SPLITS:
            if not (table["split"] == split).any():
                continue
            missing = [c for c, n in manifest.class_counts(split).items() if n == 0]
            if missing:
                report.add(
                    "error" if split == "train" else "warning",
                    "class-missing-from-split",
                    f"class(es) {missing} have no image in the {split} split",
                    "re-split with stratification (medbalance data ... --resplit) or add data",
                )
        leaks = check_leakage(manifest, group_by=group_by, file_hashes=hashes)
        for kind in ("group", "file"):
            found = [p for p in leaks if p.kind == kind]
            if found:
                report.add(
                    "error",
                    "leakage" if kind == "group" else "duplicate-across-splits",
                    f"{len(found)} {'group(s)' if kind == 'group' else 'identical file(s)'} cross splits: "
                    + "; ".join(p.describe() for p in found[:5]),
                    "re-split grouped by patient (--resplit) or remove the copies",
                    rows=[r for p in found for r in p.rows],
                )
        report.facts["split_counts"] = {
            s: manifest.class_counts(s) for s in SPLITS if (table["split"] == s).any()
        }
