"""LDAM-DRW with its normalised (cosine) classifier: logits bounded by s, trained, exported, predicted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from medbalance.strategies import create_strategy
from medbalance.training._heads import CosineClassifier, use_cosine_classifier
from medbalance.training.models import create_model, split_parameters


@pytest.mark.parametrize("name", ["small-cnn", "resnet22", "test_convnext"], ids=["small-cnn", "resnet22", "timm-nested-head"])
def test_cosine_head_replaces_the_linear_classifier(name: str) -> None:
    model = create_model(name, num_classes=3, in_chans=1, head="cosine")
    head = model.get_classifier()
    assert isinstance(head, CosineClassifier) and head.out_features == 3
    _, head_params, _ = split_parameters(model)
    assert [p.data_ptr() for p in head_params] == [head.weight.data_ptr()]
    logits = model(torch.randn(4, 1, 64, 64) * 1000)
    assert logits.shape == (4, 3) and logits.abs().max() <= 1.0 + 1e-5


def test_ldam_asks_for_the_cosine_head_and_its_logits_are_bounded_by_s() -> None:
    strategy = create_strategy("ldam-drw").fit(np.array([0] * 90 + [1] * 10), 2, seed=0, positive_index=1)
    assert strategy.classifier_head == "cosine"
    assert create_strategy("ldam-drw", normalized_head=False).classifier_head == "linear"
    assert create_strategy("ldam-drw+oversample", allow_double_balancing=True).classifier_head == "cosine"
    assert create_strategy("focal").classifier_head == "linear"
    torch.manual_seed(0)
    model = create_model("small-cnn", num_classes=2, head="cosine").eval()
    with torch.no_grad():
        logits = strategy.adjust_logits(model(torch.randn(16, 1, 32, 32) * 1e4))
    s = strategy.params.scale
    assert logits.abs().max() <= s + 1e-3
    linear = create_model("small-cnn", num_classes=2).eval()
    with torch.no_grad():  # what the linear head did: nothing bounds raw logits times s
        assert strategy.adjust_logits(linear(torch.randn(16, 1, 32, 32) * 1e4)).abs().max() > s


def test_a_head_that_is_not_linear_is_refused() -> None:
    from medbalance.errors import ConfigError

    model = create_model("small-cnn", num_classes=2)
    model.fc = torch.nn.Sequential(torch.nn.Linear(8, 2))
    with pytest.raises(ConfigError, match=r"one nn\.Linear"):
        use_cosine_classifier(model)


def test_an_ldam_run_trains_exports_and_predicts_with_the_cosine_head(tmp_path: Path) -> None:
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
    from medbalance.inference import export_bundle, load_bundle
    from medbalance.training.config import load_train_config
    from medbalance.training.run import train

    run = train(load_train_config(None, {
        "out": tmp_path / "run", "data": "phantoms", "phantoms": {"n_patients": 12, "prevalence": 0.25, "size": 64},
        "image_size": 32, "epochs": 2, "fractions": [0.6, 0.2, 0.2], "progress": False,
        "cache_dir": tmp_path / "cache", "strategy": "ldam-drw",
    }))  # fmt: skip
    assert isinstance(run.model.get_classifier(), CosineClassifier)  # type: ignore[union-attr]
    table = pd.read_csv(run.out / "predictions_test.csv")
    assert table.filter(like="logit_").abs().to_numpy().max() <= 1.0 + 1e-5  # cosines
    evaluate_run(run.out, EvaluateConfig(n_bootstrap=20, figures=False))
    export_bundle(run.out, tmp_path / "model", rule="youden")
    bundle = load_bundle(tmp_path / "model")
    assert isinstance(bundle.network.model.get_classifier(), CosineClassifier)
    # the bundle's probabilities are the run's (cosine head and the s scale both carried over)
    from medbalance.data.manifest import load_manifest

    split = load_manifest(run.out / "split.csv")
    rows = split.table[split.table["split"] == "test"].head(3)
    paths = [str(p) for p, keep in zip(split.paths(), split.table["split"] == "test", strict=True) if keep][:3]
    result = bundle.predict(paths)
    expected = table.set_index("image_id").loc[rows["image_id"], "prob_malignant"].to_numpy()
    assert result.images["score_uncalibrated"].to_numpy() == pytest.approx(expected, abs=1e-4)
