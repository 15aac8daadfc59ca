"""Every CPU benchmark of docs/performance.md, one after another (``make bench``).

Each script times its comparison inside one process, interleaving the sides,
and writes ``benchmarks/results/<name>.json`` with the load average; this
driver runs them in turn and prints each one's ratios. On an idle 2-core
machine the whole set takes about 15-20 minutes; on a busy machine absolute
times grow (the ratios much less), see docs/performance.md.

    python benchmarks/run_all.py                 # everything
    python benchmarks/run_all.py --only sampling statistics
    python benchmarks/run_all.py --list

The GPU benchmark is separate: ``python benchmarks/gpu_training.py`` on a GPU machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS: dict[str, list[str]] = {
    "preprocess": ["bench_preprocess.py", "--films", "96", "--pngs", "600", "--repeats", "3"],
    "training": ["bench_training.py", "--epochs", "3", "--rounds", "1"],
    "hardware": ["bench_hardware.py", "--steps", "3", "--repeats", "3"],
    "statistics": ["bench_statistics.py", "--repeats", "3"],
    "sampling": ["bench_sampling.py", "--repeats", "3"],
    "synthesis": [
        "bench_synthesis.py",
        "--min-seconds",
        "0.5",
        "--out",
        str(HERE / "results" / "synthesis.json"),
    ],
    # data-size scaling of one training run, and the benchmark engine's --workers 1 vs 2 on one grid
    "scaling": ["bench_scaling.py", "--patients", "25", "--runs", "4"],
}
_ONE_THREAD = {"statistics", "synthesis"}  # single-core comparisons, as documented


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    if args.list:
        for name in names:
            print(f"{name}: python benchmarks/{' '.join(BENCHMARKS[name])}")
        return 0
    src = str(HERE.parent / "src")
    failed = []
    started = time.perf_counter()
    for name in names:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        if name in _ONE_THREAD:
            env["OMP_NUM_THREADS"] = "1"
        print(
            f"== {name}: python benchmarks/{' '.join(BENCHMARKS[name])} (load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *BENCHMARKS[name]], cwd=HERE, env=env, capture_output=True, text=True
        )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        print("\n".join(lines), flush=True)
        if done.returncode != 0:
            failed.append(name)
            print(f"!! {name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}", flush=True)
        print(f"-- {name}: {time.perf_counter() - start:.0f} s", flush=True)
    minutes = (time.perf_counter() - started) / 60
    print(f"all benchmarks: {minutes:.1f} min, load {os.getloadavg()}; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
