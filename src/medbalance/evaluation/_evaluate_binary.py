"""Binary evaluation of a run: metrics with CIs, operating points, prevalence, per domain (private)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from medbalance.errors import DataError
from medbalance.evaluation._evaluate_common import Section, ci_entry, finite_or_str, parse_rule_spec
from medbalance.evaluation.bootstrap import bootstrap_cis
from medbalance.evaluation.delong import delong_auc_ci
from medbalance.evaluation.prevalence import compute_prevalence_table
from medbalance.evaluation.thresholds import OperatingPoint, select_threshold

if TYPE_CHECKING:
    from medbalance.evaluation.evaluate import EvaluateConfig

__all__ = ["BinaryData", "evaluate_binary_operating_points", "evaluate_binary_ranking"]

RANKING_METRICS = ("auc_roc", "auc_pr", "brier", "log_loss")
THRESHOLD_METRICS = ("sensitivity", "specificity", "ppv", "npv", "f1", "mcc", "balanced_accuracy", "g_mean")


class BinaryData:
    """Validation and test labels/scores of the positive class at one aggregation level."""

    def __init__(
        self, y_val: np.ndarray, s_val: np.ndarray, y_test: np.ndarray, s_test: np.ndarray,
        groups: np.ndarray | None, domains: np.ndarray, level: str,
    ) -> None:  # fmt: skip
        self.y_val, self.s_val, self.y_test, self.s_test = y_val, s_val, y_test, s_test
        self.groups, self.domains, self.level = groups, domains, level


def _boot(config: EvaluateConfig) -> dict[str, Any]:
    return {
        "n_resamples": config.n_bootstrap, "level": config.ci_level, "method": config.ci_method,
        "seed": config.seed,
    }  # fmt: skip


def evaluate_binary_ranking(data: BinaryData, config: EvaluateConfig, section: Section) -> None:
    """Threshold-free metrics on test with bootstrap CIs and the DeLong AUC interval."""
    cis = bootstrap_cis(data.y_test, data.s_test, RANKING_METRICS, groups=data.groups, **_boot(config))
    entries = {name: ci_entry(ci, level=data.level, threshold_rule=None) for name, ci in cis.items()}
    entries["auc_roc_delong"] = ci_entry(
        delong_auc_ci(data.y_test, data.s_test, level=config.ci_level), level=data.level, threshold_rule=None,
        note="DeLong's interval treats cases as independent (no patient clustering)",
    )  # fmt: skip
    section.metrics["threshold_free"] = entries
    auc = cis["auc_roc"]
    section.summary_rows.append(("AUC-ROC", str(auc).split(": ", 1)[1]))
    section.summary_rows.append(("AUC-PR", str(cis["auc_pr"]).split(": ", 1)[1]))


def _confusion(y: np.ndarray, s: np.ndarray, threshold: float) -> list[list[int]]:
    pred = s >= threshold
    return [
        [int(np.sum(~pred & (y == 0))), int(np.sum(pred & (y == 0)))],
        [int(np.sum(~pred & (y == 1))), int(np.sum(pred & (y == 1)))],
    ]


def _target_check(op: OperatingPoint, cis: dict[str, Any]) -> dict[str, Any]:
    metric = {"target-sensitivity": "sensitivity", "target-specificity": "specificity"}.get(op.rule)
    if metric is None:
        return {}
    target, ci = op.params["target"], cis[metric]
    return {
        "target_metric": metric,
        "target": target,
        "target_met_on_test": None if ci.estimate is None else bool(ci.estimate >= target),
        "target_met_with_confidence": None if ci.low is None else bool(ci.low >= target),
    }


def _row(
    spec: str, op: OperatingPoint, cis: dict[str, Any], data: BinaryData, target: dict[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rule": spec, "aggregation_level": data.level, "threshold": finite_or_str(op.threshold),
        "chosen_on": "validation", "n_val": op.n_val, "n_val_positive": op.n_val_positive,
        "val_sensitivity": op.metrics["sensitivity"].value, "val_specificity": op.metrics["specificity"].value,
        "n_test": int(data.y_test.size), "n_test_positive": int(data.y_test.sum()),
    }  # fmt: skip
    for name in THRESHOLD_METRICS:
        ci = cis[name]
        row[f"test_{name}"], row[f"test_{name}_low"], row[f"test_{name}_high"] = ci.estimate, ci.low, ci.high
    row["target"] = target.get("target")
    row["target_met_on_test"] = target.get("target_met_on_test")
    return row


def _prevalences(data: BinaryData, config: EvaluateConfig) -> list[float]:
    test_prevalence = float(data.y_test.mean())
    listed = [test_prevalence] if 0.0 < test_prevalence < 1.0 else []
    return listed + [p for p in config.deployment_prevalences if p not in listed]


def evaluate_binary_operating_points(
    data: BinaryData, config: EvaluateConfig, section: Section
) -> dict[str, OperatingPoint]:
    """Each rule chosen on validation, applied to test with CIs, plus its prevalence table."""
    points: dict[str, OperatingPoint] = {}
    entries: dict[str, Any] = {}
    for spec in config.rules:
        name, params = parse_rule_spec(spec, cost_ratio=config.cost_ratio, prevalence=config.prevalence)
        try:
            op = select_threshold(data.y_val, data.s_val, name, **params)
        except DataError as exc:  # e.g. no positive in validation: report undefined, not 0
            entries[spec] = {
                "rule": spec,
                "defined": False,
                "reason": str(exc),
                "aggregation_level": data.level,
            }
            section.warnings.append(f"operating point {spec!r} is undefined: {exc}")
            continue
        points[spec] = op
        cis = bootstrap_cis(
            data.y_test,
            data.s_test,
            THRESHOLD_METRICS,
            threshold=op.threshold,
            groups=data.groups,
            **_boot(config),
        )
        context: dict[str, Any] = {
            "threshold_rule": spec,
            "threshold": finite_or_str(op.threshold),
            "threshold_chosen_on": "validation",
        }
        target = _target_check(op, cis)
        table = compute_prevalence_table(
            data.y_test, data.s_test, threshold=op.threshold, prevalences=_prevalences(data, config),
            cost_ratio=config.cost_ratio, groups=data.groups, n_resamples=config.n_bootstrap,
            level=config.ci_level, seed=config.seed,
        )  # fmt: skip
        entries[spec] = {
            "defined": True,
            "aggregation_level": data.level,
            "operating_point": op.to_dict(),
            "test": {m: ci_entry(ci, level=data.level, **context) for m, ci in cis.items()},
            "test_confusion_matrix": {
                "rows": "true [negative, positive]",
                "columns": "predicted [negative, positive]",
                "counts": _confusion(data.y_test, data.s_test, op.threshold),
            },
            **target,
            "at_prevalence": [{**row.to_dict(), "aggregation_level": data.level, **context} for row in table],
        }
        section.operating_points.append(_row(spec, op, cis, data, target))
        sens, spec_ci = cis["sensitivity"], cis["specificity"]
        text = f"sens {_short(sens)}  spec {_short(spec_ci)}"
        if target.get("target_met_on_test") is not None:
            text += f"; target {target['target']:g} {'met' if target['target_met_on_test'] else 'NOT met'} on test"
        deployed = [r for r in table if r.prevalence in config.deployment_prevalences]
        if deployed and deployed[0].metrics["ppv"].value is not None:
            text += f"; PPV {deployed[0].metrics['ppv'].value:.3f} at prevalence {deployed[0].prevalence:g}"
        section.summary_rows.append((f"{spec} (t={op.threshold:.3g})", text))
        if target.get("target_met_on_test") is False:
            section.warnings.append(
                f"{spec}: the {target['target_metric']} target {target['target']} chosen on validation was not "
                f"met on test ({cis[target['target_metric']].estimate:.3f})"
            )
    section.metrics["operating_points"] = entries
    return points


def _short(ci: Any) -> str:
    if ci.estimate is None:
        return "undefined"
    if ci.low is None:
        return f"{ci.estimate:.3f} [CI undefined]"
    return f"{ci.estimate:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def evaluate_binary_domains(
    data: BinaryData, points: dict[str, OperatingPoint], config: EvaluateConfig, section: Section
) -> None:
    """AUC and sens/spec at each operating point, per domain, when the test set has several."""
    names = sorted(set(data.domains.tolist()))
    if len(names) < 2:
        return
    out: dict[str, Any] = {}
    for domain in names:
        mask = data.domains == domain
        y, s = data.y_test[mask], data.s_test[mask]
        groups = None if data.groups is None else data.groups[mask]
        entry: dict[str, Any] = {"n": int(mask.sum()), "n_positive": int(y.sum())}
        auc = bootstrap_cis(y, s, ["auc_roc"], groups=groups, **_boot(config))["auc_roc"]
        entry["auc_roc"] = ci_entry(auc, level=data.level, domain=domain, threshold_rule=None)
        for spec, op in points.items():
            cis = bootstrap_cis(
                y, s, ["sensitivity", "specificity"], threshold=op.threshold, groups=groups, **_boot(config)
            )
            entry[spec] = {
                m: ci_entry(
                    ci,
                    level=data.level,
                    domain=domain,
                    threshold_rule=spec,
                    threshold=finite_or_str(op.threshold),
                )
                for m, ci in cis.items()
            }
        out[domain] = entry
    section.metrics["per_domain"] = out
