"""The main job (``medbalance demo``): files, numbers that agree with scikit-learn, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medbalance.cli import main
from medbalance.cli._demo import DEFAULT_STRATEGIES_TEXT
from medbalance.demo import DEFAULT_STRATEGIES, DemoConfig, run_demo
from medbalance.errors import ConfigError, MedbalanceError

TINY = {
    "n_patients": 16, "prevalence": 0.3, "size": 48, "image_size": 32, "epochs": 1, "batch_size": 8,
    "strategies": ("none", "class-weight"), "n_bootstrap": 50, "progress": False,
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    run_demo(DemoConfig(out=out, **TINY))  # type: ignore[arg-type]
    return out


def test_demo_writes_data_runs_evaluations_and_the_table(demo_dir: Path) -> None:
    for name in ("data/manifest.csv", "data/validation.json", "data/split_counts.csv", "preview.png",
                 "comparison.csv", "comparison.md", "demo_config.json"):  # fmt: skip
        assert (demo_dir / name).is_file(), name
    for strategy in TINY["strategies"]:
        run = demo_dir / "runs" / strategy
        assert json.loads((run / "summary.json").read_text())["status"] == "completed"
        assert (run / "evaluation" / "metrics.json").is_file()
        assert any((run / "evaluation" / "figures").glob("*.png"))
    table = pd.read_csv(demo_dir / "comparison.csv")
    assert table["strategy"].tolist() == list(TINY["strategies"])
    assert (table["level"] == "breast").all()
    assert table["auc_low"].le(table["auc"]).all() and table["auc"].le(table["auc_high"]).all()
    markdown = (demo_dir / "comparison.md").read_text()
    assert markdown.count("\n") == 2 + len(TINY["strategies"])


@pytest.mark.parametrize("strategy", TINY["strategies"])
def test_table_auc_is_the_breast_level_auc_of_the_test_predictions(demo_dir: Path, strategy: str) -> None:
    predictions = pd.read_csv(demo_dir / "runs" / strategy / "predictions_test.csv", dtype={"label": str})
    breasts = predictions.groupby("breast_id").agg(label=("label", "first"), score=("prob_malignant", "mean"))
    expected = roc_auc_score(breasts["label"] == "malignant", breasts["score"])
    row = pd.read_csv(demo_dir / "comparison.csv").set_index("strategy").loc[strategy]
    assert row["auc"] == pytest.approx(expected, abs=1e-9)
    points = pd.read_csv(demo_dir / "runs" / strategy / "evaluation" / "operating_points.csv").set_index(
        "rule"
    )
    at_half = breasts["score"] >= 0.5
    positive = breasts["label"] == "malignant"
    assert row["sens@0.5"] == pytest.approx((at_half & positive).sum() / positive.sum())
    assert row["spec@0.5"] == pytest.approx((~at_half & ~positive).sum() / (~positive).sum())
    assert row["sens@youden"] == pytest.approx(points.loc["youden", "test_sensitivity"])
    metrics = json.loads((demo_dir / "runs" / strategy / "evaluation" / "metrics.json").read_text())
    assert bool(row["overconfident"]) == bool(metrics["calibration"]["overconfidence"]["flagged"])


def test_resume_keeps_finished_runs_and_refuses_other_settings(demo_dir: Path) -> None:
    summary = demo_dir / "runs" / "none" / "summary.json"
    before = summary.stat().st_mtime_ns
    result = run_demo(DemoConfig(out=demo_dir, resume=True, **TINY))  # type: ignore[arg-type]
    assert result.reused == TINY["strategies"]
    assert summary.stat().st_mtime_ns == before
    with pytest.raises(MedbalanceError, match=r"other settings \(epochs differ\)"):
        run_demo(DemoConfig(out=demo_dir, resume=True, **{**TINY, "epochs": 2}))  # type: ignore[arg-type]


def test_resume_reruns_an_interrupted_strategy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_demo(DemoConfig(out=out, **{**TINY, "strategies": ("none",)}))  # type: ignore[arg-type]
    # an interruption during evaluation leaves no metrics.json: that strategy runs again
    (out / "runs" / "none" / "evaluation" / "metrics.json").unlink()
    result = run_demo(DemoConfig(out=out, resume=True, **{**TINY, "strategies": ("none",)}))  # type: ignore[arg-type]
    assert result.reused == ()
    assert (out / "runs" / "none" / "evaluation" / "metrics.json").is_file()


def test_refusals_leave_nothing_behind(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(MedbalanceError, match="--overwrite"):
        run_demo(DemoConfig(out=occupied, **TINY))  # type: ignore[arg-type]
    with pytest.raises(MedbalanceError, match="not made by medbalance demo"):
        run_demo(DemoConfig(out=occupied, resume=True, **TINY))  # type: ignore[arg-type]
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    with pytest.raises(ConfigError, match=r"Did you mean .oversample."):
        run_demo(DemoConfig(out=tmp_path / "new", **{**TINY, "strategies": ("oversampel",)}))  # type: ignore[arg-type]
    assert not (tmp_path / "new").exists()
    with pytest.raises(ConfigError, match="exclude each other"):
        DemoConfig(out=tmp_path / "x", overwrite=True, resume=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prevalence": 1.5}, "prevalence must lie strictly between 0 and 1"),
        ({"n_patients": 0}, "n_patients must be a positive integer"),
        ({"epochs": 0}, "epochs"),
        ({"level": "brest"}, "Did you mean 'breast'"),
        ({"n_bootstrap": 3}, "n_bootstrap must be an integer >= 10"),
    ],
    ids=["prevalence", "patients", "epochs", "level", "bootstrap"],
)
def test_bad_settings_fail_before_anything_is_written(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_demo(DemoConfig(out=tmp_path / "new", **{**TINY, **change}))  # type: ignore[arg-type]
    assert not (tmp_path / "new").exists()


def test_cli_defaults_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tuple(DEFAULT_STRATEGIES_TEXT.split(",")) == DEFAULT_STRATEGIES
    code = main(["demo", "--out", str(tmp_path / "d"), "--strategies", "none,none"])
    assert code == 2
    assert "listed twice" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_cli_runs_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["demo", "--out", str(out), "--n-patients", "16", "--prevalence", "0.3", "--image-size", "32",
            "--epochs", "1", "--strategies", "none", "--n-bootstrap", "50"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "comparison.csv" in text and "none" in text
    assert np.isfinite(pd.read_csv(out / "comparison.csv")["auc"]).all()
