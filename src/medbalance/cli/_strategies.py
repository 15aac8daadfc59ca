"""CLI command ``strategies``: list the imbalance strategies ``--strategy`` accepts."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]


def _format_param(name: str, default: object, constraint: str) -> str:
    shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else str(default)
    return f"{name}={shown}" + (f" ({constraint})" if constraint else "")


def strategies() -> None:
    """List every imbalance strategy with its hooks, parameters and defaults."""
    from medbalance.strategies import list_strategies

    console = Console()
    table = Table(title="Imbalance strategies for --strategy (combine with '+', e.g. oversample+focal)")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("hooks", no_wrap=True)
    table.add_column("balances", no_wrap=True)
    table.add_column("parameters (default)", overflow="fold")
    table.add_column("description", overflow="fold")
    for info in list_strategies():
        params = "\n".join(_format_param(p.name, p.default, p.constraint) for p in info.params) or "-"
        hooks = ", ".join(info.hooks) or "-"
        name = info.name + (" (binary)" if info.binary_only else "")
        table.add_row(name, hooks, ", ".join(info.balances) or "-", params, info.description)
    console.print(table)
    console.print(
        "A sampler that balances and a loss that balances are refused together (double balancing) "
        "unless --allow-double-balancing is given. Details: docs/strategies.md."
    )


def register(app: typer.Typer) -> None:
    """Add the ``strategies`` command to ``app``."""
    app.command("strategies")(strategies)
