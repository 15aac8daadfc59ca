"""Each strategy against the baseline on the same test cases: DeLong per seed, Holm across strategies.

For every (training set, test set) and seed, each strategy's unit is compared with
the baseline's unit of the same seed (strategy ``none``, default training options)
by DeLong's paired test of the AUC difference on the test cases both scored
(:func:`medbalance.evaluation.delong.delong_test`). Within one (training set, test
set, seed) the p-values of all strategies are adjusted together by Holm's
step-down method (:func:`medbalance.evaluation.comparison.holm_correction`), so a
strategy is called different only when it survives the correction. The verdict
over seeds needs the same direction in every seed; otherwise the strategy is
"not distinguishable from the baseline", a result this module states plainly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medbalance.benchmark._unit_scores import align_cases, load_unit_scores
from medbalance.evaluation.comparison import holm_correction
from medbalance.evaluation.delong import delong_test

__all__ = ["BASELINE", "compare_with_baseline", "paired_verdicts", "verdict_text"]

BASELINE = "none"
"""The strategy every other one is compared with (trained normally, same protocol)."""


@dataclass(frozen=True)
class _Pair:
    keys: tuple[str, str, bool, str]
    seed: int
    strategy: str
    variant: str
    unit_dir: str
    baseline_dir: str


def _pairs(units: pd.DataFrame, baseline: str) -> list[_Pair]:
    pairs = []
    units = units.assign(variant=units["variant"].fillna("").astype(str))
    for keys, block in units.groupby(["train_set", "test_set", "in_distribution", "level"], sort=True):
        base = block[(block["strategy"] == baseline) & (block["variant"] == "")].set_index("seed")["unit_dir"]
        for row in block.itertuples(index=False):
            if (row.strategy, row.variant) == (baseline, "") or row.seed not in base.index:
                continue
            k = (str(keys[0]), str(keys[1]), bool(keys[2]), str(keys[3]))
            pairs.append(_Pair(k, int(row.seed), str(row.strategy), str(row.variant), str(row.unit_dir),
                               str(base.loc[row.seed])))  # fmt: skip
    return pairs


def compare_with_baseline(
    units: pd.DataFrame, *, baseline: str = BASELINE, level: float = 0.95, aggregate: str = "mean"
) -> pd.DataFrame:
    """One row per (training set, test set, strategy, variant, seed): DeLong against the same seed's baseline.

    Args:
        units: the store's ``units_frame()`` (unit_dir resolved).
        baseline: the reference strategy.
        level: level of the AUC difference's interval.
        aggregate: how images are combined at the units' level ("mean", as ``evaluate_run``).

    Returns:
        Columns train_set, test_set, in_distribution, level, strategy, variant, seed, n_cases, n_positive,
        auc, auc_baseline, difference, low, high, p_value, p_holm, reason. ``p_holm`` adjusts the
        p-values of all strategies of one (training set, test set, seed) together.
    """
    rows = []
    for pair in _pairs(units, baseline):
        a = load_unit_scores(pair.unit_dir, pair.keys[3], aggregate)
        b = load_unit_scores(pair.baseline_dir, pair.keys[3], aggregate)
        y, s_a, s_b = align_cases(a, b)
        test = delong_test(y, s_a, s_b, level=level)
        rows.append({
            "train_set": pair.keys[0], "test_set": pair.keys[1], "in_distribution": pair.keys[2],
            "level": pair.keys[3], "strategy": pair.strategy, "variant": pair.variant, "seed": pair.seed,
            "n_cases": int(y.size), "n_positive": int(y.sum()), "auc": test.auc_a, "auc_baseline": test.auc_b,
            "difference": test.difference, "low": test.low, "high": test.high, "p_value": test.p_value,
            "reason": test.reason,
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_holm"] = np.nan
    for _, block in frame.groupby(["train_set", "test_set", "level", "seed"]):
        defined = block["p_value"].notna()
        if defined.any():
            frame.loc[block.index[defined], "p_holm"] = holm_correction(
                block.loc[defined, "p_value"].to_numpy()
            )
    return frame


def verdict_text(differences: Sequence[float], p_holm: Sequence[float], alpha: float = 0.05) -> str:
    """A plain verdict over seeds from the AUC differences and Holm-adjusted p-values.

    "better"/"worse than the baseline" needs every seed's test defined, significant after
    Holm at ``alpha`` and in the same direction; anything else is "not distinguishable".
    """
    diffs = [d for d in differences if d is not None and math.isfinite(d)]
    ps = [p for p in p_holm if p is not None and math.isfinite(p)]
    if not ps:
        return "not testable (DeLong's test is undefined on these cases)"
    n = len(p_holm)
    significant = [d for d, p in zip(differences, p_holm, strict=True) if p is not None and p < alpha]
    mean = float(np.mean(diffs))
    if len(significant) == n and all(d > 0 for d in significant):
        return f"better than the baseline (AUC {mean:+.3f}; significant in all {n} seeds after Holm)"
    if len(significant) == n and all(d < 0 for d in significant):
        return f"worse than the baseline (AUC {mean:+.3f}; significant in all {n} seeds after Holm)"
    extra = f"; significant in {len(significant)} of {n} seeds only" if significant else ""
    return f"not distinguishable from the baseline (AUC {mean:+.3f} on average{extra})"


def paired_verdicts(per_seed: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """One row per (training set, test set, strategy, variant): the seed-level spread and the verdict.

    Columns: n_seeds, mean_difference, sd_difference, min_difference, max_difference,
    n_significant_better, n_significant_worse, verdict, distinguishable.
    """
    if per_seed.empty:
        return pd.DataFrame()
    rows = []
    keys = ["train_set", "test_set", "in_distribution", "level", "strategy", "variant"]
    for key, block in per_seed.groupby(keys, sort=False):
        diff, p = block["difference"].astype(float), block["p_holm"].astype(float)
        verdict = verdict_text(list(diff), list(p), alpha)
        rows.append({
            **dict(zip(keys, key, strict=True)), "n_seeds": len(block), "mean_difference": diff.mean(),
            "sd_difference": diff.std(ddof=1) if len(block) > 1 else float("nan"),
            "min_difference": diff.min(), "max_difference": diff.max(),
            "n_significant_better": int(((p < alpha) & (diff > 0)).sum()),
            "n_significant_worse": int(((p < alpha) & (diff < 0)).sum()),
            "verdict": verdict, "distinguishable": not verdict.startswith(("not ", "not testable")),
        })  # fmt: skip
    return pd.DataFrame(rows)
