"""Flatten an ``evaluate_run`` metrics.json into rows of the store's ``metrics`` table.

Names are the ones metrics.json uses (one name per metric everywhere), with two
qualifiers where the same metric appears more than once:

- per-domain results: ``"<metric>@<domain>"`` (e.g. ``auc_roc@vendor-a``);
- recalibration: ``"<metric>_<method>"`` (e.g. ``ece_after_temperature``).

Threshold-free metrics have ``rule == ""``; validation metrics at an operating
point (from ``operating_point.val_metrics``) have ``split == "val"``, and the
threshold a rule chose on validation is the row ``(split="val", rule, metric="threshold")``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MetricRecord", "metric_records_from_json"]


@dataclass(frozen=True)
class MetricRecord:
    """One row of ``metrics``: an estimate with its interval (None when not computed or undefined)."""

    level: str
    split: str
    rule: str
    metric: str
    estimate: float | None
    low: float | None = None
    high: float | None = None
    undefined_reason: str = ""


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _is_ci(node: Mapping[str, Any]) -> bool:
    return "estimate" in node and "metric" in node


def _is_value(node: Mapping[str, Any]) -> bool:
    return "value" in node and "defined" in node and not isinstance(node["value"], dict | list)


def _record(node: Mapping[str, Any], level: str, split: str, rule: str, metric: str) -> MetricRecord:
    defined = bool(node.get("defined", True))
    reason = "" if defined else str(node.get("reason") or "undefined")
    if _is_ci(node):
        return MetricRecord(level, split, rule, metric, _num(node.get("estimate")), _num(node.get("low")),
                            _num(node.get("high")), reason)  # fmt: skip
    return MetricRecord(level, split, rule, metric, _num(node.get("value")), None, None, reason)


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if _is_ci(node) or _is_value(node):
            yield path, node
            return
        for key, child in node.items():
            yield from _walk(child, (*path, str(key)))


def _name(path: tuple[str, ...], node: Mapping[str, Any]) -> tuple[str, str, str]:
    """(split, rule, metric) for one entry found at ``path``."""
    split = str(node.get("split") or "test")
    rule = str(node.get("threshold_rule") or "")
    head, rest = path[0], path[1:]
    if head == "threshold_free":
        return split, "", rest[-1]
    if head == "operating_points":
        if "val_metrics" in rest:
            return "val", rest[0], rest[-1]
        return split, rest[0], rest[-1]
    if head == "per_domain":
        return split, rest[1] if len(rest) == 3 else rule, f"{rest[-1]}@{rest[0]}"
    if head == "calibration" and len(rest) >= 2 and rest[0] == "test_raw":
        return "test", "", rest[-1]
    if head == "calibration" and len(rest) >= 3 and rest[0] == "recalibrated":
        return "test", "", f"{rest[-1]}_{rest[1]}"
    if head == "calibration" and len(rest) >= 3 and rest[0] == "prior":
        return "test", "", f"{rest[-1]}_{rest[1]}"
    return split, rule, "/".join(path)


def metric_records_from_json(metrics: Mapping[str, Any], level: str | None = None) -> list[MetricRecord]:
    """Every reported number of a metrics.json, one :class:`MetricRecord` each.

    Args:
        metrics: the parsed metrics.json of ``evaluate_run``.
        level: aggregation level (default: the level evaluate_run recorded).

    Returns:
        Records with unique (level, split, rule, metric); the first entry wins when two
        sections report the same number (e.g. the Brier score in threshold_free and calibration).
    """
    if level is None:
        agg = metrics.get("evaluation", {}).get("aggregation", {}).get("test", {})
        level = str(agg.get("level", "image")) if isinstance(agg, Mapping) else "image"
    out: dict[tuple[str, str, str], MetricRecord] = {}
    for key, section in metrics.items():
        if key in ("run", "evaluation", "warnings"):
            continue
        for path, node in _walk(section, (str(key),)):
            split, rule, metric = _name(path, node)
            out.setdefault((split, rule, metric), _record(node, level, split, rule, metric))
    for rule, entry in (metrics.get("operating_points") or {}).items():
        point = entry.get("operating_point") if isinstance(entry, Mapping) else None
        if isinstance(point, Mapping) and "threshold" in point:
            out.setdefault(("val", str(rule), "threshold"),
                           MetricRecord(level, "val", str(rule), "threshold", _num(point["threshold"])))  # fmt: skip
    return list(out.values())
