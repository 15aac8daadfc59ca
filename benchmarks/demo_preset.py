"""Search for the ``make demo`` preset: baseline evidence (breast-level AUC, its interval) against time.

For each candidate (phantom patients, image size, epochs, lesion contrast and
scale, benign-finding rate, split fractions) it runs the real pipeline once with
the baseline strategy ``none``: phantoms -> patient-grouped split -> small-cnn
training -> breast-level test AUC (mean of CC and MLO) with DeLong's 95%
interval, sensitivity/specificity at 0.5, and the wall-clock seconds of the
phantoms, the training and the whole cell. The 1-minute load average is recorded
before and after each candidate, because the machine is shared and times are
inflated by other work.

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python benchmarks/demo_preset.py \\
        --json benchmarks/results/demo_preset.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medbalance.data.manifest import load_manifest
from medbalance.data.splits import split_manifest
from medbalance.evaluation.delong import delong_auc_ci
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
from medbalance.training.config import load_train_config
from medbalance.training.run import train

CANDIDATES: list[dict[str, Any]] = [
    {"n_patients": 2000, "size": 64, "epochs": 5, "lesion_contrast": 4.0, "lesion_scale": 4.0,
     "benign_finding_rate": 0.1, "fractions": (0.5, 0.15, 0.35)},
    {"n_patients": 2000, "size": 80, "epochs": 4, "lesion_contrast": 4.0, "lesion_scale": 3.0,
     "benign_finding_rate": 0.1, "fractions": (0.5, 0.15, 0.35)},
    {"n_patients": 1600, "size": 64, "epochs": 4, "lesion_contrast": 5.0, "lesion_scale": 4.0,
     "benign_finding_rate": 0.1, "fractions": (0.45, 0.15, 0.4)},
    {"n_patients": 2000, "size": 96, "epochs": 4, "lesion_contrast": 4.0, "lesion_scale": 3.0,
     "benign_finding_rate": 0.1, "fractions": (0.5, 0.15, 0.35)},
]  # fmt: skip


def breast_level(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Breast-level labels (any malignant image) and scores (mean of the breast's images)."""
    grouped = predictions.groupby("breast_id").agg(
        p=("prob_malignant", "mean"), y=("label", lambda s: bool((s == "malignant").any()))
    )
    return grouped["y"].to_numpy(dtype=int), grouped["p"].to_numpy()


def run_candidate(work: Path, candidate: dict[str, Any], seed: int) -> dict[str, Any]:
    """One baseline cell of the candidate; returns its evidence and timings."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    phantoms = PhantomConfig(
        n_patients=candidate["n_patients"], prevalence=0.05, size=candidate["size"],
        lesion_contrast=candidate["lesion_contrast"], lesion_scale=candidate["lesion_scale"],
        benign_finding_rate=candidate["benign_finding_rate"], seed=seed,
    )  # fmt: skip
    data_dir = work / "data"
    generate_phantoms(phantoms, out_dir=data_dir, overwrite=True)
    manifest = split_manifest(
        load_manifest(data_dir / "manifest.csv"),
        fractions=candidate["fractions"],
        group_by="patient",
        seed=seed,
    )
    manifest.save(data_dir / "manifest.csv")
    generated = time.perf_counter()
    settings = {
        "out": str(work / "run"), "data": str(data_dir / "manifest.csv"), "strategy": "none",
        "model": "small-cnn", "epochs": candidate["epochs"], "batch_size": 32, "image_size": candidate["size"],
        "lr": 2e-3, "seed": seed, "cache_dir": str(work / "cache"), "overwrite": True, "progress": False,
    }  # fmt: skip
    train(load_train_config(None, settings))
    trained = time.perf_counter()
    y, p = breast_level(pd.read_csv(work / "run" / "predictions_test.csv"))
    ci = delong_auc_ci(y, p)
    return {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in candidate.items()},
        "seed": seed,
        "test_breasts": int(y.size),
        "test_malignant_breasts": int(y.sum()),
        "auc_breast": round(float(ci.estimate or 0.0), 3),
        "auc_low": round(float(ci.low or 0.0), 3),
        "auc_high": round(float(ci.high or 0.0), 3),
        "auc_half_width": round(float(((ci.high or 0.0) - (ci.low or 0.0)) / 2), 3),
        "sens_at_0.5": round(float((p[y == 1] >= 0.5).mean()), 3),
        "spec_at_0.5": round(float((p[y == 0] < 0.5).mean()), 3),
        "seconds_phantoms": round(generated - started, 1),
        "seconds_train": round(trained - generated, 1),
        "seconds": round(trained - started, 1),
        "load1_before": round(load_before, 2),
        "load1_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma-separated candidate indices (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="append the results here")
    args = parser.parse_args()
    chosen = [int(i) for i in args.only.split(",")] if args.only else range(len(CANDIDATES))
    rows: list[dict[str, Any]] = []
    if args.json and args.json.is_file():
        rows = json.loads(args.json.read_text())["runs"]
    for index in chosen:
        with tempfile.TemporaryDirectory() as work:
            row = {"candidate": index, **run_candidate(Path(work), CANDIDATES[index], args.seed)}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.json:
            payload = {"machine": platform.machine(), "cpus": os.cpu_count(), "runs": rows}
            args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
