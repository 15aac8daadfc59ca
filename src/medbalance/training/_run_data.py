"""Data preparation of a training run: manifest, checks, split, cache, stats, datasets."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import Manifest, load_manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.data.splits import assert_no_leakage, split_manifest
from medbalance.data.validate import validate_manifest
from medbalance.errors import DataError
from medbalance.training.augment import create_augmentation
from medbalance.training.config import TrainConfig
from medbalance.training.dataset import ManifestDataset, Normalization

__all__ = [
    "RunData",
    "apply_fold",
    "compute_split_hash",
    "create_preprocess_config",
    "load_run_manifest",
    "prepare_run_data",
]

log = logging.getLogger("medbalance.training")


@dataclass(frozen=True)
class RunData:
    """Everything the engine needs from the data side."""

    manifest: Manifest
    preprocessing: PreprocessConfig
    cache: PreprocessCache
    normalization: Normalization | None


def _phantom_manifest(config: TrainConfig, folder: Path) -> Manifest:
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    if (folder / "manifest.csv").is_file():  # a resumed run reuses its phantoms
        return load_manifest(folder / "manifest.csv")
    spec = config.phantoms
    phantom_config = PhantomConfig(
        n_patients=spec.n_patients,
        prevalence=spec.prevalence,
        size=spec.size,
        lesion_contrast=spec.lesion_contrast,
        domains=spec.domains,
        seed=config.seed if spec.seed is None else spec.seed,
    )
    log.info("generating phantoms (%s) into %s", phantom_config, folder)
    return generate_phantoms(phantom_config, out_dir=folder, overwrite=True).manifest


def load_run_manifest(config: TrainConfig) -> Manifest:
    """The manifest named by ``config.data`` (phantoms are written into ``out/data``).

    Raises:
        FileNotFoundError: the manifest CSV does not exist.
        DataError: the manifest fails validation (every problem listed).
    """
    if config.uses_phantoms:
        manifest = _phantom_manifest(config, config.out / "data")
    else:
        path = Path(config.data)
        if path.is_dir():
            raise DataError(
                f"--data {path} is a folder; pass its manifest CSV (made by `medbalance data ...`) or 'phantoms'."
            )
        manifest = load_manifest(path, classes=config.labels.classes, positive_class=config.labels.positive_class)
    report = validate_manifest(
        manifest, n_folds=2, group_by=config.split.group_by, check_images=False,
        too_small_fix="training needs at least 2 {group_by} groups of class {cls!r} (one for validation, one for "
        "test); add images of more {group_by}s of that class, or merge it with another class (`medbalance data "
        "--class-map`)",
    )  # fmt: skip
    if not report.ok:
        listing = "\n  ".join(f"{p.message} (fix: {p.fix})" for p in report.errors[:20])
        raise DataError(f"the manifest {config.data} cannot be trained on:\n  {listing}")
    if len(manifest.classes) < 2:
        raise DataError(
            f"the manifest has {len(manifest.classes)} class(es) {list(manifest.classes)}; training needs "
            "at least 2. Check the labels or pass --classes."
        )
    return manifest


def apply_fold(manifest: Manifest, fold: int) -> Manifest:
    """Cross-validation split from the ``fold`` column.

    Every row in a fold (folds over all the data): test = ``fold``, val = the next fold,
    train = the rest. Rows without a fold that form a held-out test split (what
    ``medbalance data --folds K`` writes): they stay the test split, val = ``fold``,
    train = the other folds.

    Raises:
        DataError: no fold column, rows without a fold outside the test split, too few
            folds, or ``fold`` not among them.
    """
    table = manifest.table
    if "fold" not in table.columns:
        raise DataError(
            f"fold={fold} needs a 'fold' column in the manifest {manifest.source or ''}; write one with "
            "`medbalance data ... --folds K` or drop the fold option."
        )
    values = table["fold"].astype(str).str.strip()
    held_out = (values == "").to_numpy()
    if held_out.any() and not (table["split"].to_numpy()[held_out] == "test").all():
        raise DataError(
            f"{int(held_out.sum())} row(s) of the manifest have no fold and are not in a held-out test split; "
            "give every row a fold (or keep only the test split without one)."
        )
    try:
        folds = values[~held_out].astype(int)
    except ValueError:
        raise DataError(f"the fold column holds non-integer values {sorted(set(values))[:5]}.") from None
    count = int(folds.max()) + 1 if len(folds) else 0
    needed = 2 if held_out.any() else 3
    if count < needed or sorted(set(folds)) != list(range(count)):
        raise DataError(
            f"fold training needs folds 0..K-1 with K >= {needed} (test, val and train from folds), "
            f"got {sorted(set(folds))}."
        )
    if not 0 <= fold < count:
        raise DataError(f"fold={fold} is not among the manifest's folds 0..{count - 1}.")
    if held_out.any():
        split = [
            "test" if h else "val" if int(f) == fold else "train"
            for h, f in zip(held_out, values, strict=True)
        ]
    else:
        split = ["test" if f == fold else "val" if f == (fold + 1) % count else "train" for f in folds]
    return manifest.with_table(table.assign(split=split))


def compute_split_hash(manifest: Manifest) -> str:
    """Hash of which image is in which split with which label (paths left out)."""
    columns = ["image_id", "patient_id", "label", "split"]
    text = manifest.table[columns].to_csv(index=False) + "|" + ",".join(manifest.classes)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_preprocess_config(config: TrainConfig) -> PreprocessConfig:
    """The preprocessing (cache key; no normalisation statistics yet) of a training config."""
    return PreprocessConfig(
        kind=config.input.preprocess,
        size=config.input.image_size,
        channels=int(config.network.channels),  # type: ignore[arg-type]
        equalize=config.input.equalize,
    )


def prepare_run_data(config: TrainConfig, *, progress: Callable[[int, int], None] | None = None) -> RunData:
    """Load, check, split (grouped, leakage-checked), cache and compute normalisation stats.

    ``progress`` follows the cache build (:meth:`PreprocessCache.build`).

    Raises:
        DataError: invalid manifest, impossible split, unreadable images (all listed).
        LeakageError: a patient (or group) straddles splits.
    """
    manifest = load_run_manifest(config)
    if config.split.fold is not None:
        manifest = apply_fold(manifest, config.split.fold)
    manifest = split_manifest(
        manifest, fractions=config.split.fractions, group_by=config.split.group_by, seed=config.seed
    )
    assert_no_leakage(manifest, group_by=config.split.group_by)
    for split in ("train", "val"):
        if not (manifest.table["split"] == split).any():
            raise DataError(f"the {split} split is empty; check --fractions or the manifest's split column.")
    preprocessing = create_preprocess_config(config)
    cache = PreprocessCache(config.input.cache_dir or config.out / "cache", preprocessing)
    cache.build(manifest, progress=progress)
    normalization = Normalization.from_training_split(cache, manifest) if config.input.normalize else None
    if normalization is not None:
        preprocessing = normalization.stored_in(preprocessing)
    return RunData(manifest, preprocessing, cache, normalization)


def create_datasets(
    data: RunData, config: TrainConfig, *, normalize_in_dataset: bool
) -> dict[str, ManifestDataset]:
    """Train (augmented), val and test datasets of ``data``."""
    norm = data.normalization if normalize_in_dataset else None
    preset = config.input.augmentation
    augmentation = None if preset == "none" else create_augmentation(preset)
    sets = {}
    for split in ("train", "val", "test"):
        sets[split] = ManifestDataset(
            data.manifest.subset(split),
            data.cache,
            normalization=norm,
            augmentation=augmentation if split == "train" else None,
            seed=config.seed,
        )
    return sets
