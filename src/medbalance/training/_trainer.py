"""Build the Lightning Trainer of a run: device, precision, DDP, loggers, progress bar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ProgressBar, TQDMProgressBar

from medbalance.errors import ConfigError
from medbalance.training._tracking import create_loggers
from medbalance.training.config import TrainConfig

__all__ = ["DeviceChoice", "create_loggers", "create_trainer", "parse_devices", "resolve_device"]


@dataclass(frozen=True)
class DeviceChoice:
    """What the run trains on, resolved from the config and the machine."""

    accelerator: str
    precision: str
    channels_last: bool
    device: torch.device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(config: TrainConfig) -> DeviceChoice:
    """CUDA, else Apple's MPS, else CPU (``auto``); mixed precision where the device supports it.

    ``auto`` precision is bf16-mixed on CUDA GPUs that support bf16 (else 16-mixed),
    32-true on MPS and CPU. channels-last made CPU training steps 1.2x (resnet18) to 1.9x
    (small-cnn) faster on the development machine (docs/performance.md); it is used on
    CPU and CUDA, not on MPS (slower there).

    Raises:
        ConfigError: a CUDA GPU or MPS was asked for on a machine without one, GPU ids
            without a CUDA GPU, or 16-bit mixed precision on CPU.
    """
    has_cuda, has_mps = torch.cuda.is_available(), _mps_available()
    if config.hardware.accelerator == "gpu" and not has_cuda:
        hint = " This Mac has MPS: use --accelerator mps (or auto)." if has_mps else ""
        raise ConfigError(
            f"--accelerator gpu was given but no CUDA GPU is visible; use --accelerator auto or cpu.{hint}"
        )
    if config.hardware.accelerator == "mps" and not has_mps:
        raise ConfigError(
            "--accelerator mps was given but Apple's MPS backend is not available (it needs an Apple "
            "silicon Mac and a torch build with MPS); use --accelerator auto or cpu."
        )
    if config.hardware.accelerator == "auto":
        kind = "cuda" if has_cuda else "mps" if has_mps else "cpu"
    else:
        kind = {"gpu": "cuda", "mps": "mps", "cpu": "cpu"}[config.hardware.accelerator]
    parse_devices(config.hardware.devices, kind)  # GPU ids for a CPU or MPS run fail here, before any data work
    precision: str = config.hardware.precision
    if precision == "auto":
        # 16-mixed's loss scaler steps the optimizer without a closure, which SAM needs
        fallback = "32-true" if config.optim.sam else "16-mixed"
        precision = ("bf16-mixed" if torch.cuda.is_bf16_supported() else fallback) if kind == "cuda" else "32-true"
    if precision == "16-mixed" and kind == "cpu":
        raise ConfigError("--precision 16-mixed needs a GPU; on CPU use 32-true (default) or bf16-mixed.")
    return DeviceChoice(
        accelerator={"cuda": "gpu", "mps": "mps", "cpu": "cpu"}[kind],
        precision=precision,
        channels_last=kind != "mps",
        device=torch.device(kind),
    )


def parse_devices(devices: str, kind: str = "cuda") -> int | list[int] | str:
    """``auto``, a device count (``2``) or CUDA GPU ids (``0,2``; one id as ``3,``), as Lightning takes them.

    Raises:
        ConfigError: not one of those, or GPU ids for a CPU or MPS run.
    """
    text = str(devices).strip().strip("[]").replace(" ", "")
    if text == "auto":
        return "auto"
    if text.isdigit():
        return int(text)
    ids = [part for part in text.split(",") if part]
    if "," not in text or not ids or not all(part.isdigit() for part in ids):
        raise ConfigError(
            f"--devices must be 'auto', a device count (2) or CUDA GPU ids (0,2 or 3,), got {devices!r}."
        )
    if kind != "cuda":
        raise ConfigError(
            f"--devices {devices} names GPU ids, but this run trains on {kind.upper()}; "
            "give a count (1) or use --accelerator gpu on a machine with CUDA GPUs."
        )
    return [int(part) for part in ids]


def _distributed(config: TrainConfig) -> str:
    if config.hardware.distributed != "ddp":
        return "auto"
    # Parameters frozen during warm-up get no gradient; DDP must be told they may be unused.
    return "ddp_find_unused_parameters_true" if config.network.freeze != "none" else "ddp"


def create_trainer(
    config: TrainConfig, device: DeviceChoice, callbacks: list[Callback], out: Path
) -> pl.Trainer:
    """A Trainer that uses the strategy's own batch sampler (``use_distributed_sampler=False``)."""
    # The library's epoch bar is tqdm's (Lightning would pick Rich's whenever Rich is
    # installed); a bar among the callbacks replaces it (``medbalance train`` passes Rich's).
    callbacks = list(callbacks)
    if config.run.progress and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(TQDMProgressBar())
    kind = "cuda" if device.accelerator == "gpu" else device.accelerator
    devices = parse_devices(config.hardware.devices, kind)
    return pl.Trainer(
        max_epochs=config.optim.epochs,
        accelerator=device.accelerator,
        devices=devices,
        num_nodes=config.hardware.num_nodes,
        strategy=_distributed(config),
        precision=device.precision,  # type: ignore[arg-type]
        callbacks=callbacks,
        logger=create_loggers(config, out),
        enable_checkpointing=False,
        enable_progress_bar=config.run.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        gradient_clip_val=config.optim.grad_clip,
        deterministic=(True if device.accelerator == "cpu" else "warn") if config.hardware.deterministic else False,
        log_every_n_steps=10,
        default_root_dir=str(out),
    )
