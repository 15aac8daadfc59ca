"""What a finished run folder records, read in ONE place (private).

Everything export and explain need from a run folder comes through
:func:`read_run_record`: ``summary.json`` (classes, strategy, class counts,
best checkpoint), the best checkpoint's JSON sidecar (model name, input
channels, preprocessing with the normalisation statistics), ``split.csv``
(paths and metadata of every image) and the evaluation's ``metrics.json``.
When the run contract moves these names into one module, only this file
changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medbalance.data.preprocess import PreprocessConfig
from medbalance.errors import DataError

__all__ = ["RunRecord", "read_run_record"]


@dataclass(frozen=True)
class RunRecord:
    """The parts of a run folder a bundle is made from.

    Attributes:
        run_dir: the run folder.
        summary: ``summary.json``.
        sidecar: the best checkpoint's JSON sidecar.
        weights: the best checkpoint's ``.safetensors`` file.
        classes: class names in output order.
        positive_class: the positive class (binary runs) or None.
        model: model name (``small-cnn``, ``resnet22`` or a timm name).
        in_chans: input channels.
        preprocessing: the preprocessing WITHOUT mean/std (the cache is keyed on it).
        mean, std: the normalisation the model was trained with, or None.
        metrics: the evaluation's ``metrics.json``.
        evaluation_dir: where ``metrics.json`` was read.
        split_csv: ``split.csv`` (every image with its split), or None when absent.
        config: ``config.yaml`` (the resolved training config; strategy and its parameters),
            with its sections nested (``config["balancing"]["strategy_params"]``).
    """

    run_dir: Path
    summary: dict[str, Any]
    sidecar: dict[str, Any]
    weights: Path
    classes: tuple[str, ...]
    positive_class: str | None
    model: str
    in_chans: int
    preprocessing: PreprocessConfig
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    metrics: dict[str, Any]
    evaluation_dir: Path
    split_csv: Path | None
    config: dict[str, Any]


def _read_json(path: Path, fix: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is unreadable ({exc}); {fix}") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object; {fix}")
    return data


def read_run_record(run_dir: str | Path, *, evaluation_dir: str | Path | None = None) -> RunRecord:
    """Read a completed, evaluated run folder.

    Args:
        run_dir: the run folder written by ``medbalance train``.
        evaluation_dir: the folder of ``metrics.json`` (default ``RUN_DIR/evaluation``).

    Raises:
        FileNotFoundError: the folder, summary, checkpoint or metrics.json is missing.
        DataError: a failed run, or files that do not agree.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"run folder {run} does not exist or is not a folder.")
    summary = _read_json(run / "summary.json", "is this a run folder written by `medbalance train`?")
    if summary.get("status") != "completed":
        raise DataError(
            f"{run / 'summary.json'} says status {summary.get('status')!r}; only a completed run can be "
            "exported. Finish it (`medbalance train ... --resume`) first."
        )
    best = summary.get("best_checkpoint")
    if not best:
        raise DataError(f"{run / 'summary.json'} names no best_checkpoint; the run kept no epoch.")
    weights = run / str(best)
    if not weights.is_file():
        raise FileNotFoundError(f"the best checkpoint {weights} is missing; the run folder is incomplete.")
    sidecar = _read_json(
        weights.with_suffix(".json"), "the checkpoint's sidecar is needed to rebuild the model."
    )
    classes = tuple(str(c) for c in sidecar.get("class_names") or summary.get("classes") or ())
    if tuple(summary.get("classes") or classes) != classes:
        raise DataError(
            f"{weights.with_suffix('.json')} lists classes {list(classes)} but summary.json lists "
            f"{summary.get('classes')}; the run folder mixes two runs."
        )
    pre = dict(sidecar.get("preprocessing") or {})
    mean, std = pre.pop("mean", None), pre.pop("std", None)
    eval_dir = Path(evaluation_dir) if evaluation_dir is not None else run / "evaluation"
    metrics = _read_json(
        eval_dir / "metrics.json",
        f"evaluate the run first: `medbalance evaluate {run}` (or pass --evaluation).",
    )
    split = run / "split.csv"
    config_file = run / "config.yaml"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} does not exist; the run folder is incomplete.")
    from medbalance.config import nest_sections
    from medbalance.training.config import TrainConfig

    # nested, whether the run wrote it flat (before the config had sections) or nested
    config = nest_sections(TrainConfig, yaml.safe_load(config_file.read_text(encoding="utf-8")) or {})
    return RunRecord(
        run_dir=run,
        summary=summary,
        sidecar=sidecar,
        weights=weights,
        classes=classes,
        positive_class=sidecar.get("positive_class") or summary.get("positive_class"),
        model=str(sidecar.get("model") or summary.get("model")),
        in_chans=int(sidecar.get("in_chans") or pre.get("channels") or 1),
        preprocessing=PreprocessConfig(**pre),
        mean=None if mean is None else tuple(float(v) for v in mean),
        std=None if std is None else tuple(float(v) for v in std),
        metrics=metrics,
        evaluation_dir=eval_dir,
        split_csv=split if split.is_file() else None,
        config=dict(config),
    )
