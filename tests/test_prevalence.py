"""Prevalence: PPV/NPV at a deployment prevalence, odds correction, Saerens EM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import confusion_matrix

from medbalance.evaluation.prevalence import (
    compute_metrics_at_prevalence,
    compute_prevalence_table,
    correct_binary_prior,
    correct_prior,
    estimate_prior_em,
)


def test_ppv_npv_at_prevalence_match_a_resampled_confusion_matrix() -> None:
    # Build a test set at exactly 5% prevalence with known sens/spec and read PPV/NPV off sklearn.
    y = np.r_[np.ones(100, int), np.zeros(1900, int)]
    pred = np.r_[np.ones(80, int), np.zeros(20, int), np.ones(190, int), np.zeros(1710, int)]
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    got = compute_metrics_at_prevalence(0.8, 0.9, 0.05, cost_ratio=10)
    assert got["ppv"].value == pytest.approx(tp / (tp + fp))
    assert got["npv"].value == pytest.approx(tn / (tn + fn))
    assert got["expected_cost"].value == pytest.approx((10 * fn + fp) / y.size)


def test_ppv_undefined_when_nothing_is_predicted_positive() -> None:
    got = compute_metrics_at_prevalence(0.0, 1.0, 0.1)
    assert not got["ppv"].defined and "nothing is predicted positive" in got["ppv"].reason
    assert got["npv"].value == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sensitivity": 1.2, "specificity": 0.9, "prevalence": 0.1}, "sensitivity must lie"),
        ({"sensitivity": 0.8, "specificity": 0.9, "prevalence": 0.0}, "strictly between 0 and 1"),
        ({"sensitivity": 0.8, "specificity": 0.9, "prevalence": 0.1, "cost_ratio": -1}, "cost_ratio"),
    ],
    ids=["sens>1", "prevalence-0", "negative-cost"],
)
def test_metrics_at_prevalence_errors(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_metrics_at_prevalence(**kwargs)  # type: ignore[arg-type]


def test_prevalence_table_intervals_contain_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.2).astype(int)
    score = expit(rng.normal(2 * y - 1, 1))
    patients = np.repeat(np.arange(300), 2)
    rows = compute_prevalence_table(
        y, score, threshold=0.5, prevalences=[0.01, 0.2], cost_ratio=5, groups=patients, n_resamples=200
    )
    assert [r.prevalence for r in rows] == [0.01, 0.2]
    for row in rows:
        for name in ("ppv", "npv", "expected_cost"):
            low, high = row.intervals[name]  # type: ignore[misc]
            assert low <= row.metrics[name].value <= high  # type: ignore[operator]
    assert rows[0].metrics["ppv"].value < rows[1].metrics["ppv"].value  # rarer disease, lower PPV
    assert rows[0].to_dict()["ppv"]["level"] == 0.95


def test_odds_correction_maps_a_balanced_model_back_to_the_true_prior() -> None:
    # Simulate a class-conditional feature, compute the Bayes posterior at a 50% prior (what
    # over-sampling teaches) and at the true 5% prior; the odds correction must map one to the other.
    rng = np.random.default_rng(1)
    y = (rng.random(200_000) < 0.05).astype(int)
    x = rng.normal(1.5 * y, 1.0)
    lr = np.exp(1.5 * x - 1.125)  # likelihood ratio of N(1.5, 1) vs N(0, 1)
    p_balanced = lr / (lr + 1)
    p_true = 0.05 * lr / (0.05 * lr + 0.95)
    corrected = correct_binary_prior(p_balanced, 0.5, 0.05)
    np.testing.assert_allclose(corrected, p_true, rtol=1e-10)
    assert corrected.mean() == pytest.approx(y.mean(), abs=0.003)  # calibrated in the large
    assert p_balanced.mean() > 0.2  # the uncorrected model is far off


def test_multiclass_correction_golden_and_identity() -> None:
    p = np.array([[0.5, 0.3, 0.2]])
    out = correct_prior(p, [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1])
    w = np.array([0.5 * 0.6, 0.3 * 0.3, 0.2 * 0.1])
    np.testing.assert_allclose(out[0], w / w.sum())
    np.testing.assert_allclose(correct_prior(p, [0.2, 0.3, 0.5], [2, 3, 5]), p)  # same prior, unnormalised
    with pytest.raises(ValueError, match="positive class shares"):
        correct_prior(p, [0.5, 0.5, 0.0], [0.3, 0.3, 0.4])


@pytest.mark.parametrize("new_prior", [(0.9, 0.1), (0.5, 0.5), (0.3, 0.7)], ids=["10%", "50%", "70%"])
def test_saerens_em_recovers_a_simulated_label_shift(new_prior: tuple[float, float]) -> None:
    # Training prior 80/20; calibrated posteriors from Gaussian class conditionals.
    rng = np.random.default_rng(2)
    n = 20_000
    y = (rng.random(n) < new_prior[1]).astype(int)
    x = rng.normal(2.0 * y, 1.0)
    lr = np.exp(2.0 * x - 2.0)
    p1 = 0.2 * lr / (0.2 * lr + 0.8)
    est = estimate_prior_em(np.stack([1 - p1, p1], 1), [0.8, 0.2])
    assert est.converged
    assert est.prior[1] == pytest.approx(y.mean(), abs=0.02)
    assert est.proba[:, 1].mean() == pytest.approx(est.prior[1], abs=1e-6)


def test_saerens_em_multiclass_and_no_shift() -> None:
    rng = np.random.default_rng(3)
    means = np.array([[0, 0], [2, 0], [0, 2]])
    train = np.array([0.6, 0.3, 0.1])
    target = np.array([0.2, 0.3, 0.5])
    y = rng.choice(3, size=30_000, p=target)
    x = means[y] + rng.normal(size=(y.size, 2))
    log_lik = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(-1)
    post = np.exp(log_lik) * train
    post /= post.sum(1, keepdims=True)
    est = estimate_prior_em(post, train)
    np.testing.assert_allclose(est.prior, target, atol=0.02)
    same = estimate_prior_em(np.full((4, 3), 1 / 3), [1 / 3, 1 / 3, 1 / 3])
    assert same.n_iter == 1 and same.converged


def test_em_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="shape"):
        estimate_prior_em([0.2, 0.8], [0.5, 0.5])
    with pytest.raises(ValueError, match="finite probabilities"):
        estimate_prior_em([[np.nan, 1.0]], [0.5, 0.5])
