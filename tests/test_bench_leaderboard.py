"""Leaderboard from the store's metrics: summaries over seeds checked against pandas/numpy by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench_fixture import build_benchmark
from medbalance.benchmark.leaderboard import (
    format_leaderboard_markdown,
    summarize_over_seeds,
    wide_leaderboard,
    write_leaderboard,
)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    bench = tmp_path_factory.mktemp("bench")
    frames = build_benchmark(bench)
    frames[0].attrs["bench"] = bench
    return frames


def test_summary_matches_seed_statistics(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, metrics = frames
    summary = summarize_over_seeds(metrics)
    row = summary[(summary["strategy"] == "none") & (summary["test_set"] == "phantoms")
                  & (summary["metric"] == "auc_roc")].iloc[0]  # fmt: skip
    seeds = metrics[(metrics["strategy"] == "none") & (metrics["test_set"] == "phantoms")
                    & (metrics["metric"] == "auc_roc") & (metrics["split"] == "test")]  # fmt: skip
    assert row["n_seeds"] == 2
    assert row["mean"] == pytest.approx(seeds["estimate"].mean())
    assert row["sd"] == pytest.approx(np.std(seeds["estimate"], ddof=1))
    assert row["min"] == pytest.approx(seeds["estimate"].min()) and row["max"] == pytest.approx(
        seeds["estimate"].max()
    )
    assert row["low"] == pytest.approx(seeds["low"].mean())
    # validation rows never enter the test leaderboard
    assert set(summary["rule"]) == {"", "fixed:0.5", "youden", "target-sensitivity:0.9"}


def test_wide_table_and_markdown(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, metrics = frames
    wide = wide_leaderboard(summarize_over_seeds(metrics))
    assert len(wide) == 8  # 4 strategies x 2 test sets
    assert wide.iloc[0]["strategy"] == "none" and bool(wide.iloc[0]["in_distribution"])
    for column in ("auc_roc_mean", "auc_roc_low", "auc_pr_sd", "sensitivity@fixed:0.5_mean",
                   "specificity@youden_mean", "mcc@fixed:0.5_mean", "balanced_accuracy@youden_max",
                   "brier_mean", "ece_equal_width_mean"):  # fmt: skip
        assert column in wide.columns, column
    baseline = wide[(wide["strategy"] == "none") & wide["in_distribution"]].iloc[0]
    assert baseline["sensitivity@fixed:0.5_mean"] < 0.2  # the fixture's baseline collapses at 0.5
    text = format_leaderboard_markdown(wide)
    assert "## trained on phantoms, tested on vendor-c (out-of-distribution, breast level)" in text
    assert "| strategy | seeds | AUC | AUPRC | Sens@0.5 |" in text
    assert f"{baseline['auc_roc_mean']:.3f} [" in text


def test_empty_store_gives_empty_table() -> None:
    empty = pd.DataFrame(columns=["train_set", "test_set", "in_distribution", "level", "strategy", "variant",
                                  "seed", "split", "rule", "metric", "estimate", "low", "high"])  # fmt: skip
    assert wide_leaderboard(summarize_over_seeds(empty)).empty


def test_fixture_units_exist(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    units, _ = frames
    assert all(Path(d, "evaluation", "metrics.json").is_file() for d in units["unit_dir"])


def test_exports_are_written_from_the_store(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bench = frames[0].attrs["bench"]
    csv_path, md_path, wide = write_leaderboard(bench)
    again = pd.read_csv(csv_path)
    assert len(again) == len(wide) and again["auc_roc_mean"].tolist() == pytest.approx(
        wide["auc_roc_mean"].tolist()
    )
    assert md_path.read_text().startswith("# Leaderboard")


def test_not_a_benchmark_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a benchmark folder"):
        write_leaderboard(tmp_path)
