"""CLI command ``strategies``: list the imbalance strategies ``--strategy`` accepts."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["register"]


def _format_param(name: str, default: object, constraint: str) -> str:
    shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else str(default)
    return f"  {name}={shown}" + (f" ({constraint})" if constraint else "")


def strategies() -> None:
    """List every imbalance strategy with its hooks, parameters and defaults."""
    from medbalance.strategies import list_strategies

    infos = list_strategies()
    table = Table(title="Imbalance strategies for --strategy (combine with '+', e.g. oversample+focal)")
    table.add_column("name", no_wrap=True, style="bold", min_width=max(len(i.name) for i in infos))
    table.add_column("hooks", min_width=len("sampling"))
    table.add_column("balances", min_width=len("sampling"))
    table.add_column("description; parameters=default (allowed)", overflow="fold", ratio=1)
    for info in infos:
        text = escape(info.description + (" [binary tasks only]" if info.binary_only else ""))
        if info.params:
            text += "\n" + escape(
                "\n".join(_format_param(p.name, p.default, p.constraint) for p in info.params)
            )
        table.add_row(info.name, "\n".join(info.hooks) or "-", "\n".join(info.balances) or "-", text)
    Console().print(table, "", sep="\n")
    Console().print(
        "Two strategies that both balance (a balanced sampler and a balancing loss, or two balancing "
        "losses) are refused as double balancing unless --allow-double-balancing is given. "
        "Details: docs/strategies.md."
    )


def register(app: typer.Typer) -> None:
    """Add the ``strategies`` command to ``app``."""
    app.command("strategies")(strategies)
