"""Vectorised bootstrap: same replicates as scikit-learn on the same resamples, strata, clusters, intervals."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from sklearn import metrics as skm

from medbalance.errors import ConfigError
from medbalance.evaluation import BINARY_METRIC_NAMES, MetricValue, bootstrap_ci, bootstrap_cis
from medbalance.evaluation import compute_bootstrap_replicates as replicates
from medbalance.evaluation._resampling import ResamplingPlan


def _data(seed: int, n: int = 200, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = [0, 1]
    s = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.3 * y - 0.7)))
    return y, (np.round(s, 1) if ties else s)


def _sk(name: str):  # a scikit-learn reference for each named metric, called per resample
    def pred(s: np.ndarray) -> np.ndarray:
        return (s >= 0.5).astype(int)

    table = {
        "auc_roc": skm.roc_auc_score,
        "auc_pr": skm.average_precision_score,
        "sensitivity": lambda y, s: skm.recall_score(y, pred(s)),
        "specificity": lambda y, s: skm.recall_score(y, pred(s), pos_label=0),
        "ppv": lambda y, s: skm.precision_score(y, pred(s), zero_division=np.nan),
        "npv": lambda y, s: skm.precision_score(y, pred(s), pos_label=0, zero_division=np.nan),
        "f1": lambda y, s: skm.f1_score(y, pred(s)),
        "mcc": lambda y, s: skm.matthews_corrcoef(y, pred(s)),
        "balanced_accuracy": lambda y, s: skm.balanced_accuracy_score(y, pred(s)),
        "g_mean": lambda y, s: math.sqrt(
            skm.recall_score(y, pred(s)) * skm.recall_score(y, pred(s), pos_label=0)
        ),
        "brier": skm.brier_score_loss,
        "log_loss": skm.log_loss,
    }
    fn = table[name]
    fn.__name__ = f"sk_{name}"  # type: ignore[union-attr]
    return fn


@pytest.mark.parametrize("clustered", [False, True], ids=["cases", "patients"])
@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, False)], ids=["s0", "s1-ties", "s2"])
def test_vectorised_replicates_equal_sklearn_on_same_resamples(
    seed: int, ties: bool, clustered: bool
) -> None:
    y, s = _data(seed, ties=ties)
    groups = np.random.default_rng(seed).permutation(y.size) // 3 if clustered else None
    names = list(BINARY_METRIC_NAMES)
    got = replicates(y, s, [*names, *(_sk(n) for n in names)], groups=groups, n_resamples=30, seed=seed)
    for name in names:
        fast, slow = got[name], got[f"sk_{name}"]
        both = np.isfinite(slow)
        np.testing.assert_allclose(fast[both], slow[both], atol=1e-10, err_msg=name)
        if name != "mcc":  # sklearn gives MCC 0 where it is 0/0; we give NaN (counted as failed)
            assert np.array_equal(np.isfinite(fast), both), name


def test_stratified_resamples_keep_class_counts() -> None:
    y, _ = _data(0)
    plan = ResamplingPlan(y.astype(np.int8), None, stratify=True)
    for w in plan.resample_weights(50, np.random.default_rng(0)):
        assert np.all(w[:, y == 1].sum(axis=1) == y.sum())
        assert np.all(w.sum(axis=1) == y.size)


def test_clustered_resamples_whole_patients_stratified_by_positive() -> None:
    y = np.array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], dtype=np.int8)
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    plan = ResamplingPlan(y, groups, stratify=True)
    for w in plan.resample_weights(40, np.random.default_rng(1)):
        assert np.all(w[:, 0::2] == w[:, 1::2])  # both images of a patient drawn together
        assert np.all(w[:, [0, 4]].sum(axis=1) == 2)  # 2 patients with a positive -> 2 draws


def test_clustering_widens_the_interval_for_duplicated_images() -> None:
    y, s = _data(3, n=300)
    copies = 4  # every patient has 4 identical images: they carry the information of one
    y4, s4, patient = np.repeat(y, copies), np.repeat(s, copies), np.repeat(np.arange(y.size), copies)
    base = bootstrap_ci(y, s, n_resamples=400, seed=0)
    naive = bootstrap_ci(y4, s4, n_resamples=400, seed=0)
    clustered = bootstrap_ci(y4, s4, groups=patient, n_resamples=400, seed=0)
    assert clustered.clustered and not naive.clustered
    assert clustered.std_error == pytest.approx(base.std_error, rel=0.15)
    assert naive.std_error == pytest.approx(base.std_error / 2, rel=0.15)


def test_string_patient_ids_keep_leading_zeros_distinct() -> None:
    y = np.array([1, 0, 1, 0, 0, 0])
    s = np.array([0.9, 0.2, 0.4, 0.5, 0.1, 0.3])
    ids = np.array(["00123", "00123", "0123", "0123", "7", "8"])  # 4 patients, 2 with a positive
    reps = replicates(y, s, ["auc_roc"], groups=ids, n_resamples=50, seed=0)["auc_roc"]
    ci = bootstrap_ci(y, s, groups=list(ids), n_resamples=50, seed=0)
    assert ci.clustered and np.isfinite(reps).all()
    assert ci.std_error == pytest.approx(np.std(reps, ddof=1))
    with pytest.raises(ValueError, match="non-empty list"):
        bootstrap_cis(y, s, [])


def test_seeded_and_reproducible() -> None:
    y, s = _data(0)
    a, b = bootstrap_ci(y, s, seed=7, n_resamples=100), bootstrap_ci(y, s, seed=7, n_resamples=100)
    c = bootstrap_ci(y, s, seed=np.random.default_rng(8), n_resamples=100)
    assert a == b and a.low != c.low


def test_percentile_bounds_are_replicate_quantiles() -> None:
    y, s = _data(1)
    ci = bootstrap_ci(y, s, "auc_pr", n_resamples=200, level=0.9, seed=3)
    reps = replicates(y, s, ["auc_pr"], n_resamples=200, seed=3)["auc_pr"]
    assert (ci.low, ci.high) == pytest.approx(tuple(np.quantile(reps, [0.05, 0.95])))
    assert ci.estimate == pytest.approx(skm.average_precision_score(y, s))
    assert ci.std_error == pytest.approx(np.std(reps, ddof=1))


def test_bca_agrees_with_scipy_for_a_mean() -> None:
    y, s = _data(2, n=150)
    ours = bootstrap_ci(y, s, "brier", method="bca", stratify=False, n_resamples=4000, seed=0)
    ref = scipy.stats.bootstrap(
        (y, s), lambda a, b: np.mean((b - a) ** 2), paired=True, vectorized=False, method="BCa",
        n_resamples=4000, rng=np.random.default_rng(1),
    ).confidence_interval  # fmt: skip
    assert ours.method == "bca"
    assert ours.low == pytest.approx(ref.low, abs=0.15 * ours.std_error)
    assert ours.high == pytest.approx(ref.high, abs=0.15 * ours.std_error)


def test_bca_clustered_and_percentile_differ_but_overlap() -> None:
    y, s = _data(4)
    groups = np.arange(y.size) // 2
    p = bootstrap_ci(y, s, groups=groups, n_resamples=300)
    b = bootstrap_ci(y, s, groups=groups, n_resamples=300, method="bca")
    assert b.defined and b.low != p.low and abs(b.low - p.low) < 0.05


def test_failed_resamples_are_counted() -> None:
    y, s = _data(5, n=120)
    t = float(np.sort(s)[-3])  # only 3 cases called positive
    ci = bootstrap_ci(y, s, "ppv", threshold=t, n_resamples=400, seed=0)
    reps = replicates(y, s, ["ppv"], threshold=t, n_resamples=400, seed=0)["ppv"]
    assert ci.n_failed == int(np.sum(~np.isfinite(reps))) > 0
    assert ci.defined


def test_undefined_estimate_gives_undefined_interval_with_reason() -> None:
    ci = bootstrap_ci([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], n_resamples=20)
    assert not ci.defined and ci.estimate is None and "no positive" in ci.reason
    payload = json.loads(json.dumps(ci.to_dict()))
    assert payload["defined"] is False and payload["low"] is None


def test_mostly_failing_metric_is_undefined() -> None:
    y = np.r_[np.zeros(99, dtype=int), 1]
    s = np.r_[np.zeros(99), 0.9]

    def once(yy: np.ndarray, ss: np.ndarray) -> float:  # defined only when the positive is drawn exactly once
        return 1.0 if np.sum(ss == 0.9) == 1 else float("nan")

    ppv = bootstrap_ci(y, s, "ppv", stratify=False, n_resamples=200, seed=0)
    assert ppv.defined and 40 < ppv.n_failed < 110  # the one predicted positive is missing from ~37%
    rare = bootstrap_cis(y, s, [once], stratify=False, n_resamples=200, seed=0)["once"]
    assert rare.estimate == 1.0 and not rare.defined and rare.n_failed > 100
    assert f"undefined on {rare.n_failed} of 200 resamples" in rare.reason


def test_custom_metric_function_loop() -> None:
    y, s = _data(6)

    def accuracy(yy: np.ndarray, ss: np.ndarray) -> MetricValue:
        return MetricValue.of(float(np.mean((ss >= 0.5) == yy)))

    cis = bootstrap_cis(y, s, ["sensitivity", accuracy], n_resamples=50)
    assert cis["accuracy"].estimate == pytest.approx(np.mean((s >= 0.5) == y))
    assert cis["accuracy"].low < cis["accuracy"].estimate < cis["accuracy"].high


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"level": 95}, ValueError, "strictly between 0 and 1"),
        ({"method": "bcа"}, ConfigError, "Did you mean 'bca'"),
        ({"n_resamples": 5}, ValueError, "n_resamples must be an integer >= 10"),
        ({"groups": [1, 2]}, ValueError, "give one group id per case"),
        ({"groups": ["p1"] * 19 + [""]}, ValueError, "1 empty patient/cluster id"),
        ({"seed": "x"}, ValueError, "seed must be"),
        ({"metric": 3}, ValueError, "a metric must be a name or a function"),
        ({"metric": "senstivity"}, ConfigError, "Did you mean 'sensitivity'"),
    ],
    ids=["level", "method", "n-resamples", "groups", "blank-group", "seed", "metric-type", "metric-name"],
)
def test_bad_arguments_raise(kwargs: dict, error: type[Exception], match: str) -> None:
    y, s = _data(0, n=20)
    with pytest.raises(error, match=match):
        bootstrap_ci(y, s, **kwargs)


def _load_benchmark(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_coverage_of_95_percent_intervals_reduced() -> None:
    coverage = _load_benchmark("coverage_auc").run_coverage(repetitions=300, n_resamples=500, seed=11)
    for method in ("percentile", "bca", "delong"):
        assert 0.91 <= coverage["independent"][method]["coverage"] <= 0.99, (method, coverage)
