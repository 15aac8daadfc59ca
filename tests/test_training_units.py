"""Pieces of the training engine without a Trainer: metrics, ranking, checkpoints, config, dataset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    f1_score,
    matthews_corrcoef,
    roc_auc_score,
)

from medbalance.cli._train import parse_key_values
from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import Manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.errors import CheckpointError, ConfigError
from medbalance.strategies import create_strategy
from medbalance.training._metrics import compute_collapse, compute_validation_metrics
from medbalance.training.checkpoints import (
    check_resume,
    load_checkpoint_weights,
    rank_key,
    read_sidecar,
    save_weights,
)
from medbalance.training.config import compute_train_config_hash, load_train_config
from medbalance.training.dataset import ManifestDataset, Normalization, create_train_loader
from medbalance.training.models import create_model


def _random_probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    raw = rng.random((n, k))
    return raw / raw.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 4], ids=["binary", "four-class"])
def test_validation_metrics_match_scikit_learn(k: int) -> None:
    rng = np.random.default_rng(k)
    targets = rng.integers(0, k, 200)
    probs = _random_probs(rng, 200, k)
    predicted = probs.argmax(axis=1)
    metrics = compute_validation_metrics(probs, targets, ordinal=True, positive_index=1 if k == 2 else None)
    auc = roc_auc_score(targets, probs[:, 1]) if k == 2 else roc_auc_score(targets, probs, multi_class="ovr")
    assert metrics["auc_roc"] == pytest.approx(auc)
    assert metrics["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(targets, predicted)
    )
    assert metrics["macro_f1"] == pytest.approx(f1_score(targets, predicted, average="macro"))
    assert metrics["mcc"] == pytest.approx(matthews_corrcoef(targets, predicted))
    assert metrics["kappa"] == pytest.approx(cohen_kappa_score(targets, predicted, weights="quadratic"))
    if k == 2:
        assert metrics["sensitivity"] == pytest.approx(np.mean(predicted[targets == 1] == 1))
        assert metrics["specificity"] == pytest.approx(np.mean(predicted[targets == 0] == 0))


def test_undefined_metrics_are_nan_not_zero() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    metrics = compute_validation_metrics(probs, np.array([0, 0, 0]))
    assert math.isnan(metrics["auc_roc"]) and math.isnan(metrics["mcc"]) and math.isnan(metrics["sensitivity"])
    assert math.isnan(metrics["kappa"])  # not an ordinal task


@pytest.mark.parametrize(
    ("predicted", "share", "expected"),
    [
        ([0] * 19 + [1], 0.95, None),
        ([0] * 20, 0.95, "100.0% of 20"),
        ([0] * 97 + [1] * 3, 0.95, "97.0% of 100"),
        ([0, 1, 0, 1], 0.95, "no image predicted as 'c'"),
    ],
    ids=["95-percent-is-not-collapse", "all-one-class", "97-percent", "class-never-predicted"],
)
def test_collapse_rule(predicted: list[int], share: float, expected: str | None) -> None:
    names = ("a", "b") if max(predicted) < 2 and expected != "no image predicted as 'c'" else ("a", "b", "c")
    reason = compute_collapse(np.array(predicted), names, share)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


def test_rank_key_tie_break_is_lower_loss_then_later_epoch() -> None:
    entries = [(0.8, 0.5, 1), (0.8, 0.4, 2), (0.8, 0.4, 3), (0.9, 0.9, 0), (math.nan, 0.1, 4)]
    ranked = sorted(entries, key=lambda e: rank_key(*e), reverse=True)
    assert [e[2] for e in ranked] == [0, 3, 2, 1, 4]
    by_loss = sorted(entries, key=lambda e: rank_key(e[1], e[1], e[2], higher_is_better=False), reverse=True)
    assert by_loss[0][2] == 4


def test_weights_round_trip_through_safetensors(tmp_path: Path) -> None:
    model = create_model("small-cnn", num_classes=2, in_chans=1).to(memory_format=torch.channels_last)
    path = tmp_path / "epoch=0001.safetensors"
    save_weights(path, model, {"model": "small-cnn", "epoch": 1, "class_names": ["a", "b"]})
    assert path.read_bytes()[:8] != b"PK\x03\x04"  # not a zip pickle
    assert read_sidecar(path)["epoch"] == 1
    fresh = create_model("small-cnn", num_classes=2, in_chans=1)
    sidecar = load_checkpoint_weights(path, fresh)
    assert sidecar["class_names"] == ["a", "b"]
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other = create_model("small-cnn", num_classes=3, in_chans=1)
    with pytest.raises(CheckpointError, match="do not fit model 'small-cnn'"):
        load_checkpoint_weights(path, other)
    assert not list(tmp_path.glob(".*.tmp"))


def test_check_resume(tmp_path: Path) -> None:
    last = tmp_path / "run" / "checkpoints" / "last.json"
    with pytest.raises(CheckpointError, match="does not exist"):
        check_resume(last, config_hash="a", split_hash="b", force=False)
    last.parent.mkdir(parents=True)
    last.write_text(json.dumps({"config_hash": "a", "split_hash": "b", "epoch": 3}))
    assert check_resume(last, config_hash="a", split_hash="b", force=False)["epoch"] == 3
    with pytest.raises(CheckpointError, match=r"config .* changed .*--force"):
        check_resume(last, config_hash="x", split_hash="b", force=False)
    assert check_resume(last, config_hash="x", split_hash="y", force=True)["epoch"] == 3


def test_config_hash_ignores_run_control_fields(tmp_path: Path) -> None:
    base = load_train_config(None, {"out": tmp_path / "a"})
    moved = load_train_config(None, {"out": tmp_path / "b", "progress": False, "num_workers": 2})
    changed = load_train_config(None, {"out": tmp_path / "a", "lr": 0.1})
    assert compute_train_config_hash(base) == compute_train_config_hash(moved)
    assert compute_train_config_hash(base) != compute_train_config_hash(changed)


def test_yaml_config_with_cli_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("out: runs/x\nepochs: 3\nstrategy: focal\nstrategy_params: {gamma: 1.0}\n")
    config = load_train_config(path, {"epochs": 5, "lr": None})
    assert (config.optim.epochs, config.strategy, config.balancing.strategy_params) == (5, "focal", {"gamma": 1.0})
    path.write_text("out: runs/x\nbatch_sise: 3\n")
    with pytest.raises(ConfigError, match="Did you mean 'batch_size'"):
        load_train_config(path)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["gamma=2"], {"gamma": 2}),
        (["kinds=[mass, distortion]", "tau=0.5"], {"kinds": ["mass", "distortion"], "tau": 0.5}),
    ],
    ids=["number", "list-and-float"],
)
def test_parse_key_values(items: list[str], expected: dict[str, object]) -> None:
    assert parse_key_values(items, option="--strategy-param") == expected


def test_parse_key_values_refuses_a_bare_word() -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_key_values(["gamma"], option="--strategy-param")


@pytest.fixture()
def png_manifest(tmp_path: Path) -> Manifest:
    """A dozen random 40x30 PNGs, 3 positives, spacing 0.5 mm."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        Image.fromarray(rng.integers(1, 255, (40, 30), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
        rows.append(
            {"image_id": f"im{i}", "path": f"im{i}.png", "label": "pos" if i < 3 else "neg",
             "patient_id": f"p{i}", "pixel_spacing_mm": "0.5"}
        )  # fmt: skip
    return Manifest(pd.DataFrame(rows), classes=("neg", "pos"), root=tmp_path, positive_class="pos")


