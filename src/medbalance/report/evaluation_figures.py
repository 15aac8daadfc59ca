"""The figures of ``evaluate_run``: which curves, markers and titles go in which PNG.

Evaluation computes the data (curves, bins, operating points, confusion counts)
and hands it over as :class:`BinaryFigureData` or :class:`MulticlassFigureData`;
:func:`write_evaluation_figures` decides the files and draws them through
:mod:`medbalance.report.plots`. Nothing is computed here.

Files (in this order):

- binary: ``roc.png`` (when the test set has both classes), ``pr.png`` (when it has
  a positive), ``reliability.png``, ``score_histograms.png``,
  ``confusion_matrices.png`` (when a threshold rule was applied), ``decision_curve.png``;
- multi-class: ``roc_ovr.png`` (when a class is present and absent), ``confusion_matrices.png``,
  ``reliability.png``, ``score_histograms.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medbalance.report import plots

if TYPE_CHECKING:
    from medbalance.evaluation.calibration import ReliabilityData
    from medbalance.evaluation.curves import RocCurve
    from medbalance.evaluation.decision_curve import DecisionCurve
    from medbalance.evaluation.score_distribution import ScoreHistograms

__all__ = ["BinaryFigureData", "MulticlassFigureData", "RulePoint", "write_evaluation_figures"]


@dataclass(frozen=True)
class RulePoint:
    """A threshold rule (chosen on validation) applied to the test split."""

    threshold: float
    sensitivity: float | None
    specificity: float | None
    confusion: np.ndarray
    """Counts, rows true [negative, positive], columns predicted."""


@dataclass(frozen=True)
class BinaryFigureData:
    """What the binary figures show (test split, one aggregation level).

    Attributes:
        level: aggregation level named in the titles.
        classes: (negative, positive) class names.
        roc: ROC curve with its band; None when the test set lacks a class.
        pr: (recall, precision); None when the test set has no positive.
        prevalence: test prevalence (the PR no-skill line).
        auc_roc, auc_pr: metrics.json entries (``estimate``, ``low``, ``high``).
        operating_points: rule -> its test point (the rules that could be applied).
        reliability: curve label -> reliability bins.
        histograms: scores per true class.
        overconfidence: the overconfidence warning ("" when none).
        decision: curve label -> decision curve.
    """

    level: str
    classes: tuple[str, str]
    roc: RocCurve | None
    pr: tuple[np.ndarray, np.ndarray] | None
    prevalence: float
    auc_roc: Mapping[str, Any]
    auc_pr: Mapping[str, Any]
    operating_points: Mapping[str, RulePoint]
    reliability: Mapping[str, ReliabilityData]
    histograms: ScoreHistograms
    overconfidence: str
    decision: Mapping[str, DecisionCurve]


@dataclass(frozen=True)
class MulticlassFigureData:
    """What the multi-class figures show (test split, one aggregation level).

    Attributes:
        level: aggregation level named in the titles.
        classes: class names in order.
        roc_ovr: class -> (false-positive rate, true-positive rate) of class vs rest.
        auc_ovr: class -> metrics.json entry of its one-vs-rest AUC.
        confusion: prediction rule -> confusion counts (rows true, columns predicted).
        reliability: curve label -> top-label reliability bins.
        histograms: one per class (its probability on its cases vs all others).
        overconfidence: the overconfidence warning ("" when none).
    """

    level: str
    classes: tuple[str, ...]
    roc_ovr: Mapping[str, tuple[np.ndarray, np.ndarray]]
    auc_ovr: Mapping[str, Mapping[str, Any]]
    confusion: Mapping[str, np.ndarray]
    reliability: Mapping[str, ReliabilityData]
    histograms: Sequence[ScoreHistograms]
    overconfidence: str


def write_evaluation_figures(data: BinaryFigureData | MulticlassFigureData, folder: str | Path) -> list[Path]:
    """Write the evaluation's PNGs into ``folder``; returns their paths in the order above."""
    folder = Path(folder)
    if isinstance(data, BinaryFigureData):
        return _binary(data, folder)
    return _multiclass(data, folder)


def _binary(data: BinaryFigureData, folder: Path) -> list[Path]:
    level, ops = data.level, data.operating_points
    written = []
    if data.roc is not None:
        markers = {
            rule: (1 - point.specificity, point.sensitivity)
            for rule, point in ops.items()
            if point.sensitivity is not None and point.specificity is not None
        }
        written.append(plots.plot_roc_curve(data.roc, folder / "roc.png", level=level,
                                            auc_text=_ci_text("AUC", data.auc_roc), operating_points=markers))  # fmt: skip
    if data.pr is not None:
        recall, precision = data.pr
        written.append(plots.plot_pr_curve(recall, precision, folder / "pr.png", level=level,
                                           prevalence=data.prevalence, ap_text=_ci_text("AP", data.auc_pr)))  # fmt: skip
    written.append(plots.plot_reliability(data.reliability, folder / "reliability.png", level=level))
    written.append(plots.plot_score_histograms(
        [data.histograms], folder / "score_histograms.png", level=level, warning=data.overconfidence
    ))  # fmt: skip
    if ops:
        matrices = {
            f"{rule}\nthreshold {point.threshold:.3g}": point.confusion for rule, point in ops.items()
        }
        written.append(plots.plot_confusion_matrices(
            matrices, list(data.classes), folder / "confusion_matrices.png", level=level
        ))  # fmt: skip
    written.append(plots.plot_decision_curve(data.decision, folder / "decision_curve.png", level=level))
    return written


def _multiclass(data: MulticlassFigureData, folder: Path) -> list[Path]:
    level = data.level
    written = []
    if data.roc_ovr:
        aucs = {name: _ci_text("AUC", data.auc_ovr[name], missing_ci=" [CI undefined]") for name in data.roc_ovr}
        written.append(plots.plot_roc_ovr(data.roc_ovr, aucs, folder / "roc_ovr.png", level=level))
    written.append(plots.plot_confusion_matrices(
        data.confusion, data.classes, folder / "confusion_matrices.png", level=level
    ))  # fmt: skip
    written.append(plots.plot_reliability(
        data.reliability, folder / "reliability.png", level=level, what="top-class probability"
    ))  # fmt: skip
    written.append(plots.plot_score_histograms(
        data.histograms, folder / "score_histograms.png", level=level, warning=data.overconfidence
    ))  # fmt: skip
    return written


def _ci_text(name: str, entry: Mapping[str, Any], *, missing_ci: str = "") -> str:
    """``"AUC 0.840 [0.800, 0.880]"``; ``missing_ci`` follows the estimate when the interval is undefined."""
    if entry.get("estimate") is None:
        return f"{name} undefined"
    if entry.get("low") is None:
        return f"{name} {entry['estimate']:.3f}{missing_ci}"
    return f"{name} {entry['estimate']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"
