"""End-to-end training runs on tiny phantom data: every strategy, the run folder, determinism, CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from medbalance.cli import main
from medbalance.errors import CheckpointError, ConfigError, MedbalanceError
from medbalance.strategies import create_strategy, list_strategies
from medbalance.training.config import TrainConfig
from medbalance.training.run import train

STRATEGIES = [info.name for info in list_strategies()]
RUN_FILES = (
    "config.yaml",
    "split.csv",
    "history.csv",
    "checkpoints/index.json",
    "checkpoints/last.ckpt",
    "checkpoints/last.json",
    "predictions_val.csv",
    "predictions_test.csv",
    "train.log",
    "summary.json",
)
SUMMARY_KEYS = {
    "classes",
    "positive_class",
    "task",
    "strategy",
    "model",
    "seed",
    "status",
    "best_epoch",
    "config_hash",
    "split_hash",
    "training_class_counts",
}


@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGIES)
def test_every_strategy_writes_the_run_folder(
    strategy: str, phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    result = train(tiny_config(tmp_path / "run", phantom_csv, cache_dir, strategy=strategy))
    out = result.out
    missing = [name for name in RUN_FILES if not (out / name).is_file()]
    assert not missing, f"missing run files: {missing}"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["status"] == "completed"
    assert summary["strategy"]["name"] == strategy
    assert summary["classes"] == ["non-malignant", "malignant"]
    kept = json.loads((out / "checkpoints" / "index.json").read_text())["kept"]
    assert kept and (out / "checkpoints" / kept[0]["file"]).is_file()
    assert summary["best_epoch"] == kept[0]["epoch"]
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1]

    predictions = pd.read_csv(out / "predictions_val.csv", dtype={"patient_id": str})
    expected = [
        "image_id", "patient_id", "study_id", "breast_id", "lesion_id", "domain", "split", "label",
        "prob_non-malignant", "prob_malignant", "logit_non-malignant", "logit_malignant",
    ]  # fmt: skip
    assert list(predictions.columns) == expected
    probs = predictions[["prob_non-malignant", "prob_malignant"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    # Raw logits are kept; probabilities carry the strategy's post-hoc adjustment.
    fitted = create_strategy(strategy).fit(np.array([0, 0, 0, 1]), 2, seed=0, positive_index=1)
    logits = torch.tensor(predictions[["logit_non-malignant", "logit_malignant"]].to_numpy())
    if strategy == "ldam-drw":
        np.testing.assert_allclose(probs, torch.softmax(fitted.adjust_logits(logits), 1).numpy(), atol=1e-5)
    elif strategy != "logit-adjust":  # its prior comes from the run's own training counts
        np.testing.assert_allclose(probs, torch.softmax(logits, 1).numpy(), atol=1e-5)
    split = pd.read_csv(out / "split.csv", dtype=str, keep_default_na=False)
    assert set(predictions["image_id"]) == set(split.loc[split["split"] == "val", "image_id"])


def test_logit_adjust_posthoc_probabilities_use_the_training_prior(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    config = tiny_config(
        tmp_path / "run", phantom_csv, cache_dir, strategy="logit-adjust", strategy_params={"mode": "posthoc"}
    )
    result = train(config)
    counts = result.summary["training_class_counts"]
    prior = np.array([counts["non-malignant"], counts["malignant"]], dtype=float)
    predictions = pd.read_csv(result.out / "predictions_test.csv")
    logits = predictions[["logit_non-malignant", "logit_malignant"]].to_numpy()
    adjusted = logits - np.log(prior / prior.sum())
    expected = np.exp(adjusted) / np.exp(adjusted).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predictions[["prob_non-malignant", "prob_malignant"]], expected, atol=1e-5)


def test_same_seed_gives_the_same_metrics(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    common = {"strategy": "synthetic-lesions", "augmentation": "mammography"}
    first = train(tiny_config(tmp_path / "a", phantom_csv, cache_dir, **common))
    second = train(tiny_config(tmp_path / "b", phantom_csv, cache_dir, **common))
    columns = ["val_loss", "val_auc_roc", "train_loss"]
    a = pd.read_csv(first.out / "history.csv")[columns]
    b = pd.read_csv(second.out / "history.csv")[columns]
    pd.testing.assert_frame_equal(a, b)
    pa = pd.read_csv(first.out / "predictions_test.csv")
    pb = pd.read_csv(second.out / "predictions_test.csv")
    pd.testing.assert_frame_equal(pa, pb)
    other = train(tiny_config(tmp_path / "c", phantom_csv, cache_dir, seed=1, **common))
    assert not pd.read_csv(other.out / "history.csv")["train_loss"].equals(
        pd.read_csv(first.out / "history.csv")["train_loss"]
    )


def test_default_phantom_data_and_cli(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--epochs", "1", "--image-size", "32", "--batch-size", "8"]
    args += ["--phantom-patients", "10", "--phantom-prevalence", "0.3", "--phantom-size", "64"]
    args += ["--fractions", "0.6,0.2,0.2", "--cache-dir", str(cache_dir), "--no-progress"]
    args += ["--strategy", "focal", "--strategy-param", "gamma=1.5"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["strategy"]["params"]["gamma"] == 1.5
    assert (out / "data" / "manifest.csv").is_file()
    assert main(args) == 2  # the folder now holds results: refused without --overwrite
    assert main([*args, "--overwrite"]) == 0


def test_old_results_are_refused(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    with pytest.raises(MedbalanceError, match="--overwrite"):
        train(tiny_config(out, phantom_csv, cache_dir))
    assert (out / "summary.json").read_text() == "{}"


def test_pretrained_offline_names_the_weights_option(
    phantom_csv: Path, cache_dir: Path, tmp_path: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    config = tiny_config(tmp_path / "run", phantom_csv, cache_dir, model="resnet18", pretrained=True)
    with pytest.raises(CheckpointError, match="--weights"):
        train(config)
    assert not (tmp_path / "run").exists()  # failed before the first epoch: no folder blocks the retry


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"epoch": 3}, "did you mean 'epochs'"),
        ({"epochs": "many"}, "expected an integer"),
        ({"strategy": "oversample+class-weight"}, "double"),
        ({"strategy": "focall"}, "Did you mean 'focal'"),
    ],
    ids=["unknown-key", "wrong-type", "double-balancing", "unknown-strategy"],
)
def test_bad_configs_are_refused(
    overrides: dict[str, Any],
    match: str,
    phantom_csv: Path,
    cache_dir: Path,
    tmp_path: Path,
    tiny_config: Callable[..., TrainConfig],
) -> None:
    with pytest.raises(ConfigError, match=f"(?i){match}"):
        train(tiny_config(tmp_path / "run", phantom_csv, cache_dir, **overrides))
