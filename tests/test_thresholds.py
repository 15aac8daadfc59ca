"""Threshold rules chosen on validation (vs brute force with scikit-learn), applied to test; logit adjustment."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, recall_score, roc_curve

from medbalance.errors import ConfigError, DataError
from medbalance.evaluation import (
    OperatingPoint,
    adjust_logits,
    apply_threshold,
    compute_binary_metrics,
    list_threshold_rules,
    select_logit_adjustment_tau,
    select_threshold,
)


def _data(seed: int, n: int = 200, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    y[:2] = [0, 1]
    s = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.4 * y - 0.8)))
    return y, (np.round(s, 2) if ties else s)


def _brute(y: np.ndarray, s: np.ndarray, rule: str, **p: float) -> float:
    """The rule's threshold by trying every distinct score on scikit-learn's ROC points (largest wins ties)."""
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    n_pos, n_neg = y.sum(), y.size - y.sum()
    prevalence = p.get("prevalence", y.mean())
    best_t, best_v = np.inf, (-np.inf, -np.inf)
    for sens, spec, t in zip(tpr[1:], 1 - fpr[1:], thresholds[1:], strict=True):  # [0] is +inf
        tp, fp = sens * n_pos, (1 - spec) * n_neg
        fn, tn = n_pos - tp, n_neg - fp
        mcc_den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        value = {
            "youden": (sens + spec - 1, 0),
            "max-f1": (2 * tp / (2 * tp + fp + fn), 0),
            "max-mcc": ((tp * tn - fp * fn) / mcc_den if mcc_den > 0 else -np.inf, 0),
            "min-cost": (
                -(p.get("cost_ratio", 1) * prevalence * (1 - sens) + (1 - prevalence) * (1 - spec)),
                0,
            ),
            "target-sensitivity": (spec, sens) if sens >= p.get("target", 0) else (-np.inf, -np.inf),
            "target-specificity": (sens, spec) if spec >= p.get("target", 0) else (-np.inf, -np.inf),
        }[rule]
        if value[0] > best_v[0] + 1e-12 or (
            abs(value[0] - best_v[0]) <= 1e-12 and value[1] > best_v[1] + 1e-12
        ):
            best_t, best_v = t, value
    return float(best_t)


CASES = [
    ("youden", {}),
    ("max-f1", {}),
    ("max-mcc", {}),
    ("target-sensitivity", {"target": 0.9}),
    ("target-specificity", {"target": 0.8}),
    ("min-cost", {"cost_ratio": 8.0, "prevalence": 0.05}),
    ("min-cost", {"cost_ratio": 2.0}),
]


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", [0, 1], ids=["s0", "s1"])
@pytest.mark.parametrize(("rule", "params"), CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CASES)])
def test_rule_matches_brute_force(rule: str, params: dict, seed: int, ties: bool) -> None:
    y, s = _data(seed, ties=ties)
    op = select_threshold(y, s, rule, **params)
    assert op.threshold == pytest.approx(_brute(y, s, rule, **params))
    assert op.rule == rule and op.n_val == y.size and op.n_val_positive == int(y.sum())
    assert op.metrics["sensitivity"].value == pytest.approx(recall_score(y, (s >= op.threshold).astype(int)))


def test_target_sensitivity_is_met_on_validation() -> None:
    y, s = _data(3)
    op = select_threshold(y, s, "target-sensitivity", target=0.95)
    assert op.metrics["sensitivity"].value >= 0.95
    for t in np.unique(s):  # no threshold meeting the target has a higher specificity
        pred = (s >= t).astype(int)
        if recall_score(y, pred) >= 0.95:
            assert recall_score(y, pred, pos_label=0) <= op.metrics["specificity"].value + 1e-12


def test_min_cost_prevalence_defaults_to_validation() -> None:
    y, s = _data(4)
    op = select_threshold(y, s, "min-cost", cost_ratio=5)
    assert op.params == {"cost_ratio": 5.0, "prevalence": pytest.approx(y.mean())}
    rare = select_threshold(y, s, "min-cost", cost_ratio=5, prevalence=0.01)
    assert rare.threshold > op.threshold  # a rarer disease calls fewer cases positive


def test_fixed_rule_and_tied_scores_never_split() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.2, 0.6, 0.6, 0.9, 0.6, 0.3])
    assert select_threshold(y, s).threshold == 0.5
    assert select_threshold(y, s, "fixed", threshold=0.7).metrics["sensitivity"].value == pytest.approx(1 / 3)
    for rule in ("youden", "max-f1", "target-sensitivity"):
        t = select_threshold(y, s, rule).threshold
        assert t in {np.inf, -np.inf, *s.tolist()}
        pred = s >= t
        assert len({bool(p) for p in pred[s == 0.6]}) == 1  # the three 0.6 cases are on one side


def test_apply_on_test_uses_the_validation_threshold() -> None:
    y_val, s_val = _data(5)
    y_test, s_test = _data(6)
    op = select_threshold(y_val, s_val, "youden")
    got = apply_threshold(y_test, s_test, op)
    expected = compute_binary_metrics(y_test, s_test, threshold=op.threshold)
    assert got == expected
    assert got["balanced_accuracy"].value == pytest.approx(
        balanced_accuracy_score(y_test, s_test >= op.threshold)
    )


def test_infinite_threshold_serialises() -> None:
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.9, 0.2, 0.3])  # the top score is a negative
    op = select_threshold(y, s, "target-specificity", target=1.0)
    assert op.threshold == np.inf and op.metrics["sensitivity"].value == 0.0
    payload = json.loads(json.dumps(op.to_dict()))
    assert payload["threshold"] == "inf" and payload["chosen_on"] == "validation"


def test_list_rules() -> None:
    assert set(list_threshold_rules()) == {
        "fixed", "youden", "max-f1", "max-mcc", "target-sensitivity", "target-specificity", "min-cost"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "params", "error", "match"),
    [
        ("youdn", {}, ConfigError, "Did you mean 'youden'"),
        ("target-sensitivity", {"targt": 0.9}, ConfigError, "Did you mean 'target'"),
        ("target-sensitivity", {"target": 1.5}, ConfigError, "target must be a number in \\(0, 1\\]"),
        ("min-cost", {}, ConfigError, "needs cost_ratio"),
        ("min-cost", {"cost_ratio": -1}, ConfigError, "cost_ratio must be a positive number"),
        ("min-cost", {"cost_ratio": 2, "prevalence": 1.0}, ConfigError, "prevalence must be"),
        ("youden", {"target": 0.9}, ConfigError, "takes no parameters"),
        ("fixed", {"threshold": True}, ConfigError, "threshold must be a number"),
    ],
    ids=["rule", "param-name", "target-range", "no-cost", "neg-cost", "prevalence", "no-params", "bool"],
)
def test_bad_rule_or_params_raise(rule: str, params: dict, error: type[Exception], match: str) -> None:
    y, s = _data(0, n=40)
    with pytest.raises(error, match=match):
        select_threshold(y, s, rule, **params)


def test_one_class_validation_raises_but_fixed_works() -> None:
    with pytest.raises(DataError, match="no positive case"):
        select_threshold([0, 0, 0], [0.1, 0.5, 0.9], "youden")
    assert not select_threshold([0, 0, 0], [0.1, 0.5, 0.9]).metrics["sensitivity"].defined
    with pytest.raises(TypeError, match="OperatingPoint"):
        apply_threshold([0, 1], [0.1, 0.9], 0.5)  # type: ignore[arg-type]
    assert isinstance(select_threshold([0, 1], [0.1, 0.9]), OperatingPoint)


def _imbalanced_logits(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prior = np.array([0.8, 0.15, 0.05])
    y = rng.choice(3, size=n, p=prior)
    y[:3] = [0, 1, 2]
    logits = rng.normal(size=(n, 3)) + 1.2 * np.eye(3)[y] + np.log(prior)  # a prior-biased model
    return y, logits, prior


def test_adjust_logits_formula() -> None:
    z = np.array([[1.0, 2.0], [0.0, -1.0]])
    np.testing.assert_allclose(adjust_logits(z, [0.25, 0.75], 0.5), z - 0.5 * np.log([0.25, 0.75]))
    np.testing.assert_allclose(adjust_logits(z, [1, 3], 0.0), z)


def test_tau_chosen_on_validation_improves_balanced_accuracy() -> None:
    y, z, prior = _imbalanced_logits(0)
    choice = select_logit_adjustment_tau(y, z, prior)
    plain = balanced_accuracy_score(y, z.argmax(axis=1))
    assert choice.tau > 0.3 and choice.balanced_accuracy > plain + 0.05
    assert choice.scores[0.0] == pytest.approx(plain)
    assert choice.balanced_accuracy == pytest.approx(
        balanced_accuracy_score(y, choice.apply(z).argmax(axis=1))
    )
    y_test, z_test, _ = _imbalanced_logits(1)
    assert balanced_accuracy_score(y_test, choice.apply(z_test).argmax(1)) > balanced_accuracy_score(
        y_test, z_test.argmax(1)
    )
    assert json.loads(json.dumps(choice.to_dict()))["chosen_on"] == "validation"


def test_tau_ties_go_to_the_smallest() -> None:
    y = np.array([0, 1])
    z = np.array([[5.0, 0.0], [0.0, 5.0]])  # already perfect: every small tau ties
    assert select_logit_adjustment_tau(y, z, [0.5, 0.5], taus=[1.0, 0.5, 2.0]).tau == 0.5


@pytest.mark.parametrize(
    ("y", "prior", "error", "match"),
    [
        ([0, 1, 2], [0.5, 0.0, 0.5], ValueError, "prior must be positive"),
        ([0, 1, 2], [0.5, 0.5], ValueError, "one entry per class"),
        ([0, 1, 1], [0.3, 0.3, 0.4], DataError, "class index\\(es\\) \\[2\\] have no validation case"),
    ],
    ids=["zero-prior", "prior-shape", "absent-class"],
)
def test_logit_adjustment_bad_inputs(
    y: list[int], prior: list[float], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        select_logit_adjustment_tau(y, np.zeros((3, 3)), prior)
