"""CLI commands of the data stage: ``data`` (source -> split manifest) and ``validate``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medbalance.cli._config_file import config_file_option
from medbalance.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from medbalance.data.manifest import Manifest
    from medbalance.data.validate import ValidationReport

__all__ = ["print_counts", "print_positive_class", "print_report", "register"]

console = Console()

# CLI flag -> adapter keyword; only flags the user set are passed on.
_ADAPTER_FLAGS = (
    "task",
    "classes",
    "positive_class",
    "path_col",
    "label_col",
    "patient_col",
    "image_id_col",
    "study_col",
    "breast_col",
    "lesion_col",
    "view_col",
    "laterality_col",
    "domain_col",
    "split_col",
    "patient_regex",
    "domain",
)


def _parse_list(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


def _adapter_options(adapter: str, given: dict[str, Any], extra: list[str]) -> dict[str, Any]:
    """Keep the options the user set, and refuse those the adapter does not take."""
    from medbalance.data.adapters import ADAPTERS

    function = ADAPTERS.get(adapter)
    params = inspect.signature(function).parameters
    accepted = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    options = {k: v for k, v in given.items() if v is not None}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--option expects KEY=VALUE, got {item!r}.")
        options[key.strip().replace("-", "_")] = value.strip()
    for key in options:
        if key not in accepted:
            flags = ", ".join("--" + a.replace("_", "-") for a in accepted) or "none"
            raise ConfigError(
                f"adapter {adapter!r} does not take --{key.replace('_', '-')}; it takes: {flags}."
            )
    return options


def print_counts(counts: pd.DataFrame, title: str = "Images per split and class") -> None:
    """A Rich table of images per split and class."""
    table = Table(title=title)
    table.add_column("split")
    for column in counts.columns:
        table.add_column(str(column), justify="right")
    for split, row in counts.iterrows():
        table.add_row(str(split), *(str(int(v)) for v in row))
    console.print(table)


def print_positive_class(manifest: Manifest) -> None:
    """The positive class of a binary manifest, and where it came from."""
    from medbalance.data.positive import describe_positive_class

    if manifest.is_binary:
        declared = manifest.positive_class is not None
        console.print(
            escape(describe_positive_class(manifest.positive, manifest.classes, declared=declared)),
            highlight=False,
        )


def print_report(report: ValidationReport) -> None:
    """A Rich table of validation problems, or a one-line all-clear."""
    if not report.problems:
        console.print(f"[green]validation passed[/]: {report.n_images} images, no problems found")
        return
    table = Table(title=f"Validation of {escape(str(report.source))}", show_lines=True)
    for column in ("severity", "problem", "where", "fix"):
        table.add_column(column, overflow="fold")
    for p in report.problems:
        where = ", ".join(map(str, p.lines[:8])) + (" ..." if len(p.lines) > 8 else "")
        colour = "red" if p.severity == "error" else "yellow"
        table.add_row(
            f"[{colour}]{p.severity}[/]", escape(p.message), f"lines {where}" if where else "", escape(p.fix)
        )
    console.print(table)
    verdict = "[red]unsafe to train[/]" if not report.ok else "[green]safe to train[/] (with warnings)"
    console.print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s): {verdict}")


def data(
    adapter: str = typer.Argument(
        ..., help="Source layout: folder, csv, mini-mias, cbis-ddsm, vindr-mammo, cmmd, ham10000, medmnist."
    ),
    source: Path = typer.Argument(..., help="The folder or file the adapter reads."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="New folder for manifest.csv, split_counts.csv, validation.json."
    ),
    task: str | None = typer.Option(
        None, help="Adapter task, e.g. malignancy, abnormality, density, melanoma."
    ),
    classes: str | None = typer.Option(None, help="Ordered class list, comma-separated."),
    positive_class: str | None = typer.Option(None, help="The finding of interest in a binary task."),
    class_map: str | None = typer.Option(
        None,
        help="Re-label classes, e.g. 'melanoma=melanoma,*=rest' (binary from multi-class; * = every other).",
    ),
    path_col: str | None = typer.Option(None, help="csv: column with image paths."),
    label_col: str | None = typer.Option(None, help="csv: column with labels."),
    patient_col: str | None = typer.Option(None, help="csv: column with patient ids."),
    image_id_col: str | None = typer.Option(None, help="csv: column with image ids."),
    study_col: str | None = typer.Option(None, help="csv: column with study ids."),
    breast_col: str | None = typer.Option(None, help="csv: column with breast ids."),
    lesion_col: str | None = typer.Option(None, help="csv: column with lesion ids."),
    view_col: str | None = typer.Option(None, help="csv: column with the view (CC/MLO)."),
    laterality_col: str | None = typer.Option(None, help="csv: column with laterality (L/R)."),
    domain_col: str | None = typer.Option(None, help="csv: column with the site or vendor."),
    split_col: str | None = typer.Option(None, help="csv: column with an existing split."),
    patient_regex: str | None = typer.Option(
        None, help="folder: regex with a (?P<patient>...) group on file names."
    ),
    domain: str | None = typer.Option(None, help="folder: domain (site/vendor) for every image."),
    option: list[str] = typer.Option([], "--option", help="Other adapter option as KEY=VALUE (repeatable)."),
    fractions: str = typer.Option("0.7,0.15,0.15", help="Train,val,test shares."),
    group_by: str = typer.Option("patient", help="Unit kept within one split: patient, study or image."),
    folds: int | None = typer.Option(None, help="Also assign this many grouped CV folds."),
    seed: int = typer.Option(0, help="Seed of the split."),
    resplit: bool = typer.Option(False, help="Replace a split that came with the source."),
    check_images: bool = typer.Option(True, help="Decode every image while validating."),
    overwrite: bool = typer.Option(False, help="Replace an existing output folder."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Build a manifest from a data source, split it by patient, validate it, save it."""
    from rich.progress import Progress

    from medbalance.data.build import build_dataset
    from medbalance.registry import look_up_option

    given = {name: value for name, value in locals().items() if name in _ADAPTER_FLAGS}
    if class_map is not None:  # the positive class names a class after the map, not the adapter's
        given["positive_class"] = None
    given["classes"] = _parse_list(classes)
    options = _adapter_options(adapter, given, option)
    try:
        shares = [float(s) for s in _parse_list(fractions) or ()]
    except ValueError as exc:
        raise ConfigError(
            f"--fractions expects three numbers such as 0.7,0.15,0.15, got {fractions!r}."
        ) from exc
    group = look_up_option(group_by, ("patient", "study", "image"), what="--group-by")
    with Progress(console=console, transient=True) as bar:
        task_id = bar.add_task("checking images", total=None)
        result = build_dataset(
            adapter,
            source,
            out,
            options=options,
            fractions=shares,
            group_by=group,  # type: ignore[arg-type]
            seed=seed,
            n_folds=folds,
            resplit=resplit,
            check_images=check_images,
            overwrite=overwrite,
            progress=lambda done, total: bar.update(task_id, completed=done, total=total),
            class_map=class_map,
            positive_class=positive_class if class_map is not None else None,
        )
    m = result.manifest
    patients = m.table["patient_id"].nunique()
    console.print(escape(f"{len(m)} images, {patients} patients, classes {list(m.classes)}"))
    print_positive_class(m)
    print_counts(result.counts)
    print_report(result.report)
    console.print(escape(f"wrote {result.manifest_path}"))
    if not result.report.ok:
        raise typer.Exit(1)


