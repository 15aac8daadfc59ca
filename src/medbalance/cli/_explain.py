"""CLI command ``explain``: Grad-CAM contact sheet and t-SNE of a run's (or bundle's) test split."""

from __future__ import annotations

from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]


def explain(
    source: Path = typer.Argument(..., help="Evaluated run folder, or a bundle folder exported from one."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default SOURCE/explain)."),
    rule: str = typer.Option("target-sensitivity:0.9", "--rule", help="Threshold rule (run folders only)."),
    per_group: int = typer.Option(4, "--per-group", help="Images per group (TP, FN, FP) on the sheet."),
    tsne: bool = typer.Option(True, "--tsne/--no-tsne", help="Also draw the t-SNE of test embeddings."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Show what the model looked at: most confident TP, FN and FP of the test split, with lesion outlines."""
    from medbalance.inference.explain_run import explain_run

    result = explain_run(
        source, out, rule=rule, per_group=per_group, tsne=tsne, device=device, overwrite=overwrite
    )
    for path in result.files:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``explain`` command to ``app``."""
    app.command("explain")(explain)
