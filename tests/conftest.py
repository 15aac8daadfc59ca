"""Shared fixtures. Tests never reach a model hub (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from medbalance.training.config import TrainConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

MINI_MIAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mini-mias"


@pytest.fixture(scope="session")
def mini_mias_dir() -> Path:
    """The real mini-MIAS folder (../shared/data/mini-mias); skipped when absent."""
    if not (MINI_MIAS / "Info.txt").is_file():
        pytest.skip("../shared/data/mini-mias is not present")
    return MINI_MIAS


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print the CLI's tables 400 columns wide, so that no message is wrapped mid-phrase."""
    from rich.console import Console

    from medbalance.cli import _data

    monkeypatch.setattr(_data, "console", Console(width=400))


@pytest.fixture(scope="session")
def make_phantom_csv(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make_phantom_csv(n_patients=12, prevalence=0.25, size=64, seed=3)``: a phantom set's manifest.csv.

    Each setting is drawn and written once per session; tests only read the folder.
    """
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    written: dict[tuple[int, float, int, int], Path] = {}

    def make(*, n_patients: int = 12, prevalence: float = 0.25, size: int = 64, seed: int = 3) -> Path:
        key = (n_patients, prevalence, size, seed)
        if key not in written:
            folder = tmp_path_factory.mktemp("phantoms") / "set"
            generate_phantoms(
                PhantomConfig(n_patients=n_patients, prevalence=prevalence, size=size, seed=seed),
                out_dir=folder,
            )
            written[key] = folder / "manifest.csv"
        return written[key]

    return make


@pytest.fixture(scope="session")
def phantom_csv(make_phantom_csv: Callable[..., Path]) -> Path:
    """A dozen phantom patients (48 images, 64 px), 1 in 4 breasts malignant, seed 3."""
    return make_phantom_csv()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A preprocessing cache shared by the runs of one test module."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., TrainConfig]:
    """``tiny_config(out, data, cache, **overrides)``: a 2-epoch, 32 px, batch-8 ``TrainConfig``."""
    from medbalance.training.config import load_train_config

    def build(out: Path, data: Path | str, cache: Path, **overrides: Any) -> TrainConfig:
        values: dict[str, Any] = {
            "out": out, "data": str(data), "epochs": 2, "batch_size": 8, "image_size": 32,
            "fractions": [0.6, 0.2, 0.2], "cache_dir": cache, "progress": False, "lr": 3e-3,
        }  # fmt: skip
        values.update(overrides)
        return load_train_config(None, values)

    return build


@pytest.fixture(scope="session")
def evaluated_run(
    tmp_path_factory: pytest.TempPathFactory,
    make_phantom_csv: Callable[..., Path],
    tiny_config: Callable[..., TrainConfig],
) -> Path:
    """Inference tests: a tiny phantom run (64 px phantoms, 32 px input, 2 epochs), evaluated at image level."""
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
    from medbalance.training.run import train

    root = tmp_path_factory.mktemp("inference")
    data = make_phantom_csv(n_patients=16, prevalence=0.3, seed=3)
    train(tiny_config(root / "run", data, root / "cache", fractions=[0.5, 0.25, 0.25]))
    evaluate_run(root / "run", EvaluateConfig(n_bootstrap=20, figures=False))
    return root / "run"


@pytest.fixture(scope="session")
def bundle_dir(evaluated_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inference tests: the bundle of ``evaluated_run`` at target-sensitivity:0.90, with ONNX."""
    from medbalance.inference import export_bundle

    out = tmp_path_factory.mktemp("bundle") / "model"
    export_bundle(evaluated_run, out, rule="target-sensitivity:0.90", onnx=True)
    return out
