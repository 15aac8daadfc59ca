"""A default offered in several places has one value (medbalance.defaults)."""

from __future__ import annotations

import dataclasses

import pandas as pd
from typer.testing import CliRunner

from medbalance.cli import app
from medbalance.defaults import DEFAULT_LR, PHANTOM_DEFAULTS
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
from medbalance.training.config import OptimSettings, PhantomSpec
from medbalance.training.module import OptimizerSettings


def _defaults(cls: type) -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def test_phantom_defaults_agree_everywhere() -> None:
    for cls in (PhantomConfig, PhantomSpec):
        assert {k: _defaults(cls)[k] for k in PHANTOM_DEFAULTS} == PHANTOM_DEFAULTS, cls.__name__


def test_learning_rate_default_agrees() -> None:
    assert _defaults(OptimSettings)["lr"] == OptimizerSettings().lr == DEFAULT_LR


def test_synth_phantoms_cli_generates_the_library_defaults(tmp_path) -> None:
    """`medbalance synth phantoms` without options draws the same set as PhantomConfig() does."""
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["synth", "phantoms", "--out", str(out), "--n-patients", "6", "--size", "32"]
    )
    assert result.exit_code == 0, result.output
    library = generate_phantoms(PhantomConfig(n_patients=6, size=32), out_dir=tmp_path / "lib").manifest.table
    cli = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    columns = ["image_id", "label", "domain", "patient_id"]
    assert cli[columns].equals(library[columns].astype(str).reset_index(drop=True))
    assert (out / "images" / f"{cli['image_id'][0]}.png").read_bytes() == (
        tmp_path / "lib" / "images" / f"{cli['image_id'][0]}.png"
    ).read_bytes()
