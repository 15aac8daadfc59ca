"""Side effects of training as Lightning callbacks.

* :class:`EpochSetup` - before every epoch: the freeze schedule (REBUILDING the
  optimizer when trainability changes), the learning-rate schedule, the
  strategy's ``on_epoch_start``, the sampler's and dataset's ``set_epoch``.
* :class:`NonFiniteLossGuard` - a NaN or infinite loss stops the run with a
  diagnostic file and :class:`~medbalance.errors.TrainingError`.
* :class:`CollapseDetector` - validation predictions piling into one class (or
  a class never predicted) are reported at that epoch, optionally stopping.
* :class:`HistoryWriter` - one row per epoch in ``history.csv``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from medbalance.errors import TrainingError
from medbalance.io import atomic_write_text
from medbalance.training._metrics import compute_collapse
from medbalance.training.dataset import set_loader_epoch
from medbalance.training.finetune import apply_freeze
from medbalance.training.module import ClassifierTask

__all__ = ["CollapseDetector", "EpochSetup", "HistoryWriter", "NonFiniteLossGuard", "count_parameters"]

log = logging.getLogger("medbalance.training")


def _task(pl_module: pl.LightningModule) -> ClassifierTask:
    if not isinstance(pl_module, ClassifierTask):
        raise TypeError(f"medbalance callbacks need a ClassifierTask, got {type(pl_module).__name__}.")
    return pl_module


def count_parameters(task: ClassifierTask, trainer: pl.Trainer) -> tuple[int, int]:
    """(trainable parameters of the model, parameters held by the optimizer)."""
    trainable = sum(p.numel() for p in task.model.parameters() if p.requires_grad)
    in_optimizer = sum(p.numel() for opt in trainer.optimizers for g in opt.param_groups for p in g["params"])
    return trainable, in_optimizer


class EpochSetup(Callback):
    """Prepare every epoch; record trainable and optimizer parameter counts."""

    def __init__(self) -> None:
        self.counts: dict[int, tuple[int, int]] = {}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        task = _task(pl_module)
        epoch = trainer.current_epoch
        if apply_freeze(task.model, task.freeze_schedule, epoch):
            # An optimizer built during warm-up holds only the head: rebuild it, or the
            # backbone would stay frozen for good.
            trainer.strategy.setup_optimizers(trainer)
            log.info(
                "epoch %d: trainable parameters changed (%s); optimizer rebuilt",
                epoch,
                task.freeze_schedule.phase(epoch),
            )
        if task.lr_schedule is not None:
            task.lr_schedule.step(epoch)
        task.strategy.on_epoch_start(epoch, trainer.max_epochs or 1)
        task.reset_batch_rng(epoch)
        datamodule = getattr(trainer, "datamodule", None)
        loader = getattr(datamodule, "train_loader", None)
        if loader is not None:
            set_loader_epoch(loader, epoch)
        self.counts[epoch] = count_parameters(task, trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        task = _task(pl_module)
        result = task.val_result
        if trainer.sanity_checking or result is None or task.optim.scheduler != "plateau":
            return
        monitor = task.optim.plateau_monitor
        value = result.metrics.get(monitor, math.nan)
        if task.lr_schedule is not None and math.isfinite(value):
            task.lr_schedule.step(trainer.current_epoch + 1, value)


class NonFiniteLossGuard(Callback):
    """Stop at the first NaN/inf loss: write ``diagnostic_path`` (JSON) and raise TrainingError.

    Args:
        diagnostic_path: where the step, epoch, loss and last batch statistics go.
    """

    def __init__(self, diagnostic_path: Path) -> None:
        self.diagnostic_path = Path(diagnostic_path)

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        value = float(loss.detach().float())
        if math.isfinite(value):
            return
        task = _task(pl_module)
        record = {
            "error": "non-finite training loss",
            "loss": str(value),
            "global_step": int(trainer.global_step),
            "epoch": int(trainer.current_epoch),
            "learning_rates": [float(g["lr"]) for opt in trainer.optimizers for g in opt.param_groups],
            "last_batch": task.describe_last_batch(),
            "strategy": task.strategy.name,
        }
        atomic_write_text(self.diagnostic_path, json.dumps(record, indent=2) + "\n")
        raise TrainingError(
            f"training loss became {value} at step {trainer.global_step} (epoch {trainer.current_epoch}); "
            f"the run was stopped and marked failed. Diagnostic: {self.diagnostic_path}. "
            "Fix: lower --lr, keep --grad-clip on, check the images for NaN (medbalance validate), "
            "or use --precision 32-true."
        )


class CollapseDetector(Callback):
    """Report epochs whose validation predictions collapse onto one class.

    Args:
        share: a class holding more than this share of predictions is a collapse.
        on_collapse: ``warn`` only reports; ``stop`` also stops training.
    """

    def __init__(self, share: float = 0.95, on_collapse: Literal["warn", "stop"] = "warn") -> None:
        self.share = share
        self.on_collapse = on_collapse
        self.events: list[dict[str, Any]] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        task = _task(pl_module)
        result = task.val_result
        if trainer.sanity_checking or result is None:
            return
        reason = compute_collapse(result.predicted, task.class_names, self.share)
        if reason is None:
            return
        epoch = trainer.current_epoch
        self.events = [e for e in self.events if e["epoch"] != epoch] + [{"epoch": epoch, "reason": reason}]
        action = (
            "stopping (--on-collapse stop)"
            if self.on_collapse == "stop"
            else "continuing (--on-collapse warn)"
        )
        log.warning("epoch %d: predictions collapsed: %s; %s", epoch, reason, action)
        if self.on_collapse == "stop":
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"events": self.events}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.events = list(state_dict.get("events", []))


class HistoryWriter(Callback):
    """Write ``history.csv``: one row per epoch (loss, lr, parameter counts, val metrics).

    Args:
        path: the CSV file (rewritten atomically after every epoch).
        setup: the :class:`EpochSetup` whose parameter counts are reported.
        collapse: the :class:`CollapseDetector` whose events are reported.
    """

    def __init__(self, path: Path, setup: EpochSetup, collapse: CollapseDetector) -> None:
        self.path = Path(path)
        self.epoch_setup = setup
        self.collapse = collapse
        self.rows: list[dict[str, Any]] = []
        self._started = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        task = _task(pl_module)
        epoch = trainer.current_epoch
        trainable, in_optimizer = self.epoch_setup.counts.get(epoch, count_parameters(task, trainer))
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": task.train_loss_sum / task.train_batches if task.train_batches else math.nan,
            "lr": max(
                (float(g["lr"]) for opt in trainer.optimizers for g in opt.param_groups), default=math.nan
            ),
            "phase": task.freeze_schedule.phase(epoch),
            "trainable_params": trainable,
            "optimizer_params": in_optimizer,
            "seconds": round(time.perf_counter() - self._started, 3),
        }
        result = task.val_result
        if result is not None and result.epoch == epoch:
            row.update({f"val_{k}": v for k, v in result.metrics.items()})
            if result.ema_metrics is not None:
                row.update({f"val_ema_{k}": v for k, v in result.ema_metrics.items()})
        events = [e["reason"] for e in self.collapse.events if e["epoch"] == epoch]
        row["collapse"] = events[0] if events else ""
        self.rows = [r for r in self.rows if r["epoch"] != epoch] + [row]
        if trainer.is_global_zero:
            atomic_write_text(self.path, pd.DataFrame(self.rows).to_csv(index=False))

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))
