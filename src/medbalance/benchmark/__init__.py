"""The benchmark: strategies x variants x seeds (x folds) trained and evaluated in and out of
distribution, every result in one SQLite store (see ``docs/benchmark.md``)."""

from __future__ import annotations

import sys
import types
from typing import Any

from medbalance.benchmark.store import (
    CellRecord,
    MetricRecord,
    ResultsStore,
    UnitRecord,
    metric_records_from_json,
)

__all__ = ["CellRecord", "MetricRecord", "ResultsStore", "UnitRecord", "metric_records_from_json"]


class _CallablePackage(types.ModuleType):
    """``mb.benchmark(...)`` runs a benchmark (:func:`medbalance.benchmark.run.benchmark`), while
    ``medbalance.benchmark`` stays the package: the name cannot be both a function and a
    subpackage of ``medbalance`` otherwise (importing the subpackage rebinds the name)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from medbalance.benchmark.run import benchmark

        return benchmark(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
