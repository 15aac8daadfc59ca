"""McNemar's paired test (exact vs chi-square) and Holm's correction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2

from medbalance.errors import ConfigError
from medbalance.evaluation import holm_correction, mcnemar_test


def _paired(only_a: int, only_b: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive cases: model a right/b wrong, a wrong/b right, both right, both wrong; plus 5 negatives."""
    a = np.r_[np.ones(only_a), np.zeros(only_b), np.ones(both), np.zeros(neither), np.zeros(5)]
    b = np.r_[np.zeros(only_a), np.ones(only_b), np.ones(both), np.zeros(neither), np.ones(5)]
    y = np.r_[np.ones(only_a + only_b + both + neither), np.zeros(5)]
    return y.astype(int), a.astype(int), b.astype(int)


@pytest.mark.parametrize(("only_a", "only_b"), [(7, 2), (1, 0), (12, 12)], ids=["7v2", "1v0", "12v12"])
def test_exact_below_25_discordant_matches_binomtest(only_a: int, only_b: int) -> None:
    y, a, b = _paired(only_a, only_b, both=20, neither=4)
    r = mcnemar_test(y, a, b)
    assert r.method == "exact" and r.only_a_correct == only_a and r.only_b_correct == only_b
    assert r.p_value == pytest.approx(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    n = only_a + only_b + 24
    assert r.metric_a == pytest.approx((only_a + 20) / n) and r.metric_b == pytest.approx((only_b + 20) / n)


def test_chi_square_with_continuity_from_25_discordant() -> None:
    y, a, b = _paired(30, 10, both=50, neither=3)
    r = mcnemar_test(y, a, b)
    assert r.method == "chi2" and r.statistic == pytest.approx(19**2 / 40)
    assert r.p_value == pytest.approx(chi2.sf(19**2 / 40, df=1))


def test_on_negatives_compares_specificities() -> None:
    y, a, b = _paired(3, 1, both=5, neither=0)
    r = mcnemar_test(y, a, b, on="negatives")
    # on the 5 negatives a says 0 (right) and b says 1 (wrong)
    assert r.n_cases == 5 and r.only_a_correct == 5 and r.metric_a == 1.0 and r.metric_b == 0.0


def test_no_discordant_pairs_gives_p_one() -> None:
    y, a, _ = _paired(0, 0, both=10, neither=2)
    r = mcnemar_test(y, a, a)
    assert r.p_value == 1.0 and "agree on every case" in r.reason


def test_no_cases_of_the_class_is_undefined() -> None:
    r = mcnemar_test([0, 0], [1, 0], [0, 0], on="positives")
    assert not r.defined and "no positive cases" in r.reason


def test_mcnemar_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'negatives'"):
        mcnemar_test([0, 1], [0, 1], [0, 1], on="negative")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pred_b must hold only 0 and 1"):
        mcnemar_test([0, 1], [0, 1], [0.3, 0.7])
    with pytest.raises(ValueError, match="pred_a has 1"):
        mcnemar_test([0, 1], [0], [0, 1])


def test_holm_against_hand_computation() -> None:
    # sorted 0.01, 0.02, 0.03, 0.5 -> x4, x3, x2, x1 = 0.04, 0.06, 0.06, 0.5 (running maximum)
    adjusted = holm_correction([0.03, 0.5, 0.01, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.5, 0.04, 0.06])


def test_holm_caps_at_one_and_keeps_single_value() -> None:
    np.testing.assert_allclose(holm_correction([0.4, 0.6, 0.3]), [0.9, 0.9, 0.9])
    np.testing.assert_allclose(holm_correction([0.4, 0.6, 0.5]), [1.0, 1.0, 1.0])
    assert holm_correction([0.2]).tolist() == [0.2]


@pytest.mark.parametrize(
    ("p", "match"),
    [([0.1, np.nan], "lie in \\[0, 1\\]"), ([1.2], "lie in"), ([[0.1]], "1-D")],
    ids=["nan", "above-1", "2d"],
)
def test_holm_bad_inputs(p: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        holm_correction(p)  # type: ignore[arg-type]