def test_dataset_items_normalised_with_effective_spacing(png_manifest: Manifest, tmp_path: Path) -> None:
    cache = PreprocessCache(tmp_path / "cache", PreprocessConfig(kind="generic", size=20))
    norm = Normalization((0.5,), (0.25,))
    dataset = ManifestDataset(png_manifest, cache, normalization=norm)
    image, label, index, spacing = dataset[0]
    raw, info = cache.get_with_info(png_manifest.paths()[0])
    assert image.dtype == torch.float32 and tuple(image.shape) == (1, 20, 20)
    torch.testing.assert_close(image, (torch.from_numpy(raw) - 0.5) / 0.25)
    assert (int(label), int(index)) == (1, 0)
    assert float(spacing) == pytest.approx(0.5 / info.scale) and info.scale == pytest.approx(0.5)


def test_train_loader_uses_the_strategy_batch_sampler(png_manifest: Manifest, tmp_path: Path) -> None:
    cache = PreprocessCache(tmp_path / "cache", PreprocessConfig(kind="generic", size=16))
    dataset = ManifestDataset(png_manifest, cache)
    strategy = create_strategy("oversample").fit(dataset.labels, 2, seed=0, positive_index=1)
    loader = create_train_loader(dataset, strategy, batch_size=4)
    batches = [batch[1].tolist() for batch in loader]
    assert all(sum(b) == 2 for b in batches)  # Walsh & Tardy: half of each batch from the minority
    first = [batch[2].tolist() for batch in loader]
    loader.batch_sampler.set_epoch(1)  # type: ignore[union-attr]
    assert [batch[2].tolist() for batch in loader] != first


def test_a_save_that_fails_half_way_leaves_no_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medbalance.training.checkpoints as checkpoints

    def broken_save(tensors: dict, filename: str, metadata: dict | None = None) -> None:
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints, "save_file", broken_save)
    model = create_model("small-cnn", num_classes=2, in_chans=1)
    with pytest.raises(OSError, match="disk full"):
        save_weights(tmp_path / "epoch=0000.safetensors", model, {"epoch": 0})
    assert list(tmp_path.iterdir()) == []


def test_phantom_spec_defaults_follow_the_phantom_generator() -> None:
    """``--data phantoms`` must train on the same default difficulty that docs/phantoms.md measured."""
    from medbalance.synth.phantoms import PhantomConfig
    from medbalance.training.config import PhantomSpec

    spec, generator = PhantomSpec(), PhantomConfig()
    for name in ("prevalence", "size", "lesion_contrast"):
        assert getattr(spec, name) == getattr(generator, name), name
