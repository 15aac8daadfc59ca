"""DeLong (Sun & Xu fast algorithm) against a slow definition-based reference, scikit-learn and a golden case."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from medbalance.evaluation import delong_auc_ci, delong_test
from medbalance.evaluation.delong import compute_delong_components


def _psi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kernel matrix psi(x_i, y_j): 1 if x > y, 1/2 if tied, 0 otherwise (positives in rows)."""
    return (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])


def _slow_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and covariance straight from DeLong et al. (1988): O(n_pos * n_neg)."""
    v10, v01 = [], []
    for s in scores:
        k = _psi(s[y == 1], s[y == 0])
        v10.append(k.mean(axis=1))
        v01.append(k.mean(axis=0))
    v10_a, v01_a = np.array(v10), np.array(v01)
    cov = np.cov(v10_a) / v10_a.shape[1] + np.cov(v01_a) / v01_a.shape[1]
    return v10_a.mean(axis=1), np.atleast_2d(cov)


def _data(seed: int, n: int = 150, ties: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = [0, 1]
    a = rng.normal(size=n) + 1.0 * y
    b = 0.6 * a + rng.normal(size=n) * 0.8 + 0.3 * y
    if ties:
        a, b = np.round(a, 0), np.round(b, 0)
    return y, a, b


@pytest.mark.parametrize(
    ("seed", "ties"), [(0, False), (1, True), (2, False), (3, True)], ids=["s0", "s1-ties", "s2", "s3-ties"]
)
def test_fast_components_equal_slow_definition(seed: int, ties: bool) -> None:
    y, a, b = _data(seed, ties=ties)
    auc, v10, v01 = compute_delong_components(y, np.stack([a, b]))
    for row, s in enumerate((a, b)):
        k = _psi(s[y == 1], s[y == 0])
        np.testing.assert_allclose(v10[row], k.mean(axis=1), atol=1e-12)
        np.testing.assert_allclose(v01[row], k.mean(axis=0), atol=1e-12)
        assert auc[row] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["s0", "s1", "s2"])
def test_ci_and_paired_test_match_slow_reference(seed: int) -> None:
    y, a, b = _data(seed, ties=seed == 1)
    auc, cov = _slow_delong(y, np.stack([a, b]))
    ci = delong_auc_ci(y, a, level=0.9)
    se = np.sqrt(cov[0, 0])
    assert ci.estimate == pytest.approx(auc[0]) and ci.std_error == pytest.approx(se)
    assert (ci.low, ci.high) == pytest.approx(
        (auc[0] - norm.ppf(0.95) * se, min(1.0, auc[0] + norm.ppf(0.95) * se))
    )
    test = delong_test(y, a, b)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (auc[0] - auc[1]) / np.sqrt(var)
    assert test.difference == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert test.z == pytest.approx(z) and test.p_value == pytest.approx(2 * norm.sf(abs(z)))
    assert test.low < test.difference < test.high


def test_golden_case() -> None:
    # positives 0.8, 0.4, 0.9; negatives 0.1, 0.4, 0.7: V10 = (1, 1/2, 1), V01 = (1, 5/6, 2/3)
    # AUC = 5/6; var = var(V10)/3 + var(V01)/3 = (1/12)/3 + (1/36)/3 = 1/27
    ci = delong_auc_ci([1, 1, 1, 0, 0, 0], [0.8, 0.4, 0.9, 0.1, 0.4, 0.7])
    assert ci.estimate == pytest.approx(5 / 6)
    assert ci.std_error == pytest.approx(np.sqrt(1 / 27))
    assert ci.high == 1.0  # clipped
    assert ci.low == pytest.approx(5 / 6 - norm.ppf(0.975) * np.sqrt(1 / 27))


def test_paired_test_detects_a_better_model() -> None:
    rng = np.random.default_rng(9)
    y = (rng.random(600) < 0.3).astype(int)
    strong, weak = rng.normal(size=600) + 1.5 * y, rng.normal(size=600) + 0.3 * y
    result = delong_test(y, strong, weak)
    assert result.p_value < 1e-6 and result.difference > 0.2
    assert json.loads(json.dumps(result.to_dict()))["defined"] is True


def test_identical_models_give_undefined_test() -> None:
    y, a, _ = _data(4)
    result = delong_test(y, a, a)
    assert not result.defined and result.difference == 0.0 and "variance" in result.reason


@pytest.mark.parametrize(
    ("y", "s"),
    [([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3]), ([0, 0, 0], [0.1, 0.2, 0.3])],
    ids=["one-positive", "no-positive"],
)
def test_too_few_cases_is_undefined_with_reason(y: list[int], s: list[float]) -> None:
    ci = delong_auc_ci(y, s)
    assert not ci.defined and "at least 2 positive and 2 negative" in ci.reason
    assert not delong_test(y, s, s).defined


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="score_b has 2"):
        delong_test([0, 1, 0], [0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        delong_auc_ci([0, 1], [0.1, 0.2], level=1.0)
