"""Checkpoints: ``.safetensors`` weights plus a JSON sidecar, top-k and ``last``.

Layout of ``<run>/checkpoints/``::

    epoch=0003.safetensors   raw weights of a top-k epoch (safetensors: no pickle)
    epoch=0003.json          sidecar: classes, preprocessing, strategy, model, hashes, metrics
    epoch=0003-ema.safetensors  EMA weights of the same epoch (with --ema)
    index.json               the ranking: monitor, declared tie-break, kept epochs best first
    last.ckpt / last.json    Lightning's full trainer state (optimizer, loops, callbacks) for --resume

Ranking: the monitored validation metric (higher is better; ``loss`` lower),
an undefined (NaN) metric ranks last; ties go to the LOWER validation loss,
then the LATER epoch. Every file is written atomically (temp file, fsync,
rename). ``--resume`` refuses a run whose config hash or split hash changed,
unless ``--force``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from safetensors.torch import load_file, save_file
from torch import nn

from medbalance.errors import CheckpointError
from medbalance.io import atomic_save, atomic_write_text, no_space_named
from medbalance.registry import look_up_option
from medbalance.training.module import ClassifierTask

__all__ = [
    "MONITORS",
    "TIE_BREAK",
    "TopKCheckpoints",
    "check_monitor",
    "check_resume",
    "load_checkpoint_weights",
    "rank_key",
    "read_sidecar",
    "save_weights",
]

#: Validation metrics a run can select checkpoints by (``ema_`` + one of them with --ema).
MONITORS: tuple[str, ...] = (
    "auc_roc", "balanced_accuracy", "macro_f1", "mcc", "kappa", "loss", "sensitivity", "specificity"
)  # fmt: skip
TIE_BREAK = "higher monitored metric (lower for loss; undefined last), then lower val loss, then later epoch"


def rank_key(
    metric: float, val_loss: float, epoch: int, *, higher_is_better: bool = True
) -> tuple[float, ...]:
    """Sort key, larger is better: (metric, -val loss, epoch), NaN ranked last."""
    score = metric if higher_is_better else -metric
    score = score if math.isfinite(score) else -math.inf
    loss = -val_loss if math.isfinite(val_loss) else -math.inf
    return (score, loss, float(epoch))


def _state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    # clone(): safetensors refuses tensors sharing storage; contiguous(): channels_last weights.
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(path: Path, module: nn.Module, sidecar: Mapping[str, Any]) -> None:
    """Write ``path`` (.safetensors) and ``path.with_suffix('.json')`` atomically."""
    path = Path(path)
    tensors = _state_dict(module)
    atomic_save(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
    atomic_write_text(path.with_suffix(".json"), json.dumps(dict(sidecar), indent=2, default=str) + "\n")


def read_sidecar(path: Path) -> dict[str, Any]:
    """The JSON sidecar of a checkpoint (``x.safetensors`` -> ``x.json``; ``.json`` accepted).

    Raises:
        CheckpointError: missing or unreadable sidecar.
    """
    path = Path(path)
    side = path if path.suffix == ".json" else path.with_suffix(".json")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"checkpoint sidecar {side} is missing; the checkpoint is incomplete.") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint sidecar {side} is unreadable ({exc}).") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint sidecar {side} must hold a JSON object.")
    return data


def load_checkpoint_weights(path: Path, model: nn.Module) -> dict[str, Any]:
    """Load ``path`` (.safetensors) into ``model`` (strict) and return its sidecar.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the weights do not fit the model, or the sidecar is bad.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    sidecar = read_sidecar(path)
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except (RuntimeError, OSError) as exc:
        raise CheckpointError(
            f"{path}: weights do not fit model {sidecar.get('model')!r}: {str(exc).splitlines()[0]}"
        ) from exc
    return sidecar


def check_monitor(monitor: str, *, ema: bool, ordinal: bool, binary: bool) -> str:
    """Refuse a monitor that names no metric of this run (it would rank every epoch as undefined).

    Raises:
        ConfigError: unknown name (with "did you mean"), ``ema_`` without EMA, kappa on a
            non-ordinal task, sensitivity/specificity on a multi-class task.
    """
    options = [
        m
        for m in MONITORS
        if (m != "kappa" or ordinal) and (binary or m not in ("sensitivity", "specificity"))
    ]
    if ema:
        options += [f"ema_{m}" for m in options]
    return look_up_option(monitor, options, what="--monitor metric for this run")


def check_resume(last_json: Path, *, config_hash: str, split_hash: str, force: bool) -> dict[str, Any]:
    """The ``last`` sidecar of a run to resume, refusing a changed config or split.

    Raises:
        CheckpointError: no ``last`` checkpoint, or a hash differs and ``force`` is False.
    """
    if not Path(last_json).is_file():
        raise CheckpointError(
            f"cannot resume: {last_json} does not exist (the run saved no epoch yet). "
            "Start the run again without --resume (add --overwrite to replace the folder)."
        )
    last = read_sidecar(Path(last_json))
    changed = [
        f"{what} (checkpoint {last.get(key)}, now {now})"
        for what, key, now in (("config", "config_hash", config_hash), ("split", "split_hash", split_hash))
        if last.get(key) != now
    ]
    if changed and not force:
        raise CheckpointError(
            f"cannot resume {last_json.parent.parent}: the {' and the '.join(changed)} changed since the "
            "checkpoint was written. Resume with the same config and data, or pass --force to continue anyway."
        )
    return last


