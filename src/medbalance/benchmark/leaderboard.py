"""The leaderboard: every unit's stored metrics summarised over seeds, per (training set, test set).

Read from the results store only (``metrics_frame()``); ``leaderboard.csv`` and
``leaderboard.md`` are exports of it, never a second source. For each
(training set, test set, strategy, variant) and metric it gives the mean over
seeds, their standard deviation and range, and the mean of the seeds'
patient-clustered 95% interval bounds (a typical single model's interval).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medbalance.io import atomic_write_text

__all__ = [
    "KEYS",
    "THRESHOLD_FREE",
    "THRESHOLD_METRICS",
    "format_leaderboard_markdown",
    "leaderboard_blocks",
    "load_benchmark_frames",
    "summarize_over_seeds",
    "wide_leaderboard",
    "write_leaderboard",
]

KEYS = ("train_set", "test_set", "in_distribution", "level", "strategy", "variant")
"""One leaderboard row per these keys; seeds are summarised."""

THRESHOLD_FREE = ("auc_roc", "auc_pr", "brier", "ece_equal_width")
"""Threshold-free metrics of the leaderboard (rule '')."""

THRESHOLD_METRICS = ("sensitivity", "specificity", "mcc", "balanced_accuracy")
"""Metrics at each operating point (0.5 and the rules chosen on validation)."""

_LABELS = {
    "auc_roc": "AUC",
    "auc_pr": "AUPRC",
    "brier": "Brier",
    "ece_equal_width": "ECE",
    "sensitivity": "Sens",
    "specificity": "Spec",
    "mcc": "MCC",
    "balanced_accuracy": "BalAcc",
}


def load_benchmark_frames(bench_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store's units and long metrics frames of the benchmark folder ``bench_dir``.

    Raises:
        FileNotFoundError: no ``results.sqlite`` in ``bench_dir``.
    """
    from medbalance.benchmark.store import ResultsStore

    path = Path(bench_dir) / "results.sqlite"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: {bench_dir} is not a benchmark folder; run `medbalance benchmark --out "
            f"{bench_dir}` first."
        )
    store = ResultsStore(path)
    return store.units_frame(), store.metrics_frame()


def rule_label(rule: str) -> str:
    """A short column label for a threshold rule ("fixed:0.5" -> "0.5")."""
    if rule in ("fixed", "fixed:0.5"):
        return "0.5"
    return (
        rule.removeprefix("fixed:")
        .replace("target-sensitivity:", "sens>=")
        .replace("target-specificity:", "spec>=")
    )


