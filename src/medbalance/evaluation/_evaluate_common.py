"""Pieces shared by the binary and multi-class evaluation of a run (private)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medbalance.errors import ConfigError
from medbalance.evaluation.intervals import ConfidenceInterval
from medbalance.evaluation.thresholds import list_threshold_rules
from medbalance.evaluation.undefined import MetricValue
from medbalance.registry import look_up_option

__all__ = [
    "Section",
    "ci_entry",
    "finite_or_str",
    "metric_entry",
    "parse_rule_spec",
    "patient_groups",
    "small_sample_warning",
]

_RULE_VALUE = {
    "fixed": "threshold",
    "target-sensitivity": "target",
    "target-specificity": "target",
    "min-cost": "cost_ratio",
}


@dataclass
class Section:
    """What one evaluation part adds to metrics.json, operating_points.csv, figures and warnings."""

    metrics: dict[str, Any] = field(default_factory=dict)
    operating_points: list[dict[str, Any]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary_rows: list[tuple[str, str]] = field(default_factory=list)


def parse_rule_spec(
    spec: str, *, cost_ratio: float | None, prevalence: float | None
) -> tuple[str, dict[str, Any]]:
    """ "target-sensitivity:0.9" -> ("target-sensitivity", {"target": 0.9}); min-cost takes the config's costs.

    Raises:
        ConfigError: unknown rule (with "did you mean"), a non-numeric value, a value on a rule
            without one, or min-cost without a cost ratio.
    """
    name, _, value = str(spec).strip().partition(":")
    name = look_up_option(name.strip(), list_threshold_rules(), what="threshold rule")
    params: dict[str, Any] = {}
    if value.strip():
        if name not in _RULE_VALUE:
            raise ConfigError(f"threshold rule {name!r} takes no value, got {spec!r}; write just {name!r}.")
        try:
            params[_RULE_VALUE[name]] = float(value)
        except ValueError:
            raise ConfigError(
                f"threshold rule {spec!r}: {value!r} is not a number; write e.g. 'target-sensitivity:0.9'."
            ) from None
    if name == "min-cost":
        params.setdefault("cost_ratio", cost_ratio)
        if params["cost_ratio"] is None:
            raise ConfigError(
                "threshold rule 'min-cost' needs a cost ratio (cost of a false negative / cost of a false "
                "positive): pass --cost-ratio 10 or write 'min-cost:10'."
            )
        if prevalence is not None:
            params["prevalence"] = prevalence
    return name, params


def finite_or_str(x: float) -> float | str:
    """A float, or "inf"/"-inf" for JSON."""
    return float(x) if math.isfinite(x) else str(x)


def ci_entry(ci: ConfidenceInterval, *, level: str, split: str = "test", **context: Any) -> dict[str, Any]:
    """One reported number: estimate, CI, how the CI was made, the aggregation level and context."""
    out = ci.to_dict()
    out["ci_level"] = out.pop("level")
    out["ci_method"] = out.pop("method")
    return {**out, "aggregation_level": level, "split": split, **context}


def metric_entry(value: MetricValue, *, level: str, split: str, **context: Any) -> dict[str, Any]:
    """One reported number without an interval."""
    return {**value.to_dict(), "aggregation_level": level, "split": split, **context}


def patient_groups(patient_ids: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Patient ids for clustered intervals, or None (resample cases) with the reason."""
    ids = np.asarray(patient_ids).astype(str)
    blank = np.char.strip(ids) == ""
    if blank.any():
        return (
            None,
            f"{int(blank.sum())} case(s) lack a patient id, so intervals resample cases, not patients",
        )
    if np.unique(ids).size == ids.size:
        return ids, "one case per patient: resampling patients equals resampling cases"
    return ids, "intervals resample whole patients (clustered bootstrap)"


MIN_UNITS_PER_CLASS = 10


def small_sample_warning(labels: np.ndarray, groups: np.ndarray | None, class_names: tuple[str, ...]) -> str:
    """A warning when a class has fewer than 10 resampling units (patients, or cases) in the test set.

    The bootstrap is stratified, so it keeps the number of patients with and
    without a given class fixed; with very few of them the intervals are too
    narrow (with one positive patient, every AUC replicate is the same).
    """
    units = "patients" if groups is not None else "cases"
    few = []
    for k, name in enumerate(class_names):
        n = np.unique(groups[labels == k]).size if groups is not None else int(np.sum(labels == k))
        if n < MIN_UNITS_PER_CLASS:
            few.append(f"{n} {units} with class {name!r}")
    if not few:
        return ""
    return (
        f"intervals are unreliable: the test set has only {', '.join(few)} (fewer than {MIN_UNITS_PER_CLASS}); "
        "the stratified bootstrap keeps these counts fixed, so intervals can be far too narrow, even of zero width"
    )
