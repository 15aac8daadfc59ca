"""The benchmark: strategies x variants x seeds (x folds) trained and evaluated in and out of
distribution, every result in one SQLite store (see ``docs/benchmark.md``)."""

from __future__ import annotations

from medbalance.benchmark.store import (
    CellRecord,
    MetricRecord,
    ResultsStore,
    UnitRecord,
    metric_records_from_json,
)

__all__ = ["CellRecord", "MetricRecord", "ResultsStore", "UnitRecord", "metric_records_from_json"]