def summarize_over_seeds(metrics: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Long summary: one row per (KEYS, rule, metric) with n_seeds, mean, sd, min, max, low, high.

    ``low``/``high`` are the means of the seeds' interval bounds; ``sd`` is NaN with one seed.
    """
    wanted = ((metrics["rule"] == "") & metrics["metric"].isin(THRESHOLD_FREE)) | (
        (metrics["rule"] != "") & metrics["metric"].isin(THRESHOLD_METRICS)
    )
    frame = metrics[wanted & (metrics["split"] == split)].copy()
    frame["in_distribution"] = frame["in_distribution"].astype(bool)
    frame["variant"] = frame["variant"].fillna("").astype(str)
    grouped = frame.groupby([*KEYS, "rule", "metric"], sort=True, dropna=False)
    out = grouped.agg(
        n_seeds=("seed", "nunique"),
        mean=("estimate", "mean"),
        sd=("estimate", "std"),
        min=("estimate", "min"),
        max=("estimate", "max"),
        low=("low", "mean"),
        high=("high", "mean"),
    ).reset_index()
    return out


def _column(rule: str, metric: str) -> str:
    return metric if rule == "" else f"{metric}@{rule}"


def wide_leaderboard(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (KEYS) with ``<metric>[@<rule>]_{mean,sd,min,max,low,high}`` columns (the CSV export)."""
    if summary.empty:
        return pd.DataFrame(columns=[*KEYS, "n_seeds"])
    summary = summary.assign(
        column=[_column(r, m) for r, m in zip(summary["rule"], summary["metric"], strict=True)]
    )
    stats = ("mean", "sd", "min", "max", "low", "high")
    wide = summary.set_index([*KEYS, "column"])[list(stats)].unstack("column")
    wide.columns = [f"{col}_{stat}" for stat, col in wide.columns]
    seeds = summary.groupby(list(KEYS))["n_seeds"].max().rename("n_seeds")
    order = [f"{c}_{s}" for c in dict.fromkeys(_ordered_columns(summary)) for s in stats]
    wide = wide.join(seeds)[["n_seeds", *[c for c in order if c in wide.columns]]]
    wide = wide.dropna(axis=1, how="all").reset_index()
    return _sort_rows(wide)


def _ordered_columns(summary: pd.DataFrame) -> list[str]:
    rules = sorted(r for r in summary["rule"].unique() if r != "")
    rules.sort(key=lambda r: (rule_label(r) != "0.5", r))
    cols = [m for m in THRESHOLD_FREE[:2]]
    cols += [_column(r, m) for r in rules for m in THRESHOLD_METRICS]
    return cols + list(THRESHOLD_FREE[2:])


def _sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    baseline_first = (frame["strategy"] != "none").astype(int)
    return (
        frame.assign(_b=baseline_first)
        .sort_values(
            ["train_set", "in_distribution", "test_set", "_b", "strategy", "variant"],
            ascending=[True, False, True, True, True, True],
        )
        .drop(columns="_b")
        .reset_index(drop=True)
    )


def _cell(row: pd.Series, column: str, *, interval: bool) -> str:
    mean = row.get(f"{column}_mean")
    if mean is None or not np.isfinite(mean):
        return "n/a"
    text = f"{mean:.3f}"
    low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
    if interval and low is not None and np.isfinite(low) and np.isfinite(high):
        text += f" [{low:.2f}, {high:.2f}]"
    sd = row.get(f"{column}_sd")
    if sd is not None and np.isfinite(sd):
        text += f" ±{sd:.3f}"
    return text


def _strategy_name(row: pd.Series) -> str:
    return str(row["strategy"]) + (f" ({row['variant']})" if row["variant"] else "")


def leaderboard_blocks(wide: pd.DataFrame) -> list[dict[str, Any]]:
    """One block per (training set, test set): title, header and formatted rows (for Markdown and HTML).

    Each cell reads 'mean [mean of the seeds' 95% interval bounds] ±sd over seeds' (the interval for AUC
    and AUPRC only).
    """
    blocks = []
    for (train, test, in_dist, level), block in wide.groupby(
        ["train_set", "test_set", "in_distribution", "level"], sort=False
    ):
        where = "in-distribution" if in_dist else "out-of-distribution"
        columns = [c.removesuffix("_mean") for c in block.columns if c.endswith("_mean")]
        rows = []
        for _, row in block.iterrows():
            cells = [_strategy_name(row), str(int(row["n_seeds"]))]
            cells += [_cell(row, c, interval=c in ("auc_roc", "auc_pr")) for c in columns]
            rows.append(cells)
        blocks.append(
            {
                "title": f"trained on {train}, tested on {test} ({where}, {level} level)",
                "in_distribution": bool(in_dist),
                "header": ["strategy", "seeds"] + [_header(c) for c in columns],
                "rows": rows,
            }
        )
    return blocks


def format_leaderboard_markdown(wide: pd.DataFrame) -> str:
    """Markdown: one table per (training set, test set); each cell 'mean [typical 95% CI] ±sd over seeds'."""
    lines = [
        "# Leaderboard",
        "",
        "Each cell: mean over seeds, [mean of the seeds' patient-clustered 95% interval bounds] for AUC and "
        "AUPRC, ±standard deviation over seeds. Thresholds other than 0.5 were chosen on validation.",
        "",
    ]
    for block in leaderboard_blocks(wide):
        lines += [f"## {block['title']}", ""]
        lines += ["| " + " | ".join(block["header"]) + " |", "|" + "---|" * len(block["header"])]
        lines += ["| " + " | ".join(cells) + " |" for cells in block["rows"]]
        lines.append("")
    return "\n".join(lines)


def _header(column: str) -> str:
    metric, _, rule = column.partition("@")
    label = _LABELS.get(metric, metric)
    return f"{label}@{rule_label(rule)}" if rule else label


def write_leaderboard(bench_dir: str | Path) -> tuple[Path, Path, pd.DataFrame]:
    """Write ``leaderboard.csv`` and ``leaderboard.md`` from the store; returns their paths and the table."""
    bench_dir = Path(bench_dir)
    _, metrics = load_benchmark_frames(bench_dir)
    wide = wide_leaderboard(summarize_over_seeds(metrics))
    csv_path, md_path = bench_dir / "leaderboard.csv", bench_dir / "leaderboard.md"
    atomic_write_text(csv_path, wide.to_csv(index=False))
    atomic_write_text(md_path, format_leaderboard_markdown(wide))
    return csv_path, md_path, wide
