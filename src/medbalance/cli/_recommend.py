"""CLI command ``recommend``: the strategy and threshold meeting a constraint on validation, with test evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]


def recommend(
    bench_dir: Path = typer.Argument(..., help="Benchmark folder (results.sqlite, units/)."),
    constraint: str = typer.Option(
        "",
        "--constraint",
        help='Minimum to meet on validation: "sensitivity>=0.95" or "specificity>=0.9" '
        "(default: the benchmark config's constraint, else sensitivity>=0.9).",
    ),
    cost_fn: float | None = typer.Option(
        None, "--cost-fn", help="Instead of a target: cost of a missed cancer / a false alarm (e.g. 10)."
    ),
    prevalence: float | None = typer.Option(
        None, "--prevalence", help="Deployment prevalence (needed with --cost-fn; adds PPV/NPV there)."
    ),
    train_set: str | None = typer.Option(None, "--train-set", help="Training set, when there are several."),
    n_bootstrap: int = typer.Option(1000, "--n-bootstrap", help="Resamples of the test intervals."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Choose the strategy and threshold that meet the constraint best ON VALIDATION; report the test evidence.

    Writes DIR/recommendation.json. "Train normally and move the threshold" is one of the answers.
    """
    from medbalance.benchmark.recommend import constraint_for, write_recommendation
    from medbalance.benchmark.recommend import recommend as run_recommend

    parsed = constraint_for(bench_dir, constraint or None, cost_fn, prevalence)
    result = run_recommend(bench_dir, parsed, train_set=train_set, n_bootstrap=n_bootstrap)
    path = write_recommendation(bench_dir, result)
    typer.echo(result.answer)
    for entry in result.test["per_seed"]:
        sens, spec = entry["sensitivity"], entry["specificity"]
        typer.echo(
            f"  seed {entry['seed']}: threshold {entry['threshold']:.3f}, test sensitivity {sens['estimate']:.3f} "
            f"[{sens['low']:.3f}, {sens['high']:.3f}], specificity {spec['estimate']:.3f} "
            f"[{spec['low']:.3f}, {spec['high']:.3f}] ({entry['n_positive']} positive of {entry['n_cases']})"
        )
    typer.echo(f"written: {path}")


def register(app: typer.Typer) -> None:
    """Add ``recommend`` to the app."""
    app.command("recommend")(recommend)
