"""CLI commands ``benchmark`` (run or resume a grid) and ``benchmark merge`` (combine shards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]

benchmark_app = typer.Typer(
    help="Strategies x variants x seeds (x folds) trained and evaluated in and out of distribution.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",")]


@benchmark_app.callback()
def benchmark(
    ctx: typer.Context,
    config_file: Path | None = typer.Option(None, "--config", help="YAML config; flags override its keys."),
    set_: list[str] | None = typer.Option(
        None, "--set", help="Any config key, dotted for nested ones, e.g. --set evaluation.level=breast (repeatable)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Benchmark folder (store, cells, units)."),
    data: list[str] | None = typer.Option(None, "--data", help="A manifest CSV or 'phantoms' (repeatable)."),
    class_map: str | None = typer.Option(
        None, "--class-map", help="Re-label every --data manifest, e.g. 'melanoma=melanoma,*=rest'."
    ),
    positive_class: str | None = typer.Option(
        None, "--positive-class", help="The finding of interest of every --data set (binary tasks)."
    ),
    strategies: str | None = typer.Option(
        None, "--strategies", help="Comma-separated (default: all that apply)."
    ),
    seeds: int | None = typer.Option(None, "--seeds", help="Number of seeds (0..N-1)."),
    folds: int | None = typer.Option(None, "--folds", help="K-fold cross-validation, out-of-fold pooled."),
    variants: str | None = typer.Option(
        None, "--variants", help="Comma-separated training variants: '', sam, ema, sam+ema, aug=P, size=N."
    ),
    train: list[str] | None = typer.Option(None, "--train", help="Training setting KEY=VALUE (repeatable)."),
    level: str | None = typer.Option(
        None, "--level", help="Evaluation level: image, breast, lesion, patient."
    ),
    n_bootstrap: int | None = typer.Option(None, "--n-bootstrap", help="Bootstrap resamples per interval."),
    constraint: str | None = typer.Option(None, "--constraint", help="e.g. 'sensitivity>=0.95' (recommend)."),
    executor: str | None = typer.Option(None, "--executor", help="local or ray."),
    workers: int | None = typer.Option(None, "--workers", help="Cells in parallel (local executor)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster (default: local Ray)."),
    cpus_per_cell: float | None = typer.Option(None, "--cpus-per-cell", help="Ray: CPUs per cell task."),
    gpus_per_cell: float | None = typer.Option(None, "--gpus-per-cell", help="Ray: GPUs per cell task."),
    shard: str | None = typer.Option(None, "--shard", help="i/N: run cells i, i+N, ... (job arrays)."),
    resume: bool | None = typer.Option(None, "--resume", help="Skip finished cells, redo partial ones."),
    overwrite: bool | None = typer.Option(None, "--overwrite", help="Replace an existing benchmark folder."),
) -> None:
    """Run (or --resume) a benchmark: `medbalance benchmark --config bench.yaml --out DIR`."""
    if ctx.invoked_subcommand is not None:
        return
    from medbalance.benchmark.config import load_benchmark_config
    from medbalance.benchmark.progress import ProgressPrinter
    from medbalance.benchmark.run import run_benchmark
    from medbalance.cli._train import parse_key_values

    overrides: dict[str, Any] = {
        "out": None if out is None else str(out), "data": data or None, "strategies": _split(strategies),
        "seeds": seeds, "folds": folds, "variants": _split(variants), "constraint": constraint,
        "executor": executor, "workers": workers, "ray_address": ray_address, "shard": shard,
        "cpus_per_cell": cpus_per_cell, "gpus_per_cell": gpus_per_cell,
        "resume": resume, "overwrite": overwrite,
        "train": parse_key_values(train, option="--train") or None,
        "evaluation": {k: v for k, v in (("level", level), ("n_bootstrap", n_bootstrap)) if v is not None} or None,
    }  # fmt: skip
    if class_map is not None or positive_class is not None:
        if not data:
            raise typer.BadParameter(
                "applies to the --data sets; in a config file write data[].class_map / data[].positive_class.",
                param_hint="--class-map/--positive-class",
            )
        from medbalance.benchmark.config import data_from_flags
        from medbalance.data.class_map import parse_class_map

        extra: dict[str, Any] = {"class_map": None if class_map is None else parse_class_map(class_map),
                                 "positive_class": positive_class}  # fmt: skip
        extra = {k: v for k, v in extra.items() if v is not None}
        overrides["data"] = [{**entry, **extra} for entry in data_from_flags(data)]
    overrides.update(parse_key_values(set_, option="--set"))
    if config_file is None and out is None:
        raise typer.BadParameter("pass --out DIR (or --config bench.yaml with 'out:').", param_hint="--out")
    settings = load_benchmark_config(config_file, overrides)
    result = run_benchmark(settings, on_event=ProgressPrinter(workers=settings.workers))
    typer.echo(
        f"{len(result.ran)} cell(s) run, {len(result.skipped)} kept from before, {len(result.failed)} failed; "
        f"results in {result.store}"
    )
    if result.failed:
        typer.echo(
            "failed: " + ", ".join(result.failed) + " (see cells/<id>.console.log; --resume redoes them)"
        )
        raise typer.Exit(1)


@benchmark_app.command("merge")
def merge(
    shards: list[Path] = typer.Argument(..., help="Shard folders (each a --shard i/N benchmark folder)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the merged benchmark."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Combine shard folders (stores, cells, units) into one benchmark folder."""
    from medbalance.benchmark.merge import merge_benchmarks

    result = merge_benchmarks(shards, out, overwrite=overwrite)
    typer.echo(f"merged {len(shards)} shard(s): {result.n_cells} cell(s), {result.n_units} unit(s) in {out}")


def register(app: typer.Typer) -> None:
    """Add the ``benchmark`` command group to ``app``."""
    from medbalance.benchmark.config import BenchmarkConfig
    from medbalance.cli._help import show_config_defaults

    show_config_defaults(
        benchmark, BenchmarkConfig, fields={"level": "evaluation.level", "n_bootstrap": "evaluation.n_bootstrap"}
    )
    app.add_typer(benchmark_app, name="benchmark")
