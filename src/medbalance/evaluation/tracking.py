"""An evaluation logged to the trackers its run trained with (``summary.json`` ``trackers``).

Training records where each tracker logged (``medbalance.training._tracking``); this
module reads only that record and the evaluation's result, so evaluation depends on the
run contract, not on training code. MLflow gets the headline metrics with their
intervals (``eval/<level>/auc_roc``, ``..._low``, ``..._high``), ``metrics.json`` and the
figures; TensorBoard the metrics and the figures as images.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

__all__ = ["log_evaluation"]


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
    cannot resume an offline run, so the evaluation goes to a companion run in the same
    project and group (named ``<run>-evaluation``, job type ``evaluation``) with the same
    metrics and the figures as images.

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
            elif name == "wandb":
                _log_wandb(where, result, metrics, run_dir, where_in_run)
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


def _log_wandb(
    where: Mapping[str, Any], result: Any, metrics: Mapping[str, float], run_dir: Path, where_in_run: str
) -> None:
    import wandb

    name = str(where.get("run_name") or run_dir.name)
    run = wandb.init(
        project=str(where.get("project") or "medbalance"),
        name=f"{name}-evaluation{'-' + where_in_run.rstrip('/') if where_in_run else ''}",
        group=name,
        job_type="evaluation",
        dir=str(where.get("dir") or run_dir),
        mode=cast(Any, str(where.get("mode") or "offline")),  # one of wandb's mode names
        config={"evaluation_of": name, "training_run_id": where.get("run_id"), "level": result.level},
    )
    images = {
        f"eval/{where_in_run}{result.level}/figures/{Path(figure).stem}": wandb.Image(str(figure))
        for figure in result.figures
    }
    run.log({**metrics, **images})
    run.finish()
