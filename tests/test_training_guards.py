"""Guards inside real Lightning runs: freeze schedule, collapse detector, NaN stop, resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from medbalance.cli import main
from medbalance.errors import CheckpointError, TrainingError
from medbalance.strategies.base import Strategy
from medbalance.training.config import TrainConfig
from medbalance.training.models import create_model, split_parameters
from medbalance.training.run import train


@pytest.fixture(scope="module")
def phantom_csv(make_phantom_csv: Callable[..., Path]) -> Path:
    """This module's phantom set: the shared dozen patients, drawn with seed 5."""
    return make_phantom_csv(seed=5)


def _numel(params: list[nn.Parameter]) -> int:
    return sum(p.numel() for p in params)


@pytest.mark.parametrize(
    ("unfreeze", "phases"),
    [("all", ["head", "all", "all"]), ("last-block", ["head", "last-block", "last-block"])],
    ids=["unfreeze-all", "unfreeze-last-block"],
)
def test_warmup_then_unfreeze_counts_trainable_parameters_every_epoch(
    unfreeze: str, phases: list[str], phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    config = tiny_config(
        tmp_path / "run",
        phantom_csv,
        cache_dir,
        epochs=3,
        freeze="backbone",
        warmup_epochs=1,
        unfreeze=unfreeze,
    )
    result = train(config)
    backbone, head, last = split_parameters(create_model("small-cnn", num_classes=2, in_chans=1))
    expected = {
        "head": _numel(head),
        "all": _numel(backbone) + _numel(head),
        "last-block": _numel(head) + _numel(last),
    }
    history = pd.read_csv(result.out / "history.csv")
    assert history["phase"].tolist() == phases
    assert history["trainable_params"].tolist() == [expected[p] for p in phases]
    # The optimizer was rebuilt: it holds exactly the trainable parameters in every epoch.
    assert history["optimizer_params"].tolist() == history["trainable_params"].tolist()
    assert expected["head"] < expected["last-block"] < expected["all"]


class _ForceOneClass(Callback):
    """Before each validation, set the head's bias so every image is called class 0."""

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        head = pl_module.model.get_classifier()  # type: ignore[union-attr, operator]
        with torch.no_grad():
            head.bias.copy_(torch.tensor([50.0, -50.0]))


@pytest.mark.parametrize("on_collapse", ["warn", "stop"], ids=["warn", "stop"])
def test_collapse_detector_fires_on_a_forced_collapse(
    on_collapse: str, phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    config = tiny_config(tmp_path / "run", phantom_csv, cache_dir, epochs=3, on_collapse=on_collapse)
    result = train(config, callbacks=[_ForceOneClass()])
    history = pd.read_csv(result.out / "history.csv", keep_default_na=False)
    expected_epochs = [0, 1, 2] if on_collapse == "warn" else [0]
    assert history["epoch"].tolist() == expected_epochs
    assert all("of" in reason and "non-malignant" in reason for reason in history["collapse"])
    assert [e["epoch"] for e in result.summary["collapse_events"]] == expected_epochs
    log = (result.out / "train.log").read_text()
    assert "epoch 0: predictions collapsed" in log and "no image predicted as 'malignant'" in log
    assert result.summary["status"] == "completed"


class _NaNAfter(nn.Module):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.step, self.calls = step, 0

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = nn.functional.cross_entropy(logits, targets)
        return loss * float("nan") if self.calls > self.step else loss


def test_nan_loss_stops_the_run_and_marks_it_failed(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_config: Callable[..., TrainConfig]
) -> None:
    monkeypatch.setattr(Strategy, "make_loss", lambda self: _NaNAfter(step=2))
    out = tmp_path / "run"
    args = ["train", "--data", str(phantom_csv), "--out", str(out), "--epochs", "3", "--image-size", "32"]
    args += [
        "--batch-size",
        "8",
        "--fractions",
        "0.6,0.2,0.2",
        "--cache-dir",
        str(cache_dir),
        "--no-progress",
    ]
    assert main(args) != 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "TrainingError" in summary["error"]
    diagnostic = json.loads((out / "nan_diagnostic.json").read_text())
    assert diagnostic["global_step"] == 2 and diagnostic["loss"] == "nan"
    assert diagnostic["last_batch"]["batch_size"] == 8
    with pytest.raises(TrainingError, match="became nan at step 2"):
        train(tiny_config(tmp_path / "lib", phantom_csv, cache_dir))


class _SimulatedKill(Exception):
    pass


class _KillAtEpoch(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise _SimulatedKill(f"killed at the start of epoch {self.epoch}")


class _RecordEpochs(Callback):
    def __init__(self) -> None:
        self.epochs: list[int] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs.append(trainer.current_epoch)


def test_resume_after_a_killed_run_continues_at_the_right_epoch(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    common = {"epochs": 4, "strategy": "oversample", "augmentation": "mammography"}
    config = tiny_config(tmp_path / "run", phantom_csv, cache_dir, **common)
    with pytest.raises(_SimulatedKill):
        train(config, callbacks=[_KillAtEpoch(2)])
    assert json.loads((config.out / "summary.json").read_text())["status"] == "failed"
    assert json.loads((config.out / "checkpoints" / "last.json").read_text())["epoch"] == 1

    changed = tiny_config(tmp_path / "run", phantom_csv, cache_dir, resume=True, **{**common, "lr": 1e-2})
    with pytest.raises(CheckpointError, match=r"config .*changed.*--force"):
        train(changed)

    recorder = _RecordEpochs()
    result = train(
        tiny_config(tmp_path / "run", phantom_csv, cache_dir, resume=True, **common), callbacks=[recorder]
    )
    assert recorder.epochs == [2, 3]
    assert result.summary["status"] == "completed"
    history = pd.read_csv(config.out / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]

    # The resumed run ends where an uninterrupted run ends.
    straight = train(tiny_config(tmp_path / "straight", phantom_csv, cache_dir, **common))
    reference = pd.read_csv(straight.out / "history.csv")
    pd.testing.assert_series_equal(history["val_loss"], reference["val_loss"], rtol=1e-5)


def test_resume_refuses_a_changed_split_unless_forced(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    config = tiny_config(tmp_path / "run", phantom_csv, cache_dir, epochs=1)
    train(config)
    last = config.out / "checkpoints" / "last.json"
    meta = json.loads(last.read_text())
    last.write_text(json.dumps({**meta, "split_hash": "0" * 16}))
    again = tiny_config(tmp_path / "run", phantom_csv, cache_dir, epochs=2, resume=True)
    with pytest.raises(CheckpointError, match=r"split .*changed.*--force"):
        train(again)
    forced = tiny_config(tmp_path / "run", phantom_csv, cache_dir, epochs=2, resume=True, force=True)
    assert train(forced).summary["status"] == "completed"


def test_resume_without_a_checkpoint_is_refused(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(Exception, match="without --resume"):
        train(tiny_config(tmp_path / "run", phantom_csv, cache_dir, resume=True))


def test_ema_weights_are_validated_and_checkpointed(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    config = tiny_config(tmp_path / "run", phantom_csv, cache_dir, ema=True, ema_decay=0.9, monitor="ema_auc_roc")
    result = train(config)
    history = pd.read_csv(result.out / "history.csv")
    assert {"val_ema_auc_roc", "val_ema_loss", "val_auc_roc"} <= set(history.columns)
    assert not history["val_ema_loss"].equals(history["val_loss"])  # two sets of weights
    kept = json.loads((result.out / "checkpoints" / "index.json").read_text())["kept"]
    assert all(k["file"].endswith("-ema.safetensors") for k in kept)
    for k in kept:
        raw = result.out / "checkpoints" / f"epoch={k['epoch']:04d}.safetensors"
        assert raw.is_file() and (result.out / "checkpoints" / k["file"]).is_file()
    assert result.summary["best_checkpoint"].endswith("-ema.safetensors")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"monitor": "auroc"}, "Did you mean 'auc_roc'"),
        ({"monitor": "ema_auc_roc"}, "ema_auc_roc"),
        ({"monitor": "kappa"}, "kappa"),
    ],
    ids=["unknown", "ema-without-ema", "kappa-not-ordinal"],
)
def test_monitor_must_name_a_metric_of_the_run(
    overrides: dict[str, Any], match: str, phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    from medbalance.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        train(tiny_config(tmp_path / "run", phantom_csv, cache_dir, **overrides))
