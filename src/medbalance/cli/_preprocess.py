"""CLI commands of the preprocessing stage: ``preview`` (contact sheet) and ``cache`` (build it)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]

console = Console()

_KIND_HELP = "Pipeline: mammography (breast crop, chest wall left) or generic (resize/pad)."


def preview(
    data: Path = typer.Option(..., "--data", help="Manifest CSV (from `medbalance data`)."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG contact sheet to write."),
    n: int = typer.Option(12, "--n", min=1, help="Number of images (classes mixed)."),
    image_size: int = typer.Option(
        512, "--image-size", min=1, help="Output side in pixels (as train --image-size)."
    ),
    preprocess: str = typer.Option("mammography", "--preprocess", "--kind", help=_KIND_HELP),
    channels: int = typer.Option(1, "--channels", help="1 (grey) or 3 (RGB)."),
    equalize: bool = typer.Option(False, "--equalize/--no-equalize", help="Histogram equalisation."),
    seed: int | None = typer.Option(
        None, "--seed", help="Sample images with this seed (default: first rows)."
    ),
    config_file: Path | None = config_file_option(),
) -> None:
    """Write a contact sheet of original vs preprocessed images, to check the pipeline by eye."""
    from medbalance.config import parse_config
    from medbalance.data.manifest import load_manifest
    from medbalance.data.preprocess import PreprocessConfig
    from medbalance.report.contact_sheet import write_preprocessing_preview

    config = parse_config(
        PreprocessConfig,
        {"kind": preprocess, "size": image_size, "channels": channels, "equalize": equalize},
        where="preview options",
    )
    path = write_preprocessing_preview(load_manifest(data), out, config, n=n, seed=seed)
    console.print(escape(f"wrote {path}"))


def cache(
    data: Path = typer.Option(..., "--data", help="Manifest CSV (from `medbalance data`)."),
    cache_dir: Path = typer.Option(..., "--cache-dir", help="Folder of the preprocessing cache."),
    image_size: int = typer.Option(
        512, "--image-size", min=1, help="Output side in pixels (as train --image-size)."
    ),
    preprocess: str = typer.Option("mammography", "--preprocess", "--kind", help=_KIND_HELP),
    channels: int = typer.Option(1, "--channels", help="1 (grey) or 3 (RGB)."),
    equalize: bool = typer.Option(False, "--equalize/--no-equalize", help="Histogram equalisation."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Processes preprocessing in parallel (default: one per CPU core)."
    ),
    config_file: Path | None = config_file_option(),
) -> None:
    """Preprocess every image of a manifest once into the cache (skips images already cached)."""
    from medbalance.cli._progress import cache_progress_bar
    from medbalance.config import parse_config
    from medbalance.data.cache import PreprocessCache
    from medbalance.data.manifest import load_manifest
    from medbalance.data.preprocess import PreprocessConfig

    config = parse_config(
        PreprocessConfig,
        {"kind": preprocess, "size": image_size, "channels": channels, "equalize": equalize},
        where="cache options",
    )
    manifest = load_manifest(data)
    with cache_progress_bar() as update:
        summary = PreprocessCache(cache_dir, config).build(manifest, progress=update, workers=workers)
    console.print(
        f"cache {escape(str(summary.folder))}: {summary.built} built, {summary.already_cached} already cached, "
        f"{summary.total} images"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("preview")(preview)
    app.command("cache")(cache)