def validate(
    manifest_path: Path = typer.Argument(..., metavar="MANIFEST", help="A manifest CSV."),
    report: Path | None = typer.Option(
        None, help="Where to write the JSON report (default: beside the manifest)."
    ),
    folds: int = typer.Option(5, help="Folds (or bootstrap strata) each class must fill."),
    group_by: str = typer.Option("patient", help="Unit that must not cross splits."),
    classes: str | None = typer.Option(
        None, help="Ordered class list, comma-separated (overrides the sidecar)."
    ),
    check_images: bool = typer.Option(True, help="Decode every image (catches truncated files)."),
    max_pixels: int | None = typer.Option(None, help="Refuse images with more pixels than this."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Report ALL problems of a data set before training; exit 1 when training would be unsafe."""
    from rich.progress import Progress

    from medbalance.data.manifest import load_manifest
    from medbalance.data.validate import validate_manifest
    from medbalance.registry import look_up_option

    manifest = load_manifest(manifest_path, classes=_parse_list(classes))
    group = look_up_option(group_by, ("patient", "study", "image"), what="--group-by")
    with Progress(console=console, transient=True) as bar:
        task_id = bar.add_task("checking images", total=len(manifest))
        result = validate_manifest(
            manifest,
            n_folds=folds,
            group_by=group,  # type: ignore[arg-type]
            check_images=check_images,
            max_pixels=max_pixels,
            progress=lambda done, total: bar.update(task_id, completed=done),
        )
    out = result.save(report or manifest_path.with_name(manifest_path.stem + ".validation.json"))
    print_positive_class(manifest)
    print_report(result)
    console.print(escape(f"wrote {out}"))
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("data")(data)
    app.command("validate")(validate)
