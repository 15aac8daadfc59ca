"""Outputs of a run: predictions CSVs, ``summary.json`` and ``train.log``."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medbalance.contract import PREDICTION_COLUMNS, logit_column, prob_column
from medbalance.io import atomic_write_text
from medbalance.training.dataset import ManifestDataset, create_eval_loader
from medbalance.training.module import ClassifierTask

__all__ = [
    "capture_logs",
    "compute_predictions",
    "finite_or_none",
    "write_predictions",
    "write_run_predictions",
    "write_summary",
]


def finite_or_none(values: Mapping[str, float] | None) -> dict[str, float | None] | None:
    """JSON-safe metrics: NaN/inf (undefined) become null."""
    if values is None:
        return None
    return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in values.items()}


@torch.inference_mode()
def compute_predictions(
    task: ClassifierTask, dataset: ManifestDataset, *, batch_size: int, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Raw logits (N, K) and post-hoc-adjusted probabilities (N, K) of every image, in order."""
    task.eval()
    task.to(device)
    logits = []
    for images, *_ in create_eval_loader(dataset, batch_size=batch_size):
        images = images.to(device)
        if task.batch_normalization is not None:
            images = task.batch_normalization(images)
        logits.append(task.model(images).float().cpu())
    k = len(task.class_names)
    if not logits:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.float32)
    raw = torch.cat(logits)
    return raw.numpy(), task.probabilities(raw).numpy()


def write_predictions(
    path: Path, dataset: ManifestDataset, logits: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...]
) -> None:
    """The predictions contract: ids, split, true label, ``prob_<class>``, ``logit_<class>``."""
    table = dataset.manifest.table
    frame = pd.DataFrame({c: table[c].to_numpy() for c in PREDICTION_COLUMNS})
    for i, name in enumerate(class_names):
        frame[prob_column(name)] = probs[:, i] if len(probs) else []
    for i, name in enumerate(class_names):
        frame[logit_column(name)] = logits[:, i] if len(logits) else []
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.8g"))


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """``summary.json``, atomically."""
    atomic_write_text(path, json.dumps(dict(summary), indent=2, default=str) + "\n")


@contextmanager
def capture_logs(log_file: Path, *, console: bool = True) -> Iterator[None]:
    """Send medbalance's and Lightning's log records to ``log_file`` (and warnings to stderr)."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    file_handler.setFormatter(formatter)
    file_handler.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [file_handler]
    loggers = [logging.getLogger("medbalance"), logging.getLogger("lightning.pytorch")]
    previous = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)
        lg.addHandler(file_handler)
    if console:  # warnings (collapse, ...) reach the console too
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        stream.setLevel(logging.WARNING)
        stream.addFilter(lambda record: not getattr(record, "file_only", False))
        handlers.append(stream)
        loggers[0].addHandler(stream)
    try:
        yield
    finally:
        for lg, level in zip(loggers, previous, strict=True):
            lg.setLevel(level)
            for handler in handlers:
                lg.removeHandler(handler)
        file_handler.close()


def write_run_predictions(
    out: Path,
    task: ClassifierTask,
    sets: Mapping[str, ManifestDataset],
    best: Mapping[str, Any] | None,
    summary: dict[str, Any],
    *,
    batch_size: int,
    device: torch.device,
) -> None:
    """Load the best checkpoint, write ``predictions_val/test.csv`` and their metrics into ``summary``."""
    from medbalance.training._metrics import compute_validation_metrics
    from medbalance.training.checkpoints import load_checkpoint_weights

    if best is not None:
        load_checkpoint_weights(out / "checkpoints" / best["file"], task.model)
    summary["best_epoch"] = None if best is None else int(best["epoch"])
    summary["best_checkpoint"] = None if best is None else f"checkpoints/{best['file']}"
    for split in ("val", "test"):
        logits, probs = compute_predictions(task, sets[split], batch_size=batch_size, device=device)
        write_predictions(out / f"predictions_{split}.csv", sets[split], logits, probs, task.class_names)
        if len(probs):
            metrics = compute_validation_metrics(
                probs, sets[split].labels, ordinal=task.ordinal, positive_index=task.positive_index
            )
            summary[f"{split}_metrics"] = finite_or_none(metrics)
    logging.getLogger("medbalance.training").info(
        "best epoch %s; test metrics %s", summary["best_epoch"], json.dumps(summary.get("test_metrics"))
    )
