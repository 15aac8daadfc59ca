"""medbalance: train and evaluate medical image classifiers under class imbalance.

The notebook API (the CLI's configs, results as objects)::

    import medbalance as mb
    run = mb.train(out="runs/a", data="phantoms", strategy="class-weight", epochs=5)
    run.model, run.to_frame()                  # the trained network, the per-epoch history
    ev = mb.evaluate(run, level="breast")      # ev.to_frame(): headline metrics with intervals
    bench = mb.benchmark(data=["phantoms"], strategies=["none", "oversample"], out="bench/a")
    mb.leaderboard(bench)                      # strategies x metrics, mean/sd/intervals over seeds

Names are imported on first use, so ``import medbalance`` stays fast (no torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "train": "medbalance.api",
    "evaluate": "medbalance.api",
    "leaderboard": "medbalance.api",
    "TrainConfig": "medbalance.training.config",
    "load_train_config": "medbalance.training.config",
    "RunResult": "medbalance.training.run",
    "EvaluateConfig": "medbalance.evaluation.evaluate",
    "EvaluationResult": "medbalance.evaluation.evaluate",
    "evaluate_run": "medbalance.evaluation.evaluate",
    "BenchmarkConfig": "medbalance.benchmark.config",
    "load_benchmark_config": "medbalance.benchmark.config",
    "BenchmarkResult": "medbalance.benchmark.run",
    "run_benchmark": "medbalance.benchmark.run",
    "export_bundle": "medbalance.inference",
    "load_bundle": "medbalance.inference",
    "create_model": "medbalance.training.models",
    "create_strategy": "medbalance.strategies",
    "list_strategies": "medbalance.strategies",
}

__all__ = [
    "BenchmarkConfig",
    "BenchmarkResult",
    "EvaluateConfig",
    "EvaluationResult",
    "RunResult",
    "TrainConfig",
    "__version__",
    "benchmark",
    "create_model",
    "create_strategy",
    "evaluate",
    "evaluate_run",
    "export_bundle",
    "leaderboard",
    "list_strategies",
    "load_benchmark_config",
    "load_bundle",
    "load_train_config",
    "run_benchmark",
    "train",
]

if TYPE_CHECKING:
    from medbalance import benchmark  # a package; calling it runs medbalance.benchmark.run.benchmark
    from medbalance.api import evaluate, leaderboard, train
    from medbalance.benchmark.config import BenchmarkConfig, load_benchmark_config
    from medbalance.benchmark.run import BenchmarkResult, run_benchmark
    from medbalance.evaluation.evaluate import EvaluateConfig, EvaluationResult, evaluate_run
    from medbalance.inference import export_bundle, load_bundle
    from medbalance.strategies import create_strategy, list_strategies
    from medbalance.training.config import TrainConfig, load_train_config
    from medbalance.training.models import create_model
    from medbalance.training.run import RunResult


def __getattr__(name: str) -> Any:
    if name == "benchmark":  # the subpackage, callable: mb.benchmark(...) runs one
        return importlib.import_module("medbalance.benchmark")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medbalance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | {"benchmark"})
