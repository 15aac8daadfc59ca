"""Binary evaluation of a run: calibration, prior correction, decision curve, figure data (private)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from medbalance.errors import DataError
from medbalance.evaluation._evaluate_binary import BinaryData
from medbalance.evaluation._evaluate_common import Section, metric_entry
from medbalance.evaluation.calibration import compute_calibration_line, compute_ece, compute_reliability
from medbalance.evaluation.curves import compute_pr_curve, compute_roc_curve
from medbalance.evaluation.decision_curve import compute_decision_curve
from medbalance.evaluation.metrics import compute_binary_metric
from medbalance.evaluation.prevalence import correct_binary_prior, estimate_prior_em
from medbalance.evaluation.recalibration import RecalibrationResult, compare_calibrators
from medbalance.evaluation.score_distribution import check_overconfidence, compute_score_histograms
from medbalance.evaluation.thresholds import OperatingPoint
from medbalance.report.evaluation_figures import BinaryFigureData, RulePoint

if TYPE_CHECKING:
    from medbalance.evaluation.evaluate import EvaluateConfig

__all__ = ["binary_figure_data", "evaluate_binary_calibration"]


def _raw_calibration(data: BinaryData, bins: int) -> dict[str, Any]:
    y, s, lvl = data.y_test, data.s_test, data.level
    line = compute_calibration_line(y, s)
    return {
        "ece_equal_width": metric_entry(compute_ece(y, s, n_bins=bins), level=lvl, split="test", bins=bins),
        "ece_equal_mass": metric_entry(
            compute_ece(y, s, n_bins=bins, strategy="quantile"), level=lvl, split="test", bins=bins
        ),
        "brier": metric_entry(compute_binary_metric(y, s, "brier"), level=lvl, split="test"),
        "calibration_slope": metric_entry(line.slope, level=lvl, split="test"),
        "calibration_intercept": metric_entry(line.intercept, level=lvl, split="test"),
    }


def _prior_section(
    data: BinaryData, prior: np.ndarray | None, prior_reason: str, target: float | None
) -> dict[str, Any]:
    """Odds correction to the real prevalence, and the Saerens EM estimate of the test prevalence."""
    out: dict[str, Any] = {
        "assumed_training_prior": None if prior is None else prior.tolist(),
        "why": prior_reason,
    }
    if prior is None or target is None:
        out["undefined_reason"] = (
            "no training prior or target prevalence known" if prior is None else "no target prevalence"
        )
        return out
    pi = float(prior[1])
    corrected = correct_binary_prior(data.s_test, pi, target)
    out["odds_correction"] = {
        "from_prevalence": pi, "to_prevalence": target,
        "to_prevalence_source": "training class shares (the real data before re-balancing)",
        "ece_after": compute_ece(data.y_test, corrected).to_dict(),
        "brier_after": compute_binary_metric(data.y_test, corrected, "brier").to_dict(),
    }  # fmt: skip
    em = estimate_prior_em(np.stack([1 - data.s_test, data.s_test], axis=1), [1 - pi, pi])
    out["saerens_em"] = {
        "estimated_test_prevalence": float(em.prior[1]), "true_test_prevalence": float(data.y_test.mean()),
        "n_iter": em.n_iter, "converged": em.converged, "labels_used": False,
    }  # fmt: skip
    return out


def evaluate_binary_calibration(
    data: BinaryData, config: EvaluateConfig, section: Section, *, classes: tuple[str, str],
    prior: np.ndarray | None, prior_reason: str, target_prevalence: float | None,
) -> dict[str, Any]:  # fmt: skip
    """Calibration before/after, overconfidence, prior correction, decision curves; returns figure data."""
    bins = config.calibration_bins
    calibration: dict[str, Any] = {"aggregation_level": data.level, "test_raw": _raw_calibration(data, bins)}
    recal: list[RecalibrationResult] = []
    try:
        recal = compare_calibrators(data.y_val, data.s_val, data.y_test, data.s_test, n_bins=bins)
        calibration["recalibrated"] = {r.calibrator.method: r.to_dict() for r in recal}
    except DataError as exc:
        calibration["recalibrated"] = {"defined": False, "reason": str(exc)}
    proba = np.stack([1 - data.s_test, data.s_test], axis=1)
    over = check_overconfidence(data.y_test, proba, list(classes))
    calibration["overconfidence"] = over.to_dict()
    if over.warning:
        section.warnings.append(over.warning)
    hist = compute_score_histograms(data.y_test, proba, list(classes), score_class=classes[1])
    calibration["score_histograms"] = hist.to_dict()
    calibration["prior"] = _prior_section(data, prior, prior_reason, target_prevalence)
    reliability = {
        f"raw (ECE {calibration['test_raw']['ece_equal_width']['value']:.3f})": compute_reliability(
            data.y_test, data.s_test
        )
    }
    for r in recal:
        reliability[f"{r.calibrator.method} (ECE {r.ece_after.value:.3f})"] = compute_reliability(
            data.y_test, r.test_score
        )
    calibration["reliability"] = {label: rel.to_dict() for label, rel in reliability.items()}
    section.metrics["calibration"] = calibration
    ece = calibration["test_raw"]["ece_equal_width"]["value"]
    slope = calibration["test_raw"]["calibration_slope"]
    section.summary_rows.append(
        (
            "calibration",
            f"ECE {ece:.3f}, slope " + (f"{slope['value']:.2f}" if slope["defined"] else "undefined"),
        )
    )
    curves = {"model (raw scores)": compute_decision_curve(
        data.y_test, data.s_test, groups=data.groups, n_resamples=config.n_bootstrap, level=config.ci_level,
        seed=config.seed)}  # fmt: skip
    platt = next((r for r in recal if r.calibrator.method == "platt"), None)
    if platt is not None:
        curves["model (Platt-recalibrated on val)"] = compute_decision_curve(
            data.y_test, platt.test_score, n_resamples=0
        )
    section.metrics["decision_curve"] = {
        label: {**c.to_dict(), "aggregation_level": data.level, "split": "test"}
        for label, c in curves.items()
    }
    return {"reliability": reliability, "histogram": hist, "overconfidence": over.warning, "decision": curves}


def binary_figure_data(
    data: BinaryData, config: EvaluateConfig, section: Section, *, classes: tuple[str, str],
    points: dict[str, OperatingPoint], extras: dict[str, Any],
) -> BinaryFigureData:  # fmt: skip
    """The curves and points the figures show; adds the ROC band to ``section.metrics``."""
    y, s = data.y_test, data.s_test
    ranking = section.metrics["threshold_free"]
    ops = section.metrics["operating_points"]
    roc = None
    if 0 < y.sum() < y.size:
        roc = compute_roc_curve(
            y, s, groups=data.groups, n_resamples=config.n_bootstrap, level=config.ci_level, seed=config.seed
        )
        section.metrics["roc_band"] = roc.to_dict()["band"]
    rule_points = {
        spec: RulePoint(
            threshold=op.threshold,
            sensitivity=ops[spec]["test"]["sensitivity"]["estimate"],
            specificity=ops[spec]["test"]["specificity"]["estimate"],
            confusion=np.array(ops[spec]["test_confusion_matrix"]["counts"]),
        )
        for spec, op in points.items()
    }
    return BinaryFigureData(
        level=data.level, classes=classes, roc=roc, pr=compute_pr_curve(y, s) if y.sum() > 0 else None,
        prevalence=float(y.mean()), auc_roc=ranking["auc_roc"], auc_pr=ranking["auc_pr"],
        operating_points=rule_points, reliability=extras["reliability"], histograms=extras["histogram"],
        overconfidence=extras["overconfidence"], decision=extras["decision"],
    )  # fmt: skip
