"""CLI commands of the synth stage: ``medbalance synth insert`` (and phantom commands).

Each command is a small function added to the ``synth`` sub-app in ``register``;
heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["insert", "register", "synth_app"]

synth_app = typer.Typer(
    name="synth",
    help="Synthetic mammography: lesions inserted into images, phantom data sets.",
    no_args_is_help=True,
)


def insert(
    image: Path = typer.Option(..., "--image", help="Input mammogram (PNG, PGM, TIFF, JPEG, DICOM)."),
    out: Path = typer.Option(..., "--out", help="Output 16-bit PNG; the lesion records go to OUT.json."),
    lesion: str = typer.Option(
        ...,
        "--lesion",
        help="Lesion type: mass, circumscribed-mass, calcification, coarse-calcification, distortion.",
    ),
    spacing_mm: float = typer.Option(0.2, "--spacing-mm", help="Pixel spacing in mm (mini-MIAS: 0.2)."),
    seed: int = typer.Option(0, help="Random seed; the same seed writes the same image."),
    n: int = typer.Option(1, "--n", help="Number of lesions to insert."),
    size_mm: float | None = typer.Option(None, "--size-mm", help="Lesion diameter in mm (sampled if unset)."),
    avoid_pectoral: bool = typer.Option(
        True, "--avoid-pectoral/--allow-pectoral", help="Keep lesions off the pectoral corner (MLO views)."
    ),
) -> None:
    """Insert synthetic lesions inside the breast of one image and print their records as JSON."""
    from medbalance.synth.files import insert_lesions_into_file

    params = {} if size_mm is None else {"size_mm": size_mm}
    records = insert_lesions_into_file(
        image,
        out,
        kind=lesion,
        spacing_mm=spacing_mm,
        seed=seed,
        n=n,
        avoid_pectoral=avoid_pectoral,
        **params,
    )
    typer.echo(json.dumps([r.to_dict() for r in records], indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``synth`` sub-app and its commands to ``app``."""
    synth_app.command("insert")(insert)
    app.add_typer(synth_app, name="synth")
