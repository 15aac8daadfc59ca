"""CLI command ``demo``: the benchmark preset on phantoms (``make demo``), its leaderboard and report."""

from __future__ import annotations

from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]


def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Benchmark folder of the demo."),
    n_patients: int | None = typer.Option(None, "--n-patients", help="Phantom patients (preset: 2000)."),
    prevalence: float | None = typer.Option(
        None, "--prevalence", help="Malignant breasts (preset 0.05 = 19:1)."
    ),
    image_size: int | None = typer.Option(
        None, "--image-size", help="Phantom and input size (preset: 80 px)."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Epochs per cell (preset: 4)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Seeds per strategy (preset: 2)."),
    strategies: str | None = typer.Option(
        None,
        "--strategies",
        help="Comma-separated (preset: none,undersample,synthetic-lesions).",
    ),
    n_bootstrap: int | None = typer.Option(
        None, "--n-bootstrap", help="Resamples per interval (preset: 1000)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing demo folder."),
    resume: bool = typer.Option(False, "--resume", help="Keep the finished cells of an interrupted demo."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Benchmark strategies x 2 seeds on 19:1 phantoms, tested in and out of distribution (vendor c).

    Writes leaderboard.csv/.md, recommendation.json and report.html into the folder (docs/demo.md).
    """
    from medbalance.benchmark.progress import ProgressPrinter
    from medbalance.config import parse_config
    from medbalance.demo import DemoConfig, run_demo
    from medbalance.errors import ConfigError

    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other: choose one.")
    names = None if strategies is None else tuple(s.strip() for s in strategies.split(",") if s.strip())
    given = {"out": out, "n_patients": n_patients, "prevalence": prevalence, "image_size": image_size,
             "epochs": epochs, "seeds": seeds, "strategies": names, "n_bootstrap": n_bootstrap,
             "overwrite": overwrite, "resume": resume}  # fmt: skip
    config = parse_config(DemoConfig, {k: v for k, v in given.items() if v is not None}, where="demo")
    result = run_demo(config, on_event=ProgressPrinter())
    typer.echo("")
    typer.echo((result.out / "leaderboard.md").read_text(encoding="utf-8"))
    typer.echo(f"Recommendation ({result.recommendation['constraint']}): {result.recommendation['answer']}")
    typer.echo(f"Report: {result.report}")
    if (result.out / "model" / "bundle.json").is_file():
        typer.echo(f"Model bundle: {result.out / 'model'} (apply it: medbalance predict {result.out / 'model'} IMAGES --out preds.csv)")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the app."""
    from medbalance.cli._help import show_config_defaults
    from medbalance.demo import DemoConfig

    app.command("demo")(show_config_defaults(demo, DemoConfig))
