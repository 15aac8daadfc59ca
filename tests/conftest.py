"""Shared fixtures. Tests never reach a model hub (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

MINI_MIAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mini-mias"


@pytest.fixture(scope="session")
def mini_mias_dir() -> Path:
    """The real mini-MIAS folder (../shared/data/mini-mias); skipped when absent."""
    if not (MINI_MIAS / "Info.txt").is_file():
        pytest.skip("../shared/data/mini-mias is not present")
    return MINI_MIAS


@pytest.fixture(scope="session")
def evaluated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inference tests: a tiny phantom run (64 px phantoms, 32 px input, 2 epochs), evaluated at image level."""
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
    from medbalance.training.config import load_train_config
    from medbalance.training.run import train

    root = tmp_path_factory.mktemp("inference")
    generate_phantoms(PhantomConfig(n_patients=16, prevalence=0.3, size=64, seed=3), out_dir=root / "ph")
    config = load_train_config(None, {
        "out": root / "run", "data": str(root / "ph" / "manifest.csv"), "epochs": 2, "batch_size": 8,
        "image_size": 32, "fractions": [0.5, 0.25, 0.25], "cache_dir": root / "cache", "progress": False, "lr": 3e-3,
    })  # fmt: skip
    train(config)
    evaluate_run(root / "run", EvaluateConfig(n_bootstrap=20, figures=False))
    return root / "run"


@pytest.fixture(scope="session")
def bundle_dir(evaluated_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inference tests: the bundle of ``evaluated_run`` at target-sensitivity:0.90, with ONNX."""
    from medbalance.inference import export_bundle

    out = tmp_path_factory.mktemp("bundle") / "model"
    export_bundle(evaluated_run, out, rule="target-sensitivity:0.90", onnx=True)
    return out
