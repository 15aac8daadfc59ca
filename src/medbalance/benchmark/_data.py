"""The benchmark's data sets, prepared once: ``BENCH/data/<name>/manifest.csv`` (+ ``cache/``).

Phantom data sets with the same settings share one generated set
(``BENCH/data/_phantoms/<hash>``); ``domains`` keeps some vendors (hold-out).
A training data set gets its split (or, with ``folds``, its fold column) here,
once, with ``data_seed``: every cell of the set trains on the same split.
A test-only data set has every row in its test split.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from medbalance.benchmark.config import BenchmarkConfig, DataSetSpec
from medbalance.config import config_hash, parse_config
from medbalance.data.manifest import Manifest, load_manifest
from medbalance.errors import DataError

__all__ = ["PreparedData", "manifest_hash", "ood_test_rows", "prepare_data_sets"]

log = logging.getLogger("medbalance.benchmark")


@dataclass(frozen=True)
class PreparedData:
    """A prepared data set: its manifest file, cache folder and content hash."""

    spec: DataSetSpec
    manifest_path: Path
    cache_dir: Path
    data_hash: str


def manifest_hash(manifest: Manifest) -> str:
    """Hash of ids, labels, split and folds (paths left out)."""
    columns = [c for c in ("image_id", "patient_id", "label", "split", "fold") if c in manifest.table.columns]
    text = manifest.table[columns].to_csv(index=False) + "|" + ",".join(manifest.classes)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _phantoms(spec: DataSetSpec, config: BenchmarkConfig, root: Path) -> Manifest:
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    phantom = parse_config(
        PhantomConfig, {"seed": config.data_seed, **spec.phantoms}, where=f"data.{spec.name}"
    )
    folder = root / "_phantoms" / config_hash(phantom)
    if not (folder / "manifest.csv").is_file():
        log.info("generating phantoms for %s into %s", spec.name, folder)
        generate_phantoms(phantom, out_dir=folder, overwrite=True)
    return load_manifest(folder / "manifest.csv")


def _load(spec: DataSetSpec, config: BenchmarkConfig, root: Path) -> Manifest:
    if spec.uses_phantoms:
        manifest = _phantoms(spec, config, root)
    elif spec.class_map is not None:
        from medbalance.data.class_map import apply_class_map

        manifest = apply_class_map(
            load_manifest(spec.source), spec.class_map, positive_class=spec.positive_class
        )
    else:
        manifest = load_manifest(spec.source, classes=spec.classes, positive_class=spec.positive_class)
    if not spec.uses_phantoms:  # before the split, which would count 'BENIGN' and 'benign' as two classes
        from medbalance.data.validate import check_label_spelling

        check_label_spelling(manifest, what=f"data set {spec.name!r} ({spec.source})")
    if spec.domains is not None:
        table = manifest.table
        missing = sorted(set(spec.domains) - set(table["domain"]))
        if missing:
            raise DataError(
                f"data set {spec.name!r}: domain(s) {missing} do not occur in {spec.source} "
                f"(present: {sorted(set(table['domain']))}); fix data[].domains."
            )
        manifest = manifest.with_table(table[table["domain"].isin(spec.domains)].reset_index(drop=True))
    return manifest


def _split(spec: DataSetSpec, manifest: Manifest, config: BenchmarkConfig) -> Manifest:
    from medbalance.data.splits import assert_no_leakage, assign_folds, split_manifest
    from medbalance.data.validate import validate_manifest

    if not spec.trains:
        return manifest.with_table(manifest.table.assign(split="test"))
    if config.folds:
        pooled = manifest.with_table(manifest.table.assign(split="train"))
        manifest = assign_folds(pooled, config.folds, seed=config.data_seed)
    else:
        manifest = split_manifest(manifest, fractions=spec.fractions, seed=config.data_seed)
        assert_no_leakage(manifest)
    report = validate_manifest(manifest, n_folds=2, check_images=False)
    if not report.ok:
        listing = "\n  ".join(f"{p.message} (fix: {p.fix})" for p in report.errors[:20])
        raise DataError(f"data set {spec.name!r} cannot be benchmarked:\n  {listing}")
    return manifest


def prepare_data_sets(config: BenchmarkConfig, bench: Path) -> dict[str, PreparedData]:
    """Write (or, when present, reuse) every data set's manifest under ``bench/data``.

    Raises:
        DataError: a domain that does not occur, an impossible split or folds, an invalid manifest.
    """
    root = bench / "data"
    prepared = {}
    for spec in config.data:
        path = root / spec.name / "manifest.csv"
        if path.is_file():  # a resumed benchmark keeps its split
            manifest = load_manifest(path)
        else:
            manifest = _split(spec, _load(spec, config, root), config)
            manifest.save(path)
        prepared[spec.name] = PreparedData(spec, path, root / spec.name / "cache", manifest_hash(manifest))
    return prepared


def ood_test_rows(manifest: Manifest) -> Manifest:
    """The cases of a data set that test other data sets' models (out of distribution).

    Test-only sets and cross-validated sets: every row; otherwise the test split.
    """
    if "fold" in manifest.table.columns and (manifest.table["fold"].astype(str) != "").all():
        return manifest.with_table(manifest.table.assign(split="test"))
    return manifest.subset("test")
