"""DDP through the CLI: Lightning re-runs the command for rank 1, which must not touch the run folder.

Before the fix, rank 1 refused the folder rank 0 had just prepared ("already exists
and is not empty") and Lightning killed both ranks; with ``--overwrite`` it would
have deleted rank 0's folder. Two CPU processes (gloo), one tiny run: slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medbalance.data.manifest import Manifest
from medbalance.errors import TrainingError
from medbalance.training._launch import is_launch_primary, mark_prepared, wait_for_primary


def _disc_manifest(folder: Path, n: int = 80) -> Path:
    """Grey noise images; every 5th has a bright disc and is 'malignant' (learnable)."""
    rng = np.random.default_rng(0)
    (folder / "img").mkdir(parents=True)
    yy, xx = np.mgrid[:32, :32]
    rows = []
    for i in range(n):
        positive = i % 5 == 0
        pixels = rng.normal(0.4, 0.08, (32, 32))
        if positive:
            cy, cx = rng.integers(8, 24, 2)
            pixels[(yy - cy) ** 2 + (xx - cx) ** 2 < 12] += 0.3
        Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(folder / "img" / f"{i}.png")
        rows.append(
            {
                "image_id": str(i),
                "path": f"img/{i}.png",
                "label": "malignant" if positive else "benign",
                "patient_id": f"p{i}",
            }
        )
    table = pd.DataFrame(rows)
    manifest = Manifest(table, classes=("benign", "malignant"), root=folder, positive_class="malignant")
    return manifest.save(folder / "manifest.csv")


@pytest.mark.parametrize(
    ("env", "primary"),
    [
        ({}, True),
        ({"LOCAL_RANK": "1"}, False),
        ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False),
        ({"RANK": "0", "LOCAL_RANK": "0"}, True),
        ({"RANK": "3"}, False),
        ({"SLURM_PROCID": "2"}, False),
    ],
    ids=["no-launcher", "lightning-rank1", "second-node", "torchrun-rank0", "torchrun-rank3", "slurm-rank2"],
)
def test_launch_rank_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], primary: bool
) -> None:
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert is_launch_primary() is primary


def test_other_ranks_wait_for_this_launch_marker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "old")
    mark_prepared(tmp_path)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "new")
    with pytest.raises(TrainingError, match="waited 0 s for rank 0"):
        wait_for_primary(tmp_path, timeout_s=0.2, poll_s=0.05)
    mark_prepared(tmp_path)
    wait_for_primary(tmp_path, timeout_s=0.2, poll_s=0.05)  # returns: the marker is this launch's


@pytest.mark.slow
def test_ddp_two_cpu_ranks_through_the_cli(tmp_path: Path) -> None:
    manifest = _disc_manifest(tmp_path / "data")
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "medbalance",
        "train",
        "--data",
        str(manifest),
        "--out",
        str(out),
        "--preprocess",
        "generic",
        "--image-size",
        "32",
        "--epochs",
        "2",
        "--strategy",
        "oversample",
        "--distributed",
        "ddp",
        "--accelerator",
        "cpu",
        "--devices",
        "2",
        "--no-progress",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "already exists" not in done.stderr
    terminal = done.stdout + done.stderr
    for noise in ("GPU available", "LOCAL_RANK", "Tip:", "Initializing distributed", "is deprecated"):
        assert noise not in terminal, f"{noise!r} reached the terminal:\n{terminal[-2000:]}"
    assert "Initializing distributed" in (out / "train.log").read_text()  # Lightning's DDP banner, kept
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["best_epoch"] is not None
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    predictions = pd.read_csv(out / "predictions_test.csv")
    probs = predictions[["prob_benign", "prob_malignant"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
