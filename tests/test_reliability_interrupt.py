"""SIGKILL during ``medbalance data`` (issue 13): nothing half-written, nothing lost, nothing blocked.

A real process is killed with SIGKILL while it writes its staging folder. The earlier,
complete output stays as it was; the lock dies with the process; the next run
removes the dead run's staging folder and finishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.outputs import claim_output_dir, lock_path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _source(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        label = "malignant" if i % 4 == 0 else "benign"
        path = root / label / f"P{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (384, 384), dtype=np.uint8)).save(path)
    return root


def _data(source: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    argv = [sys.executable, "-m", "medbalance", "data", "folder", str(source), "--out", str(out), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_sigkill_during_data_keeps_the_earlier_output_and_blocks_nothing(tmp_path: Path) -> None:
    source, out = _source(tmp_path / "src", 40), tmp_path / "out"
    first = _data(source, out)
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    _source(tmp_path / "src", 600)  # more images: the rerun takes long enough to be killed mid-way
    victim = _data(source, out, "--overwrite")
    deadline = time.time() + 120
    while not list(tmp_path.glob(".out.staging-*")) and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # inside the validation pass, images half checked
    assert victim.poll() is None, "the run finished before it could be killed; make it longer"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier output, complete
    assert list(tmp_path.glob(".out.staging-*"))  # the dead run's staging folder is still there...
    with claim_output_dir(out):  # ...but its lock died with it
        pass
    rerun = _data(source, out, "--overwrite")
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read() if rerun.stderr else ""
    assert not list(tmp_path.glob(".out.*"))  # ...and the next run cleared it
    assert not lock_path(out).exists()
    assert (out / "manifest.csv").read_text().count("\n") == 601


def _train(out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "HF_HUB_OFFLINE": "1",
    }
    argv = [sys.executable, "-m", "medbalance", "train", "--data", "phantoms", "--phantom-patients", "40",
            "--phantom-size", "64", "--image-size", "32", "--batch-size", "4", "--epochs", "4", "--out", str(out),
            "--no-progress", "--cache-dir", str(out.parent / "cache"), *extra]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_finishes_each_epoch_once(tmp_path: Path) -> None:
    import json

    import pandas as pd

    out = tmp_path / "run"
    victim = _train(out)
    last = out / "checkpoints" / "last.json"
    deadline = time.time() + 400
    while victim.poll() is None and time.time() < deadline:
        if last.is_file() and json.loads(last.read_text())["epoch"] >= 1:
            break
        time.sleep(0.05)
    assert victim.poll() is None, "the run ended before it could be killed"
    time.sleep(0.5)  # into the next epoch
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    killed_at = json.loads(last.read_text())["epoch"]
    assert killed_at < 3
    for name in ("config.yaml", "split.csv"):
        assert (out / name).is_file()
    main_exit(_train(out, "--resume"))  # the lock died with the killed process: the resume may claim it
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]  # each epoch once: none lost, none duplicated
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"
    assert not lock_path(out).exists()


def main_exit(proc: subprocess.Popen[str]) -> int:
    code = proc.wait(timeout=600)
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    return code
