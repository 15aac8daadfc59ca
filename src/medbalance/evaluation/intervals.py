"""The confidence-interval record every interval method returns."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ConfidenceInterval"]


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with its confidence interval, or undefined with the reason.

    Attributes:
        metric: the metric's name, e.g. "auc_roc".
        estimate: the metric on all cases (None when undefined there).
        low: lower bound (None when the interval is undefined).
        high: upper bound (None when the interval is undefined).
        level: confidence level, e.g. 0.95.
        method: "percentile", "bca" or "delong".
        n_resamples: bootstrap resamples drawn (0 for DeLong).
        n_failed: resamples on which the metric was undefined (e.g. no predicted
            positive); they are left out of the quantiles and counted here.
        std_error: bootstrap standard deviation of the replicates, or DeLong's
            standard error.
        clustered: True when clusters (patients), not cases, were resampled.
        reason: why the interval is undefined ("" when defined).
    """

    metric: str
    estimate: float | None
    low: float | None
    high: float | None
    level: float
    method: str
    n_resamples: int = 0
    n_failed: int = 0
    std_error: float | None = None
    clustered: bool = False
    reason: str = ""

    def __post_init__(self) -> None:
        for name in ("estimate", "low", "high", "std_error"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"ConfidenceInterval.{name} must be finite or None, got {value!r}.")
        if (self.low is None) != (self.high is None):
            raise ValueError("ConfidenceInterval: low and high must both be set or both be None.")
        if self.low is None and not self.reason:
            raise ValueError("ConfidenceInterval: an undefined interval needs a reason.")

    @property
    def defined(self) -> bool:
        """True when both bounds exist."""
        return self.low is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every field plus ``defined``."""
        return {**asdict(self), "defined": self.defined}

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.metric}: undefined ({self.reason})"
        est = f"{self.estimate:.4f}" if self.estimate is not None else "n/a"
        return f"{self.metric}: {est} [{self.low:.4f}, {self.high:.4f}] ({self.level:.0%} {self.method})"
