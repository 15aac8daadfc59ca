"""Evaluation figures (matplotlib, Agg backend), one function per figure.

Every function writes one PNG atomically and returns its path. Titles name
the split, the aggregation level and, where a threshold is involved, the rule
that chose it on validation, so a figure read alone is not misread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medbalance.io import atomic_save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from medbalance.evaluation.calibration import ReliabilityData
    from medbalance.evaluation.curves import RocCurve
    from medbalance.evaluation.decision_curve import DecisionCurve
    from medbalance.evaluation.score_distribution import ScoreHistograms

__all__ = [
    "plot_confusion_matrices",
    "plot_decision_curve",
    "plot_pr_curve",
    "plot_reliability",
    "plot_roc_curve",
    "plot_roc_ovr",
    "plot_score_histograms",
]

_DPI = 110


def _new_figure(width: float = 6.0, height: float = 5.0, ncols: int = 1) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def _save(fig: Figure, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    try:
        atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=_DPI))
    finally:
        plt.close(fig)
    return path


def plot_roc_curve(
    curve: RocCurve,
    path: str | Path,
    *,
    level: str,
    auc_text: str,
    operating_points: Mapping[str, tuple[float, float]] | None = None,
) -> Path:
    """ROC curve with its bootstrap band and the test operating points of each threshold rule.

    Args:
        curve: points and band from ``compute_roc_curve``.
        path: PNG to write.
        level: aggregation level named in the title.
        auc_text: e.g. "AUC 0.84 [0.80, 0.88]".
        operating_points: rule -> (test 1 - specificity, test sensitivity).
    """
    fig, (ax,) = _new_figure()
    if curve.band is not None:
        band = curve.band
        ax.fill_between(band.x, band.low, band.high, color="tab:blue", alpha=0.2,
                        label=f"{band.level:.0%} band ({band.n_resamples} {'patient ' if band.clustered else ''}resamples)")  # fmt: skip
    ax.plot(curve.fpr, curve.tpr, color="tab:blue", lw=2, label=f"model ({auc_text})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    for (rule, (x, y)), marker in zip((operating_points or {}).items(), "osD^vP*X", strict=False):
        ax.plot([x], [y], marker=marker, ms=8, ls="none", label=f"{rule} (threshold chosen on val)")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (false-positive rate)",
           ylabel="sensitivity (true-positive rate)", title=f"ROC curve - test set, {level} level")  # fmt: skip
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_pr_curve(
    recall: np.ndarray,
    precision: np.ndarray,
    path: str | Path,
    *,
    level: str,
    prevalence: float,
    ap_text: str,
) -> Path:
    """Precision-recall curve with the no-skill line at the test prevalence."""
    fig, (ax,) = _new_figure()
    ax.step(recall, precision, where="post", color="tab:purple", lw=2, label=f"model ({ap_text})")
    ax.axhline(prevalence, ls="--", color="grey", lw=1, label=f"no skill (prevalence {prevalence:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall (sensitivity)", ylabel="precision (PPV)",
           title=f"Precision-recall curve - test set, {level} level")  # fmt: skip
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_reliability(
    curves: Mapping[str, ReliabilityData],
    path: str | Path,
    *,
    level: str,
    what: str = "positive-class probability",
) -> Path:
    """Reliability diagram: observed frequency vs mean predicted probability per bin, one line per curve.

    Args:
        curves: label (e.g. "raw, ECE 0.12") -> reliability data.
        path: PNG to write.
        level: aggregation level named in the title.
        what: what is on the x axis.
    """
    fig, (ax,) = _new_figure()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    for (label, data), marker in zip(curves.items(), "osD^v", strict=False):
        ne = data.nonempty
        ax.plot(data.mean_score[ne], data.observed[ne], marker=marker, lw=1.5, label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"mean predicted {what} (bin)", ylabel="observed frequency (bin)",
           title=f"Reliability diagram - test set, {level} level")  # fmt: skip
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_score_histograms(
    histograms: Sequence[ScoreHistograms], path: str | Path, *, level: str, warning: str = ""
) -> Path:
    """Histograms of a class's probability per true class (Walsh & Tardy 2023, Fig. 2); one panel per entry."""
    fig, axes = _new_figure(width=5.5, height=4.2, ncols=len(histograms))
    for ax, hist in zip(axes, histograms, strict=True):
        width = np.diff(hist.edges)
        for name, counts in hist.counts.items():
            total = counts.sum()
            share = counts / total if total else counts.astype(float)
            ax.bar(
                hist.edges[:-1],
                share,
                width=width,
                align="edge",
                alpha=0.55,
                label=f"true {name} (n={total})",
            )
        ax.set(xlim=(0, 1), xlabel=f"predicted probability of {hist.score_class!r}", ylabel="share of the class's cases",
               title=f"Scores per true class - test, {level} level")  # fmt: skip
        ax.legend(fontsize=8)
    if warning:
        fig.suptitle("OVERCONFIDENCE warning: scores pile up at 0 and 1", color="tab:red", fontsize=10)
    return _save(fig, path)


