"""Predict another data set with a finished run's best checkpoint (out-of-distribution units).

The model, its strategy's post-hoc adjustment and the preprocessing with the
run's normalisation are rebuilt from the run folder (``config.yaml``,
``split.csv``, ``summary.json`` and the checkpoint's sidecar), so the numbers are
those the run itself would write for that data.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from medbalance.config import load_config, parse_config
from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import Manifest, load_manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.errors import DataError
from medbalance.training._run_data import RunData
from medbalance.training._run_outputs import compute_predictions, write_predictions
from medbalance.training.checkpoints import load_checkpoint_weights, read_sidecar
from medbalance.training.config import TrainConfig
from medbalance.training.dataset import ManifestDataset, Normalization

__all__ = ["predict_with_run"]


def predict_with_run(run_dir: Path, manifest: Manifest, cache_dir: Path, out_csv: Path) -> int:
    """Write ``out_csv`` (the predictions contract) for every row of ``manifest``; returns the row count.

    Args:
        run_dir: a completed training run folder.
        manifest: the cases to predict (their ``split`` column is kept).
        cache_dir: the preprocessing cache of ``manifest``'s data set.
        out_csv: where the predictions go.

    Raises:
        DataError: the run has no best checkpoint, or the classes differ.
    """
    from medbalance.strategies import create_strategy
    from medbalance.training.run import _create_task, _fit_strategy

    run_dir = Path(run_dir)
    config = load_config(TrainConfig, run_dir / "config.yaml")
    network = dataclasses.replace(config.network, pretrained=False, weights=None)  # the checkpoint's weights follow
    config = dataclasses.replace(config, network=network, out=run_dir)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    if not summary.get("best_checkpoint"):
        raise DataError(f"run {run_dir} has no best checkpoint (summary.json best_checkpoint is empty).")
    checkpoint = run_dir / summary["best_checkpoint"]
    sidecar = read_sidecar(checkpoint)
    train_manifest = load_manifest(run_dir / "split.csv")
    if tuple(manifest.classes) != tuple(train_manifest.classes):
        raise DataError(
            f"cannot test run {run_dir.name} on data with classes {list(manifest.classes)}: it was trained on "
            f"{list(train_manifest.classes)}. Declare the same classes (data[].classes) for every data set."
        )
    preprocessing = parse_config(
        PreprocessConfig, sidecar["preprocessing"], where=f"{checkpoint.name} sidecar"
    )
    raw = dataclasses.replace(preprocessing, mean=None, std=None)  # the cache holds un-normalised arrays
    normalization = Normalization.from_preprocessing(preprocessing)
    cache = PreprocessCache(cache_dir, raw)
    data = RunData(train_manifest, preprocessing, cache, normalization)
    balancing = config.balancing
    strategy = create_strategy(
        config.strategy, allow_double_balancing=balancing.allow_double_balancing, **balancing.strategy_params
    )
    strategy = _fit_strategy(strategy, config, data)
    task = _create_task(config, data, strategy, channels_last=False)
    load_checkpoint_weights(checkpoint, task.model)
    cache.build(manifest)
    dataset = ManifestDataset(
        manifest, cache, normalization=None if "batch" in strategy.hooks else normalization, seed=config.seed
    )
    device = torch.device("cuda" if torch.cuda.is_available() and config.hardware.accelerator != "cpu" else "cpu")
    logits, probs = compute_predictions(task, dataset, batch_size=config.optim.batch_size, device=device)
    write_predictions(out_csv, dataset, logits, probs, task.class_names)
    return len(dataset)
