"""A benchmark folder the tests build without training: unit dirs with synthetic predictions + evaluate_run.

Every strategy and seed scores the SAME cases (same ids and labels); a strategy is
(signal, offset): logit = signal * y + case difficulty (shared by all models) +
model noise (per strategy and seed) + offset. A large negative offset makes a
model predict the majority at 0.5 (the collapse Walsh & Tardy report).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from medbalance.benchmark.store import ResultsStore, UnitRecord, metric_records_from_json
from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

RULES = ("fixed:0.5", "youden", "target-sensitivity:0.9")


def _cases(split: str, n_patients: int, prevalence: float, seed: int, domain: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        patient = f"{domain}-{split}-{p:04d}"
        for side in ("L", "R"):
            y = int(rng.random() < prevalence)
            difficulty = rng.normal(0, 1)
            for view in ("CC", "MLO"):
                rows.append({"image_id": f"{patient}_{side}_{view}", "patient_id": patient, "study_id": patient,
                             "breast_id": f"{patient}_{side}", "lesion_id": "", "domain": domain, "split": split,
                             "y": y, "difficulty": difficulty + rng.normal(0, 0.3)})  # fmt: skip
    return pd.DataFrame(rows)


def _scored(cases: pd.DataFrame, signal: float, offset: float, rng: np.random.Generator) -> pd.DataFrame:
    table = cases.copy()
    breast_noise = {b: rng.normal(0, 0.8) for b in table["breast_id"].unique()}
    z = signal * table["y"] + table["difficulty"] + table["breast_id"].map(breast_noise) + offset
    table["label"] = np.where(table["y"] == 1, "malignant", "benign")
    table["prob_malignant"] = expit(z)
    table["prob_benign"] = 1 - table["prob_malignant"]
    table["logit_benign"] = 0.0
    table["logit_malignant"] = z
    return table.drop(columns=["y", "difficulty"])


def write_unit(unit_dir: Path, val: pd.DataFrame, test: pd.DataFrame, *, strategy: str, seed: int,
               signal: float, offset: float, test_signal: float | None = None,
               figures: bool = False) -> dict:  # fmt: skip
    """One unit folder with predictions, summary.json and evaluation/; returns its metrics.json."""
    rng = np.random.default_rng(zlib.crc32(f"{strategy}/{seed}".encode()))  # stable across processes
    unit_dir.mkdir(parents=True)
    _scored(val, signal, offset, rng).to_csv(unit_dir / "predictions_val.csv", index=False)
    _scored(test, signal if test_signal is None else test_signal, offset, rng).to_csv(
        unit_dir / "predictions_test.csv", index=False
    )
    summary = {"classes": ["benign", "malignant"], "positive_class": "malignant", "task": "binary",
               "strategy": strategy, "rebalances": strategy != "none", "model": "small-cnn", "seed": seed, "status": "completed", "best_epoch": 1,
               "config_hash": "c", "split_hash": "s", "training_class_counts": {"benign": 950, "malignant": 50}}  # fmt: skip
    (unit_dir / "summary.json").write_text(json.dumps(summary))
    config = EvaluateConfig(level="breast", rules=RULES, n_bootstrap=50, seed=0, figures=figures,
                            deployment_prevalences=(0.01,))  # fmt: skip
    return evaluate_run(unit_dir, config).metrics


def _write_data(bench: Path, val: pd.DataFrame, test: pd.DataFrame) -> None:
    """BENCH/data/phantoms/manifest.csv and validation.json as the benchmark writes them."""
    folder = bench / "data" / "phantoms"
    folder.mkdir(parents=True)
    train = val.assign(split="train", patient_id=val["patient_id"].str.replace("val", "train"))
    table = pd.concat([train, val, test]).assign(label=lambda t: np.where(t["y"] == 1, "malignant", "benign"))
    table.drop(columns=["y", "difficulty"]).to_csv(folder / "manifest.csv", index=False)
    problems = [{"severity": "warning", "message": "only 24 malignant breasts in val"}]
    (folder / "validation.json").write_text(json.dumps({"ok": True, "problems": problems}))


DEFAULT_STRATEGIES = {"none": (2.2, -4.0), "class-weight": (2.2, 0.0), "undersample": (1.2, 0.0),
                      "synthetic-lesions": (2.3, -1.0)}  # fmt: skip


def build_benchmark(bench: Path, strategies: dict[str, tuple[float, float]] | None = None, seeds: tuple[int, ...] = (0, 1),
                    ood_signal: dict[str, float] | None = None, figures: bool = False,
                    n_test_patients: int = 220) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Units for phantoms (in-distribution) and vendor-c (out-of-distribution), recorded in
    ``bench/results.sqlite`` through the store's public API; returns its (units, metrics) frames."""
    strategies = strategies or DEFAULT_STRATEGIES
    ood_signal = ood_signal or {}
    val = _cases("val", 120, 0.1, 1, "vendor-a")
    tests = {"phantoms": _cases("test", n_test_patients, 0.1, 2, "vendor-a"),
             "vendor-c": _cases("test", 150, 0.1, 3, "vendor-c")}  # fmt: skip
    store = ResultsStore(bench / "results.sqlite")
    _write_data(bench, val, tests["phantoms"])
    for strategy, (signal, offset) in strategies.items():
        for seed in seeds:
            for test_set, test in tests.items():
                in_dist = test_set == "phantoms"
                unit_id = f"phantoms--{test_set}--{strategy}--{seed}"
                test_signal = None if in_dist else ood_signal.get(strategy, signal * 0.7)
                metrics = write_unit(bench / "units" / unit_id, val, test, strategy=strategy, seed=seed,
                                     signal=signal, offset=offset, test_signal=test_signal, figures=figures)  # fmt: skip
                unit = UnitRecord(unit_id, "phantoms", test_set, strategy, "", seed, in_dist,
                                  f"units/{unit_id}", (unit_id,), "breast", 0, 0)  # fmt: skip
                store.record_unit(unit, metric_records_from_json(metrics))
    frames = store.units_frame(), store.metrics_frame()
    store.close()
    return frames
