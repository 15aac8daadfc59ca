"""How hard is the phantom task for medbalance's own small CNN? Calibrates the phantom defaults.

For each prevalence, lesion contrast and seed it runs the real pipeline: phantoms
written to disk -> patient-grouped split 0.6/0.2/0.2 -> ``medbalance`` training
engine (``small-cnn`` at 128 px, 8 epochs, batch 16, AdamW lr 1e-3, cosine,
checkpoint with the best validation AUC: the settings of ``medbalance demo``)
-> image-level test AUC (scikit-learn ``roc_auc_score``) overall and for each
finding's images against the images with no finding.

``--patch`` adds a 6 x 6 saturated square to the middle of every malignant
image: a check of the model, not of the phantoms (a model that cannot learn
that cannot learn anything smaller).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/phantom_difficulty.py \\
        --prevalences 0.5 --seeds 0,1 --json benchmarks/results/phantom_difficulty.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import roc_auc_score

from medbalance.data.manifest import load_manifest
from medbalance.data.splits import split_manifest
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
from medbalance.training.config import load_train_config
from medbalance.training.run import train


def add_patch(data_dir: Path) -> None:
    """A 6 x 6 square at the maximum value around the middle breast pixel of every malignant image."""
    table = pd.read_csv(data_dir / "manifest.csv")
    for path in table.loc[table["label"] == "malignant", "path"]:
        pixels = np.asarray(Image.open(data_dir / path)).copy()
        rows, cols = np.nonzero(pixels > pixels.max() * 0.1)
        r, c = rows[len(rows) // 2], cols[len(cols) // 2]
        pixels[r - 3 : r + 3, c - 3 : c + 3] = pixels.max()
        Image.fromarray(pixels).save(data_dir / path)


def auc_by_finding(findings: pd.Series, scores: pd.Series) -> dict[str, float]:
    """AUC of each finding's test images against test images with no finding."""
    normal = findings == "none"
    out = {}
    for kind in sorted(set(findings) - {"none"}):
        chosen = (findings == kind) | normal
        out[kind] = round(float(roc_auc_score(findings[chosen] == kind, scores[chosen])), 3)
    return out


def run_one(work: Path, config: PhantomConfig, *, epochs: int, strategy: str, patch: bool) -> dict[str, Any]:
    started = time.perf_counter()
    data_dir = work / "data"
    generate_phantoms(config, out_dir=data_dir, overwrite=True)
    if patch:
        add_patch(data_dir)
    manifest = split_manifest(
        load_manifest(data_dir / "manifest.csv"),
        fractions=(0.6, 0.2, 0.2),
        group_by="patient",
        seed=config.seed,
    )
    manifest.save(data_dir / "manifest.csv")
    settings = {
        "out": str(work / "run"), "data": str(data_dir / "manifest.csv"), "strategy": strategy,
        "model": "small-cnn", "epochs": epochs, "batch_size": 16, "image_size": 128, "lr": 1e-3,
        "seed": config.seed, "cache_dir": str(work / "cache"), "overwrite": True, "progress": False,
    }  # fmt: skip
    train(load_train_config(None, settings))
    predictions = pd.read_csv(work / "run" / "predictions_test.csv")
    findings = (
        manifest.table.set_index("image_id").loc[predictions["image_id"], "finding"].reset_index(drop=True)
    )
    truth = predictions["label"] == "malignant"
    return {
        "prevalence": config.prevalence,
        "lesion_contrast": config.lesion_contrast,
        "seed": config.seed,
        "patch": patch,
        "strategy": strategy,
        "test_images": len(predictions),
        "test_malignant": int(truth.sum()),
        "auc": round(float(roc_auc_score(truth, predictions["prob_malignant"])), 3),
        "auc_vs_normal": auc_by_finding(findings, predictions["prob_malignant"]),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prevalences", default="0.5", help="comma-separated malignant-breast shares")
    parser.add_argument("--contrasts", default="3", help="comma-separated lesion_contrast values")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (data, split and model)")
    parser.add_argument("--n-patients", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--strategy", default="none", help="training strategy (class-weight for 19:1)")
    parser.add_argument("--patch", action="store_true", help="add a 6x6 saturated square to malignant images")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    rows = []
    for prevalence in (float(p) for p in args.prevalences.split(",")):
        for contrast in (float(c) for c in args.contrasts.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                config = PhantomConfig(
                    n_patients=args.n_patients, prevalence=prevalence, lesion_contrast=contrast, seed=seed
                )
                with tempfile.TemporaryDirectory() as work:
                    row = run_one(
                        Path(work), config, epochs=args.epochs, strategy=args.strategy, patch=args.patch
                    )
                row["n_patients"] = args.n_patients
                print(json.dumps(row), flush=True)
                rows.append(row)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": platform.processor() or platform.machine(), "runs": rows}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
