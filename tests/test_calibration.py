"""Calibration, recalibration and score distributions against scikit-learn, SciPy and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, softmax
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss

from medbalance.errors import ConfigError, DataError
from medbalance.evaluation.calibration import (
    compute_calibration_line,
    compute_ece,
    compute_multiclass_brier,
    compute_reliability,
    compute_top_label_ece,
    logit,
)
from medbalance.evaluation.recalibration import (
    apply_temperature,
    compare_calibrators,
    fit_calibrator,
    fit_temperature,
)
from medbalance.evaluation.score_distribution import check_overconfidence, compute_score_histograms


def _binary(seed: int, n: int = 400, prevalence: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    score = expit(rng.normal(1.5 * y - 1.0, 1.0))
    return y, score


@pytest.mark.parametrize("strategy", ["uniform", "quantile"], ids=["equal-width", "equal-mass"])
@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
def test_reliability_matches_sklearn_calibration_curve(strategy: str, seed: int) -> None:
    y, score = _binary(seed)
    score = np.round(score, 2)  # ties at bin edges
    data = compute_reliability(y, score, n_bins=10, strategy=strategy)  # type: ignore[arg-type]
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(data.observed[data.nonempty], prob_true)
    np.testing.assert_allclose(data.mean_score[data.nonempty], prob_pred)
    assert data.counts.sum() == y.size


def test_ece_hand_computed_golden() -> None:
    # bins of width 0.5: [0, 0.5) holds 0.1, 0.2, 0.4 (labels 0, 0, 1); [0.5, 1] holds 0.6, 0.9 (1, 0)
    y = np.array([0, 0, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.4, 0.6, 0.9])
    expected = (3 / 5) * abs(1 / 3 - 0.7 / 3) + (2 / 5) * abs(1 / 2 - 0.75)
    assert compute_ece(y, p, n_bins=2).value == pytest.approx(expected)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"], ids=["equal-width", "equal-mass"])
def test_ece_equals_weighted_gap_of_reliability_bins(strategy: str) -> None:
    y, p = _binary(5)
    data = compute_reliability(y, p, n_bins=15, strategy=strategy)  # type: ignore[arg-type]
    ne = data.nonempty
    expected = np.sum(data.counts[ne] / y.size * np.abs(data.observed[ne] - data.mean_score[ne]))
    assert compute_ece(y, p, n_bins=15, strategy=strategy).value == pytest.approx(expected)  # type: ignore[arg-type]


def test_ece_edge_cases_all_equal_and_one_class() -> None:
    # all predictions equal: one bin, gap |share of positives - p|
    assert compute_ece([0, 1, 1, 1], [0.5] * 4).value == pytest.approx(0.25)
    # one class absent: still defined (|0 - mean p|)
    assert compute_ece([0, 0], [0.2, 0.4], n_bins=1).value == pytest.approx(0.3)


def test_ece_errors() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        compute_ece([0, 1], [-1.0, 2.0])
    with pytest.raises(ConfigError, match="bin strategy"):
        compute_ece([0, 1], [0.1, 0.9], strategy="equal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_bins"):
        compute_ece([0, 1], [0.1, 0.9], n_bins=0)


def test_top_label_ece_and_multiclass_brier_by_hand() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.5, 0.1], [0.2, 0.2, 0.6]])
    y = np.array([0, 0, 2])
    # one bin: mean confidence (0.7 + 0.5 + 0.6) / 3 = 0.6, accuracy 2/3
    assert compute_top_label_ece(y, proba, n_bins=1).value == pytest.approx(abs(2 / 3 - 0.6))
    onehot = np.eye(3)[y]
    assert compute_multiclass_brier(y, proba).value == pytest.approx(
        np.mean(np.sum((proba - onehot) ** 2, 1))
    )
    # binary special case: multi-class Brier is twice the positive-class Brier
    yb, pb = _binary(3)
    both = np.stack([1 - pb, pb], axis=1)
    assert compute_multiclass_brier(yb, both).value == pytest.approx(2 * brier_score_loss(yb, pb))


def test_calibration_line_recovers_known_slope_and_intercept() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 20000)
    y = (rng.random(x.size) < expit(0.5 * x + 0.3)).astype(int)
    line = compute_calibration_line(y, expit(x))
    assert line.slope.value == pytest.approx(0.5, abs=0.03)
    assert line.intercept.value == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize(
    ("y", "p", "reason"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "every case is negative"),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], "all scores are equal"),
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], "separate the classes perfectly"),
        ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], "perfectly in reverse"),
        ([0, 1, 0, 1], [0.1, 0.2, 0.2, 0.9], "slope is +infinity"),
        ([1, 0, 1, 0], [0.1, 0.2, 0.2, 0.9], "slope is -infinity"),
    ],
    ids=["one-class", "all-equal", "separated", "reverse-separated", "tie-at-boundary", "reverse-tie"],
)
def test_calibration_line_undefined_with_reason(y: list[int], p: list[float], reason: str) -> None:
    line = compute_calibration_line(y, p)
    assert not line.slope.defined and reason in line.slope.reason
    assert not line.intercept.defined


def test_temperature_scaling_recovers_known_temperature() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, size=(5000, 3))
    y = np.array([rng.choice(3, p=row) for row in softmax(z, axis=1)])
    assert fit_temperature(y, 2.0 * z) == pytest.approx(2.0, rel=0.06)
    zb = rng.normal(0, 2, 5000)
    yb = (rng.random(zb.size) < expit(zb)).astype(int)
    assert fit_temperature(yb, 2.0 * zb) == pytest.approx(2.0, rel=0.06)
    # binary probabilities: temperature on logit(p) is the same fit
    cal = fit_calibrator(yb, expit(2.0 * zb), "temperature")
    assert cal.params["temperature"] == pytest.approx(fit_temperature(yb, 2.0 * zb), rel=1e-4)
    np.testing.assert_allclose(apply_temperature(2.0 * zb, 2.0), expit(zb))


def test_platt_equals_direct_likelihood_maximisation() -> None:
    y, p = _binary(7)
    cal = fit_calibrator(y, p, "platt")
    x = logit(p)

    def nll(ab: np.ndarray) -> float:
        z = ab[0] * x + ab[1]
        return float(np.mean(np.logaddexp(0, z) - y * z))

    ref = minimize(nll, np.array([1.0, 0.0]), method="BFGS").x
    assert cal.params["slope"] == pytest.approx(ref[0], abs=1e-3)
    assert cal.params["intercept"] == pytest.approx(ref[1], abs=1e-3)


def test_isotonic_equals_sklearn() -> None:
    y, p = _binary(8)
    _, p_t = _binary(9)
    cal = fit_calibrator(y, p, "isotonic")
    ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y)
    np.testing.assert_allclose(cal.apply(p_t), ref.predict(p_t))


def test_compare_calibrators_repairs_a_distorted_prior() -> None:
    # a model trained on a balanced prior, deployed at 10%: scores far too high
    rng = np.random.default_rng(3)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random(n) < 0.1).astype(int)
        z = rng.normal(2.0 * y - 1.0, 1.0)
        return y, expit(2.0 * z + 2.5)  # over-confident and shifted

    (yv, pv), (yt, pt) = draw(3000), draw(3000)
    results = {r.calibrator.method: r for r in compare_calibrators(yv, pv, yt, pt)}
    assert set(results) == {"temperature", "platt", "isotonic"}
    for method in ("platt", "isotonic"):
        r = results[method]
        assert r.ece_after.value < 0.5 * r.ece_before.value, method
        assert r.brier_after.value < r.brier_before.value
    assert results["platt"].brier_before.value == pytest.approx(brier_score_loss(yt, pt))
    assert results["platt"].to_dict()["fitted_on"] == "validation"


def test_calibrators_refuse_one_class_validation_and_unknown_method() -> None:
    with pytest.raises(DataError, match="both classes in the validation set"):
        fit_calibrator([0, 0, 0], [0.1, 0.2, 0.3], "platt")
    with pytest.raises(DataError, match="two classes"):
        fit_temperature([1, 1], [0.3, 2.0])
    with pytest.raises(ConfigError, match="Did you mean"):
        fit_calibrator([0, 1], [0.1, 0.9], "plat")  # type: ignore[arg-type]


def test_score_histograms_count_each_true_class() -> None:
    y, p = _binary(4)
    proba = np.stack([1 - p, p], axis=1)
    hist = compute_score_histograms(y, proba, ["benign", "malignant"], score_class="malignant", n_bins=10)
    np.testing.assert_array_equal(
        hist.counts["malignant"], np.histogram(p[y == 1], bins=np.linspace(0, 1, 11))[0]
    )
    assert hist.counts["benign"].sum() == (y == 0).sum()


def test_overconfidence_flags_scores_piled_at_the_extremes() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(200, int), np.ones(20, int)]
    # positives: 12 at 0.99 (right), 4 at 0.005 (wrong), 4 in the middle -> 80% extreme
    pos = np.r_[np.full(12, 0.99), np.full(4, 0.005), np.full(4, 0.6)]
    neg = rng.uniform(0.05, 0.6, 200)
    p = np.r_[neg, pos]
    report = check_overconfidence(y, np.stack([1 - p, p], 1), ["benign", "malignant"])
    assert report.flagged == ("malignant",)
    assert report.per_class["malignant"].share_extreme == pytest.approx(0.8)
    assert report.per_class["malignant"].share_confidently_wrong == pytest.approx(0.2)
    assert "OVERCONFIDENCE" in report.warning and "4 confidently wrong" in report.warning
    spread = check_overconfidence(y[:200], np.stack([1 - neg, neg], 1), ["benign", "malignant"])
    assert spread.flagged == () and spread.warning == ""
    assert spread.per_class["malignant"].share_extreme is None  # absent class, not 0


def test_overconfidence_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="extreme must lie"):
        check_overconfidence([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], extreme=0.7)
    with pytest.raises(ValueError, match="not logits"):
        check_overconfidence([0, 1], [[-2.0, 2.0], [0.5, 0.5]], ["a", "b"])
