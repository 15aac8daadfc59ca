"""CLI command ``predict``: a model bundle + images -> calibrated probabilities and decisions."""

from __future__ import annotations

from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]


def predict(
    model_dir: Path = typer.Argument(..., help="Bundle folder written by `medbalance export`."),
    inputs: list[Path] = typer.Argument(
        ..., help="Image files, folders (searched recursively) or manifest CSVs."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Predictions CSV; companions _errors.csv, _breast.csv, ... beside it."
    ),
    prevalence: float | None = typer.Option(
        None, "--prevalence", help="Deployment prevalence: adjusted probabilities and PPV/NPV there."
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Preprocessing cache (default: .medbalance-cache beside --out)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not cache preprocessed images."),
    explain: bool = typer.Option(
        False, "--explain", help="Write Grad-CAM overlay PNGs into <out stem>_overlays/."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Predict new images; unreadable ones go to the errors CSV and make the exit code 1."""
    from medbalance.cli._progress import progress_bar
    from medbalance.inference.bundle import load_bundle
    from medbalance.inference.predict_files import predict_to_files

    if explain:
        from medbalance.inference.explain import require_captum

        require_captum()  # before the bundle is loaded
    bundle = load_bundle(model_dir, device=device)
    cache = None if no_cache else (cache_dir or out.parent / ".medbalance-cache")
    overlays = out.with_name(f"{out.stem}_overlays") if explain else None
    with progress_bar("predicting", enabled=progress) as update:
        summary = predict_to_files(
            bundle, [str(p) for p in inputs], out, batch_size=batch_size, cache_dir=cache, prevalence=prevalence,
            explain_dir=overlays, overwrite=overwrite, progress=update,
        )  # fmt: skip
    typer.echo(
        f"predicted {summary.n_predicted} of {summary.n_images} images; wrote {', '.join(str(p) for p in summary.files)}"
    )
    if overlays is not None:
        typer.echo(f"Grad-CAM overlays in {overlays}")
    if summary.at_prevalence is not None:
        for source in ("validation", "test"):
            entry = summary.at_prevalence[source]
            if entry.get("ppv") is not None or entry.get("npv") is not None:
                typer.echo(f"at prevalence {prevalence:g} ({source} sensitivity/specificity): "
                           f"PPV {entry['ppv'] if entry['ppv'] is None else round(entry['ppv'], 4)}, "
                           f"NPV {entry['npv'] if entry['npv'] is None else round(entry['npv'], 4)}")  # fmt: skip
    if summary.n_failed:
        typer.echo(
            f"{summary.n_failed} image(s) could not be predicted; reasons in {summary.files[1]}", err=True
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``predict`` command to ``app``."""
    app.command("predict")(predict)
