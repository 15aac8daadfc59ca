"""Decision curves: net benefit by hand, references, bootstrap bands."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from medbalance.evaluation.decision_curve import compute_decision_curve, compute_net_benefit


def test_net_benefit_hand_computed() -> None:
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.35, 0.1, 0.2, 0.05, 0.6, 0.3, 0.3, 0.1])
    # pt = 0.3: treated = p >= 0.3 -> cases 0,1,2,6,7,8: TP 2, FP 4; N = 10
    # pt = 0.5: treated -> cases 0, 6: TP 1, FP 1
    nb = compute_net_benefit(y, p, [0.3, 0.5])
    assert nb[0] == pytest.approx(2 / 10 - 4 / 10 * 0.3 / 0.7)
    assert nb[1] == pytest.approx(1 / 10 - 1 / 10 * 1.0)


def test_references_and_ties() -> None:
    y = np.array([1, 0, 0, 0])
    p = np.full(4, 0.5)  # all equal: everyone treated at pt <= 0.5, no one above
    curve = compute_decision_curve(y, p, thresholds=[0.2, 0.5, 0.6], n_resamples=0)
    np.testing.assert_allclose(curve.treat_all, [0.25 - 0.75 * 0.25, 0.25 - 0.75, 0.25 - 0.75 * 1.5])
    np.testing.assert_allclose(curve.net_benefit[:2], curve.treat_all[:2])  # all treated = treat all
    assert curve.net_benefit[2] == 0.0  # nobody treated = treat none
    assert curve.low is None and np.all(curve.treat_none == 0)


@pytest.mark.parametrize("clustered", [False, True], ids=["cases", "patients"])
def test_bootstrap_band_is_seeded_and_contains_the_curve(clustered: bool) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    p = expit(rng.normal(2 * y - 1.5, 1))
    groups = np.repeat(np.arange(200), 2) if clustered else None
    a = compute_decision_curve(y, p, groups=groups, n_resamples=200, seed=1)
    b = compute_decision_curve(y, p, groups=groups, n_resamples=200, seed=1)
    np.testing.assert_array_equal(a.low, b.low)
    assert a.clustered is clustered
    inside = (a.low <= a.net_benefit + 1e-12) & (a.net_benefit <= a.high + 1e-12)  # type: ignore[operator]
    assert inside.mean() > 0.95
    assert np.all(a.high >= a.low)  # type: ignore[operator]
    d = a.to_dict()
    assert len(d["band_low"]) == len(d["thresholds"]) == 99


def test_bad_thresholds_and_resamples() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        compute_decision_curve([0, 1], [0.2, 0.8], thresholds=[0.0, 0.5])
    with pytest.raises(ValueError, match="n_resamples"):
        compute_decision_curve([0, 1], [0.2, 0.8], n_resamples=-1)
