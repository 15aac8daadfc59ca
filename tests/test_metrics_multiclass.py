"""Multi-class metrics against scikit-learn, golden cases and absent-class edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from medbalance.evaluation import compute_cohen_kappa, compute_multiclass_metrics

NAMES = ("A", "B", "C", "D")


def _data(seed: int, n: int = 400, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=np.linspace(1, 3, k) / np.linspace(1, 3, k).sum())
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_matches_sklearn(seed: int) -> None:
    y, p = _data(seed)
    pred = p.argmax(axis=1)
    r = compute_multiclass_metrics(y, p, class_names=NAMES, ordinal=True)
    labels = list(range(4))
    expected = {
        "auc_ovr_macro": skm.roc_auc_score(y, p, multi_class="ovr", average="macro"),
        "macro_f1": skm.f1_score(y, pred, average="macro", labels=labels),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "balanced_accuracy_adjusted": skm.balanced_accuracy_score(y, pred, adjusted=True),
        "kappa": skm.cohen_kappa_score(y, pred, labels=labels),
        "kappa_quadratic": skm.cohen_kappa_score(y, pred, labels=labels, weights="quadratic"),
    }
    for name, value in expected.items():
        assert r.metrics[name].value == pytest.approx(value, abs=1e-12), name
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=labels)
    for i, name in enumerate(NAMES):
        assert r.per_class[name]["precision"].value == pytest.approx(precision[i])
        assert r.per_class[name]["recall"].value == pytest.approx(recall[i])
        assert r.per_class[name]["f1"].value == pytest.approx(f1[i])
        assert r.per_class[name]["auc_ovr"].value == pytest.approx(skm.roc_auc_score(y == i, p[:, i]))
    np.testing.assert_array_equal(r.confusion_matrix, skm.confusion_matrix(y, pred, labels=labels))


def test_golden_three_class_case() -> None:
    y = [0, 0, 1, 1, 2, 2]
    p = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .8, .1], [.1, .6, .3], [.1, .2, .7], [.3, .3, .4]])  # fmt: skip
    r = compute_multiclass_metrics(y, p, class_names=["x", "y", "z"])
    # predictions 0,1,1,1,2,2: recalls 1/2, 1, 1; precisions 1, 2/3, 1
    assert r.metrics["balanced_accuracy"].value == pytest.approx(2.5 / 3)
    assert r.metrics["balanced_accuracy_adjusted"].value == pytest.approx((2.5 / 3 - 1 / 3) / (2 / 3))
    assert r.per_class["y"]["precision"].value == pytest.approx(2 / 3)
    assert r.per_class["x"]["f1"].value == pytest.approx(2 / 3)  # 2*1 / (2*1 + 0 + 1)
    # observed agreement 5/6, expected (1*2 + 3*2 + 2*2)/36 = 1/3 -> kappa = (5/6 - 1/3)/(2/3)
    assert r.metrics["kappa"].value == pytest.approx(0.75)
    assert r.confusion_matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 2]]


def test_perfect_predictions() -> None:
    r = compute_multiclass_metrics([0, 1, 2, 3], np.eye(4), class_names=NAMES, ordinal=True)
    for name in ("auc_ovr_macro", "macro_f1", "balanced_accuracy", "balanced_accuracy_adjusted", "kappa"):
        assert r.metrics[name].value == 1.0, name


def test_absent_class_makes_macro_means_undefined_naming_it() -> None:
    y, p = _data(4)
    y = np.where(y == 2, 0, y)
    r = compute_multiclass_metrics(y, p, class_names=NAMES)
    for name in ("auc_ovr_macro", "macro_f1", "balanced_accuracy", "balanced_accuracy_adjusted"):
        assert not r.metrics[name].defined, name
        assert "class 'C'" in r.metrics[name].reason, name
    assert not r.per_class["C"]["recall"].defined
    assert r.per_class["C"]["precision"].value == 0.0  # predicted but never right
    assert r.per_class["A"]["auc_ovr"].defined and r.metrics["kappa"].defined


def test_kappa_undefined_when_everything_is_one_class() -> None:
    r = compute_multiclass_metrics([1, 1, 1], np.tile([0.1, 0.8, 0.1], (3, 1)), class_names=["a", "b", "c"])
    assert not r.metrics["kappa"].defined and "expected disagreement is 0" in r.metrics["kappa"].reason
    assert not compute_cohen_kappa(np.diag([0, 3, 0]), quadratic=True).defined


def test_quadratic_kappa_only_for_ordinal_and_json() -> None:
    y, p = _data(5)
    r = compute_multiclass_metrics(y, p, class_names=NAMES)
    assert not r.metrics["kappa_quadratic"].defined and "ordinal=True" in r.metrics["kappa_quadratic"].reason
    payload = json.loads(json.dumps(r.to_dict()))
    assert payload["class_names"] == list(NAMES) and len(payload["confusion_matrix"]) == 4


def test_argmax_ties_go_to_lower_index() -> None:
    r = compute_multiclass_metrics([0, 1], [[0.5, 0.5], [0.5, 0.5]], class_names=["a", "b"])
    assert r.confusion_matrix.tolist() == [[1, 0], [1, 0]]


@pytest.mark.parametrize(
    ("y", "p", "names", "match"),
    [
        ([0, 1], np.eye(3)[:2], ["a", "b"], "class_names must be 3 distinct"),
        ([0, 3], np.eye(3)[:2], ["a", "b", "c"], "class indices 0..2"),
        ([0.0, 1.0], np.eye(3)[:2], ["a", "b", "c"], "integer class indices"),
        ([0, 1, 2], np.eye(3)[:2], ["a", "b", "c"], "proba has 2 rows"),
        ([0, 1], np.eye(3)[:2], ["a", "a", "c"], "distinct"),
        ([0, 1], [[0.1, np.nan, 0.2], [0.3, 0.3, 0.4]], ["a", "b", "c"], "non-finite"),
    ],
    ids=["names-count", "label-range", "float-labels", "rows", "duplicate-names", "nan"],
)
def test_bad_inputs_raise(y: object, p: object, names: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_multiclass_metrics(y, p, class_names=names)
