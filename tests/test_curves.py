"""ROC curve band and multi-class bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.metrics import balanced_accuracy_score, roc_curve

from medbalance.evaluation.curves import compute_pr_curve, compute_roc_curve
from medbalance.evaluation.multiclass_intervals import bootstrap_multiclass_cis


def _data(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    return y, np.round(expit(rng.normal(1.5 * y - 1, 1)), 2)  # rounded: ties


@pytest.mark.parametrize("clustered", [False, True], ids=["cases", "patients"])
def test_roc_points_equal_sklearn_and_band_brackets_the_curve(clustered: bool) -> None:
    y, s = _data()
    groups = np.repeat(np.arange(150), 2) if clustered else None
    curve = compute_roc_curve(y, s, groups=groups, n_resamples=200, seed=0)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)
    band = curve.band
    assert band is not None and band.clustered is clustered
    on_grid = np.interp(band.x, fpr, tpr)
    assert np.mean((band.low <= on_grid + 1e-9) & (on_grid <= band.high + 1e-9)) > 0.95
    assert band.low[0] >= 0 and band.high[-1] == pytest.approx(1.0)
    again = compute_roc_curve(y, s, groups=groups, n_resamples=200, seed=0).band
    np.testing.assert_array_equal(band.low, again.low)  # type: ignore[union-attr]


def test_curves_need_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        compute_roc_curve([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="at least one positive"):
        compute_pr_curve([0, 0], [0.1, 0.2])


def test_multiclass_intervals_bracket_the_sklearn_estimate() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    z = rng.normal(0, 1, (300, 3))
    z[np.arange(300), y] += 1.2
    proba = softmax(z, axis=1)
    cis = bootstrap_multiclass_cis(y, proba, class_names=["a", "b", "c"], n_resamples=100, seed=0,
                                   groups=np.repeat(np.arange(150), 2))  # fmt: skip
    ba = cis["balanced_accuracy"]
    assert ba.estimate == pytest.approx(balanced_accuracy_score(y, proba.argmax(1)))
    assert ba.low < ba.estimate < ba.high and ba.clustered and ba.n_resamples == 100
    assert not cis["kappa_quadratic"].defined and "ordinal" in cis["kappa_quadratic"].reason


def test_multiclass_intervals_undefined_when_a_class_is_absent() -> None:
    y = np.array([0, 1, 0, 1, 0, 1])
    proba = np.tile([0.5, 0.3, 0.2], (6, 1))
    cis = bootstrap_multiclass_cis(y, proba, class_names=["a", "b", "c"], n_resamples=20)
    assert not cis["macro_f1"].defined and "'c'" in cis["macro_f1"].reason
    with pytest.raises(ValueError, match="metrics must be names"):
        bootstrap_multiclass_cis(y, proba, class_names=["a", "b", "c"], metrics=["accuracy"])
