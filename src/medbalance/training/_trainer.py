"""Build the Lightning Trainer of a run: device, precision, DDP, loggers, progress bar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from medbalance.errors import ConfigError
from medbalance.training._tracking import create_loggers
from medbalance.training.config import TrainConfig

__all__ = ["DeviceChoice", "create_loggers", "create_trainer", "resolve_device"]


@dataclass(frozen=True)
class DeviceChoice:
    """What the run trains on, resolved from the config and the machine."""

    accelerator: str
    precision: str
    channels_last: bool
    device: torch.device


def resolve_device(config: TrainConfig) -> DeviceChoice:
    """Mixed precision where a GPU supports it, 32-bit on CPU; channels-last on both.

    channels-last made CPU training steps 1.2x (resnet18) to 1.9x (small-cnn)
    faster on the development machine (docs/performance.md).

    Raises:
        ConfigError: a GPU was asked for on a machine without one, or 16-bit
            mixed precision on CPU.
    """
    has_gpu = torch.cuda.is_available()
    if config.accelerator == "gpu" and not has_gpu:
        raise ConfigError(
            "--accelerator gpu was given but no CUDA GPU is visible; use --accelerator auto or cpu."
        )
    gpu = has_gpu and config.accelerator != "cpu"
    precision: str = config.precision
    if precision == "auto":
        # 16-mixed's loss scaler steps the optimizer without a closure, which SAM needs
        fallback = "32-true" if config.sam else "16-mixed"
        precision = ("bf16-mixed" if torch.cuda.is_bf16_supported() else fallback) if gpu else "32-true"
    if precision == "16-mixed" and not gpu:
        raise ConfigError("--precision 16-mixed needs a GPU; on CPU use 32-true (default) or bf16-mixed.")
    return DeviceChoice(
        accelerator="gpu" if gpu else "cpu",
        precision=precision,
        channels_last=True,
        device=torch.device("cuda") if gpu else torch.device("cpu"),
    )


def _distributed(config: TrainConfig) -> str:
    if config.distributed != "ddp":
        return "auto"
    # Parameters frozen during warm-up get no gradient; DDP must be told they may be unused.
    return "ddp_find_unused_parameters_true" if config.freeze != "none" else "ddp"


def create_trainer(
    config: TrainConfig, device: DeviceChoice, callbacks: list[Callback], out: Path
) -> pl.Trainer:
    """A Trainer that uses the strategy's own batch sampler (``use_distributed_sampler=False``)."""
    callbacks = list(callbacks)
    if config.progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=True))
    devices: int | str = int(config.devices) if str(config.devices).isdigit() else "auto"
    return pl.Trainer(
        max_epochs=config.epochs,
        accelerator=device.accelerator,
        devices=devices,
        num_nodes=config.num_nodes,
        strategy=_distributed(config),
        precision=device.precision,  # type: ignore[arg-type]
        callbacks=callbacks,
        logger=create_loggers(config, out),
        enable_checkpointing=False,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        gradient_clip_val=config.grad_clip,
        deterministic=(True if device.accelerator == "cpu" else "warn") if config.deterministic else False,
        log_every_n_steps=10,
        default_root_dir=str(out),
    )
