"""Silent-wrong guards that had no test of their own (issue 13).

Patient leakage and undefined metrics are already proven elsewhere (docs/reliability.md
cites those tests); this file adds the proof that a threshold can never be chosen on
the test split through the API: test predictions have no influence on it, and no
option selects another split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from medbalance.config import parse_config
from medbalance.errors import ConfigError
from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run


def _thresholds(metrics: dict) -> dict[str, object]:
    return {rule: op["operating_point"]["threshold"] for rule, op in metrics["operating_points"].items()}


def test_thresholds_ignore_the_test_predictions(evaluated_run: Path, tmp_path: Path) -> None:
    """Scrambling every test score changes test metrics but not one threshold."""
    run = tmp_path / "run"
    shutil.copytree(evaluated_run, run, ignore=shutil.ignore_patterns("evaluation"))
    config = EvaluateConfig(n_bootstrap=20, figures=False)
    before = evaluate_run(run, config).metrics
    test = pd.read_csv(run / "predictions_test.csv", dtype=str, keep_default_na=False)
    probs = [c for c in test.columns if c.startswith("prob_")]
    flipped = test[probs].astype(float)
    test[probs] = flipped[probs[::-1]].to_numpy()  # swap the classes' probabilities on test only
    test.to_csv(run / "predictions_test.csv", index=False)
    after = evaluate_run(run, EvaluateConfig(n_bootstrap=20, figures=False, overwrite=True)).metrics
    assert _thresholds(after) == _thresholds(before)
    assert all(
        op["operating_point"]["chosen_on"] == "validation" for op in after["operating_points"].values()
    )
    assert after["evaluation"]["thresholds_chosen_on"] == "validation"
    auc = lambda m: m["threshold_free"]["auc_roc"]["estimate"]  # noqa: E731
    assert auc(after) == pytest.approx(1 - auc(before))  # the test scores did change


@pytest.mark.parametrize("key", ["threshold_split", "threshold_on", "choose_on"])
def test_no_option_chooses_the_threshold_on_another_split(key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config(EvaluateConfig, {key: "test"}, where="evaluate")


def test_metrics_json_says_where_each_threshold_was_chosen(evaluated_run: Path) -> None:
    metrics = json.loads((evaluated_run / "evaluation" / "metrics.json").read_text())
    assert {op["operating_point"]["chosen_on"] for op in metrics["operating_points"].values()} == {
        "validation"
    }
