"""``predict`` memory stays flat with the number of images (issue 13).

Runs ``benchmarks/bench_predict_memory.py`` in its child mode (a fresh process per
size, so ``ru_maxrss`` is that run's peak): 48 px phantom PNGs through a small-cnn
bundle at 32 px, streamed by ``predict_to_files``. Five times the images may not
raise the peak by more than a few MiB. The full 2,000 vs 10,000 figures are in
docs/reliability.md (``python benchmarks/bench_predict_memory.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _peak_growth(n: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_predict_memory.py"), "--child", str(n)],
                          capture_output=True, text=True, env=env, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["images"] == n
    return float(row["peak_rss_mib"] - row["rss_before_mib"])


@pytest.mark.slow  # ~1.5 min: 600 and 3,000 images predicted in two fresh processes
def test_predict_peak_memory_does_not_grow_with_the_number_of_images() -> None:
    small, large = _peak_growth(600), _peak_growth(3000)
    assert large - small < 25, f"peak RSS growth: {small:.0f} MiB for 600 images, {large:.0f} MiB for 3,000"
