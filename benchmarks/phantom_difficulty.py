"""How hard is the phantom task? A cheap proxy for the default ``lesion_contrast``.

The training engine is the real judge; this script is a quick, independent check
that the default phantoms are learnable but not trivial. For each lesion contrast
and seed it generates a phantom set, downsamples it to 64 px (2x2 mean), flips
right breasts so every chest wall is on the left (as the preprocessing does),
splits patients 2:1 (stratified, grouped by patient) and measures the image-level
test AUC (scikit-learn ``roc_auc_score``) of

- a tiny CNN (3 conv layers, global max + mean pooling, Adam, class-balanced BCE),
- logistic regression on 32 x 32 pixels (a linear floor).

Run on one core (the machine is shared):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phantom_difficulty.py \\
        --contrasts 1,2,3 --seeds 0,1 --json benchmarks/results/phantom_difficulty.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn

from medbalance.synth.phantoms import PhantomConfig, generate_phantoms


def load_arrays(
    config: PhantomConfig, pixels: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images (N, pixels, pixels) with chest wall left, standardised; 0/1 labels; patients; findings."""
    phantoms = generate_phantoms(config)
    table = phantoms.manifest.table
    images = []
    for image_id, side in zip(table["image_id"], table["laterality"], strict=True):
        image = phantoms.images[image_id]
        image = image[:, ::-1] if side == "R" else image
        factor = image.shape[0] // pixels
        images.append(image.reshape(pixels, factor, pixels, factor).mean(axis=(1, 3)))
    labels = (table["label"] == "malignant").to_numpy(int)
    stack = np.stack(images).astype(np.float32)
    patients, findings = table["patient_id"].to_numpy(), table["finding"].to_numpy()
    return (stack - stack.mean()) / stack.std(), labels, patients, findings


def split(labels: np.ndarray, groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    folds = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed)
    train, test = next(folds.split(np.zeros(len(labels)), labels, groups))
    return train, test


def tiny_cnn() -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            )  # fmt: skip
            self.head = nn.Linear(64, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x)
            pooled = torch.cat([f.amax(dim=(2, 3)), f.mean(dim=(2, 3))], dim=1)
            return self.head(pooled).squeeze(1)

    return Net()


def cnn_scores(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int, epochs: int
) -> np.ndarray:
    torch.manual_seed(seed)
    model = tiny_cnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(x[train][:, None]), torch.from_numpy(y[train].astype(np.float32))
    pos_weight = torch.tensor((yt == 0).sum().item() / max(1.0, (yt == 1).sum().item()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(xt), generator=generator).split(32):
            images = xt[batch]
            flip = (
                torch.rand(len(batch), generator=generator) < 0.5
            )  # vertical flips only: the wall stays left
            images = torch.where(flip[:, None, None, None], images.flip(2), images)
            optimiser.zero_grad()
            loss_fn(model(images), yt[batch]).backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x[test][:, None])).numpy()


def auc_by_finding(findings: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC of each malignant finding's images against images with no finding."""
    normal = findings == "none"
    out = {}
    for kind in sorted(set(findings) - {"none"}):
        chosen = findings == kind
        truth = np.r_[np.ones(chosen.sum()), np.zeros(normal.sum())]
        out[kind] = round(float(roc_auc_score(truth, np.r_[scores[chosen], scores[normal]])), 3)
    return out


def linear_auc(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    factor = x.shape[1] // 32
    small = x.reshape(len(x), 32, factor, 32, factor).mean(axis=(2, 4)).reshape(len(x), -1)
    model = LogisticRegression(C=0.01, max_iter=2000, class_weight="balanced")
    model.fit(small[train], y[train])
    return float(roc_auc_score(y[test], model.decision_function(small[test])))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contrasts", default="3", help="comma-separated lesion_contrast values")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (data, split and model)")
    parser.add_argument("--prevalences", default="0.5,0.05", help="comma-separated malignant-breast shares")
    parser.add_argument("--n-patients", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for prevalence in (float(p) for p in args.prevalences.split(",")):
        for contrast in (float(c) for c in args.contrasts.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                started = time.perf_counter()
                config = PhantomConfig(
                    n_patients=args.n_patients, prevalence=prevalence, lesion_contrast=contrast, seed=seed
                )
                x, y, groups, findings = load_arrays(config)
                train, test = split(y, groups, seed)
                scores = cnn_scores(x, y, train, test, seed, args.epochs)
                row = {
                    "prevalence": prevalence,
                    "lesion_contrast": contrast,
                    "seed": seed,
                    "test_images": len(test),
                    "test_malignant": int(y[test].sum()),
                    "cnn_auc": round(float(roc_auc_score(y[test], scores)), 3),
                    "cnn_auc_vs_normal": auc_by_finding(findings[test], scores),
                    "linear_auc": round(linear_auc(x, y, train, test), 3),
                    "seconds": round(time.perf_counter() - started, 1),
                }
                print(row, flush=True)
                rows.append(row)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": platform.processor() or platform.machine(), "runs": rows}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
