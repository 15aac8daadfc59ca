"""Paired DeLong per seed with Holm across strategies, verdicts, and Walsh & Tardy's findings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench_fixture import build_benchmark
from medbalance.benchmark.findings import walsh_tardy_findings
from medbalance.benchmark.leaderboard import summarize_over_seeds
from medbalance.benchmark.paired import compare_with_baseline, paired_verdicts, verdict_text
from medbalance.evaluation.delong import delong_test


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    strategies = {"none": (2.0, -4.0), "class-weight": (2.05, 0.0), "undersample": (0.9, 0.0),
                  "synthetic-lesions": (3.2, -1.0)}  # fmt: skip
    return build_benchmark(tmp_path_factory.mktemp("bench"), strategies, seeds=(0, 1),
                           ood_signal={"none": 1.0, "class-weight": 1.0, "undersample": 0.6,
                                       "synthetic-lesions": 3.0})  # fmt: skip


def _breast(unit_dir: str) -> pd.DataFrame:
    table = pd.read_csv(f"{unit_dir}/predictions_test.csv")
    return table.groupby("breast_id").agg(
        p=("prob_malignant", "mean"), y=("label", lambda s: (s == "malignant").any())
    )


def test_delong_per_seed_matches_an_independent_computation(bench: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    units, _ = bench
    per_seed = compare_with_baseline(units)
    assert len(per_seed) == 3 * 2 * 2  # 3 strategies x 2 seeds x 2 test sets
    row = per_seed[(per_seed["strategy"] == "undersample") & (per_seed["seed"] == 1)
                   & (per_seed["test_set"] == "phantoms")].iloc[0]  # fmt: skip
    unit = units[
        (units["strategy"] == "undersample") & (units["seed"] == 1) & (units["test_set"] == "phantoms")
    ]
    base = units[(units["strategy"] == "none") & (units["seed"] == 1) & (units["test_set"] == "phantoms")]
    a = _breast(unit["unit_dir"].iloc[0])
    b = _breast(base["unit_dir"].iloc[0]).loc[a.index]
    expected = delong_test(a["y"].astype(int), a["p"], b["p"])
    assert row["p_value"] == pytest.approx(expected.p_value)
    assert row["difference"] == pytest.approx(expected.difference) and row["difference"] < 0
    assert row["n_cases"] == len(a) and row["n_positive"] == int(a["y"].sum())


def test_holm_adjusts_strategies_of_one_seed_together(bench: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    per_seed = compare_with_baseline(bench[0])
    block = per_seed[(per_seed["seed"] == 0) & (per_seed["test_set"] == "phantoms")].sort_values("p_value")
    p = block["p_value"].to_numpy()
    # by hand: Holm multiplies the i-th smallest of m p-values by (m - i + 1), keeps running maxima, caps at 1
    hand = np.minimum(1, np.maximum.accumulate([3 * p[0], 2 * p[1], 1 * p[2]]))
    np.testing.assert_allclose(block["p_holm"].to_numpy(), hand)


def test_verdicts_state_each_outcome() -> None:
    assert verdict_text([0.05, 0.04], [0.001, 0.01]).startswith("better than the baseline")
    assert verdict_text([-0.05, -0.04], [0.001, 0.01]).startswith("worse than the baseline")
    assert (
        verdict_text([0.01, -0.01], [0.5, 0.7])
        == "not distinguishable from the baseline (AUC +0.000 on average)"
    )
    mixed = verdict_text([0.05, 0.01], [0.001, 0.4])
    assert mixed.startswith("not distinguishable") and "1 of 2 seeds only" in mixed
    assert verdict_text([float("nan")], [float("nan")]).startswith("not testable")


def test_verdicts_and_findings_on_a_benchmark_with_known_answers(
    bench: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    units, metrics = bench
    verdicts = paired_verdicts(compare_with_baseline(units)).set_index(["test_set", "strategy"])
    assert verdicts.loc[("phantoms", "class-weight"), "verdict"].startswith("not distinguishable")
    assert verdicts.loc[("phantoms", "undersample"), "verdict"].startswith("worse")
    assert verdicts.loc[("vendor-c", "synthetic-lesions"), "verdict"].startswith("better")
    assert verdicts.loc[("phantoms", "undersample"), "n_seeds"] == 2
    findings = {f.key: f for f in walsh_tardy_findings(summarize_over_seeds(metrics), verdicts.reset_index())}
    assert findings["majority_bias"].holds is True and "sensitivity 0.0" in findings["majority_bias"].evidence
    assert findings["undersampling_loss"].holds is True
    assert findings["synthetic_ood"].holds is True
    assert findings["similar_aucs"].holds is True  # class-weight equals the baseline; undersample is worse


def test_findings_without_the_strategies_they_need_are_not_checkable(
    bench: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, metrics = bench
    only_baseline = summarize_over_seeds(metrics[metrics["strategy"] == "none"])
    findings = {f.key: f for f in walsh_tardy_findings(only_baseline, pd.DataFrame())}
    assert findings["undersampling_loss"].holds is None and findings["synthetic_ood"].holds is None
    assert findings["majority_bias"].holds is True
