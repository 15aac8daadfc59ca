"""recommend: chosen on validation with known answers; "train normally and move the threshold" is reachable."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench_fixture import build_benchmark
from medbalance.benchmark.recommend import parse_constraint, recommend
from medbalance.cli import main
from medbalance.errors import ConfigError
from medbalance.evaluation.thresholds import select_threshold


@pytest.fixture(scope="module")
def baseline_best(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bench = tmp_path_factory.mktemp("bench")
    build_benchmark(
        bench, {"none": (3.5, -4.0), "class-weight": (1.2, 0.0)}, seeds=(0, 1), n_test_patients=150
    )
    return bench


@pytest.fixture(scope="module")
def technique_best(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bench = tmp_path_factory.mktemp("bench")
    build_benchmark(
        bench, {"none": (1.2, -4.0), "synthetic-lesions": (3.5, 0.0)}, seeds=(0,), n_test_patients=150
    )
    return bench


def _breast_val(unit_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(unit_dir / "predictions_val.csv")
    return table.groupby("breast_id").agg(
        p=("prob_malignant", "mean"), y=("label", lambda s: (s == "malignant").any())
    )


def test_train_normally_and_move_the_threshold(baseline_best: Path) -> None:
    result = recommend(baseline_best, parse_constraint("sensitivity>=0.9"), n_bootstrap=50)
    assert (result.strategy, result.variant) == ("none", "")
    assert result.threshold_option == "moved on validation (target-sensitivity)"
    assert result.answer.startswith("Train normally (no imbalance technique) and move the threshold to")
    # the threshold is the validation rule's, computed independently from the unit's predictions
    val = _breast_val(baseline_best / result.model["unit_dir"])
    expected = select_threshold(val["y"].astype(int), val["p"], "target-sensitivity", target=0.9)
    assert result.model["threshold"] == pytest.approx(expected.threshold)
    assert all(v["val_sensitivity"] >= 0.9 for v in result.validation)
    seeds = result.test["per_seed"]
    assert [s["seed"] for s in seeds] == [0, 1]
    for entry in seeds:
        sens = entry["sensitivity"]
        assert sens["low"] <= sens["estimate"] <= sens["high"] and "target_met_on_test" in entry
    # both threshold options of both strategies were candidates; the 0.5 baseline fails the target
    options = {(c["strategy"], c["moved"]): c for c in result.candidates}
    assert len(options) == 4 and not options[("none", False)]["meets_all"]


def test_a_better_technique_wins(technique_best: Path) -> None:
    result = recommend(technique_best, parse_constraint("sensitivity>=0.9"), n_bootstrap=50)
    assert result.strategy == "synthetic-lesions" and result.answer.startswith("Train with synthetic-lesions")


def test_cost_constraint_and_cli_write_recommendation_json(
    baseline_best: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["recommend", str(baseline_best), "--cost-fn", "10", "--prevalence", "0.01", "--n-bootstrap", "50"]
    )
    assert code == 0
    saved = json.loads((baseline_best / "recommendation.json").read_text())
    assert saved["constraint"].startswith("lowest expected cost") and saved["strategy"] in (
        "none",
        "class-weight",
    )
    assert "at_deployment_prevalence" in saved["test"]["per_seed"][0]
    assert "written:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "cost", "prevalence", "match"),
    [("sensitivity>0.9", None, None, "cannot read the constraint"), ("recall>=0.9", None, None, "cannot read"),
     ("sensitivity>=1.5", None, None, r"target must be in \(0, 1\]"), (None, None, None, "give either"),
     (None, 10.0, None, "needs --prevalence"), (None, -1.0, 0.01, "must be > 0")],
    ids=["operator", "metric", "target", "nothing", "no-prevalence", "negative-cost"],
)  # fmt: skip
def test_bad_constraints(text: str | None, cost: float | None, prevalence: float | None, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_constraint(text, cost, prevalence)


def test_cli_bad_constraint_exits_non_zero(baseline_best: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(baseline_best), "--constraint", "sens>=0.9"]) != 0
    assert "cannot read the constraint" in capsys.readouterr().err
    assert main(["recommend", str(baseline_best / "nope"), "--constraint", "sensitivity>=0.9"]) == 3


def test_constraint_from_the_command_then_the_benchmark_config_then_the_default(tmp_path: Path) -> None:
    from medbalance.benchmark.recommend import constraint_for

    assert constraint_for(tmp_path).describe() == "sensitivity >= 0.9"  # no benchmark.yaml
    (tmp_path / "benchmark.yaml").write_text(
        "data: [{name: phantoms, source: phantoms}]\nconstraint: specificity>=0.8\n"
    )
    assert constraint_for(tmp_path).describe() == "specificity >= 0.8"
    assert constraint_for(tmp_path, "sensitivity>=0.95").describe() == "sensitivity >= 0.95"
    assert (
        constraint_for(tmp_path, cost_fn=5.0, prevalence=0.02).describe().startswith("lowest expected cost")
    )
