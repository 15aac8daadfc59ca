"""benchmarks/gpu_training.py runs end to end on CPU with --smoke (no GPU needed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_training.py"


def test_gpu_benchmark_smoke_on_cpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("gpu_training", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "gpu.json"
    module.main(["--smoke", "--models", "resnet18", "efficientnet_b0", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["smoke"] is True and result["device"] == "cpu (smoke)"
    assert {(r["model"], r["size"]) for r in result["runs"]} == {("resnet18", 32), ("efficientnet_b0", 32)}
    for run in result["runs"]:
        assert run["images_per_s"] > 0 and 0.0 <= run["stall_share"] <= 1.0
        assert run["gpu_utilisation_pct"] is None  # no GPU: no utilisation is made up
    train = result["medbalance_train"]  # medbalance.train end to end on the same device
    assert train["train_images_per_s"] > 0 and 0.0 <= train["data_wait_share"] <= 1.0
    assert train["ratio_to_device_resident"] > 0
    assert "images/s" in capsys.readouterr().out
