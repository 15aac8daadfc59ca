"""One cell, as an executor runs it (in the driver, a worker process or a Ray task).

train -> predictions on every other test set -> the cell's own evaluation units.
The cell never writes the store: it returns a :class:`CellOutcome` and the driver
records it. Lightning's banners and warnings go to ``<run>/console.log``, not the
terminal; epoch progress goes to ``report`` as :class:`BenchmarkEvent`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medbalance.benchmark.grid import Cell
from medbalance.benchmark.store import MetricRecord, UnitRecord
from medbalance.benchmark.units import UnitSpec, build_unit, ood_predictions_path
from medbalance.evaluation.evaluate import EvaluateConfig

if TYPE_CHECKING:
    from medbalance.training.config import TrainConfig

__all__ = ["BenchmarkEvent", "CellOutcome", "CellTask", "run_cell"]


@dataclass(frozen=True)
class BenchmarkEvent:
    """Something a progress display shows.

    Attributes:
        kind: ``data``, ``cell_start``, ``epoch``, ``cell_end``, ``unit`` or ``done``.
        cell_id: the cell (or unit) concerned, "" for benchmark-wide events.
        index: the cell's position (1-based) among the cells run now.
        total: the number of cells run now.
        epoch: the finished epoch (1-based) of ``epoch`` events.
        epochs: epochs of the cell.
        elapsed: seconds since the cell (or the benchmark, for ``done``) started.
        status: ``completed``/``failed``/``skipped`` of ``cell_end`` events.
        message: free text (the error of a failed cell).
    """

    kind: str
    cell_id: str = ""
    index: int = 0
    total: int = 0
    epoch: int = 0
    epochs: int = 0
    elapsed: float = 0.0
    status: str = ""
    message: str = ""


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to run one cell (picklable)."""

    cell: Cell
    index: int
    total: int
    train_config: TrainConfig
    ood: tuple[tuple[str, Path, Path], ...]
    units: tuple[UnitSpec, ...]
    bench: Path
    evaluation: EvaluateConfig
    threads: int = 0


@dataclass(frozen=True)
class CellOutcome:
    """What a cell returns to the driver."""

    cell_id: str
    status: str
    started_at: str
    finished_at: str
    seconds: float
    error: str = ""
    units: list[tuple[UnitRecord, list[MetricRecord]]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _quiet(log_file: Path) -> Iterator[None]:
    """Lightning's console handlers off, stdout/stderr into ``log_file``."""
    lightning = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning")]
    saved = [(lg, [h for h in lg.handlers if isinstance(h, logging.StreamHandler)]) for lg in lightning]
    for lg, handlers in saved:
        for h in handlers:
            lg.removeHandler(h)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8") as stream:
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                yield
        finally:
            for lg, handlers in saved:
                for h in handlers:
                    lg.addHandler(h)


def _epoch_reporter(task: CellTask, report: Callable[[BenchmarkEvent], None], started: float) -> Any:
    from lightning.pytorch.callbacks import Callback

    class _EpochReporter(Callback):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            report(BenchmarkEvent("epoch", task.cell.cell_id, task.index, task.total, trainer.current_epoch + 1,
                                  int(trainer.max_epochs or 0), time.time() - started))  # fmt: skip

    return _EpochReporter()


def _to_console(report: Callable[[BenchmarkEvent], None] | None) -> Callable[[BenchmarkEvent], None]:
    """``report``, called with the stdout/stderr of now (the cell redirects them to its log)."""
    out, err = sys.stdout, sys.stderr

    def send(event: BenchmarkEvent) -> None:
        if report is not None:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                report(event)

    return send


@contextlib.contextmanager
def _one_experiment(task: CellTask) -> Iterator[None]:
    """MLflow runs of every cell under one experiment: the benchmark's own store and name.

    Only when the user set neither ``MLFLOW_TRACKING_URI`` nor ``MLFLOW_EXPERIMENT_NAME``
    (their server and experiment win); the variables are restored after the cell.
    """
    if "mlflow" not in tuple(task.train_config.run.loggers):
        yield
        return
    wanted = {
        "MLFLOW_TRACKING_URI": f"file:{Path(task.bench).resolve() / 'mlruns'}",
        "MLFLOW_EXPERIMENT_NAME": f"medbalance-{Path(task.bench).resolve().name}",
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }
    if os.environ.get("MLFLOW_TRACKING_URI", "").strip():
        wanted = {"MLFLOW_EXPERIMENT_NAME": wanted["MLFLOW_EXPERIMENT_NAME"]}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update({k: v for k, v in wanted.items() if not os.environ.get(k)})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cell(task: CellTask, report: Callable[[BenchmarkEvent], None] | None = None) -> CellOutcome:
    """Train the cell, predict the other test sets, build and evaluate its units.

    Never raises for a failed cell: the error comes back in the outcome.
    """
    import torch

    from medbalance.benchmark._data import ood_test_rows
    from medbalance.benchmark._predict import predict_with_run
    from medbalance.data.manifest import load_manifest
    from medbalance.training.run import train

    if task.threads:
        torch.set_num_threads(task.threads)
    started, started_at = time.time(), _now()
    send = _to_console(report)
    send(BenchmarkEvent("cell_start", task.cell.cell_id, task.index, task.total,
                        epochs=task.train_config.optim.epochs))  # fmt: skip
    run_dir = Path(task.train_config.out)
    units = []
    try:
        with _quiet(run_dir.parent / f"{run_dir.name}.console.log"), _one_experiment(task):
            train(task.train_config, callbacks=[_epoch_reporter(task, send, started)])
            for test_set, manifest_path, cache_dir in task.ood:
                manifest = ood_test_rows(load_manifest(manifest_path))
                predict_with_run(run_dir, manifest, cache_dir, ood_predictions_path(run_dir, test_set))
            for spec in task.units:
                units.append(build_unit(spec, [run_dir], task.bench, task.evaluation))
        status, error = "completed", ""
    except Exception as exc:  # a failed cell is recorded, the benchmark goes on
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        logging.getLogger("medbalance.benchmark").debug(traceback.format_exc())
    seconds = time.time() - started
    return CellOutcome(task.cell.cell_id, status, started_at, _now(), round(seconds, 2), error, units)
