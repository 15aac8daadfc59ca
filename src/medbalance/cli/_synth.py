"""CLI commands of the synth stage: ``medbalance synth insert`` (and phantom commands).

Each command is a small function added to the ``synth`` sub-app in ``register``;
heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option
from medbalance.defaults import PHANTOM_DEFAULTS, PHANTOM_DOMAINS

__all__ = ["gallery", "insert", "phantoms", "register", "synth_app"]

synth_app = typer.Typer(
    name="synth",
    help="Synthetic mammography: lesions inserted into images, phantom data sets.",
    no_args_is_help=True,
)


def insert(
    image: Path = typer.Option(..., "--image", help="Input mammogram (PNG, PGM, TIFF, JPEG, DICOM)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output 16-bit PNG; the lesion records go to OUT.json."
    ),
    lesion: str = typer.Option(
        ...,
        "--lesion",
        help="Lesion type: mass, circumscribed-mass, calcification, coarse-calcification, distortion.",
    ),
    spacing_mm: float | None = typer.Option(
        None,
        "--spacing-mm",
        help="Pixel spacing in mm (mini-MIAS: 0.2). Default: the DICOM header's PixelSpacing, then "
        "ImagerPixelSpacing; required when the file has neither (PNG, JPEG, ...).",
    ),
    seed: int = typer.Option(0, help="Random seed; the same seed writes the same image."),
    n: int = typer.Option(1, "--n", help="Number of lesions to insert."),
    size_mm: float | None = typer.Option(None, "--size-mm", help="Lesion diameter in mm (sampled if unset)."),
    avoid_pectoral: bool = typer.Option(
        True, "--avoid-pectoral/--allow-pectoral", help="Keep lesions off the pectoral corner (MLO views)."
    ),
    config_file: Path | None = config_file_option(),
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


def phantoms(
    out: Path = typer.Option(
        ..., "--out", "-o", help="New folder for images/*.png (16-bit) and manifest.csv."
    ),
    n_patients: int = typer.Option(
        PHANTOM_DEFAULTS["n_patients"], help="Patients; each gives 4 images (L/R x CC/MLO)."
    ),
    prevalence: float = typer.Option(
        PHANTOM_DEFAULTS["prevalence"], help="Share of malignant breasts (0.05 = 19:1)."
    ),
    size: int = typer.Option(PHANTOM_DEFAULTS["size"], help="Image side in pixels."),
    spacing_mm: float | None = typer.Option(
        None, help="Pixel spacing (default: 160 mm field of view / size)."
    ),
    domains: str = typer.Option(
        ",".join(PHANTOM_DOMAINS), help="Vendors, comma-separated (vendor-a..vendor-d)."
    ),
    lesion_contrast: float = typer.Option(
        PHANTOM_DEFAULTS["lesion_contrast"], help="Scale of the lesion contrast; lower is harder."
    ),
    lesion_scale: float = typer.Option(
        3.0, help="Enlargement of the lesions' fine structure (specks, spicules); lower is harder."
    ),
    benign_finding_rate: float = typer.Option(
        0.3, help="Share of non-malignant breasts with a benign finding."
    ),
    seed: int = typer.Option(0, help="The same seed writes the same pixels."),
    overwrite: bool = typer.Option(False, help="Replace an existing output folder."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Write a synthetic mammography data set (16-bit PNGs plus a manifest) with known labels."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from medbalance.cli._data import print_counts
    from medbalance.data.splits import split_counts
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    config = PhantomConfig(
        n_patients=n_patients,
        prevalence=prevalence,
        size=size,
        spacing_mm=spacing_mm,
        domains=tuple(d.strip() for d in domains.split(",") if d.strip()),
        lesion_contrast=lesion_contrast,
        lesion_scale=lesion_scale,
        benign_finding_rate=benign_finding_rate,
        seed=seed,
    )
    console = Console()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("rendering phantoms", total=4 * n_patients)
        result = generate_phantoms(
            config,
            out_dir=out,
            overwrite=overwrite,
            progress=lambda done, _: bar.update(task, completed=done),
        )
    print_counts(split_counts(result.manifest), title="Phantom images per class")
    table = result.manifest.table
    console.print(f"domains: {dict(table['domain'].value_counts().sort_index())}")
    console.print(
        escape(f"wrote {out / 'manifest.csv'} ({len(table)} images, {config.pixel_spacing_mm:.3g} mm/px)")
    )


def gallery(
    out: Path = typer.Option(..., "--out", "-o", help="The contact sheet PNG to write."),
    mini_mias: Path | None = typer.Option(
        None, help="mini-MIAS folder for lesions in real films (default: shared/data/mini-mias if found)."
    ),
    seed: int = typer.Option(0, help="Picks phantoms, films and lesions."),
    size: int = typer.Option(256, help="Phantom size in pixels."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Write a contact sheet of phantoms and of each lesion kind inserted into real normal films."""
    from medbalance.synth.gallery import find_mini_mias, write_gallery

    folder = mini_mias or find_mini_mias()
    path = write_gallery(out, mini_mias=folder, seed=seed, size=size)
    typer.echo(f"wrote {path}" + ("" if folder else " (phantoms only: no mini-MIAS folder found)"))


def register(app: typer.Typer) -> None:
    """Add the ``synth`` sub-app and its commands to ``app``."""
    synth_app.command("insert")(insert)
    from medbalance.cli._help import show_config_defaults
    from medbalance.synth.phantoms import PhantomConfig

    synth_app.command("phantoms")(show_config_defaults(phantoms, PhantomConfig))
    synth_app.command("gallery")(gallery)
    app.add_typer(synth_app, name="synth")
