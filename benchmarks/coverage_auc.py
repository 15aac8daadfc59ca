"""Coverage of 95% AUC intervals on data with a known true AUC.

Scores are binormal: negatives N(0, 1), positives N(d, 1), so the true AUC is
Phi(d / sqrt(2)). Each repetition draws a fresh data set and asks whether each
interval covers the true AUC.

* independent: one image per patient; percentile and BCa bootstrap (stratified)
  and DeLong.
* clustered: every patient has 2 images whose scores share a patient effect
  (intra-patient correlation rho); the same methods resampling images, and the
  bootstrap resampling patients. Image-level intervals are expected to be too
  narrow here; the patient-clustered bootstrap should hold its level.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/coverage_auc.py --repetitions 1000 \
        --out benchmarks/results/coverage_auc.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

from medbalance.evaluation import ConfidenceInterval, bootstrap_ci, delong_auc_ci


def _tally(hits: dict[str, list[ConfidenceInterval]], truth: float) -> dict[str, dict[str, float]]:
    out = {}
    for method, cis in hits.items():
        defined = [c for c in cis if c.low is not None and c.high is not None]
        covered = [c.low <= truth <= c.high for c in defined]  # type: ignore[operator]
        out[method] = {
            "coverage": float(np.mean(covered)),
            "mc_standard_error": float(np.sqrt(np.mean(covered) * (1 - np.mean(covered)) / len(covered))),
            "mean_width": float(np.mean([c.high - c.low for c in defined])),  # type: ignore[operator]
            "n_undefined": len(cis) - len(defined),
        }
    return out


def run_coverage(
    repetitions: int = 1000,
    n_resamples: int = 1000,
    seed: int = 0,
    true_auc: float = 0.8,
    n_pos: int = 50,
    n_neg: int = 200,
    rho: float = 0.6,
) -> dict:
    """Coverage per scenario and method, with the settings used."""
    rng = np.random.default_rng(seed)
    d = float(np.sqrt(2.0) * norm.ppf(true_auc))
    y = np.r_[np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)]
    y2 = np.repeat(y, 2)
    patient = np.repeat(np.arange(y.size), 2)
    indep: dict[str, list[ConfidenceInterval]] = {"percentile": [], "bca": [], "delong": []}
    clus: dict[str, list[ConfidenceInterval]] = {
        "percentile_images": [], "delong_images": [], "percentile_patients": [], "bca_patients": []
    }  # fmt: skip
    for _ in range(repetitions):
        s = rng.normal(size=y.size) + d * y
        child = int(rng.integers(2**31))
        indep["percentile"].append(bootstrap_ci(y, s, n_resamples=n_resamples, seed=child))
        indep["bca"].append(bootstrap_ci(y, s, n_resamples=n_resamples, seed=child, method="bca"))
        indep["delong"].append(delong_auc_ci(y, s))
        shared = np.repeat(rng.normal(size=y.size), 2) * np.sqrt(rho)
        s2 = shared + rng.normal(size=y2.size) * np.sqrt(1 - rho) + d * y2
        clus["percentile_images"].append(bootstrap_ci(y2, s2, n_resamples=n_resamples, seed=child))
        clus["delong_images"].append(delong_auc_ci(y2, s2))
        clus["percentile_patients"].append(
            bootstrap_ci(y2, s2, groups=patient, n_resamples=n_resamples, seed=child)
        )
        clus["bca_patients"].append(
            bootstrap_ci(y2, s2, groups=patient, n_resamples=n_resamples, seed=child, method="bca")
        )
    return {
        "settings": {"repetitions": repetitions, "n_resamples": n_resamples, "seed": seed, "true_auc": true_auc,
                     "d": d, "n_pos": n_pos, "n_neg": n_neg, "rho": rho, "images_per_patient": 2},
        "independent": _tally(indep, true_auc),
        "clustered": _tally(clus, true_auc),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=1000)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    start = time.perf_counter()
    result = run_coverage(repetitions=args.repetitions, n_resamples=args.n_resamples, seed=args.seed)
    result["seconds"] = time.perf_counter() - start
    for scenario in ("independent", "clustered"):
        for method, row in result[scenario].items():
            print(
                f"{scenario:12s} {method:20s} coverage {row['coverage']:.3f} (MC SE {row['mc_standard_error']:.3f}) "
                f"mean width {row['mean_width']:.3f}"
            )
    print(f"{result['seconds']:.0f} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