def plot_confusion_matrices(
    matrices: Mapping[str, np.ndarray], class_names: Sequence[str], path: str | Path, *, level: str
) -> Path:
    """One confusion-matrix panel per operating point (rows true class, columns predicted class)."""
    fig, axes = _new_figure(width=4.2, height=4.0, ncols=len(matrices))
    for ax, (title, matrix) in zip(axes, matrices.items(), strict=True):
        m = np.asarray(matrix)
        ax.imshow(m, cmap="Blues")
        for (i, j), value in np.ndenumerate(m):
            ax.text(j, i, str(int(value)), ha="center", va="center",
                    color="white" if value > m.max() / 2 else "black", fontsize=11)  # fmt: skip
        ticks = np.arange(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=30, ha="right")
        ax.set_yticks(ticks, class_names)
        ax.set(xlabel="predicted class", ylabel="true class", title=title)
        ax.title.set_fontsize(9)
    fig.suptitle(
        f"Confusion matrices - test set, {level} level (thresholds chosen on validation)", fontsize=10
    )
    return _save(fig, path)


def plot_decision_curve(curves: Mapping[str, DecisionCurve], path: str | Path, *, level: str) -> Path:
    """Net benefit over threshold probabilities: each model curve (with its band), treat-all, treat-none."""
    fig, (ax,) = _new_figure(width=6.5)
    first = next(iter(curves.values()))
    for label, curve in curves.items():
        (line,) = ax.plot(curve.thresholds, curve.net_benefit, lw=2, label=label)
        if curve.low is not None and curve.high is not None:
            ax.fill_between(curve.thresholds, curve.low, curve.high, color=line.get_color(), alpha=0.15)
    ax.plot(first.thresholds, first.treat_all, color="black", lw=1, label="treat all")
    ax.plot(first.thresholds, first.treat_none, color="grey", lw=1, ls="--", label="treat none")
    top = max(first.prevalence, max(float(np.max(c.net_benefit)) for c in curves.values()))
    ax.set(xlim=(0, 1), ylim=(-0.05 * max(top, 0.01) - 0.01, 1.15 * max(top, 0.01)),
           xlabel="threshold probability", ylabel="net benefit",
           title=f"Decision curve - test set, {level} level")  # fmt: skip
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_roc_ovr(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    aucs: Mapping[str, str],
    path: str | Path,
    *,
    level: str,
) -> Path:
    """One-vs-rest ROC curve per class (multi-class)."""
    fig, (ax,) = _new_figure()
    for name, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, lw=2, label=f"{name} vs rest ({aucs.get(name, '')})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate", ylabel="true-positive rate",
           title=f"One-vs-rest ROC curves - test set, {level} level")  # fmt: skip
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
