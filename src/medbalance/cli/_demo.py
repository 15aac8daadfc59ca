"""CLI command ``demo``: the main job on the embedded phantom data (``make demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from medbalance.demo import DemoResult

__all__ = ["DEFAULT_STRATEGIES_TEXT", "register"]

DEFAULT_STRATEGIES_TEXT = "none,class-weight,undersample,oversample,focal,logit-adjust,synthetic-lesions"
"""``medbalance.demo.DEFAULT_STRATEGIES`` spelled out, so ``--help`` needs no pandas import (tested equal)."""


def demo(
    out: Path = typer.Option(
        Path("demo-output"), "--out", "-o", help="Folder for data, runs and the comparison."
    ),
    n_patients: int = typer.Option(500, "--n-patients", help="Phantom patients (4 images each)."),
    prevalence: float = typer.Option(0.05, "--prevalence", help="Share of malignant breasts (0.05 = 19:1)."),
    image_size: int = typer.Option(128, "--image-size", help="Phantom and network input size in pixels."),
    epochs: int = typer.Option(8, "--epochs", help="Training epochs per strategy."),
    strategies: str = typer.Option(
        DEFAULT_STRATEGIES_TEXT,
        "--strategies",
        help="Comma-separated strategy names (medbalance strategies lists them).",
    ),
    level: str = typer.Option("breast", "--level", help="Evaluate at: image or breast (mean of CC and MLO)."),
    n_bootstrap: int = typer.Option(1000, "--n-bootstrap", help="Bootstrap resamples of every interval."),
    seed: int = typer.Option(0, "--seed", help="One seed for data, split, sampling and initialisation."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted demo in OUT, keeping its finished strategies."
    ),
) -> None:
    """Phantoms at 19:1 -> split -> validate -> one small CNN per strategy -> evaluation -> comparison table."""
    from rich.console import Console

    from medbalance.config import parse_config
    from medbalance.demo import DemoConfig, run_demo

    config = parse_config(
        DemoConfig,
        {
            "out": str(out), "n_patients": n_patients, "prevalence": prevalence, "size": image_size,
            "image_size": image_size, "epochs": epochs, "level": level, "n_bootstrap": n_bootstrap,
            "strategies": tuple(s.strip() for s in strategies.split(",") if s.strip()), "seed": seed,
            "overwrite": overwrite, "resume": resume,
        },
        where="demo options",
    )  # fmt: skip
    console = Console()
    result = run_demo(config, on_strategy=lambda name, i, n: console.rule(f"strategy {i + 1}/{n}: {name}"))
    _print_table(console, result)


def _print_table(console: Console, result: DemoResult) -> None:
    from rich.table import Table

    rows = result.table.to_dict("records")
    table = Table(
        title=f"Test split, {rows[0]['level']} level; thresholds chosen on validation",
        caption="AUC with its 95% patient-clustered bootstrap CI; sensitivity / specificity at 0.5, at Youden's J "
        "and at the validation threshold reaching sensitivity 0.9",
    )
    for column in ("strategy", "AUC [95% CI]", "@0.5", "@Youden", "@sens 0.9", "Brier", "s"):
        table.add_column(column)

    def pair(r: dict, short: str) -> str:
        return f"{r[f'sens@{short}']:.2f} / {r[f'spec@{short}']:.2f}"

    for r in rows:
        table.add_row(
            r["strategy"] + (" [yellow](overconfident)[/]" if r["overconfident"] else ""),
            f"{r['auc']:.3f} [{r['auc_low']:.3f}, {r['auc_high']:.3f}]",
            pair(r, "0.5"), pair(r, "youden"), pair(r, "sens90"),
            f"{r['brier']:.3f}",
            "" if r["seconds"] is None or r["seconds"] != r["seconds"] else f"{r['seconds']:.0f}",
        )  # fmt: skip
    console.print(table)
    if result.reused:
        console.print(f"reused the finished runs of an earlier demo: {', '.join(result.reused)}")
    console.print(
        f"wrote {result.out}/comparison.csv, comparison.md, preview.png, data/ and runs/<strategy>/ "
        "(each with evaluation/metrics.json, operating_points.csv and figures/)"
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)
