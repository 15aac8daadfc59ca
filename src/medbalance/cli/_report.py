"""CLI command ``report``: a benchmark folder -> leaderboard.csv/.md and one self-contained report.html."""

from __future__ import annotations

from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]


def report(
    bench_dir: Path = typer.Argument(..., help="Benchmark folder (results.sqlite, units/)."),
    constraint: str = typer.Option(
        "",
        "--constraint",
        help='Constraint of the recommendation, e.g. "sensitivity>=0.95" '
        "(default: the benchmark config's, else sensitivity>=0.9).",
    ),
    deployment_prevalence: float = typer.Option(
        0.01, "--deployment-prevalence", help="Prevalence where PPV and NPV are reported."
    ),
    n_bootstrap: int = typer.Option(
        1000, "--n-bootstrap", help="Resamples of the recommendation's intervals."
    ),
    explain: bool = typer.Option(
        True, "--explain/--no-explain",
        help="Export the recommended model to DIR/model and add its Grad-CAM sheet and t-SNE (DIR/explain).",
    ),
    config_file: Path | None = config_file_option(),
) -> None:
    """Write DIR/leaderboard.csv, DIR/leaderboard.md, DIR/recommendation.json and DIR/report.html (opens offline)."""
    from medbalance.report.html import ReportConfig, write_report

    result = write_report(
        bench_dir,
        ReportConfig(
            constraint=constraint, deployment_prevalence=deployment_prevalence, n_bootstrap=n_bootstrap,
            explain=explain,
        ),
    )
    typer.echo(f"report: {result}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the app."""
    app.command("report")(report)
