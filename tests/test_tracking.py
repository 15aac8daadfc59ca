"""Experiment trackers, offline: TensorBoard event files, an MLflow file store, a W&B offline run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from medbalance.errors import ConfigError
from medbalance.training._tracking import create_loggers, wandb_mode
from medbalance.training.config import load_train_config
from medbalance.training.run import RunResult, train


def _train(tmp_path: Path, loggers: list[str]) -> RunResult:
    config = load_train_config(None, {
        "out": tmp_path / "run", "data": "phantoms", "phantoms": {"n_patients": 12, "prevalence": 0.25, "size": 64},
        "image_size": 32, "epochs": 2, "fractions": [0.6, 0.2, 0.2], "progress": False, "loggers": loggers,
        "cache_dir": tmp_path / "cache", "strategy": "focal", "strategy_params": {"gamma": 1.5},
    })  # fmt: skip
    return train(config)


def _auc_row(evaluation: Any) -> Any:
    frame = evaluation.to_frame()
    return frame[(frame["metric"] == "auc_roc") & (frame["rule"] == "")].iloc[0]


def test_tensorboard_gets_config_epochs_final_metrics_and_the_evaluation(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")  # in the test extra: this runs in CI
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

    run = _train(tmp_path, ["tensorboard"])
    events = EventAccumulator(str(run.out / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    assert "final/test_auc_roc" in tags and "final/val_auc_roc" in tags
    assert any(t.startswith("val") for t in tags - {"final/val_auc_roc"})  # per-epoch metrics
    assert events.Scalars("final/test_auc_roc")[-1].value == pytest.approx(
        run.summary["test_metrics"]["auc_roc"], rel=1e-6
    )
    hparams = yaml.safe_load((run.out / "tensorboard" / "hparams.yaml").read_text())
    assert hparams["strategy"] == "focal" and hparams["strategy_params.gamma"] == 1.5

    # a later evaluation adds its headline metrics (with intervals) and figures
    auc = _auc_row(evaluate_run(run.out, EvaluateConfig(n_bootstrap=20)))
    events = EventAccumulator(str(run.out / "tensorboard")).Reload()
    assert events.Scalars("eval/image/auc_roc")[-1].value == pytest.approx(auc["estimate"], rel=1e-6)
    assert events.Scalars("eval/image/auc_roc_high")[-1].value == pytest.approx(auc["high"], rel=1e-6)
    assert "eval/image/roc" in events.Tags()["images"]


def test_mlflow_honours_the_tracking_uri_and_gets_the_evaluation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

    store = f"file:{tmp_path / 'team-store'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mammo-study")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3: a user's file store needs the opt-in
    run = _train(tmp_path, ["mlflow"])
    test_auc = run.summary["test_metrics"]["auc_roc"]

    assert not (run.out / "mlruns").exists()  # MLFLOW_TRACKING_URI wins over the run folder
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("mammo-study")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == "run"
    assert logged.data.params["strategy"] == "focal" and logged.data.params["epochs"] == "2"
    assert logged.data.metrics["final/test_auc_roc"] == pytest.approx(test_auc, rel=1e-6)
    history = client.get_metric_history(logged.info.run_id, "final/test_auc_roc")
    assert len(history) == 1
    assert len([k for k in logged.data.metrics if k.startswith("val")]) >= 1

    assert run.summary["trackers"]["mlflow"]["run_id"] == logged.info.run_id
    auc = _auc_row(evaluate_run(run.out, EvaluateConfig(n_bootstrap=20)))
    metrics = client.get_run(logged.info.run_id).data.metrics
    assert metrics["eval/image/auc_roc"] == pytest.approx(auc["estimate"])
    assert metrics["eval/image/auc_roc_low"] == pytest.approx(auc["low"])
    assert "eval/image/youden/sensitivity_high" in metrics
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id, "evaluation/image")}
    assert {"evaluation/image/metrics.json", "evaluation/image/roc.png"} <= artifacts


def test_mlflow_defaults_to_a_store_in_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    config = load_train_config(None, {"out": tmp_path / "run", "loggers": ["mlflow"]})
    (_, mlflow_logger) = create_loggers(config, tmp_path / "run")
    assert mlflow_logger._tracking_uri == f"file:{(tmp_path / 'run').resolve() / 'mlruns'}"
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    (_, mlflow_logger) = create_loggers(config, tmp_path / "run")
    assert mlflow_logger._tracking_uri == "http://mlflow.example:5000"


def test_wandb_runs_offline_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = _train(tmp_path, ["wandb"])
    (offline,) = (run.out / "wandb").glob("offline-run-*")
    # an offline run keeps its records in one protobuf log (``wandb sync`` uploads it); wandb
    # ships no reader for it, so the test looks for the keys and values in its bytes
    (records,) = offline.glob("*.wandb")
    data = records.read_bytes()
    assert b"final/test_auc_roc" in data and b"strategy_params.gamma" in data and b'"focal"' in data
    assert b"val_auc" in data or b"val/auc" in data  # per-epoch metrics
    # the evaluation goes to a companion run in the same project and group (offline runs cannot resume)
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

    assert "wandb" in run.summary["trackers"]
    evaluate_run(run.out, EvaluateConfig(n_bootstrap=50))
    runs = sorted((run.out / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, runs
    logged = b"".join(r.read_bytes() for r in (run.out / "wandb").glob("offline-run-*/*.wandb"))
    assert b"eval/image/auc_roc" in logged and b"evaluation" in logged and b"figures/roc" in logged


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "offline"),
        ({"WANDB_API_KEY": "k"}, "online"),
        ({"WANDB_MODE": "disabled", "WANDB_API_KEY": "k"}, "disabled"),
    ],
    ids=["no-key-offline", "key-online", "env-wins"],
)
def test_wandb_mode(env: dict[str, str], mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert wandb_mode() == mode


@pytest.mark.parametrize("name", ["tensorboard", "mlflow", "wandb"])
def test_a_missing_tracker_names_the_extra(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(module: str, *args: Any) -> Any:
        return None if module in ("tensorboard", "tensorboardX", "mlflow", "wandb") else real(module, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    config = load_train_config(None, {"out": tmp_path / "run", "loggers": [name]})
    with pytest.raises(ConfigError, match=r"medbalance\[track\]"):
        create_loggers(config, tmp_path / "run")


def test_unknown_tracker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'tensorboard', 'mlflow' or 'wandb'"):
        load_train_config(None, {"out": tmp_path / "run", "loggers": ["neptune"]})


def test_a_benchmark_logs_one_mlflow_run_per_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mb.benchmark with train.loggers: one MLflow run per cell under one experiment, each with
    its in- and out-of-distribution evaluations kept apart by test set."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    import medbalance as mb
    from benchmark_helpers import tiny_settings

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)  # unset: the benchmark groups its cells itself
    settings = tiny_settings(tmp_path / "bench")
    settings["train"] = {**settings["train"], "loggers": ["mlflow"]}
    result = mb.benchmark(**settings)
    assert not result.failed
    assert "MLFLOW_TRACKING_URI" not in os.environ  # scoped to the cells
    store = f"file:{(tmp_path / 'bench' / 'mlruns').resolve()}"
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs([client.get_experiment_by_name("medbalance-bench").experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(result.cells["cell_id"])
    frame = result.to_frame()  # the store as one tidy table
    assert {"unit_id", "strategy", "seed", "test_set", "metric", "estimate", "low", "high"} <= set(
        frame.columns
    )
    assert set(frame["unit_id"]) and len(frame) == len(
        frame.drop_duplicates(["unit_id", "level", "split", "rule", "metric"])
    )
    for run in runs:
        assert {"eval/ab/image/auc_roc", "eval/c/image/auc_roc", "final/test_auc_roc"} <= set(
            run.data.metrics
        )
