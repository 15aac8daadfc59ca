"""The notebook API: ``mb.train``, ``mb.evaluate``, ``mb.benchmark`` with the CLI's configs.

Each function takes a config object, a YAML path or nothing, plus keyword options
(the config's keys, as in the YAML files); options override the config's keys, and
everything is parsed as strictly as the CLI parses it (unknown keys are errors with
"did you mean").

Example:
    >>> import medbalance as mb
    >>> run = mb.train(out="runs/a", data="phantoms", epochs=2)  # doctest: +SKIP
    >>> run.model, run.summary["test_metrics"]["auc_roc"], run.to_frame()  # doctest: +SKIP
    >>> ev = mb.evaluate(run, level="breast", n_bootstrap=200)  # doctest: +SKIP
    >>> ev.to_frame()  # doctest: +SKIP
    >>> bench = mb.benchmark(data=["phantoms"], strategies=["none", "oversample"], out="bench/a")  # doctest: +SKIP
    >>> mb.leaderboard(bench)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medbalance.config import config_to_dict, merge_config_layers, parse_config
from medbalance.errors import ConfigError

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import Callback

    from medbalance.benchmark._cell import BenchmarkEvent
    from medbalance.benchmark.config import BenchmarkConfig
    from medbalance.benchmark.run import BenchmarkResult
    from medbalance.evaluation.evaluate import EvaluateConfig, EvaluationResult
    from medbalance.training.config import TrainConfig
    from medbalance.training.run import RunResult

__all__ = ["benchmark", "evaluate", "leaderboard", "train"]


def _train_config(config: TrainConfig | str | Path | Mapping[str, Any] | None, options: Mapping[str, Any]) -> Any:
    from medbalance.training.config import TrainConfig, load_train_config

    if isinstance(config, TrainConfig) and not options:
        return config
    if isinstance(config, TrainConfig | Mapping):
        base = config_to_dict(config) if isinstance(config, TrainConfig) else config
        # flat or nested keys in either: an option overrides the config's key however each is spelt
        return load_train_config(None, merge_config_layers(TrainConfig, base, options, where="train options"))
    return load_train_config(config, options)


def train(
    config: TrainConfig | str | Path | Mapping[str, Any] | None = None,
    /,
    *,
    callbacks: Sequence[Callback] = (),
    cache_progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> RunResult:
    """Train one classifier (``medbalance train``) and return its run.

    Args:
        config: a :class:`~medbalance.training.config.TrainConfig`, a YAML file
            (as ``--config``), a mapping of its keys, or None.
        callbacks: extra Lightning callbacks.
        cache_progress: called with (done, total) while images are preprocessed into
            the cache, e.g. ``lambda done, total: print(f"{done}/{total}", end="\r")``
            (medbalance draws no bar itself outside the CLI; ``progress=True`` switches
            Lightning's epoch bar).
        **options: ``TrainConfig`` keys (``out``, ``data``, ``strategy``, ``epochs``, ...), flat
            or by section (``optim={"epochs": 5}``); they override ``config``'s however each
            spells the key.

    Returns:
        A :class:`~medbalance.training.run.RunResult`: ``out``, ``status``, ``summary``,
        ``model`` (the best checkpoint's network, in eval mode) and ``to_frame()`` (history).

    Raises:
        ConfigError: unknown keys or bad values (before anything is written).
    """
    from medbalance.training.run import train as run_training

    return run_training(_train_config(config, options), callbacks=callbacks, cache_progress=cache_progress)


def _run_dir(run: Any) -> Path:
    out = getattr(run, "out", run)
    if not isinstance(out, str | Path):
        raise ConfigError(f"expected a folder or the result of mb.train / mb.benchmark, got {type(run).__name__}.")
    return Path(out)


def evaluate(run: RunResult | str | Path, config: EvaluateConfig | None = None, /, **options: Any) -> EvaluationResult:
    """Evaluate a run folder (``medbalance evaluate``): metrics.json, operating points, figures.

    Args:
        run: the result of :func:`train` or a run folder.
        config: an :class:`~medbalance.evaluation.evaluate.EvaluateConfig`, or None.
        **options: ``EvaluateConfig`` keys (``level``, ``rules``, ``n_bootstrap``, ...);
            they override ``config``'s.

    Returns:
        An :class:`~medbalance.evaluation.evaluate.EvaluationResult` (``to_frame()``: the
        headline metrics with their intervals; ``show()``: the figures, inline in a notebook).
    """
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

    values = {**(config_to_dict(config) if config is not None else {}), **options}
    parsed = parse_config(EvaluateConfig, values, where="evaluate options")
    return evaluate_run(_run_dir(run), parsed)


def benchmark(
    config: BenchmarkConfig | str | Path | None = None,
    /,
    *,
    on_event: Callable[[BenchmarkEvent], None] | None = None,
    **options: Any,
) -> BenchmarkResult:
    """Run or resume a benchmark (``medbalance benchmark``): :func:`medbalance.benchmark.run.benchmark`."""
    from medbalance.benchmark.run import benchmark as run

    return run(config, on_event=on_event, **options)


def leaderboard(bench: BenchmarkResult | str | Path, *, split: str = "test") -> Any:
    """The benchmark's leaderboard as a DataFrame (what ``leaderboard.csv`` holds).

    One row per (train set, test set, level, strategy, variant), with each metric's mean,
    sd, min and max over seeds and the mean interval bounds (``auc_roc_mean``,
    ``auc_roc_low``, ``sensitivity@youden_mean``, ...).

    Args:
        bench: the result of :func:`benchmark` or a benchmark folder.
        split: ``test`` (default) or ``val``.
    """
    from medbalance.benchmark.leaderboard import load_benchmark_frames, summarize_over_seeds, wide_leaderboard

    _, metrics = load_benchmark_frames(_run_dir(bench))
    return wide_leaderboard(summarize_over_seeds(metrics, split))
