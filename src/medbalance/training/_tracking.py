"""Experiment trackers of a run: CSV always; TensorBoard, MLflow, Weights & Biases when asked.

Each tracker receives the resolved config as hyperparameters, the per-epoch metrics
(through Lightning) and, after training, the best checkpoint's validation and test
metrics (``final/val_auc_roc``, ``final/test_auc_roc``, ...). ``summary.json`` records where
(``trackers``), so a later ``medbalance evaluate`` adds the evaluation's headline metrics
with their intervals (``eval/<level>/auc_roc``, ``..._low``, ``..._high``) and, for MLflow
and TensorBoard, its figures (``medbalance.evaluation.tracking.log_evaluation``). Where the trackers write:

* TensorBoard: ``RUN/tensorboard/`` event files.
* MLflow: ``MLFLOW_TRACKING_URI`` when set (a team's server, ``sqlite:///mlflow.db``,
  ``databricks``), else the file store ``file:RUN/mlruns`` (opting in to MLflow 3's
  maintenance-mode file store with ``MLFLOW_ALLOW_FILE_STORE=true`` unless that is set);
  experiment ``MLFLOW_EXPERIMENT_NAME`` (default ``medbalance``); the run is named after
  the run folder.
* Weights & Biases: project ``WANDB_PROJECT`` (default ``medbalance``), files under
  ``RUN/wandb/``; ``WANDB_MODE`` decides online/offline, and when it is unset the run is
  offline unless ``WANDB_API_KEY`` is set (no login prompt, no network needed; upload an
  offline run later with ``wandb sync RUN/wandb/offline-run-*``).
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medbalance.config import config_to_dict, flatten_sections
from medbalance.errors import ConfigError
from medbalance.training.config import TrainConfig

__all__ = [
    "TRACKERS",
    "create_loggers",
    "describe_trackers",
    "log_final_metrics",
    "log_hyperparameters",
    "wandb_mode",
]

TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
"""``--logger`` name -> the package it needs (all in the ``track`` extra)."""


def _require(name: str) -> None:
    package = TRACKERS[name]
    found = importlib.util.find_spec(package) is not None
    if name == "tensorboard":
        found = found or importlib.util.find_spec("tensorboardX") is not None
    if not found:
        raise ConfigError(
            f"--logger {name} needs the {package} package, which is not installed. "
            f"Install it with: pip install 'medbalance[track]' (or pip install {package})."
        )


def wandb_mode() -> str:
    """``WANDB_MODE`` when set, else ``online`` with ``WANDB_API_KEY`` and ``offline`` without."""
    mode = os.environ.get("WANDB_MODE", "").strip()
    if mode:
        return mode
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def create_loggers(config: TrainConfig, out: Path) -> list[Any]:
    """CSV always, plus the trackers of ``config.loggers``.

    Raises:
        ConfigError: a tracker's package is not installed (names the extra).
    """
    from lightning.pytorch.loggers import CSVLogger

    # A resumed run logs into a new version folder: CSVLogger would delete the first attempt's steps.
    version = f"resumed-{int(time.time())}" if config.run.resume else ""
    loggers: list[Any] = [CSVLogger(save_dir=str(out), name="logs", version=version)]
    for name in config.run.loggers:
        _require(name)
        if name == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(
                TensorBoardLogger(save_dir=str(out), name="tensorboard", version=version, default_hp_metric=False)
            )
        elif name == "mlflow":
            from lightning.pytorch.loggers import MLFlowLogger

            tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
            if not tracking_uri:
                tracking_uri = f"file:{Path(out).resolve() / 'mlruns'}"
                # MLflow 3 refuses file stores unless opted in; this per-run default is ours, not the user's.
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            loggers.append(
                MLFlowLogger(
                    experiment_name=os.environ.get("MLFLOW_EXPERIMENT_NAME") or "medbalance",
                    run_name=Path(out).name,
                    tracking_uri=tracking_uri,
                    tags={"medbalance.run_folder": str(Path(out).resolve())},
                )
            )
        elif name == "wandb":
            from lightning.pytorch.loggers import WandbLogger

            loggers.append(
                WandbLogger(
                    project=os.environ.get("WANDB_PROJECT") or "medbalance",
                    name=Path(out).name,
                    save_dir=str(out),
                    mode=wandb_mode(),  # passed on to wandb.init
                )
            )
    return loggers


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = "" if value is None else value
    return flat


def log_hyperparameters(loggers: Sequence[Any], config: TrainConfig) -> None:
    """The whole resolved config to every tracker.

    Section fields keep their flat names (``epochs``, not ``optim.epochs``), so runs
    logged before the config had sections compare with later ones; other nested keys
    are dotted (``phantoms.size``, ``strategy_params.gamma``).
    """
    params = _flat(flatten_sections(TrainConfig, config_to_dict(config)))
    for logger in loggers:
        logger.log_hyperparams(params)


def log_final_metrics(loggers: Sequence[Any], summary: Mapping[str, Any], *, step: int) -> None:
    """The best checkpoint's ``final/val_*`` and ``final/test_*`` metrics, then close the trackers."""
    metrics: dict[str, float] = {}
    for split in ("val", "test"):
        for key, value in (summary.get(f"{split}_metrics") or {}).items():
            if value is not None and math.isfinite(float(value)):
                metrics[f"final/{split}_{key}"] = float(value)
    if summary.get("best_epoch") is not None:
        metrics["final/best_epoch"] = float(summary["best_epoch"])
    for logger in loggers:
        if metrics:
            logger.log_metrics(metrics, step=step)
        logger.finalize("success")
        if type(logger).__name__ == "WandbLogger":  # else the next run in this process reuses it
            import wandb

            wandb.finish()


def describe_trackers(loggers: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Where each tracker of a finished run logged (for ``summary.json``)."""
    found: dict[str, dict[str, Any]] = {}
    for logger in loggers:
        kind = type(logger).__name__
        if kind == "MLFlowLogger":
            found["mlflow"] = {
                "tracking_uri": logger._tracking_uri,
                "experiment_id": logger.experiment_id,
                "run_id": logger.run_id,
            }
        elif kind == "TensorBoardLogger":
            found["tensorboard"] = {"log_dir": str(Path(logger.log_dir).resolve())}
        elif kind == "WandbLogger":
            found["wandb"] = {
                "project": logger.name,
                "run_id": str(logger.version),
                "run_name": Path(logger.save_dir or ".").name,
                "dir": str(Path(logger.save_dir or ".").resolve()),
                "mode": wandb_mode(),
            }
    return found
