"""Resampling weights and interval formulas for the bootstrap (private).

A resample is stored as integer draw counts per case (or per cluster, then
copied to the cluster's cases), so metrics can be evaluated for many resamples
in one matrix operation. Rows are produced in chunks to bound memory; the
chunk size depends only on the data size, so a seed gives the same answer
every time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.stats import norm

__all__ = ["ResamplingPlan", "compute_bca_bounds", "compute_percentile_bounds"]

_MAX_CELLS = 2_000_000  # weight-matrix cells per chunk (16 MB of float64)


class ResamplingPlan:
    """How cases are drawn: units (cases or clusters), strata of units.

    Args:
        y: 0/1 labels per case.
        groups: cluster code per case (0..C-1) or None to resample cases.
        stratify: draw within strata (class, or "has a positive" for clusters)
            so each resample keeps the stratum sizes.
    """

    def __init__(self, y: np.ndarray, groups: np.ndarray | None, *, stratify: bool) -> None:
        self.n_cases = y.size
        if groups is None:
            self.unit_of_case = np.arange(y.size)
            unit_stratum = y.astype(np.int64)
        else:
            self.unit_of_case = groups
            unit_stratum = np.zeros(int(groups.max()) + 1, dtype=np.int64)
            np.maximum.at(unit_stratum, groups, y.astype(np.int64))
        self.clustered = groups is not None
        self.n_units = unit_stratum.size
        if not stratify:
            unit_stratum = np.zeros_like(unit_stratum)
        self.strata = [np.flatnonzero(unit_stratum == s) for s in np.unique(unit_stratum)]

    def _chunk_rows(self) -> int:
        return max(1, _MAX_CELLS // max(self.n_cases, self.n_units))

    def _expand(self, unit_weights: np.ndarray) -> np.ndarray:
        return unit_weights if not self.clustered else unit_weights[:, self.unit_of_case]

    def resample_weights(self, n_resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Yield (rows, n_cases) float64 draw-count matrices, n_resamples rows in all."""
        step = self._chunk_rows()
        for start in range(0, n_resamples, step):
            rows = min(step, n_resamples - start)
            unit_weights = np.zeros((rows, self.n_units))
            for members in self.strata:
                m = members.size
                draws = rng.integers(0, m, size=(rows, m)) + (np.arange(rows) * m)[:, None]
                unit_weights[:, members] = np.bincount(draws.ravel(), minlength=rows * m).reshape(rows, m)
            yield self._expand(unit_weights)

    def jackknife_weights(self) -> Iterator[np.ndarray]:
        """Yield (rows, n_cases) 0/1 matrices, each row leaving one unit out."""
        step = self._chunk_rows()
        for start in range(0, self.n_units, step):
            left_out = np.arange(start, min(start + step, self.n_units))
            yield (self.unit_of_case[None, :] != left_out[:, None]).astype(np.float64)


def compute_percentile_bounds(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """Quantiles (1 - level) / 2 and (1 + level) / 2 of the replicates."""
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return float(low), float(high)


def compute_bca_bounds(
    replicates: np.ndarray, estimate: float, jackknife: np.ndarray, level: float
) -> tuple[float, float] | str:
    """Bias-corrected and accelerated bounds (Efron 1987), or the reason they do not exist.

    Bias correction z0 counts replicates below the estimate, ties as one half.
    The acceleration comes from the jackknife values (leave one unit out);
    undefined jackknife values are left out.
    """
    share = (np.sum(replicates < estimate) + 0.5 * np.sum(replicates == estimate)) / replicates.size
    if share <= 0.0 or share >= 1.0:
        return "BCa needs replicates on both sides of the estimate; all fell on one side"
    z0 = float(norm.ppf(share))
    jk = jackknife[np.isfinite(jackknife)]
    deviations = jk.mean() - jk if jk.size else np.zeros(1)
    spread = float(np.sum(deviations**2))
    accel = float(np.sum(deviations**3)) / (6.0 * spread**1.5) if spread > 0 else 0.0
    alpha = (1.0 - level) / 2.0
    z = norm.ppf([alpha, 1.0 - alpha])
    adjusted = norm.cdf(z0 + (z0 + z) / (1.0 - accel * (z0 + z)))
    if not np.all(np.isfinite(adjusted)) or np.any(1.0 - accel * (z0 + z) <= 0):
        return f"BCa adjustment is degenerate (acceleration {accel:.3g}); use the percentile interval"
    low, high = np.quantile(replicates, adjusted)
    return float(low), float(high)
