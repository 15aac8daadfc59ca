"""benchmarks/_timed_cli.py (the fixed-cost benchmark of `make bench`) runs the real train command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_timed_cli_times_a_tiny_train_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(BENCHMARKS.parent / "src"), "HF_HUB_OFFLINE": "1"}
    make = "from pathlib import Path; from _common import small_png_folder; print(small_png_folder(Path(r'%s'), n=60, size=32))"
    manifest = subprocess.run(
        [sys.executable, "-c", make % tmp_path], cwd=BENCHMARKS, env=env, capture_output=True, text=True, check=True
    ).stdout.strip().splitlines()[-1]
    stamps = tmp_path / "stamps.json"
    done = subprocess.run(
        [sys.executable, "_timed_cli.py", str(stamps), "train", "--data", manifest, "--out", str(tmp_path / "run"),
         "--model", "small-cnn", "--epochs", "1", "--image-size", "32", "--preprocess", "generic",
         "--cache-dir", str(tmp_path / "cache"), "--no-progress"],
        cwd=BENCHMARKS, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(stamps.read_text())
    assert record["exit_code"] == 0
    assert record["process_start"] < record["first_step"] <= record["last_step_end"] <= record["end"]
