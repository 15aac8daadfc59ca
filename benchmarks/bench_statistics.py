"""Statistics: vectorised AUC bootstrap vs a scikit-learn loop, fast DeLong vs the pairwise form, evaluate_run.

1. Bootstrap (data and loop of ``bench_bootstrap.py``): n = 4,000 cases, 10%
   positive, 1,000 stratified resamples; ``bootstrap_ci`` vs one
   ``roc_auc_score`` per resample, interleaved.
2. DeLong: ``delong_test`` (Sun & Xu midranks, O(n log n)) vs the textbook
   O(n_pos x n_neg) structural components (the full comparison matrix, NumPy
   broadcasting), two models on the same cases, at n = 4,000 and 20,000;
   both give the same z (checked).
3. ``evaluate_run`` of a small trained run (all figures, 1,000 resamples), seconds.

    OMP_NUM_THREADS=1 python benchmarks/bench_statistics.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import interleave, load_average, small_png_folder, write_result
from bench_bootstrap import make_data, naive_bootstrap_auc

from medbalance.evaluation import bootstrap_ci
from medbalance.evaluation.delong import delong_test


def pairwise_delong_z(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong's paired z from the O(n_pos x n_neg) comparison matrices (ties count one half)."""
    v10, v01, aucs = [], [], []
    for score in (a, b):
        pos, neg = score[y == 1], score[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    n_pos, n_neg = len(v10[0]), len(v01[0])
    cov = np.cov(np.stack(v10)) / n_pos + np.cov(np.stack(v01)) / n_neg
    return float((aucs[0] - aucs[1]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))


def bootstrap(repeats: int, n: int = 4000, n_resamples: int = 1000) -> dict[str, Any]:
    """Interleaved vectorised bootstrap vs the scikit-learn loop; both intervals."""
    y, score = make_data(n, 0.1, 0)
    timing = interleave(
        {
            "vectorised": lambda: bootstrap_ci(y, score, "auc_roc", n_resamples=n_resamples, seed=0),
            "sklearn_loop": lambda: naive_bootstrap_auc(y, score, n_resamples, 0),
        },
        repeats,
    )
    fast = bootstrap_ci(y, score, "auc_roc", n_resamples=n_resamples, seed=0)
    loop = naive_bootstrap_auc(y, score, n_resamples, 0)
    return {
        "n": n,
        "n_resamples": n_resamples,
        "sides": timing,
        "speedup": timing["sklearn_loop"]["median_s"] / timing["vectorised"]["median_s"],
        "vectorised_ci": [fast.low, fast.high],
        "loop_ci": np.quantile(loop, [0.025, 0.975]).tolist(),
    }


def delong(n: int, repeats: int) -> dict[str, Any]:
    """Interleaved fast vs pairwise DeLong on two correlated models."""
    y, a = make_data(n, 0.1, 0)
    rng = np.random.default_rng(1)
    b = np.round(np.clip(a + rng.normal(0, 0.05, n), 0, 1), 3)
    fast = delong_test(y, a, b)
    z_pairwise = pairwise_delong_z(y, a, b)
    z_fast = float(fast.z) if fast.z is not None else float("nan")
    timing = interleave(
        {"fast": lambda: delong_test(y, a, b), "pairwise": lambda: pairwise_delong_z(y, a, b)}, repeats
    )
    return {
        "n": n,
        "n_positive": int(y.sum()),
        "sides": timing,
        "speedup": timing["pairwise"]["median_s"] / timing["fast"]["median_s"],
        "z_fast": z_fast,
        "z_pairwise": z_pairwise,
    }


def evaluate_seconds(repeats: int) -> dict[str, Any]:
    """Train a tiny run (small-cnn, 1 epoch, small PNGs), then time ``evaluate_run`` with figures."""
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
    from medbalance.training.config import load_train_config
    from medbalance.training.run import train

    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        work = Path(tmp)
        manifest = small_png_folder(work, n=400, size=32)
        config = {"data": str(manifest), "out": str(work / "run"), "model": "small-cnn", "epochs": 1,
                  "image_size": 32, "preprocess": "generic", "progress": False}  # fmt: skip
        train(load_train_config(None, config))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = evaluate_run(work / "run", EvaluateConfig(overwrite=True))
            times.append(time.perf_counter() - start)
        return {
            "seconds": [round(t, 2) for t in times],
            "median_s": float(np.median(times)),
            "figures": len(result.figures),
            "cases_val_test": "400 images: 70/15/15 split",
            "load_average": load_average(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-evaluate", action="store_true")
    args = parser.parse_args()
    boot = bootstrap(args.repeats)
    result: dict[str, Any] = {"bootstrap": boot, "delong": [delong(n, args.repeats) for n in (4000, 20000)]}
    print(
        f"bootstrap AUC (n=4000, 1000 resamples): vectorised {boot['sides']['vectorised']['median_s']:.3f} s vs "
        f"sklearn loop {boot['sides']['sklearn_loop']['median_s']:.2f} s: {boot['speedup']:.1f}x; "
        f"load {boot['sides']['vectorised']['load_1min']}"
    )
    for part in result["delong"]:
        print(
            f"DeLong paired test n={part['n']}: fast {part['sides']['fast']['median_s'] * 1000:.1f} ms vs pairwise "
            f"{part['sides']['pairwise']['median_s'] * 1000:.1f} ms: {part['speedup']:.1f}x (target >= 50x); "
            f"z {part['z_fast']:.4f} vs {part['z_pairwise']:.4f}; load {part['sides']['fast']['load_1min']}"
        )
    if not args.skip_evaluate:
        result["evaluate_run"] = evaluate_seconds(max(1, args.repeats - 1))
        ev = result["evaluate_run"]
        print(
            f"evaluate_run (all figures, 1000 resamples): {ev['median_s']:.1f} s; load {ev['load_average']}"
        )
    print(f"wrote {write_result('statistics', result)}")


if __name__ == "__main__":
    main()
