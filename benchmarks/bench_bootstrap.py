"""Speed of the vectorised AUC bootstrap against a loop of scikit-learn calls on the same data.

Both draw 1,000 class-stratified resamples of n = 4,000 cases (10% positive);
the loop calls ``sklearn.metrics.roc_auc_score`` once per resample, the
vectorised version evaluates all resamples with one weighted Mann-Whitney pass.
Run with one thread so the comparison is not about BLAS threads:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bootstrap.py --out benchmarks/results/bench_bootstrap.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from medbalance.evaluation import BINARY_METRIC_NAMES, bootstrap_ci, bootstrap_cis


def make_data(n: int, prevalence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Binormal scores squashed to probabilities, rounded to 3 decimals so ties occur."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    score = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.2 * y - 1.5)))
    return y, np.round(score, 3)


def naive_bootstrap_auc(y: np.ndarray, score: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """The loop the vectorised version replaces: stratified indices, then one sklearn call each."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    out = np.empty(n_resamples)
    for b in range(n_resamples):
        idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        out[b] = roc_auc_score(y[idx], score[idx])
    return out


def _best_of(repeats: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def run(
    n: int = 4000, n_resamples: int = 1000, prevalence: float = 0.1, repeats: int = 3, seed: int = 0
) -> dict:
    """Time both and return the numbers as a dict."""
    y, score = make_data(n, prevalence, seed)
    fast_s, fast = _best_of(
        repeats, lambda: bootstrap_ci(y, score, "auc_roc", n_resamples=n_resamples, seed=seed)
    )
    naive_s, naive = _best_of(1, lambda: naive_bootstrap_auc(y, score, n_resamples, seed))
    all_s, _ = _best_of(
        repeats, lambda: bootstrap_cis(y, score, BINARY_METRIC_NAMES, n_resamples=n_resamples)
    )
    bca_s, bca = _best_of(
        repeats, lambda: bootstrap_ci(y, score, "auc_roc", n_resamples=n_resamples, method="bca", seed=seed)
    )
    return {
        "n_cases": n,
        "n_positive": int(y.sum()),
        "n_resamples": n_resamples,
        "vectorised_auc_seconds": fast_s,
        "naive_sklearn_loop_seconds": naive_s,
        "speedup": naive_s / fast_s,
        "vectorised_all_12_metrics_seconds": all_s,
        "vectorised_auc_bca_seconds": bca_s,
        "auc": fast.estimate,
        "vectorised_ci": [fast.low, fast.high],
        "vectorised_bca_ci": [bca.low, bca.high],
        "vectorised_se": fast.std_error,
        "naive_ci": np.quantile(naive, [0.025, 0.975]).tolist(),
        "naive_se": float(np.std(naive, ddof=1)),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    result = run(n=args.n, n_resamples=args.n_resamples, repeats=args.repeats)
    print(
        f"n={result['n_cases']} resamples={result['n_resamples']}: vectorised {result['vectorised_auc_seconds']:.3f} s, "
        f"sklearn loop {result['naive_sklearn_loop_seconds']:.3f} s, speed-up {result['speedup']:.1f}x "
        f"(all 12 metrics vectorised {result['vectorised_all_12_metrics_seconds']:.3f} s; "
        f"BCa {result['vectorised_auc_bca_seconds']:.3f} s)"
    )
    print(f"SE vectorised {result['vectorised_se']:.4f} vs loop {result['naive_se']:.4f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
