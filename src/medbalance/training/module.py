"""The Lightning task: a classifier, the strategy's loss, and validation metrics.

The task returns the loss; everything else (freeze schedule, learning-rate
schedule, checkpoints, collapse and NaN guards, history) lives in callbacks.
Validation runs every epoch on the natural-prevalence validation split; its
probabilities are ``softmax(strategy.adjust_logits(logits))``, the strategy's
post-hoc hook included, so the metrics describe the decisions the run reports.

Example:
    >>> import numpy as np, torch
    >>> from medbalance.strategies import create_strategy
    >>> from medbalance.training.models import create_model
    >>> model = create_model("small-cnn", num_classes=2, in_chans=1)
    >>> strategy = create_strategy("none").fit(np.array([0, 0, 0, 1]), 2, seed=0)
    >>> task = ClassifierTask(model, strategy, class_names=("benign", "malignant"), optim=OptimizerSettings())
    >>> task.probabilities(torch.zeros(1, 2)).tolist()  # softmax of the strategy-adjusted logits
    [[0.5, 0.5]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from medbalance.defaults import DEFAULT_LR
from medbalance.strategies import Strategy
from medbalance.training._metrics import compute_validation_metrics
from medbalance.training.dataset import Normalization
from medbalance.training.finetune import FreezeSchedule, apply_freeze, build_param_groups

__all__ = ["ClassifierTask", "OptimizerSettings", "ValidationResult", "create_lr_schedule"]


@dataclass(frozen=True)
class OptimizerSettings:
    """Optimizer and learning-rate schedule of a run (see ``TrainConfig``)."""

    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = DEFAULT_LR
    weight_decay: float = 1e-4
    scheduler: Literal["cosine", "plateau", "none"] = "cosine"
    lr_warmup_epochs: int = 0
    epochs: int = 10
    plateau_monitor: str = "auc_roc"
    plateau_mode: Literal["max", "min"] = "max"
    sam_rho: float | None = None


@dataclass(frozen=True)
class ValidationResult:
    """One validation pass: metrics of the raw weights (and the EMA weights)."""

    epoch: int
    metrics: dict[str, float]
    predicted: np.ndarray
    ema_metrics: dict[str, float] | None = None


def create_lr_schedule(optimizer: torch.optim.Optimizer, settings: OptimizerSettings) -> Any:
    """A timm epoch scheduler (``step(epoch, metric)``) with linear warm-up.

    timm's schedulers compute the rate from the epoch number itself, so the
    schedule survives optimizer rebuilds (unfreezing) and resumed runs.
    """
    from timm.scheduler import CosineLRScheduler, PlateauLRScheduler, StepLRScheduler

    warmup = settings.lr_warmup_epochs
    start = settings.lr / (warmup + 1) if warmup else 0.0
    if settings.scheduler == "cosine":
        return CosineLRScheduler(
            optimizer,
            t_initial=settings.epochs,
            lr_min=settings.lr * 0.01,
            warmup_t=warmup,
            warmup_lr_init=start,
        )
    if settings.scheduler == "plateau":
        return PlateauLRScheduler(
            optimizer,
            decay_rate=0.5,
            patience_t=2,
            mode=settings.plateau_mode,
            lr_min=settings.lr * 0.01,
            warmup_t=warmup,
            warmup_lr_init=start,
        )
    return StepLRScheduler(
        optimizer, decay_t=settings.epochs + 1, decay_rate=1.0, warmup_t=warmup, warmup_lr_init=start
    )


class ClassifierTask(pl.LightningModule):
    """Train ``model`` with ``strategy``'s loss and batch hook; validate with imbalance-robust metrics.

    Args:
        model: the classifier (logits (B, K)).
        strategy: the fitted strategy.
        class_names: the task's classes, in order.
        optim: optimizer and schedule.
        freeze: what trains in which epoch (the optimizer is rebuilt when it changes).
        positive_index: the positive class of a binary task.
        ordinal: add quadratic kappa to the validation metrics.
        batch_normalization: normalisation applied to batches after the
            strategy's batch hook (when the datasets leave images in [0, 1]).
        seed: seeds the batch hook's random draws (with epoch and rank).
        channels_last: feed the model channels-last tensors.
        ema_decay: keep an EMA of the weights with this decay (None: off).
    """

    def __init__(
        self,
        model: nn.Module,
        strategy: Strategy,
        *,
        class_names: tuple[str, ...],
        optim: OptimizerSettings,
        freeze: FreezeSchedule | None = None,
        positive_index: int | None = None,
        ordinal: bool = False,
        batch_normalization: Normalization | None = None,
        seed: int = 0,
        channels_last: bool = False,
        ema_decay: float | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.strategy = strategy
        self.loss_fn = strategy.make_loss()
        self.class_names = tuple(class_names)
        self.optim = optim
        self.freeze_schedule = freeze or FreezeSchedule()
        self.positive_index = positive_index
        self.ordinal = ordinal
        self.batch_normalization = batch_normalization
        self.seed = int(seed)
        self.use_channels_last = channels_last
        self.ema: AveragedModel | None = None
        if ema_decay is not None:
            self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
            self.ema.requires_grad_(False)
        self.start_epoch = 0
        self.lr_schedule: Any = None
        self.batch_rng = np.random.default_rng(self.seed)
        self.last_batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.train_loss_sum = 0.0
        self.train_batches = 0
        self.val_result: ValidationResult | None = None
        self._val: dict[str, list[torch.Tensor]] = {}
        # SAM needs two forward/backward passes per step: Lightning's manual optimisation
        self.automatic_optimization = optim.sam_rho is None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, K)."""
        return self.model(images)

    # -- batches ----------------------------------------------------------------

    def reset_batch_rng(self, epoch: int) -> None:
        """Seed the batch hook's generator from (seed, epoch, rank), as a resumed run would."""
        rank = self.trainer.global_rank if self._trainer is not None else 0
        self.batch_rng = np.random.default_rng([self.seed, epoch, rank])

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, targets, index, spacing = batch
        if self._trainer is not None and self.trainer.training and "batch" in self.strategy.hooks:
            images, targets = self.strategy.transform_batch(
                images, targets, spacing_mm=spacing, generator=self.batch_rng
            )
        if self.batch_normalization is not None:
            images = self.batch_normalization(images)
        if self.use_channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, targets, index, spacing

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        images, targets = batch[0], batch[1]
        logits = self.model(images)
        loss = self.loss_fn(logits.float(), targets)
        if not self.automatic_optimization:
            self._sam_step(images, targets, loss)
        self.last_batch = (images.detach(), targets.detach(), logits.detach())
        self.log(
            "train_loss", loss.detach(), on_step=True, on_epoch=False, prog_bar=True, batch_size=len(targets)
        )
        if torch.isfinite(loss.detach()):
            self.train_loss_sum += float(loss.detach())
            self.train_batches += 1
        return loss

    def _sam_step(self, images: torch.Tensor, targets: torch.Tensor, loss: torch.Tensor) -> None:
        """Gradients at w, SAM's ascent to w + e, gradients there, the base step from w."""
        optimizer = self.optimizers()
        optimizer.zero_grad()  # type: ignore[union-attr]
        self.manual_backward(loss)

        def perturbed_loss() -> torch.Tensor:
            ascent = self.loss_fn(self.model(images).float(), targets)
            self.manual_backward(ascent)
            return ascent

        optimizer.step(closure=perturbed_loss)  # type: ignore[union-attr]
        optimizer.zero_grad()  # type: ignore[union-attr]

    def describe_last_batch(self) -> dict[str, Any]:
        """Statistics of the last training batch (for the NaN diagnostic)."""
        if self.last_batch is None:
            return {}
        return _batch_stats(*self.last_batch, self.class_names)

    def on_train_epoch_start(self) -> None:
        self.train_loss_sum, self.train_batches = 0.0, 0

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    # -- validation -------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        self._val = {"logits": [], "targets": [], "ema": []}

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, targets = batch[0], batch[1]
        self._val["logits"].append(self.model(images).float().cpu())
        self._val["targets"].append(targets.cpu())
        if self.ema is not None:
            self._val["ema"].append(self.ema(images).float().cpu())

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Class probabilities with the strategy's post-hoc adjustment applied."""
        return torch.softmax(self.strategy.adjust_logits(logits.float()), dim=1)

    def on_validation_epoch_end(self) -> None:
        if not self._val.get("logits"):
            return
        targets = torch.cat(self._val["targets"]).numpy()
        probs = self.probabilities(torch.cat(self._val["logits"])).numpy()
        metrics = compute_validation_metrics(
            probs, targets, ordinal=self.ordinal, positive_index=self.positive_index
        )
        ema_metrics = None
        if self._val["ema"]:
            ema_probs = self.probabilities(torch.cat(self._val["ema"])).numpy()
            ema_metrics = compute_validation_metrics(
                ema_probs, targets, ordinal=self.ordinal, positive_index=self.positive_index
            )
            self.log_dict({f"val_ema_{k}": v for k, v in ema_metrics.items()}, sync_dist=False)
        self.log_dict({f"val_{k}": v for k, v in metrics.items() if k != "auc_roc"}, sync_dist=False)
        self.log("val_auc_roc", metrics["auc_roc"], prog_bar=True)
        self.val_result = ValidationResult(self.current_epoch, metrics, probs.argmax(axis=1), ema_metrics)

    # -- optimization -------------------------------------------------------------

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Build the optimizer over the parameters trainable in the current epoch."""
        epoch = max(self.current_epoch, self.start_epoch)
        apply_freeze(self.model, self.freeze_schedule, epoch)
        groups = build_param_groups(self.model, lr=self.optim.lr, weight_decay=self.optim.weight_decay)
        optimizer: torch.optim.Optimizer
        base: type[torch.optim.Optimizer]
        kwargs: dict[str, Any]
        if self.optim.optimizer == "sgd":
            base, kwargs = torch.optim.SGD, {"momentum": 0.9, "nesterov": True}
        else:
            base, kwargs = torch.optim.AdamW, {}
        if self.optim.sam_rho is not None:
            from pytorch_optimizer import SAM

            optimizer = SAM(groups, base, rho=self.optim.sam_rho, lr=self.optim.lr, **kwargs)
        else:
            optimizer = base(groups, lr=self.optim.lr, **kwargs)
        self.lr_schedule = create_lr_schedule(optimizer, self.optim)
        return optimizer


def _batch_stats(
    images: torch.Tensor, targets: torch.Tensor, logits: torch.Tensor, class_names: tuple[str, ...]
) -> dict[str, Any]:
    """Cheap statistics of the last batch, for the NaN diagnostic."""
    with torch.no_grad():
        flat = images.detach().float()
        out = logits.detach().float()
        counts = torch.bincount(targets.detach().cpu(), minlength=len(class_names)).tolist()
        return {
            "batch_size": len(targets),
            "class_counts": dict(zip(class_names, counts, strict=False)),
            "images_nonfinite": int((~torch.isfinite(flat)).sum()),
            "images_min": float(torch.nan_to_num(flat).min()),
            "images_max": float(torch.nan_to_num(flat).max()),
            "logits_nonfinite": int((~torch.isfinite(out)).sum()),
            "logits_abs_max": float(torch.nan_to_num(out).abs().max()),
        }
