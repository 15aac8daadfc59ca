"""Outputs of a run: predictions CSVs, ``summary.json`` and ``train.log``."""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
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


_THIRD_PARTY_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning", "pytorch_lightning")
"""Loggers whose records (banners, tips, "`Trainer.fit` stopped") go to ``train.log`` only."""

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _is_own_warning(category: type[Warning], filename: str) -> bool:
    """A warning medbalance raised for the user (not a deprecation, not a library's)."""
    if issubclass(category, DeprecationWarning | PendingDeprecationWarning | FutureWarning):
        return False
    try:
        return str(Path(filename).resolve()).startswith(_PACKAGE_DIR)
    except (OSError, ValueError):
        return False


@contextmanager
def capture_logs(log_file: Path | None, *, console: bool = True) -> Iterator[None]:
    """Send medbalance's and Lightning's log records, and every warning, to ``log_file``.

    The terminal keeps only medbalance's own messages: its warnings (collapse, ...) still
    reach stderr, while Lightning's start-up banners ("GPU available", "LOCAL_RANK"), its
    promotional tips and third-party deprecation warnings are written to ``log_file`` only.
    ``log_file=None, console=False`` silences a DDP rank other than 0 (rank 0 logs the run).
    """
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler: logging.Handler = (
        logging.FileHandler(log_file, mode="a", encoding="utf-8") if log_file is not None else logging.NullHandler()
    )
    file_handler.setFormatter(formatter)
    file_handler.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [file_handler]
    own = logging.getLogger("medbalance")
    third = [logging.getLogger(name) for name in _THIRD_PARTY_LOGGERS]
    loggers = [own, *third]
    for handler in handlers:
        handler._medbalance_capture = True  # type: ignore[attr-defined]

    def outside(lg: logging.Logger) -> list[logging.Handler]:  # another capture's handlers are not restored
        return [h for h in lg.handlers if not getattr(h, "_medbalance_capture", False)]

    previous = [(lg.level, lg.propagate, outside(lg)) for lg in loggers]
    own.setLevel(logging.INFO)
    own.addHandler(file_handler)
    for lg in third:  # their own console handlers out, no propagation to a notebook's root handler
        for handler in list(lg.handlers):
            lg.removeHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
        lg.addHandler(file_handler)
    if console:  # medbalance's warnings (collapse, ...) reach the console too
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        stream.setLevel(logging.WARNING)
        stream.addFilter(lambda record: not getattr(record, "file_only", False))
        stream._medbalance_capture = True  # type: ignore[attr-defined]
        handlers.append(stream)
        own.addHandler(stream)
    warnings_log = logging.getLogger("medbalance.warnings")
    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:  # fmt: skip
        text = warnings.formatwarning(message, category, filename, lineno, line).strip()
        warnings_log.info("%s", text, extra={"file_only": True})
        if console and _is_own_warning(category, filename):
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
        for lg, (level, propagate, kept) in zip(loggers, previous, strict=True):
            for handler in handlers:
                lg.removeHandler(handler)
            for handler in kept:
                if handler not in lg.handlers:
                    lg.addHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
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
