"""Grouped, class-stratified splits that are persisted and leakage-checked.

A patient's images never straddle train, val and test: splits are made with
scikit-learn's ``StratifiedGroupKFold`` over groups (patient by default; study
or image only when the user asks), and :func:`check_leakage` proves afterwards
that no group, and no identical file, crosses splits.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from medbalance.contract import LEVEL_COLUMNS
from medbalance.data.manifest import SPLITS, Manifest
from medbalance.errors import ConfigError, DataError, LeakageError

__all__ = [
    "GROUP_BY_COLUMN",
    "GroupBy",
    "LeakageProblem",
    "assert_no_leakage",
    "assign_folds",
    "check_leakage",
    "split_counts",
    "split_manifest",
]

log = logging.getLogger(__name__)

GroupBy = Literal["patient", "study", "image"]
GROUP_BY_COLUMN: dict[str, str] = {level: LEVEL_COLUMNS[level] for level in ("patient", "study", "image")}


def _groups(manifest: Manifest, group_by: GroupBy) -> np.ndarray:
    if group_by not in GROUP_BY_COLUMN:
        raise ConfigError(f"group_by must be one of {sorted(GROUP_BY_COLUMN)}, got {group_by!r}.")
    column = GROUP_BY_COLUMN[group_by]
    if group_by != "image" and (manifest.table[column] == "").all():
        raise DataError(
            f"cannot group by {group_by}: the {column} column is empty in every row. "
            f"Fill {column}, or choose --group-by {'study' if group_by == 'patient' else 'image'} "
            "knowing that images of one patient may then land in different splits."
        )
    return manifest.group_ids(column).to_numpy()


def _fold_count(fractions: Sequence[float]) -> tuple[int, list[int]]:
    """Smallest fold count n (<= 20) that expresses every fraction as whole folds."""
    for n in range(2, 21):
        parts = [f * n for f in fractions]
        if all(abs(p - round(p)) < 1e-6 for p in parts):
            return n, [round(p) for p in parts]
    n = 20
    counts = [max(1, round(f * n)) if f > 0 else 0 for f in fractions]
    counts[0] = n - sum(counts[1:])
    return n, counts


def split_manifest(
    manifest: Manifest,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    group_by: GroupBy = "patient",
    seed: int = 0,
    resplit: bool = False,
) -> Manifest:
    """Assign train/val/test to every row, grouped and stratified by class.

    Args:
        manifest: rows to split; its ``split`` column is kept when every row
            already has one (an official split), unless ``resplit``.
        fractions: train, val and test shares (summing to 1); a share may be 0.
        group_by: the unit that must stay within one split.
        seed: seeds the shuffling of groups.
        resplit: ignore an existing ``split`` column.

    Returns:
        The manifest with a filled ``split`` column.

    Raises:
        ConfigError: fractions do not sum to 1 or are negative.
        DataError: a partial split column, or too few groups of a class.
    """
    existing = manifest.table["split"]
    if not resplit and (existing != "").any():
        if (existing == "").any():
            raise DataError(
                f"{int((existing == '').sum())} row(s) have no split while others do; "
                "fill the split column for every row, or pass --resplit to make a new split."
            )
        bad = sorted(set(existing) - set(SPLITS))
        if bad:
            raise DataError(f"unknown split value(s) {bad}; expected {list(SPLITS)}.")
        log.info("keeping the split already present in the manifest")
        return manifest
    fractions = [float(f) for f in fractions]
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(
            f"split fractions must be three non-negative shares (train, val, test) summing to 1, "
            f"got {fractions}."
        )
    labels = manifest.label_indices()
    groups = _groups(manifest, group_by)
    n_folds, per_split = _fold_count(fractions)
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise DataError(
            f"only {n_groups} {group_by} group(s) for a split needing {n_folds} folds "
            f"(fractions {fractions}); add data or use coarser fractions such as 0.6,0.2,0.2."
        )
    largest = int(np.bincount(labels).max())
    if largest < n_folds:
        raise DataError(
            f"the split fractions {fractions} need {n_folds} internal folds, but the largest class "
            f"has only {largest} image(s); use coarser fractions such as --fractions 0.6,0.2,0.2 "
            "(5 folds) or add data."
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    with warnings.catch_warnings():
        # The per-class check below reports the consequence explicitly.
        warnings.filterwarnings("ignore", message="The least populated class")
        for fold, (_, test_idx) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
            fold_of[test_idx] = fold
    boundaries = np.cumsum(per_split)
    split_of_fold = np.searchsorted(boundaries, np.arange(n_folds), side="right")
    table = manifest.table.copy()
    table["split"] = [SPLITS[i] for i in split_of_fold[fold_of]]
    result = manifest.with_table(table)
    _check_classes_present(result, fractions)
    return result


def _check_classes_present(manifest: Manifest, fractions: Sequence[float]) -> None:
    for split, fraction in zip(SPLITS, fractions, strict=True):
        if fraction == 0:
            continue
        missing = [c for c, n in manifest.class_counts(split).items() if n == 0]
        if not missing:
            continue
        message = (
            f"class(es) {missing} have no image in the {split} split; "
            f"metrics that need them will be undefined. Add data or change the fractions."
        )
        if split == "train":
            raise DataError(message)
        log.warning(message)


def assign_folds(
    manifest: Manifest, n_folds: int, *, group_by: GroupBy = "patient", seed: int = 0
) -> Manifest:
    """Add a ``fold`` column (0..n_folds-1) for grouped, stratified k-fold CV.

    Rows with ``split == "test"`` keep ``fold`` empty: the test set stays held out.

    Raises:
        DataError: a class has fewer groups than folds.
    """
    if n_folds < 2:
        raise ConfigError(f"k-fold cross-validation needs at least 2 folds, got {n_folds}.")
    pool = manifest.table["split"] != "test"
    sub = manifest.with_table(manifest.table[pool].reset_index(drop=True))
    labels = sub.label_indices()
    groups = _groups(sub, group_by)
    for cls, count in _groups_per_class(labels, groups, sub.classes).items():
        if count < n_folds:
            raise DataError(
                f"class {cls!r} has {count} {group_by} group(s), fewer than the {n_folds} folds; "
                f"use at most {max(count, 2)} folds or add data."
            )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.empty(len(labels), dtype=np.int64)
    for fold, (_, idx) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        folds[idx] = fold
    table = manifest.table.copy()
    table["fold"] = ""
    table.loc[pool.to_numpy(), "fold"] = [str(f) for f in folds]
    return manifest.with_table(table)


def _groups_per_class(labels: np.ndarray, groups: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    frame = pd.DataFrame({"label": labels, "group": groups})
    counts = frame.groupby("label")["group"].nunique()
    return {c: int(counts.get(i, 0)) for i, c in enumerate(classes)}


@dataclass(frozen=True)
class LeakageProblem:
    """One group or file found in more than one split."""

    kind: Literal["group", "file"]
    key: str
    splits: tuple[str, ...]
    rows: tuple[int, ...]

    def describe(self) -> str:
        """A one-line human description."""
        what = "group" if self.kind == "group" else "identical file (sha256 " + self.key[:12] + ")"
        key = f" {self.key!r}" if self.kind == "group" else ""
        lines = ", ".join(str(r + 2) for r in self.rows[:6])
        return f"{what}{key} is in splits {', '.join(self.splits)} (lines {lines})"


def check_leakage(
    manifest: Manifest,
    *,
    group_by: GroupBy = "patient",
    file_hashes: Sequence[str] | None = None,
) -> list[LeakageProblem]:
    """Every group, and every identical file, that appears in more than one split.

    Args:
        manifest: a manifest with a filled split column.
        group_by: the unit that must not cross splits.
        file_hashes: content hashes per row (e.g. from ``file_sha256``); when
            given, identical files in different splits are reported too.
    """
    table = manifest.table
    frame = pd.DataFrame({"split": table["split"], "group": _groups(manifest, group_by)})
    if file_hashes is not None:
        frame["hash"] = list(file_hashes)
    problems: list[LeakageProblem] = []
    keys = [("group", "group")] + ([("file", "hash")] if file_hashes is not None else [])
    for kind, column in keys:
        spread = frame[frame[column] != ""].groupby(column)["split"].nunique()
        for key in spread[spread > 1].index:
            rows = frame.index[frame[column] == key]
            splits = tuple(sorted(set(frame.loc[rows, "split"])))
            problems.append(LeakageProblem(kind, str(key), splits, tuple(int(r) for r in rows)))  # type: ignore[arg-type]
    return problems


def assert_no_leakage(
    manifest: Manifest, *, group_by: GroupBy = "patient", file_hashes: Sequence[str] | None = None
) -> None:
    """Raise :class:`LeakageError` listing every leak; return quietly when there is none."""
    problems = check_leakage(manifest, group_by=group_by, file_hashes=file_hashes)
    if problems:
        shown = "; ".join(p.describe() for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise LeakageError(
            f"{len(problems)} leak(s) across splits: {shown}{more}. "
            "Re-split grouped by patient (medbalance data ... --resplit) or fix the split column."
        )


def split_counts(manifest: Manifest) -> pd.DataFrame:
    """Images per split and class (rows: splits present, columns: classes, plus totals)."""
    splits = [s for s in SPLITS if (manifest.table["split"] == s).any()] or [""]
    rows = {s or "all": manifest.class_counts(s or None) for s in splits}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(manifest.classes))
    frame["total"] = frame.sum(axis=1)
    return frame
