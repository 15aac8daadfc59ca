"""Multi-class evaluation of a run: metrics with CIs, logit adjustment, calibration, figure data (private)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import softmax

from medbalance.errors import DataError
from medbalance.evaluation._evaluate_common import Section, ci_entry, metric_entry
from medbalance.evaluation.aggregation import AggregatedPredictions
from medbalance.evaluation.bootstrap import bootstrap_ci
from medbalance.evaluation.calibration import (
    compute_multiclass_brier,
    compute_reliability,
    compute_top_label_ece,
)
from medbalance.evaluation.logit_adjustment import select_logit_adjustment_tau
from medbalance.evaluation.multiclass import compute_multiclass_metrics
from medbalance.evaluation.multiclass_intervals import bootstrap_multiclass_cis
from medbalance.evaluation.prevalence import estimate_prior_em
from medbalance.evaluation.recalibration import apply_temperature, fit_temperature
from medbalance.evaluation.score_distribution import check_overconfidence, compute_score_histograms
from medbalance.report.evaluation_figures import MulticlassFigureData

if TYPE_CHECKING:
    from medbalance.evaluation.evaluate import EvaluateConfig

__all__ = ["evaluate_multiclass"]


def _metrics_with_cis(
    y: np.ndarray, proba: np.ndarray, classes: tuple[str, ...], ordinal: bool, groups: np.ndarray | None,
    config: EvaluateConfig, level: str, rule: str,
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    report = compute_multiclass_metrics(y, proba, class_names=classes, ordinal=ordinal)
    cis = bootstrap_multiclass_cis(
        y, proba, class_names=classes, ordinal=ordinal, groups=groups, n_resamples=config.n_bootstrap,
        level=config.ci_level, seed=config.seed,
    )  # fmt: skip
    out = {
        "metrics": {m: ci_entry(ci, level=level, prediction_rule=rule) for m, ci in cis.items()},
        "per_class": {
            name: {
                m: metric_entry(v, level=level, split="test", prediction_rule=rule) for m, v in values.items()
            }
            for name, values in report.per_class.items()
        },
        "confusion_matrix": {
            "rows": "true class",
            "columns": "predicted class",
            "classes": list(classes),
            "counts": report.confusion_matrix.tolist(),
        },
    }
    return out, report


def evaluate_multiclass(
    val: AggregatedPredictions, test: AggregatedPredictions, config: EvaluateConfig, section: Section,
    *, groups: np.ndarray | None, ordinal: bool, prior: np.ndarray | None, prior_reason: str,
) -> MulticlassFigureData:  # fmt: skip
    """Every multi-class part of the report; returns what its figures show."""
    classes, level = test.classes, test.level
    y_val, y_test = val.labels, test.labels
    raw, raw_report = _metrics_with_cis(y_test, test.proba, classes, ordinal, groups, config, level, "argmax")
    for name, k in zip(classes, range(len(classes)), strict=True):
        auc = bootstrap_ci((y_test == k).astype(int), test.proba[:, k], "auc_roc", groups=groups,
                           n_resamples=config.n_bootstrap, level=config.ci_level, method=config.ci_method, seed=config.seed)  # fmt: skip
        raw["per_class"][name]["auc_ovr"] = ci_entry(auc, level=level, prediction_rule="argmax")
    section.metrics["argmax"] = {"aggregation_level": level, **raw}
    matrices = {"argmax": raw_report.confusion_matrix}
    section.operating_points.append(_row("argmax", raw, level, len(y_test)))
    shares = prior if prior is not None else np.bincount(y_val, minlength=len(classes)) / y_val.size
    try:
        adjustment = select_logit_adjustment_tau(y_val, val.logits, np.maximum(shares, 1e-12))
    except DataError as exc:
        section.metrics["logit_adjusted"] = {"defined": False, "reason": str(exc)}
        section.warnings.append(f"post-hoc logit adjustment is undefined: {exc}")
    else:
        adjusted = softmax(adjustment.apply(test.logits), axis=1)
        rule = f"logit-adjusted (tau={adjustment.tau:g}, chosen on val)"
        adj, adj_report = _metrics_with_cis(y_test, adjusted, classes, ordinal, groups, config, level, rule)
        section.metrics["logit_adjusted"] = {
            **adjustment.to_dict(), "prior_source": prior_reason, "aggregation_level": level, **adj,
        }  # fmt: skip
        matrices[rule] = adj_report.confusion_matrix
        section.operating_points.append(_row(rule, adj, level, len(y_test)))
    for label, block in (("argmax", raw), ("logit-adjusted", section.metrics["logit_adjusted"])):
        if "metrics" in block:
            ba = block["metrics"]["balanced_accuracy"]
            section.summary_rows.append((f"balanced accuracy, {label}", _text(ba)))
            section.summary_rows.append((f"macro-F1, {label}", _text(block["metrics"]["macro_f1"])))
    calibration, reliability = _calibration(val, test, config, level)
    over = check_overconfidence(y_test, test.proba, classes)
    calibration["overconfidence"] = over.to_dict()
    if over.warning:
        section.warnings.append(over.warning)
    hists = [  # one panel per class: its probability on its own cases vs on all other cases
        compute_score_histograms(
            (y_test == k).astype(np.int64), np.stack([1 - test.proba[:, k], test.proba[:, k]], axis=1),
            ["other classes", c], score_class=c,
        )
        for k, c in enumerate(classes)
    ]  # fmt: skip
    calibration["score_histograms"] = [h.to_dict() for h in hists]
    if prior is not None:
        em = estimate_prior_em(test.proba, prior)
        calibration["saerens_em"] = {"assumed_training_prior": prior.tolist(), "why": prior_reason,
                                     "estimated_test_prior": em.prior.tolist(),
                                     "true_test_prior": (np.bincount(y_test, minlength=len(classes)) / y_test.size).tolist(),
                                     "n_iter": em.n_iter, "converged": em.converged}  # fmt: skip
    section.metrics["calibration"] = calibration
    return _figure_data(test, raw, matrices, reliability, hists, over.warning)


def _calibration(
    val: AggregatedPredictions, test: AggregatedPredictions, config: EvaluateConfig, level: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    y, p, bins = test.labels, test.proba, config.calibration_bins
    out: dict[str, Any] = {"aggregation_level": level, "test_raw": {
        "top_label_ece": metric_entry(compute_top_label_ece(y, p, n_bins=bins), level=level, split="test", bins=bins),
        "brier": metric_entry(compute_multiclass_brier(y, p), level=level, split="test"),
    }}  # fmt: skip
    correct, confidence = (p.argmax(1) == y).astype(int), p.max(1)
    reliability = {
        f"raw (top-label ECE {out['test_raw']['top_label_ece']['value']:.3f})": compute_reliability(
            correct, confidence
        )
    }
    try:
        t = fit_temperature(val.labels, val.logits)
    except DataError as exc:
        out["temperature_scaling"] = {"defined": False, "reason": str(exc)}
        return out, reliability
    scaled = apply_temperature(test.logits, t)
    ece = compute_top_label_ece(y, scaled, n_bins=bins)
    out["temperature_scaling"] = {"temperature": t, "fitted_on": "validation", "evaluated_on": "test",
                                  "top_label_ece_after": ece.to_dict(),
                                  "brier_after": compute_multiclass_brier(y, scaled).to_dict()}  # fmt: skip
    reliability[f"temperature T={t:.2f} (ECE {ece.value:.3f})"] = compute_reliability(
        (scaled.argmax(1) == y).astype(int), scaled.max(1)
    )
    return out, reliability


def _figure_data(
    test: AggregatedPredictions, raw: dict[str, Any], matrices: dict[str, np.ndarray],
    reliability: dict[str, Any], hists: list[Any], warning: str,
) -> MulticlassFigureData:  # fmt: skip
    from sklearn.metrics import roc_curve

    y, classes = test.labels, test.classes
    curves = {}
    for k, name in enumerate(classes):
        if 0 < np.sum(y == k) < y.size:
            fpr, tpr, _ = roc_curve((y == k).astype(int), test.proba[:, k])
            curves[name] = (fpr, tpr)
    return MulticlassFigureData(
        level=test.level, classes=classes, roc_ovr=curves,
        auc_ovr={name: raw["per_class"][name]["auc_ovr"] for name in curves}, confusion=matrices,
        reliability=reliability, histograms=hists, overconfidence=warning,
    )  # fmt: skip


def _row(rule: str, block: dict[str, Any], level: str, n_test: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rule": rule,
        "aggregation_level": level,
        "chosen_on": "validation",
        "n_test": n_test,
    }
    for name, entry in block["metrics"].items():
        row[f"test_{name}"], row[f"test_{name}_low"], row[f"test_{name}_high"] = (
            entry["estimate"],
            entry["low"],
            entry["high"],
        )
    return row


def _text(entry: dict[str, Any]) -> str:
    if entry.get("estimate") is None:
        return "undefined"
    if entry.get("low") is None:
        return f"{entry['estimate']:.3f} [CI undefined]"
    return f"{entry['estimate']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"
