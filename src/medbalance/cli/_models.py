"""CLI command ``models``: list the models ``--model`` accepts."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

console = Console()


def models(
    filter: str | None = typer.Option(
        None,
        "--filter",
        "-f",
        help="Shell-style pattern, e.g. 'resnet*' or '*efficientnet_b?': also lists matching timm models.",
    ),
) -> None:
    """List medbalance's own models and, with --filter, matching timm models."""
    from medbalance.training.models import list_models

    entries = list_models(filter)
    table = Table(title="Models for --model" + (f" matching {filter!r}" if filter else ""))
    for column in ("name", "source", "pretrained weights", "description"):
        table.add_column(column, overflow="fold")
    for e in entries:
        weights = "hub or --weights" if e.pretrained else "--weights only"
        table.add_row(e.name, e.source, weights, e.description)
    console.print(table)
    if not entries:
        console.print(f"no model matches {filter!r}; try a wider pattern such as 'resnet*'.")
    if filter is None:
        console.print("Any timm model works too: list them with `medbalance models --filter 'resnet*'`.")


def register(app: typer.Typer) -> None:
    """Add the ``models`` command to ``app``."""
    app.command("models")(models)
