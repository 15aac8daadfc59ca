"""CLI command ``evaluate``: a run folder's predictions -> metrics.json, operating_points.csv, figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medbalance.cli._config_file import config_file_option

if TYPE_CHECKING:
    from medbalance.evaluation.evaluate import EvaluationResult

__all__ = ["register"]


def _parse_prevalences(text: str) -> tuple[float, ...]:
    from medbalance.errors import ConfigError

    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise ConfigError(
                f"--deployment-prevalence: {part!r} is not a number; write e.g. --deployment-prevalence 0.01,0.05."
            ) from None
    return tuple(values)


def evaluate(
    run_dir: Path = typer.Argument(
        ..., help="Run folder with summary.json, predictions_val.csv, predictions_test.csv."
    ),
    level: str = typer.Option("image", "--level", help="Aggregate to: image, breast, lesion or patient."),
    aggregate: str = typer.Option(
        "mean", "--aggregate", help="How images combine: mean (Walsh & Tardy) or max."
    ),
    rule: list[str] = typer.Option(
        ["fixed", "youden", "target-sensitivity:0.9"],
        "--rule",
        help="Threshold rule chosen on validation, repeatable: fixed[:t], youden, max-f1, max-mcc, "
        "target-sensitivity:0.9, target-specificity:0.9, min-cost[:ratio].",
    ),
    cost_ratio: float | None = typer.Option(
        None, "--cost-ratio", help="Cost of a false negative / false positive; adds min-cost."
    ),
    prevalence: float | None = typer.Option(
        None, "--prevalence", help="Prevalence for min-cost (default: validation's)."
    ),
    deployment_prevalence: str = typer.Option(
        "", "--deployment-prevalence", help="Comma list, e.g. 0.01,0.05: PPV/NPV/cost there."
    ),
    n_bootstrap: int = typer.Option(1000, "--n-bootstrap", help="Bootstrap resamples for every interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the resampling."),
    training_prior: str = typer.Option(
        "auto", "--training-prior", help="Prior the model learned: auto, balanced or counts."
    ),
    on_label_conflict: str = typer.Option(
        "error", "--on-label-conflict", help="error, or max (positive label wins)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default RUN_DIR/evaluation)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Evaluate a run: metrics with CIs, operating points chosen on validation, calibration, prevalence, figures."""
    from medbalance.config import parse_config
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

    config = parse_config(
        EvaluateConfig,
        {
            "level": level, "aggregate": aggregate, "rules": tuple(rule), "cost_ratio": cost_ratio,
            "prevalence": prevalence, "deployment_prevalences": _parse_prevalences(deployment_prevalence),
            "n_bootstrap": n_bootstrap, "seed": seed, "training_prior": training_prior,
            "on_label_conflict": on_label_conflict, "out_dir": None if out is None else str(out), "overwrite": overwrite,
        },
        where="evaluate options",
    )  # fmt: skip
    result = evaluate_run(run_dir, config)
    _print_summary(result)


def _print_summary(result: EvaluationResult) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    agg = result.metrics["evaluation"]["aggregation"]["test"]
    intervals = result.metrics["evaluation"]["intervals"]
    table = Table(
        title=f"{result.task} evaluation, test set, {result.level} level ({agg['n_units']} units from {agg['n_images']} images)",
        caption=f"{intervals['level']:.0%} {intervals['method']} bootstrap CIs, {intervals['n_bootstrap']} resamples; "
        f"{intervals['note']}. Thresholds chosen on validation.",
    )  # fmt: skip
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("estimate [CI]", overflow="fold")
    for label, text in result.summary_rows:
        table.add_row(label, text)
    console.print(table)
    positive = result.metrics["run"].get("positive_class")
    if positive:
        console.print(
            escape(f"positive class: {positive!r} (sensitivity, PPV and AUPRC are about it)"), highlight=False
        )
    for warning in result.warnings:
        console.print(f"[bold yellow]warning:[/] {escape(str(warning))}", highlight=False, soft_wrap=True)
    console.print(
        f"wrote {result.out_dir}/metrics.json, operating_points.csv and {len(result.figures)} figures in figures/"
    )


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""
    from medbalance.cli._help import show_config_defaults
    from medbalance.evaluation.evaluate import EvaluateConfig

    fields = {"deployment_prevalence": "deployment_prevalences"}
    app.command("evaluate")(show_config_defaults(evaluate, EvaluateConfig, fields=fields))
