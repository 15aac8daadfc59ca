"""Threshold candidates and the rules that pick one (private).

Candidates are +inf (nothing called positive), every distinct validation score
in descending order (a case is positive when score >= threshold, so tied
cases always fall on the same side), and -inf (everything positive). A rule
returns its chosen threshold (``fixed`` returns the stated one). When several candidates reach the same
objective value (within 1e-12), the LARGEST threshold wins: fewer positive
calls for the same score on the rule's criterion. The target rules break ties
on their objective by the other metric first (e.g. target-sensitivity: the
highest specificity, then the highest sensitivity, then the largest threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medbalance.errors import ConfigError
from medbalance.evaluation._counts import COUNT_METRICS
from medbalance.registry import Registry, look_up_option

__all__ = ["THRESHOLD_RULES", "ThresholdCurve", "ThresholdRule", "resolve_rule_params"]


@dataclass(frozen=True)
class ThresholdCurve:
    """Confusion counts at every candidate threshold (descending thresholds)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray

    @classmethod
    def from_scores(cls, y: np.ndarray, score: np.ndarray) -> ThresholdCurve:
        distinct = np.unique(score)[::-1]
        thresholds = np.concatenate([[np.inf], distinct, [-np.inf]])
        pos = np.sort(score[y == 1])
        neg = np.sort(score[y == 0])
        # Cases with score >= t: size minus the count strictly below t.
        tp = (pos.size - np.searchsorted(pos, thresholds, side="left")).astype(np.float64)
        fp = (neg.size - np.searchsorted(neg, thresholds, side="left")).astype(np.float64)
        return cls(thresholds, tp, fp, neg.size - fp, pos.size - tp)

    def metric(self, name: str) -> np.ndarray:
        """A count metric at every candidate (NaN where undefined)."""
        return COUNT_METRICS[name](self.tp, self.fp, self.tn, self.fn)


def _best(curve: ThresholdCurve, objective: np.ndarray) -> float:
    """Threshold of the largest finite objective; ties go to the largest threshold."""
    values = np.where(np.isfinite(objective), objective, -np.inf)
    top = values.max()
    return float(curve.thresholds[np.flatnonzero(values >= top - 1e-12)[0]])


@dataclass(frozen=True)
class ThresholdRule:
    """A rule: defaults of its parameters, their checks, and the chooser."""

    choose: Callable[[ThresholdCurve, Mapping[str, Any]], float]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    checks: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    expects: Mapping[str, str] = field(default_factory=dict)


THRESHOLD_RULES: Registry[ThresholdRule] = Registry("threshold rule")

_unit_open = {"target": lambda v: isinstance(v, int | float) and 0.0 < v <= 1.0}
_unit_text = {"target": "a number in (0, 1], e.g. 0.9"}


def _best_feasible(curve: ThresholdCurve, feasible: np.ndarray, primary: str, secondary: str) -> float:
    """Among feasible candidates: highest primary metric, then highest secondary, then largest threshold."""
    first = np.where(feasible, curve.metric(primary), -np.inf)
    tied = first >= first.max() - 1e-12
    return _best(curve, np.where(tied, curve.metric(secondary), -np.inf))


def _target_sensitivity(curve: ThresholdCurve, params: Mapping[str, Any]) -> float:
    feasible = curve.metric("sensitivity") >= params["target"] - 1e-12
    return _best_feasible(curve, feasible, "specificity", "sensitivity")


def _target_specificity(curve: ThresholdCurve, params: Mapping[str, Any]) -> float:
    feasible = curve.metric("specificity") >= params["target"] - 1e-12
    return _best_feasible(curve, feasible, "sensitivity", "specificity")


def _min_cost(curve: ThresholdCurve, params: Mapping[str, Any]) -> float:
    prevalence, ratio = params["prevalence"], params["cost_ratio"]
    miss = 1.0 - curve.metric("sensitivity")
    false_alarm = 1.0 - curve.metric("specificity")
    return _best(curve, -(ratio * prevalence * miss + (1.0 - prevalence) * false_alarm))


THRESHOLD_RULES.add(
    "fixed",
    ThresholdRule(lambda c, p: float(p["threshold"]), {"threshold": 0.5},
                  {"threshold": lambda v: isinstance(v, int | float) and not np.isnan(v)},
                  {"threshold": "a number, e.g. 0.5"}),
    description="a stated threshold (0.5 by default)",
)  # fmt: skip
THRESHOLD_RULES.add(
    "youden",
    ThresholdRule(lambda c, p: _best(c, c.metric("sensitivity") + c.metric("specificity") - 1.0)),
    description="maximum Youden's J = sensitivity + specificity - 1",
)
THRESHOLD_RULES.add(
    "max-f1",
    ThresholdRule(lambda c, p: _best(c, c.metric("f1"))),
    description="maximum F1 of the positive class",
)
THRESHOLD_RULES.add(
    "max-mcc",
    ThresholdRule(lambda c, p: _best(c, c.metric("mcc"))),
    description="maximum Matthews correlation",
)
THRESHOLD_RULES.add(
    "target-sensitivity",
    ThresholdRule(_target_sensitivity, {"target": 0.9}, _unit_open, _unit_text),
    description="sensitivity >= target with the highest specificity",
)
THRESHOLD_RULES.add(
    "target-specificity",
    ThresholdRule(_target_specificity, {"target": 0.9}, _unit_open, _unit_text),
    description="specificity >= target with the highest sensitivity",
)
THRESHOLD_RULES.add(
    "min-cost",
    ThresholdRule(
        _min_cost,
        {"cost_ratio": None, "prevalence": None},
        {
            "cost_ratio": lambda v: isinstance(v, int | float) and 0.0 < v < np.inf,
            "prevalence": lambda v: isinstance(v, int | float) and 0.0 < v < 1.0,
        },
        {
            "cost_ratio": "a positive number c_FN / c_FP, e.g. 10",
            "prevalence": "a number in (0, 1), the deployment prevalence",
        },
    ),
    description="minimum expected cost c_FN*pi*(1-sens) + c_FP*(1-pi)*(1-spec) for a cost ratio and prevalence",
)


def resolve_rule_params(
    name: str, rule: ThresholdRule, params: Mapping[str, Any], prevalence: float
) -> dict[str, Any]:
    """Defaults filled in, names and values checked; min-cost's prevalence defaults to validation's."""
    resolved = dict(rule.defaults)
    for key, value in params.items():
        if not rule.defaults:
            raise ConfigError(f"threshold rule {name!r} takes no parameters; got {key}={value!r}.")
        key = look_up_option(key, rule.defaults, what=f"parameter of threshold rule {name!r}")
        if isinstance(value, bool) or not rule.checks[key](value):
            raise ConfigError(f"threshold rule {name!r}: {key} must be {rule.expects[key]}; got {value!r}.")
        resolved[key] = float(value)
    if name == "min-cost":
        if resolved["cost_ratio"] is None:
            raise ConfigError(
                "threshold rule 'min-cost' needs cost_ratio = cost of a false negative / cost of a false "
                "positive, e.g. select_threshold(..., 'min-cost', cost_ratio=10)."
            )
        if resolved["prevalence"] is None:
            resolved["prevalence"] = prevalence
    return resolved
