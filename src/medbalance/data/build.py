"""One call from a data source to a split, validated manifest on disk.

``build_dataset`` is what ``medbalance data`` runs: adapter -> manifest ->
grouped stratified split -> validation -> ``manifest.csv`` (+ sidecar),
``split_counts.csv`` and ``validation.json`` in the output folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from medbalance.data.manifest import Manifest, load_manifest
from medbalance.data.splits import GroupBy, assign_folds, split_counts, split_manifest
from medbalance.data.validate import ValidationReport, validate_manifest
from medbalance.io import atomic_write_text, check_output_dir, check_writable, replace_dir
from medbalance.outputs import claim_output_dir

__all__ = ["DatasetBuild", "build_dataset"]


@dataclass(frozen=True)
class DatasetBuild:
    """What :func:`build_dataset` wrote."""

    manifest: Manifest
    manifest_path: Path
    counts: pd.DataFrame
    report: ValidationReport


def build_dataset(
    adapter: str,
    source: Path,
    out_dir: Path,
    *,
    options: Mapping[str, Any] | None = None,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    group_by: GroupBy = "patient",
    seed: int = 0,
    n_folds: int | None = None,
    resplit: bool = False,
    check_images: bool = True,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    class_map: str | Mapping[str, str] | None = None,
    positive_class: str | None = None,
) -> DatasetBuild:
    """Build, split, validate and save a manifest from one source.

    Args:
        adapter: a registered adapter name (``medbalance data --help`` lists them).
        source: the folder or file the adapter reads.
        out_dir: where ``manifest.csv``, ``split_counts.csv`` and
            ``validation.json`` go; must be new or empty unless ``overwrite``.
        options: adapter options (e.g. ``{"task": "malignancy"}``).
        fractions: train/val/test shares.
        group_by: the unit kept within one split.
        seed: seeds the split.
        n_folds: also assign grouped stratified CV folds (``fold`` column).
        resplit: replace a split that came with the source.
        check_images: decode every image during validation.
        overwrite: replace an existing output folder.
        progress: called with (done, total) while images are checked.
        class_map: re-label the adapter's classes before the split, e.g.
            ``"melanoma=melanoma,*=rest"`` (see :mod:`medbalance.data.class_map`).
        positive_class: the positive class after ``class_map`` (default: the named class of "X vs rest").

    Returns:
        The manifest, where it was written, the split counts and the
        validation report. The manifest is written even when validation found
        errors, so the user can inspect it; ``report.ok`` says whether it is safe.
        Everything is written into a staging folder beside ``out_dir`` that
        replaces it only at the end: a failure leaves no folder behind and
        never removes earlier results.
    """
    out_dir = Path(out_dir)
    with claim_output_dir(out_dir):  # a second `data --out` on the same folder is refused
        return _build_claimed(
            adapter, Path(source), out_dir, dict(options or {}), fractions, group_by, seed,
            n_folds, resplit, check_images, overwrite, progress, class_map, positive_class,
        )  # fmt: skip


def _build_claimed(
    adapter: str, source: Path, out_dir: Path, options: dict[str, Any], fractions: Sequence[float],
    group_by: GroupBy, seed: int, n_folds: int | None, resplit: bool, check_images: bool, overwrite: bool,
    progress: Callable[[int, int], None] | None, class_map: str | Mapping[str, str] | None,
    positive_class: str | None,
) -> DatasetBuild:  # fmt: skip
    check_output_dir(out_dir, overwrite=overwrite)
    staging = out_dir.with_name(f".{out_dir.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        check_writable(staging, shown=out_dir)  # a full disk fails now, not after the validation pass
        result = _build_into(
            adapter, source, staging, options, fractions, group_by, seed,
            n_folds, resplit, check_images, progress, class_map, positive_class,
        )  # fmt: skip
        replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    path = out_dir / result.manifest_path.name
    return DatasetBuild(
        manifest=load_manifest(path),
        manifest_path=path,
        counts=result.counts,
        report=result.report,
    )


def _build_into(
    adapter: str,
    source: Path,
    out_dir: Path,
    options: dict[str, Any],
    fractions: Sequence[float],
    group_by: GroupBy,
    seed: int,
    n_folds: int | None,
    resplit: bool,
    check_images: bool,
    progress: Callable[[int, int], None] | None,
    class_map: str | Mapping[str, str] | None = None,
    positive_class: str | None = None,
) -> DatasetBuild:
    from medbalance.data.adapters import create_manifest
    from medbalance.data.class_map import apply_class_map

    if adapter == "medmnist":
        options.setdefault("image_dir", out_dir / "images")
    manifest = create_manifest(adapter, source, **options)
    if class_map is not None:
        manifest = apply_class_map(manifest, class_map, positive_class=positive_class)
    manifest = split_manifest(manifest, fractions=fractions, group_by=group_by, seed=seed, resplit=resplit)
    if n_folds:
        manifest = assign_folds(manifest, n_folds, group_by=group_by, seed=seed)
    report = validate_manifest(
        manifest,
        n_folds=n_folds or 2,
        group_by=group_by,
        check_images=check_images,
        progress=progress,
    )
    path = manifest.save(out_dir / "manifest.csv", relative=True)  # relative to the manifest, as documented
    counts = split_counts(manifest)
    atomic_write_text(out_dir / "split_counts.csv", counts.to_csv(index_label="split"))
    report.save(out_dir / "validation.json")
    return DatasetBuild(manifest=manifest, manifest_path=path, counts=counts, report=report)
