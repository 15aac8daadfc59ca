"""Benchmark figures: every strategy's ROC and precision-recall curve on one test set, with bootstrap bands.

Bands are pointwise 95% intervals from resampling whole patients (the ROC band
from :func:`medbalance.evaluation.curves.compute_roc_curve`, the PR band from
the same kind of patient bootstrap of precision at fixed recalls), so overlapping
bands show at a glance where two strategies cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medbalance.evaluation.curves import CurveBand, RocCurve, compute_pr_curve
from medbalance.report.plots import _new_figure, _save

__all__ = ["PrCurve", "compute_pr_band", "plot_pr_overlay", "plot_roc_overlay"]


@dataclass(frozen=True)
class PrCurve:
    """Precision-recall points, the no-skill prevalence and an optional pointwise band."""

    recall: np.ndarray
    precision: np.ndarray
    prevalence: float
    band: CurveBand | None


def _precision_at(recall_grid: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    recall, precision = compute_pr_curve(y, s)
    order = np.argsort(recall, kind="stable")
    return np.interp(recall_grid, recall[order], precision[order])


def compute_pr_band(
    y: np.ndarray, s: np.ndarray, groups: np.ndarray, *, n_resamples: int = 200, level: float = 0.95, seed: int = 0,
    grid_size: int = 51,
) -> PrCurve:  # fmt: skip
    """The PR curve and a pointwise band of precision at fixed recalls from a patient bootstrap.

    Raises:
        ValueError: no positive case (the PR curve is undefined).
    """
    y, s = np.asarray(y, dtype=np.int64), np.asarray(s, dtype=np.float64)
    if y.sum() == 0:
        raise ValueError("the precision-recall curve needs at least one positive case.")
    recall, precision = compute_pr_curve(y, s)
    grid = np.linspace(0.0, 1.0, grid_size)
    codes, index = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    members = [np.flatnonzero(index == k) for k in range(codes.size)]
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n_resamples):
        rows = np.concatenate([members[k] for k in rng.integers(0, codes.size, codes.size)])
        if 0 < y[rows].sum() < rows.size:
            curves.append(_precision_at(grid, y[rows], s[rows]))
    band = None
    if curves:
        stack, alpha = np.vstack(curves), (1.0 - level) / 2.0
        band = CurveBand(grid, np.quantile(stack, alpha, axis=0), np.quantile(stack, 1 - alpha, axis=0), level,
                         len(curves), True)  # fmt: skip
    return PrCurve(recall, precision, float(y.mean()), band)


def plot_roc_overlay(curves: Mapping[str, tuple[RocCurve, str]], path: str | Path, *, title: str) -> Path:
    """ROC curves of several strategies (name -> (curve, "AUC 0.84 [0.80, 0.88]")) with their bands."""
    fig, (ax,) = _new_figure(6.5, 5.5)
    for (name, (curve, text)), color in zip(curves.items(), _colors(len(curves)), strict=True):
        if curve.band is not None:
            ax.fill_between(curve.band.x, curve.band.low, curve.band.high, color=color, alpha=0.12)
        ax.plot(curve.fpr, curve.tpr, color=color, lw=1.8, label=f"{name} ({text})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (false-positive rate)",
           ylabel="sensitivity (true-positive rate)", title=title)  # fmt: skip
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def plot_pr_overlay(curves: Mapping[str, tuple[PrCurve, str]], path: str | Path, *, title: str) -> Path:
    """Precision-recall curves of several strategies (name -> (curve, "AP 0.41")) with their bands."""
    fig, (ax,) = _new_figure(6.5, 5.5)
    prevalence = 0.0
    for (name, (curve, text)), color in zip(curves.items(), _colors(len(curves)), strict=True):
        if curve.band is not None:
            ax.fill_between(curve.band.x, curve.band.low, curve.band.high, color=color, alpha=0.12)
        ax.step(curve.recall, curve.precision, where="post", color=color, lw=1.8, label=f"{name} ({text})")
        prevalence = curve.prevalence
    ax.axhline(prevalence, ls="--", color="grey", lw=1, label=f"no skill (prevalence {prevalence:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall (sensitivity)", ylabel="precision (PPV)", title=title)
    ax.legend(loc="upper right", fontsize=7)
    return _save(fig, path)


def _colors(n: int) -> list[tuple[float, ...]]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [tuple(cmap(i % 10)) for i in range(n)]
