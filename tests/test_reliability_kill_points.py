"""SIGKILL inside a checkpoint write (issue 13), at every step of it, deterministically.

``tests/sigkill_hook.py`` runs ``medbalance train`` and kills the process (SIGKILL) just
before the rename that publishes one file of epoch 1's checkpoint: its weights, their
sidecar, the top-k index, Lightning's ``last.ckpt`` or ``last.json``. With ``--top-k 1``
epoch 1 replaces epoch 0, so the kill also lands between dropping the old best and
publishing the new index. After each kill, every file a later command trusts is whole and
consistent; ``--resume`` finishes and leaves no temp file behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

TESTS = Path(__file__).resolve().parent
SRC = str(TESTS.parent / "src")
ARGS = ["train", "--data", "phantoms", "--phantom-patients", "40", "--phantom-size", "64", "--image-size", "32",
        "--batch-size", "4", "--epochs", "2", "--top-k", "1", "--no-progress"]  # fmt: skip


def _run(out: Path, *extra: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    hook = [str(TESTS / "sigkill_hook.py"), kill_at, "--"] if kill_at else ["-m", "medbalance"]
    argv = [sys.executable, *hook, *ARGS, "--out", str(out), "--cache-dir", str(out.parent / "cache"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)


def _check_checkpoints(folder: Path) -> dict[str, int]:
    """What a later command reads is whole: published files parse, the index names loadable pairs."""
    for weights in folder.glob("[!.]*.safetensors"):
        load_file(str(weights))  # a published file is never half-written
    for side in folder.glob("[!.]*.json"):
        json.loads(side.read_text())
    index = json.loads((folder / "index.json").read_text())
    for entry in index["kept"]:
        weights = folder / entry["file"]
        assert weights.is_file(), f"index.json names {entry['file']}, which is gone"
        assert load_file(str(weights))
        assert json.loads(weights.with_suffix(".json").read_text())["epoch"] == entry["epoch"]
    last_json = json.loads((folder / "last.json").read_text())["epoch"]
    last_ckpt = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)["epoch"]
    assert last_ckpt - last_json in (0, 1)  # last.ckpt is renamed first, its sidecar right after
    return {"last_json": last_json, "last_ckpt": last_ckpt}


@pytest.mark.slow  # ~3 min: five killed runs and five resumes
@pytest.mark.parametrize(
    "kill_at",
    ["epoch=0001.safetensors:1", "epoch=0001.json:1", "index.json:2", "last.ckpt:2", "last.json:2"],
    ids=["weights", "sidecar", "index-after-dropping-epoch-0", "last-ckpt", "last-json"],
)
def test_sigkill_inside_a_checkpoint_write_then_resume(tmp_path: Path, kill_at: str) -> None:
    out = tmp_path / "run"
    killed = _run(out, kill_at=kill_at)
    assert killed.returncode == -9, f"the kill point {kill_at} was never reached:\n{killed.stderr[-2000:]}"
    _check_checkpoints(out / "checkpoints")

    done = _run(out, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    folder = out / "checkpoints"
    # last.ckpt holds epoch 1. Killed between last.ckpt and last.json, the resume finds epoch 1
    # already done and trains nothing, so last.json keeps saying 0: resume trusts last.ckpt.
    assert _check_checkpoints(folder)["last_ckpt"] == 1
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0, 1]
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"
    visible = sorted(p.name for p in folder.iterdir())
    assert visible == ["epoch=0001.json", "epoch=0001.safetensors", "index.json", "last.ckpt", "last.json"]
    for weights in folder.glob("*.safetensors"):  # every pair present, consistent
        assert json.loads(weights.with_suffix(".json").read_text())["epoch"] == 1
