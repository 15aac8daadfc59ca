"""Binary metrics against scikit-learn, golden hand cases, and undefined edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from medbalance.errors import ConfigError
from medbalance.evaluation import (
    BINARY_METRIC_NAMES,
    BinaryMetrics,
    MetricValue,
    compute_binary_metric,
    compute_binary_metrics,
    compute_macro_mean,
    metric_values_to_dict,
)
from medbalance.evaluation.metrics import compute_auc_roc, compute_mcc, compute_ppv, compute_sensitivity


def _data(seed: int, n: int = 300, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    y[:2] = [0, 1]
    score = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.2 * y - 0.8)))
    return y, (np.round(score, 1) if ties else score)


def _sklearn(name: str, y: np.ndarray, s: np.ndarray, t: float) -> float:
    pred = (s >= t).astype(int)
    sens = skm.recall_score(y, pred)
    spec = skm.recall_score(y, pred, pos_label=0)
    return {
        "auc_roc": lambda: skm.roc_auc_score(y, s),
        "auc_pr": lambda: skm.average_precision_score(y, s),
        "sensitivity": lambda: sens,
        "specificity": lambda: spec,
        "ppv": lambda: skm.precision_score(y, pred),
        "npv": lambda: skm.precision_score(y, pred, pos_label=0),
        "f1": lambda: skm.f1_score(y, pred),
        "mcc": lambda: skm.matthews_corrcoef(y, pred),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, pred),
        "g_mean": lambda: math.sqrt(sens * spec),
        "brier": lambda: skm.brier_score_loss(y, s),
        "log_loss": lambda: skm.log_loss(y, s),
    }[name]()


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied-scores"])
@pytest.mark.parametrize("threshold", [0.5, 0.3], ids=["t0.5", "t0.3"])
@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_every_metric_matches_sklearn(seed: int, threshold: float, ties: bool) -> None:
    y, s = _data(seed, ties=ties)
    got = compute_binary_metrics(y, s, threshold=threshold)
    assert list(got) == list(BINARY_METRIC_NAMES)
    for name in BINARY_METRIC_NAMES:
        assert got[name].defined, name
        assert got[name].value == pytest.approx(_sklearn(name, y, s, threshold), abs=1e-12), name


def test_golden_hand_case() -> None:
    m = compute_binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    expected = {
        "auc_roc": 0.75,  # 3 of 4 positive-negative pairs ordered
        "auc_pr": 0.5 * 1.0 + 0.5 * (2 / 3),  # positives at ranks 1 and 3
        "sensitivity": 0.5, "specificity": 0.5, "ppv": 0.5, "npv": 0.5, "f1": 0.5, "mcc": 0.0,
        "balanced_accuracy": 0.5, "g_mean": 0.5,
        "brier": (0.01 + 0.36 + 0.36 + 0.01) / 4,
        "log_loss": -(2 * math.log(0.9) + 2 * math.log(0.4)) / 4,
    }  # fmt: skip
    for name, value in expected.items():
        assert m[name].value == pytest.approx(value, abs=1e-12), name


def test_score_equal_to_threshold_is_positive() -> None:
    assert compute_sensitivity([1, 1], [0.5, 0.49], threshold=0.5).value == 0.5


def test_ties_count_one_half_in_auc() -> None:
    assert compute_auc_roc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]).value == 0.5
    assert compute_auc_roc([0, 1, 0, 1], [0.2, 0.3, 0.3, 0.9]).value == pytest.approx(0.875)


def test_single_positive_matches_sklearn() -> None:
    y, s = _data(3, n=50)
    y = np.zeros_like(y)
    y[17] = 1
    m = compute_binary_metrics(y, s)
    assert m["auc_roc"].value == pytest.approx(skm.roc_auc_score(y, s))
    assert m["auc_pr"].value == pytest.approx(skm.average_precision_score(y, s))


@pytest.mark.parametrize(
    ("y", "undefined", "defined"),
    [
        ([0, 0, 0, 0], {"auc_roc", "auc_pr", "sensitivity", "f1", "mcc", "balanced_accuracy", "g_mean"},
         {"specificity", "brier", "log_loss"}),
        ([1, 1, 1, 1], {"auc_roc", "specificity", "mcc", "balanced_accuracy", "g_mean"},
         {"auc_pr", "sensitivity", "f1", "brier"}),
    ],
    ids=["no-positives", "no-negatives"],
)  # fmt: skip
def test_absent_class_is_undefined_with_reason(y: list[int], undefined: set[str], defined: set[str]) -> None:
    m = compute_binary_metrics(y, [0.1, 0.7, 0.4, 0.9])
    for name in undefined:
        assert not m[name].defined and m[name].value is None, name
        assert "no positive" in m[name].reason or "no negative" in m[name].reason, name
    for name in defined:
        assert m[name].defined, name


def test_all_predictions_equal() -> None:
    y = [0, 1, 0, 1, 0]
    m = compute_binary_metrics(y, [0.2] * 5)
    assert m["auc_roc"].value == 0.5
    assert not m["ppv"].defined and "TP + FP = 0" in m["ppv"].reason
    assert not m["mcc"].defined and "no case scored >= threshold 0.5" in m["mcc"].reason
    assert m["f1"].value == 0.0  # positives exist, none found
    assert m["sensitivity"].value == 0.0 and m["specificity"].value == 1.0
    assert compute_mcc(y, [0.2] * 5).reason == m["mcc"].reason


def test_brier_and_log_loss_undefined_for_logits() -> None:
    m = compute_binary_metrics([0, 1], [-2.0, 3.0])
    assert m["auc_roc"].value == 1.0
    assert not m["brier"].defined and "probabilities in [0, 1]" in m["brier"].reason


def test_log_loss_clips_like_sklearn() -> None:
    y, s = [0, 1, 1], [0.0, 1.0, 0.0]
    assert compute_binary_metric(y, s, "log_loss").value == pytest.approx(skm.log_loss(y, s))


def test_values_are_json_serialisable() -> None:
    m = compute_binary_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    text = json.dumps(metric_values_to_dict(m))
    assert json.loads(text)["auc_roc"] == {"value": None, "defined": False, "reason": m["auc_roc"].reason}
    assert "NaN" not in text


def test_metric_value_rules() -> None:
    assert float(MetricValue.of(0.25)) == 0.25
    with pytest.raises(ValueError, match="undefined: no positives"):
        float(MetricValue.undefined("no positives"))
    with pytest.raises(ValueError, match="must be finite"):
        MetricValue.of(float("nan"))
    with pytest.raises(ValueError, match="needs a reason"):
        MetricValue(None, False, "")
    with pytest.raises(ValueError, match="contradicts"):
        MetricValue(0.5, False, "x")


def test_macro_mean_names_the_undefined_class() -> None:
    values = {"benign": MetricValue.of(0.8), "malignant": MetricValue.undefined("no cases")}
    mean = compute_macro_mean(values, what="AUC")
    assert not mean.defined and "class 'malignant': no cases" in mean.reason
    assert compute_macro_mean({"a": MetricValue.of(0.2), "b": MetricValue.of(0.6)}, what="AUC").value == 0.4


def test_thin_class_uses_its_threshold() -> None:
    assert BinaryMetrics(threshold=0.3)([0, 1], [0.2, 0.4])["sensitivity"].value == 1.0
    assert compute_ppv([0, 1], [0.6, 0.4], threshold=0.5).value == 0.0


@pytest.mark.parametrize(
    ("y", "s", "error", "match"),
    [
        ([0, 2], [0.1, 0.2], ValueError, "only 0 and 1"),
        (["a", "b"], [0.1, 0.2], ValueError, "0/1 labels"),
        ([0, 1], [0.1, float("nan")], ValueError, "non-finite"),
        ([0, 1, 1], [0.1, 0.2], ValueError, "must match"),
        ([], [], ValueError, "empty"),
        ([[0, 1]], [[0.1, 0.2]], ValueError, "1-D"),
    ],
    ids=["label-2", "string-labels", "nan-score", "length", "empty", "2d"],
)
def test_bad_inputs_raise(y: object, s: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        compute_binary_metrics(y, s)


def test_unknown_metric_and_bad_threshold() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'auc_roc'"):
        compute_binary_metric([0, 1], [0.1, 0.2], "auc_rco")
    with pytest.raises(ValueError, match="threshold is NaN"):
        compute_binary_metrics([0, 1], [0.1, 0.2], threshold=float("nan"))
