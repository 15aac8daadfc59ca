"""Experiment trackers of a run: CSV always; TensorBoard, MLflow, Weights & Biases when asked.

Each tracker receives the resolved config as hyperparameters, the per-epoch metrics
(through Lightning) and, after training, the best checkpoint's validation and test
metrics (``final/val_auc``, ``final/test_auc``, ...). ``summary.json`` records where
(``trackers``), so a later ``medbalance evaluate`` adds the evaluation's headline metrics
with their intervals (``eval/<level>/auc_roc``, ``..._low``, ``..._high``) and, for MLflow
and TensorBoard, its figures (:func:`log_evaluation`). Where the trackers write:

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

from medbalance.config import config_to_dict
from medbalance.errors import ConfigError
from medbalance.training.config import TrainConfig

__all__ = [
    "TRACKERS",
    "create_loggers",
    "describe_trackers",
    "log_evaluation",
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
    version = f"resumed-{int(time.time())}" if config.resume else ""
    loggers: list[Any] = [CSVLogger(save_dir=str(out), name="logs", version=version)]
    for name in config.loggers:
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
    """The whole resolved config (nested keys as ``phantoms.size``) to every tracker."""
    params = _flat(config_to_dict(config))
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
            found["wandb"] = {"project": logger.name, "run_id": str(logger.version)}
    return found


def _headline(result: Any) -> dict[str, float]:
    """``eval/<level>/<metric>`` (+ ``_low``/``_high``): threshold-free metrics and each rule's
    sensitivity, specificity, PPV and NPV."""
    metrics: dict[str, float] = {}
    for row in result.to_frame().itertuples():
        if not row.rule and row.section.count("/") > 1:
            continue  # per-class entries of a multi-class task
        if row.rule and row.metric not in ("sensitivity", "specificity", "ppv", "npv"):
            continue
        key = f"eval/{result.level}/" + (f"{row.rule}/{row.metric}" if row.rule else row.metric)
        for suffix, value in (("", row.estimate), ("_low", row.low), ("_high", row.high)):
            if value is not None and math.isfinite(float(value)):
                metrics[key + suffix] = float(value)
    return metrics


def log_evaluation(run_dir: str | Path, result: Any) -> list[str]:
    """Log an evaluation to the trackers the run trained with (``summary.json`` ``trackers``).

    MLflow gets the headline metrics, ``metrics.json`` and the figures as artefacts of the
    run's own MLflow run; TensorBoard the metrics and the figures as images. Weights & Biases
    is not resumed (an offline run cannot be); its run keeps the training's ``final/`` metrics.

    Returns:
        The trackers logged to. A tracker that fails is reported as a warning, and the
        evaluation itself (already written) stands.
    """
    import json
    import logging
    import warnings

    run_dir = Path(run_dir)
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    trackers = summary.get("trackers") or {}
    unit = summary.get("unit") or {}
    if len(unit.get("run_dirs") or ()) > 1:
        return []  # a benchmark unit pooled over several cells: no one run to log to
    # a benchmark unit tests its cell's model on one data set: keep the data sets apart
    where_in_run = f"{unit['test_set']}/" if unit.get("test_set") else ""
    metrics = {f"eval/{where_in_run}" + k[len("eval/") :]: v for k, v in _headline(result).items()}
    done: list[str] = []
    for name, where in trackers.items():
        try:
            if name == "mlflow":
                _log_mlflow(where, result, metrics, run_dir, where_in_run)
            elif name == "tensorboard":
                _log_tensorboard(where, result, metrics, where_in_run)
            else:
                continue
        except Exception as exc:  # a tracker being down must not undo a finished evaluation
            text = f"could not log the evaluation to {name}: {type(exc).__name__}: {exc}"
            logging.getLogger("medbalance.evaluation").warning(text)
            warnings.warn(text, stacklevel=2)
            continue
        done.append(name)
    return done


def _log_mlflow(
    where: Mapping[str, Any], result: Any, metrics: Mapping[str, float], run_dir: Path, where_in_run: str
) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    uri = str(where["tracking_uri"])
    if uri == f"file:{run_dir.resolve() / 'mlruns'}":
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # medbalance's own default store
    client = MlflowClient(tracking_uri=uri)
    run_id = str(where["run_id"])
    stamp = int(time.time() * 1000)
    items = [Metric(k, v, stamp, 0) for k, v in metrics.items()]
    for start in range(0, len(items), 500):
        client.log_batch(run_id, metrics=items[start : start + 500])
    artifact_path = f"evaluation/{where_in_run}{result.level}"
    client.log_artifact(run_id, str(Path(result.out_dir) / "metrics.json"), artifact_path)
    for figure in result.figures:
        client.log_artifact(run_id, str(figure), artifact_path)


def _log_tensorboard(
    where: Mapping[str, Any], result: Any, metrics: Mapping[str, float], where_in_run: str
) -> None:
    import numpy as np
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(where["log_dir"]))
    try:
        for key, value in metrics.items():
            writer.add_scalar(key, value, 0)
        for figure in result.figures:
            with Image.open(figure) as image:
                pixels = np.asarray(image.convert("RGB"))
            tag = f"eval/{where_in_run}{result.level}/{Path(figure).stem}"
            writer.add_image(tag, pixels, 0, dataformats="HWC")
    finally:
        writer.close()
