"""Metric values that may be undefined, and macro means that never hide one.

A metric whose denominator is zero (no positive case, no predicted positive, a
class absent from the labels) is neither 0 nor a silent NaN: it is a
:class:`MetricValue` with ``defined=False`` and a ``reason`` a person can read.
A macro mean over classes that includes an undefined class is itself undefined,
and its reason names the class, so no class is ever dropped from an average
without the user seeing it.

Example:
    >>> MetricValue.of(0.82).to_dict()
    {'value': 0.82, 'defined': True, 'reason': ''}
    >>> MetricValue.undefined("no positive cases").value is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MetricValue", "compute_macro_mean", "metric_values_to_dict"]


@dataclass(frozen=True)
class MetricValue:
    """One metric: a finite number, or undefined with the reason.

    Attributes:
        value: the number, or None when undefined.
        defined: True exactly when ``value`` is a number.
        reason: why the metric is undefined ("" when defined).
    """

    value: float | None
    defined: bool
    reason: str = ""

    def __post_init__(self) -> None:
        if self.defined != (self.value is not None):
            raise ValueError(f"MetricValue: defined={self.defined} contradicts value={self.value!r}.")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(
                f"MetricValue: value must be finite, got {self.value!r}; "
                "use MetricValue.undefined(reason) for a metric that cannot be computed."
            )
        if not self.defined and not self.reason:
            raise ValueError("MetricValue: an undefined metric needs a reason.")

    @classmethod
    def of(cls, value: float) -> MetricValue:
        """A defined metric value (must be finite)."""
        return cls(value=float(value), defined=True)

    @classmethod
    def undefined(cls, reason: str) -> MetricValue:
        """An undefined metric value with the reason."""
        return cls(value=None, defined=False, reason=reason)

    @classmethod
    def from_float(cls, value: float, reason: str) -> MetricValue:
        """Defined when ``value`` is finite, else undefined with ``reason``."""
        if math.isfinite(value):
            return cls.of(value)
        return cls.undefined(reason)

    def __float__(self) -> float:
        if self.value is None:
            raise ValueError(f"metric is undefined: {self.reason}")
        return self.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping with keys value, defined, reason."""
        return {"value": self.value, "defined": self.defined, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.value:.4f}" if self.value is not None else f"undefined ({self.reason})"


def compute_macro_mean(per_class: Mapping[str, MetricValue], *, what: str) -> MetricValue:
    """Unweighted mean over classes, undefined when any class is undefined.

    Args:
        per_class: class name -> that class's metric value.
        what: the metric's name for the reason text, e.g. "one-vs-rest AUC".

    Returns:
        The mean, or an undefined value whose reason names every undefined class.
    """
    if not per_class:
        return MetricValue.undefined(f"macro {what} over zero classes")
    missing = {name: v.reason for name, v in per_class.items() if not v.defined}
    if missing:
        listed = "; ".join(f"class {name!r}: {reason}" for name, reason in missing.items())
        return MetricValue.undefined(f"macro {what} is undefined because it would drop {listed}")
    values = [float(v) for v in per_class.values()]
    return MetricValue.of(sum(values) / len(values))


def metric_values_to_dict(values: Mapping[str, MetricValue]) -> dict[str, dict[str, Any]]:
    """Turn a name -> MetricValue mapping into a JSON-ready dict."""
    return {name: value.to_dict() for name, value in values.items()}
