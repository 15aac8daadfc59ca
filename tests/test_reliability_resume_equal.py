"""A resumed run equals the uninterrupted run of the same seed (issue 13).

A tiny deterministic CPU run is killed with SIGKILL after epoch 1 (inside epoch 2's
end, before its history row is written; ``tests/sigkill_hook.py``) and resumed with
``--resume``. It ends with the best epoch, the ``history.csv`` numbers, the test and
validation metrics and every prediction of an uninterrupted run with the same seed.
Augmentation and sampling are seeded per epoch and Lightning restores the model and
optimizer, so the redone epoch repeats exactly (measured: identical to the last digit).
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

TESTS = Path(__file__).resolve().parent
SRC = str(TESTS.parent / "src")
ARGS = ["train", "--data", "phantoms", "--phantom-patients", "40", "--phantom-size", "64", "--image-size", "32",
        "--batch-size", "4", "--epochs", "4", "--augment", "mammography", "--strategy", "oversample", "--seed", "7", "--no-progress"]  # fmt: skip
TOLERANCE = 1e-6


def _run(out: Path, *extra: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    hook = [str(TESTS / "sigkill_hook.py"), kill_at, "--"] if kill_at else ["-m", "medbalance"]
    argv = [sys.executable, *hook, *ARGS, "--out", str(out), "--cache-dir", str(out.parent / "cache"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.select_dtypes("number").drop(columns=["seconds"], errors="ignore")


@pytest.mark.slow  # ~1 min: an uninterrupted run, a killed run and its resume
def test_a_resumed_run_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    done = _run(whole)
    assert done.returncode == 0, done.stderr[-2000:]
    killed = _run(cut, kill_at="history.csv:3")  # epoch 2 trained, not recorded: last.ckpt holds epoch 1
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert pd.read_csv(cut / "history.csv")["epoch"].tolist() == [0, 1]
    resumed = _run(cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a, b = (json.loads((run / "summary.json").read_text()) for run in (whole, cut))
    assert b["status"] == "completed" and b["best_epoch"] == a["best_epoch"]
    for split in ("val_metrics", "test_metrics"):
        assert b[split].keys() == a[split].keys()
        for name, value in a[split].items():
            if isinstance(value, float):
                assert b[split][name] == pytest.approx(value, abs=TOLERANCE, nan_ok=True), (split, name)
    ha, hb = (_numbers(pd.read_csv(run / "history.csv")) for run in (whole, cut))
    assert hb["epoch"].tolist() == [0, 1, 2, 3]
    assert list(ha.columns) == list(hb.columns)
    np.testing.assert_allclose(hb.to_numpy(float), ha.to_numpy(float), rtol=0, atol=TOLERANCE)
    for name in ("predictions_val.csv", "predictions_test.csv"):
        pa, pb = (pd.read_csv(run / name) for run in (whole, cut))
        assert pa["image_id"].tolist() == pb["image_id"].tolist()
        assert list(_numbers(pa).columns) == list(_numbers(pb).columns)
        np.testing.assert_allclose(
            _numbers(pb).to_numpy(float), _numbers(pa).to_numpy(float), rtol=0, atol=TOLERANCE
        )
