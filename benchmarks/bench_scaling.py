"""Whole-run scaling with data size and workers, and peak memory (RSS) against data size.

Data size: phantom sets of N, 2N and 4N patients (4 images each, 256 px,
prevalence 0.2) are generated once; each is trained on in a fresh process
(``medbalance.train``, small-cnn, 128 px, 1 epoch, batch 32, new cache), which
reports its wall time and its peak RSS (``ru_maxrss``). Cost linear in data
means time(2x) / time(1x) <= 2 and time(4x) / time(1x) <= 4; a cache that
streams from disk means peak RSS stays flat.

Workers: the benchmark engine itself (``run_benchmark``, the code path of
``medbalance benchmark``) runs the same tiny grid of ``--runs`` cells (strategies
none/oversample x seeds, small-cnn at 64 px, 1 epoch) with ``--workers 1`` and
``--workers 2`` (the local executor: cells in parallel processes, threads per
worker set so the cores are not oversubscribed), each in a fresh folder.

    python benchmarks/bench_scaling.py [--patients 25] [--runs 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import load_average, write_result

_CHILD = """
import json, resource, sys, time
from medbalance.training.config import load_train_config
from medbalance.training.run import train
start = time.perf_counter()
train(load_train_config(None, json.loads(sys.argv[1])))
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LAUNCHER = "medbalance.benchmark.run.run_benchmark, local executor (medbalance benchmark --workers N)"


def _train_in_child(config: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(config)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _phantoms(work: Path, patients: int) -> Path:
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    folder = work / f"phantoms_{patients}"
    config = PhantomConfig(n_patients=patients, prevalence=0.2, size=256, seed=0)
    generate_phantoms(config, out_dir=folder, overwrite=True)
    return folder / "manifest.csv"


def data_scaling(work: Path, patients: int) -> dict[str, Any]:
    """Wall time and peak RSS of one training run per data size (1x, 2x, 4x)."""
    rows = {}
    for factor in (1, 2, 4):
        manifest = _phantoms(work, patients * factor)
        config = {"data": str(manifest), "out": str(work / f"run_{factor}x"), "model": "small-cnn", "epochs": 1,
                  "image_size": 128, "batch_size": 32, "progress": False, "overwrite": True,
                  "cache_dir": str(work / f"cache_{factor}x")}  # fmt: skip
        rows[f"{factor}x"] = {
            "images": patients * factor * 4,
            **_train_in_child(config),
            "load_1min": load_average()[0],
        }
    base = rows["1x"]
    for row in rows.values():
        row["time_ratio_vs_1x"] = row["seconds"] / base["seconds"]
        row["rss_ratio_vs_1x"] = row["peak_rss_mb"] / base["peak_rss_mb"]
    return rows


def _engine_in_child(settings: dict[str, Any]) -> float:
    code = (
        "import json, sys, time\n"
        "from medbalance.benchmark.config import load_benchmark_config\n"
        "from medbalance.benchmark.run import run_benchmark\n"
        "start = time.perf_counter()\n"
        "result = run_benchmark(load_benchmark_config(None, json.loads(sys.argv[1])))\n"
        "assert not result.failed, result.failed\n"
        "print(time.perf_counter() - start)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps(settings)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def worker_scaling(work: Path, runs: int) -> dict[str, Any]:
    """The same grid of ``runs`` cells through the benchmark engine with 1 and then 2 workers."""
    phantoms = {"n_patients": 20, "prevalence": 0.2, "size": 64}
    result: dict[str, Any] = {}
    for workers in (1, 2):
        settings = {
            "data": [{"name": "ph", "source": "phantoms", "phantoms": phantoms}],
            "strategies": ["none", "oversample"], "seeds": max(1, runs // 2),
            "train": {"model": "small-cnn", "epochs": 1, "image_size": 64, "batch_size": 16},
            "evaluation": {"n_bootstrap": 100, "figures": False},
            "out": str(work / f"bench_{workers}w"), "workers": workers, "progress": False,
        }  # fmt: skip
        result[f"{workers}_workers_s"] = _engine_in_child(settings)
        result[f"{workers}_workers_load"] = load_average()[0]
    result["cells"] = 2 * max(1, runs // 2)
    result["speedup_2_workers"] = result["1_workers_s"] / result["2_workers_s"]
    result["launcher"] = LAUNCHER
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=25, help="patients of the 1x set")
    parser.add_argument("--runs", type=int, default=4, help="tiny runs for the worker scaling")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        work = Path(tmp)
        result = {"data_size": data_scaling(work, args.patients), "workers": worker_scaling(work, args.runs)}
    for name, row in result["data_size"].items():
        print(
            f"data {name} ({row['images']} images): {row['seconds']:.1f} s ({row['time_ratio_vs_1x']:.2f}x of 1x), "
            f"peak RSS {row['peak_rss_mb']:.0f} MB ({row['rss_ratio_vs_1x']:.2f}x); load {row['load_1min']}"
        )
    w = result["workers"]
    print(
        f"{w['cells']} tiny cells: 1 worker {w['1_workers_s']:.1f} s, 2 workers {w['2_workers_s']:.1f} s "
        f"({w['speedup_2_workers']:.2f}x; {w['launcher']}); load {w['2_workers_load']}"
    )
    print(f"wrote {write_result('scaling', result)}")


if __name__ == "__main__":
    main()
