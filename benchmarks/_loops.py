"""The two sides of the training comparison: ``medbalance.train`` and a plain PyTorch loop.

The plain loop is the script a user would otherwise write: a torchvision
``ImageFolder`` of the same PNGs (grey, resized, ``ToTensor``), the same timm
model, batch, optimiser (AdamW, lr 5e-4), threads and number of epochs; the
validation AUC after every epoch (scikit-learn), the best weights saved with
``torch.save`` and test-set probabilities at the end.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

__all__ = ["Stamps", "image_folders", "run_medbalance", "run_plain_loop"]


class Stamps(Callback):
    """Wall-clock marks of a Lightning fit: first/last step, epochs, gaps between steps."""

    def __init__(self) -> None:
        self.first_step: float | None = None
        self.last_step_end: float | None = None
        self.epoch_starts: list[float] = []
        self.step_seconds: list[float] = []
        self.wait_seconds: list[float] = []
        self._step_start = 0.0
        self._prev_end: float | None = None

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self.epoch_starts.append(time.perf_counter())
        self._prev_end = None

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        if self.first_step is None:
            self.first_step = now
        if self._prev_end is not None:
            self.wait_seconds.append(now - self._prev_end)
        self._step_start = now

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        self.step_seconds.append(now - self._step_start)
        self.last_step_end = self._prev_end = now


def run_medbalance(overrides: dict[str, Any]) -> dict[str, Any]:
    """One ``train()`` call; whole time, epoch times, fixed costs and step/wait times."""
    from medbalance.training.config import load_train_config
    from medbalance.training.run import train

    start = time.perf_counter()
    stamps = Stamps()
    train(load_train_config(None, {"progress": False, "overwrite": True, **overrides}), callbacks=[stamps])
    end = time.perf_counter()
    if stamps.first_step is None or stamps.last_step_end is None:
        raise RuntimeError("the run made no training step")
    starts = stamps.epoch_starts
    return {
        "whole_s": end - start,
        # start to start: training, validation, checkpoint and history of one epoch (the last has no successor)
        "epoch_s": [b - a for a, b in itertools.pairwise(starts)],
        "start_to_first_step_s": stamps.first_step - start,
        "last_step_to_end_s": end - stamps.last_step_end,
        "step_s": stamps.step_seconds,
        "wait_s": stamps.wait_seconds,
    }


def image_folders(manifest_path: Path, work: Path) -> dict[str, Path]:
    """``work/<split>/<label>/<file>`` symlinks to a manifest's images: one ImageFolder per split."""
    from medbalance.data.manifest import load_manifest

    manifest = load_manifest(manifest_path)
    folders = {}
    for split in ("train", "val", "test"):
        subset = manifest.subset(split)
        root = work / split
        for path, label in zip(subset.paths(), subset.table["label"], strict=True):
            link = root / str(label) / path.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                os.symlink(path, link)
        for label in manifest.classes:  # ImageFolder needs every class folder
            (root / label).mkdir(parents=True, exist_ok=True)
        folders[split] = root
    return folders


def _loader(root: Path, size: int, batch: int, shuffle: bool) -> torch.utils.data.DataLoader[Any]:
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.Grayscale(1), transforms.Resize((size, size)), transforms.ToTensor()]
    )
    dataset = datasets.ImageFolder(str(root), transform=transform, allow_empty=True)
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=shuffle, num_workers=0)


def _probabilities(model: torch.nn.Module, loader: torch.utils.data.DataLoader[Any]) -> tuple[Any, Any]:
    model.eval()
    probs, labels = [], []
    with torch.no_grad():
        for images, target in loader:
            probs.append(torch.softmax(model(images), 1)[:, 1])
            labels.append(target)
    model.train()
    return torch.cat(labels).numpy(), torch.cat(probs).numpy()


def run_plain_loop(
    folders: dict[str, Path], *, model: str, size: int, batch: int, epochs: int, out: Path
) -> dict:
    """The plain loop; whole time, epoch times and data-wait share."""
    import timm
    from sklearn.metrics import roc_auc_score

    start = time.perf_counter()
    torch.manual_seed(0)
    if model in timm.list_models():
        network = timm.create_model(model, pretrained=False, num_classes=2, in_chans=1)
    else:  # medbalance's own models (small-cnn) have no timm name
        from medbalance.training.models import create_model

        network = create_model(model, num_classes=2, in_chans=1)
    optimiser = torch.optim.AdamW(network.parameters(), lr=5e-4, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    train_loader = _loader(folders["train"], size, batch, True)
    val_loader = _loader(folders["val"], size, batch, False)
    epoch_s, waits, steps, best = [], [], [], -1.0
    first_step = None
    for _ in range(epochs):
        epoch_start = time.perf_counter()
        fetch_start = epoch_start
        for images, target in train_loader:
            step_start = time.perf_counter()
            first_step = first_step or step_start
            waits.append(step_start - fetch_start)
            optimiser.zero_grad()
            loss_fn(network(images), target).backward()
            optimiser.step()
            fetch_start = time.perf_counter()
            steps.append(fetch_start - step_start)
        labels, probs = _probabilities(network, val_loader)
        auc = float(roc_auc_score(labels, probs)) if len(np.unique(labels)) == 2 else 0.5
        if auc > best:
            best = auc
            out.mkdir(parents=True, exist_ok=True)
            torch.save(network.state_dict(), out / "best.pt")
        epoch_s.append(time.perf_counter() - epoch_start)
    _probabilities(network, _loader(folders["test"], size, batch, False))
    return {
        "whole_s": time.perf_counter() - start,
        "epoch_s": epoch_s,
        "start_to_first_step_s": (first_step or start) - start,
        "step_s": steps,
        "wait_s": waits,
    }