class TopKCheckpoints(Callback):
    """Keep the ``top_k`` best epochs (weights + sidecar) and a resumable ``last`` checkpoint.

    Also stops training after ``patience`` epochs without a new best (None: never).

    Args:
        folder: ``<run>/checkpoints``.
        sidecar: fields written into every sidecar (classes, preprocessing, model, hashes, ...).
        monitor: the validation metric name (``auc_roc``, ``loss``, ...).
        top_k: epochs kept.
        patience: early-stopping patience in epochs.
    """

    def __init__(
        self,
        folder: Path,
        sidecar: Mapping[str, Any],
        *,
        monitor: str,
        top_k: int,
        patience: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.sidecar = dict(sidecar)
        self.monitor = monitor
        self.higher_is_better = monitor != "loss"
        self.top_k = top_k
        self.patience = patience
        self.kept: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.epochs_since_best = 0

    def _key(self, entry: Mapping[str, Any]) -> tuple[float, ...]:
        return rank_key(
            entry["metric"], entry["val_loss"], entry["epoch"], higher_is_better=self.higher_is_better
        )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Temp files of a killed writer (hidden, never read): a resume removes them.
        if trainer.is_global_zero and self.folder.is_dir():
            for leftover in self.folder.glob(".*"):
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, ClassifierTask):
            raise TypeError("TopKCheckpoints needs a ClassifierTask.")
        epoch = trainer.current_epoch
        result = pl_module.val_result
        if result is not None and result.epoch == epoch:
            self._rank(trainer, pl_module, epoch, result.metrics)
        tmp = self.folder / ".last.ckpt.tmp"
        try:
            with no_space_named(self.folder / "last.ckpt"):
                trainer.save_checkpoint(tmp, weights_only=False)  # every rank calls it; only rank 0 writes
                if trainer.is_global_zero:
                    with open(tmp, "rb") as handle:
                        os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)  # the previous last.ckpt stays whole
            raise
        if trainer.is_global_zero:
            os.replace(tmp, self.folder / "last.ckpt")
            atomic_write_text(
                self.folder / "last.json", json.dumps(self._meta(pl_module, epoch), indent=2) + "\n"
            )
        if self.patience is not None and self.epochs_since_best >= self.patience:
            trainer.should_stop = True

    def _meta(
        self, task: ClassifierTask, epoch: int, metrics: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        meta = dict(self.sidecar)
        meta.update(
            epoch=epoch,
            monitor=self.monitor,
            strategy=task.strategy.describe(),
            metrics={k: (v if math.isfinite(v) else None) for k, v in (metrics or {}).items()},
        )
        return meta

    def _rank(
        self, trainer: pl.Trainer, task: ClassifierTask, epoch: int, metrics: Mapping[str, float]
    ) -> None:
        use_ema = self.monitor.startswith("ema_")
        result = task.val_result
        ranked_on = (result.ema_metrics if use_ema and result is not None else None) or metrics
        name = self.monitor.removeprefix("ema_")
        entry: dict[str, Any] = {
            "epoch": epoch,
            "metric": float(ranked_on.get(name, math.nan)),
            "val_loss": float(ranked_on.get("loss", math.nan)),
            "file": f"epoch={epoch:04d}{'-ema' if use_ema else ''}.safetensors",
        }
        if self.best is None or self._key(entry) > self._key(self.best):
            self.best, self.epochs_since_best = entry, 0
        else:
            self.epochs_since_best += 1
        ranked = sorted([*self.kept, entry], key=self._key, reverse=True)
        keep, drop = ranked[: self.top_k], ranked[self.top_k :]
        if trainer.is_global_zero:
            if entry in keep:
                meta = self._meta(task, epoch, metrics)
                raw = f"epoch={epoch:04d}.safetensors"
                save_weights(self.folder / raw, task.model, {**meta, "weights": "raw"})
                if task.ema is not None:
                    save_weights(
                        self.folder / raw.replace(".safetensors", "-ema.safetensors"),
                        task.ema.module,
                        {**meta, "weights": "ema"},
                    )
            index = {
                "monitor": self.monitor,
                "higher_is_better": self.higher_is_better,
                "tie_break": TIE_BREAK,
                "kept": [
                    {
                        **e,
                        "metric": e["metric"] if math.isfinite(e["metric"]) else None,
                        "val_loss": e["val_loss"] if math.isfinite(e["val_loss"]) else None,
                    }
                    for e in keep
                ],
            }
            atomic_write_text(self.folder / "index.json", json.dumps(index, indent=2) + "\n")
            # Only once the new index is published: a kill in between leaves a stray file, never
            # an index that names a deleted checkpoint.
            for old in drop:
                stem = f"epoch={old['epoch']:04d}"
                for name in (
                    f"{stem}.safetensors",
                    f"{stem}.json",
                    f"{stem}-ema.safetensors",
                    f"{stem}-ema.json",
                ):
                    (self.folder / name).unlink(missing_ok=True)
        self.kept = keep

    def state_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "best": self.best, "epochs_since_best": self.epochs_since_best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.kept = list(state_dict.get("kept", []))
        self.best = state_dict.get("best")
        self.epochs_since_best = int(state_dict.get("epochs_since_best", 0))
