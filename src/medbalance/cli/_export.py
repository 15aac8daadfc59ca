"""CLI command ``export``: an evaluated run (or a benchmark's recommended run) -> a model bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from medbalance.cli._config_file import config_file_option

__all__ = ["register"]


def export(
    run_dir: Path = typer.Argument(
        ..., help="Evaluated run folder (or benchmark folder with --recommended)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write (new or empty)."),
    rule: str | None = typer.Option(
        None, "--rule", help="Evaluated threshold rule, e.g. target-sensitivity:0.9 (default), youden, fixed."
    ),
    calibration: str = typer.Option(
        "auto", "--calibration", help="auto (chosen on validation), temperature, platt, isotonic or none."
    ),
    recommended: bool = typer.Option(
        False,
        "--recommended",
        help="RUN_DIR is a benchmark folder: export the run its recommendation.json names.",
    ),
    onnx: bool = typer.Option(False, "--onnx", help="Also write model.onnx, checked with onnxruntime."),
    evaluation: Path | None = typer.Option(
        None, "--evaluation", help="Folder of metrics.json (default RUN_DIR/evaluation)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing bundle folder."),
    config_file: Path | None = config_file_option(),
) -> None:
    """Write a model bundle: weights, calibration, threshold with its evidence, SHA-256 of every file."""
    from medbalance.inference.export import export_bundle, export_recommended

    options: dict[str, object] = {"calibration": calibration, "onnx": onnx, "overwrite": overwrite,
                                  "evaluation_dir": evaluation}  # fmt: skip
    if rule is not None:
        options["rule"] = rule
    if recommended:
        result = export_recommended(run_dir, out, **options)
    else:
        result = export_bundle(run_dir, out, **options)  # type: ignore[arg-type]
    spec = result.spec
    threshold = spec.get("threshold") or {}
    cal = (spec.get("calibration") or {}).get("method", "none")
    typer.echo(f"wrote {result.out_dir}: {', '.join(result.files)}")
    if threshold:
        val = threshold["validation"]
        typer.echo(
            f"threshold {threshold['value']:.4g} ({threshold['rule']}, chosen on validation: sensitivity "
            f"{val['sensitivity']['estimate']:.3f}, specificity {val['specificity']['estimate']:.3f}); calibration {cal}"
        )
    if "onnx" in spec:
        typer.echo(f"ONNX checked with onnxruntime: max |difference| {spec['onnx']['max_abs_diff']:.1e}")


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to ``app``."""
    app.command("export")(export)
