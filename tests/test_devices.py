"""Devices: --accelerator auto|cpu|gpu|mps, --devices as a count or GPU ids; per-rank augmentation seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from medbalance.errors import ConfigError
from medbalance.training import _trainer
from medbalance.training._trainer import parse_devices, resolve_device
from medbalance.training.augment import augmentation_seed
from medbalance.training.config import load_train_config


@pytest.mark.parametrize(
    ("text", "expected"),
    [("auto", "auto"), ("2", 2), ("0,2", [0, 2]), ("3,", [3]), ("[0, 2]", [0, 2])],
    ids=["auto", "count", "ids", "one-id", "yaml-list-text"],
)
def test_devices_take_a_count_or_gpu_ids(text: str, expected: Any) -> None:
    assert parse_devices(text, "cuda") == expected


@pytest.mark.parametrize("text", ["two", "0,x", ",", "-1"], ids=["word", "bad-id", "empty", "negative"])
def test_bad_devices_are_refused_at_config_time(text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GPU ids"):
        load_train_config(None, {"out": tmp_path / "run", "devices": text})


def test_gpu_ids_need_cuda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(_trainer, "_mps_available", lambda: False)
    config = load_train_config(None, {"out": tmp_path / "run", "devices": "0,2"})
    with pytest.raises(ConfigError, match="names GPU ids, but this run trains on CPU"):
        resolve_device(config)


@pytest.mark.parametrize(
    ("cuda", "mps", "asked", "accelerator", "precision", "channels_last"),
    [
        (False, True, "auto", "mps", "32-true", False),
        (False, True, "mps", "mps", "32-true", False),
        (False, False, "auto", "cpu", "32-true", True),
        (False, True, "cpu", "cpu", "32-true", True),
    ],
    ids=["auto-picks-mps", "mps", "auto-cpu", "cpu-on-a-mac"],
)
def test_accelerator_choice(
    cuda: bool, mps: bool, asked: str, accelerator: str, precision: str, channels_last: bool,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(_trainer, "_mps_available", lambda: mps)
    choice = resolve_device(load_train_config(None, {"out": tmp_path / "run", "accelerator": asked}))
    assert (choice.accelerator, choice.precision, choice.channels_last) == (accelerator, precision, channels_last)
    assert choice.device.type == {"gpu": "cuda"}.get(accelerator, accelerator)


@pytest.mark.parametrize(
    ("mps", "asked", "message"),
    [(False, "mps", "MPS backend is not available"), (True, "gpu", "use --accelerator mps")],
    ids=["mps-missing", "gpu-on-a-mac"],
)
def test_missing_accelerator_is_refused(
    mps: bool, asked: str, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(_trainer, "_mps_available", lambda: mps)
    with pytest.raises(ConfigError, match=message):
        resolve_device(load_train_config(None, {"out": tmp_path / "run", "accelerator": asked}))


def test_augmentation_seeds_differ_per_rank_and_keep_single_device_runs() -> None:
    legacy = int(np.random.SeedSequence([7, 3, 0]).generate_state(1, dtype=np.uint64)[0]) % 2**63
    assert augmentation_seed(7, 3, -1, 0) == legacy  # rank 0 draws what it drew before ranks counted
    seeds = {augmentation_seed(7, 3, worker, rank) for worker in (-1, 0, 1) for rank in range(4)}
    assert len(seeds) == 12
    assert augmentation_seed(7, 3, 0, 2) == augmentation_seed(7, 3, 0, 2)
    assert augmentation_seed(7, 4, 0, 2) != augmentation_seed(7, 3, 0, 2)


def test_dataset_augmentation_draws_follow_the_rank() -> None:
    from medbalance.training.dataset import ManifestDataset

    def draws(rank: int) -> torch.Tensor:
        dataset = object.__new__(ManifestDataset)  # only the seeding state matters here
        dataset.seed, dataset.epoch, dataset.rank = 5, 1, 0
        dataset._generator, dataset._generator_key = None, None
        dataset.set_rank(rank)
        return torch.rand(4, generator=dataset._augmentation_generator())

    assert torch.equal(draws(1), draws(1))
    assert not torch.equal(draws(0), draws(1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "0,x"], "devices must be 'auto', a number of devices"),
        (["--logger", "neptune"], "'tensorboard', 'mlflow' or 'wandb'"),
        (["--accelerator", "mps"], "MPS backend is not available"),
        (["--model", "local-dir:/nonexistent/weights", "--pretrained"], "config.json and model.safetensors"),
    ],
    ids=["bad-devices", "unknown-tracker", "no-mps", "missing-local-dir"],
)
def test_cli_refuses_bad_device_tracker_and_model_options(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medbalance.cli import main

    if "mps" in args and _trainer._mps_available():
        pytest.skip("this machine has MPS")
    code = main(["train", "--data", "phantoms", "--phantom-patients", "12", "--phantom-prevalence", "0.25",
                 "--phantom-size", "64", "--image-size", "32", "--epochs", "1", "--no-progress", "--fractions", "0.6,0.2,0.2",
                 "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"), *args])  # fmt: skip
    err = capsys.readouterr().err
    expected = 4 if "--pretrained" in args else 2  # weights that cannot be loaded: a checkpoint error
    assert code == expected and message in " ".join(err.split()), err
    assert not (tmp_path / "run" / "predictions_test.csv").exists()


@pytest.mark.parametrize("progress", [True, False])
def test_library_epoch_bar_is_tqdm_and_the_cli_passes_rich(progress: bool, tmp_path: Path) -> None:
    """The library draws Lightning's tqdm bar; only cli/ chooses Rich's, passed in as a callback."""
    from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar

    from medbalance.cli._progress import epoch_progress_callbacks

    config = load_train_config(None, {"out": str(tmp_path / "run"), "progress": progress, "accelerator": "cpu"})
    device = resolve_device(config)
    library = _trainer.create_trainer(config, device, [], tmp_path)
    cli = _trainer.create_trainer(config, device, epoch_progress_callbacks(enabled=progress), tmp_path)
    if progress:
        assert type(library.progress_bar_callback) is TQDMProgressBar
        assert type(cli.progress_bar_callback) is RichProgressBar
    else:
        assert library.progress_bar_callback is None and cli.progress_bar_callback is None
