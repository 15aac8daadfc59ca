"""SAM (sharpness-aware minimisation) as a training option: one Lightning step against a hand-made
reference, and a tiny run with SAM + EMA."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from medbalance.errors import ConfigError
from medbalance.strategies import create_strategy
from medbalance.training.config import TrainConfig, load_train_config
from medbalance.training.finetune import build_param_groups
from medbalance.training.models import create_model
from medbalance.training.module import ClassifierTask, OptimizerSettings
from medbalance.training.run import train

LR, RHO = 0.01, 0.05


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(8, 1, 32, 32, generator=generator)
    targets = torch.tensor([0, 1] * 4)
    return images, targets, torch.arange(8), torch.full((8,), 0.5)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("small-cnn", num_classes=2, in_chans=1)


def _lightning_step(sam_rho: float | None, optimizer: str = "adamw") -> torch.Tensor:
    """Weights after one training step through Lightning (automatic or SAM's manual optimisation)."""
    strategy = create_strategy("none").fit(np.array([0, 1] * 4), 2, seed=0, positive_index=1)
    optim = OptimizerSettings(optimizer=optimizer, lr=LR, weight_decay=0.0, scheduler="none", sam_rho=sam_rho)  # type: ignore[arg-type]
    task = ClassifierTask(_model(), strategy, class_names=("a", "b"), optim=optim, positive_index=1)
    batch = _batch()
    loader = DataLoader([tuple(t[i] for t in batch) for i in range(8)], batch_size=8)
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)  # fmt: skip
    trainer.fit(task, train_dataloaders=loader)
    return torch.nn.utils.parameters_to_vector(task.model.parameters()).detach()


def _reference_sam_step() -> torch.Tensor:
    """SAM by hand: gradient at w, ascend to w + rho g/|g|, gradient there, SGD step from w."""
    model = _model()
    images, targets = _batch()[:2]
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    loss_fn(model(images), targets).backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.norm(torch.stack([p.grad.norm(2) for p in params]), 2)
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(p.grad * RHO / (norm + 1e-12))
    model.zero_grad()
    loss_fn(model(images), targets).backward()
    with torch.no_grad():
        for p, w in zip(params, saved, strict=True):
            p.copy_(w)
    groups = build_param_groups(model, lr=LR, weight_decay=0.0)
    torch.optim.SGD(groups, lr=LR, momentum=0.9, nesterov=True).step()
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()


def test_sam_step_matches_the_reference_and_differs_from_adamw() -> None:
    start = torch.nn.utils.parameters_to_vector(_model().parameters()).detach()
    adamw, sam = _lightning_step(None), _lightning_step(RHO)
    assert not torch.allclose(adamw, start) and not torch.allclose(sam, start)
    assert (
        sam - adamw
    ).abs().max() > 1e-4  # the gradient at the perturbed weights moved some weights otherwise
    # SGD's step is linear in the gradient, so the reference is matched closely (Adam's first step,
    # g / (|g| + eps), turns float noise on near-zero gradients into visible differences)
    torch.testing.assert_close(_lightning_step(RHO, "sgd"), _reference_sam_step(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"sam_rho": 0.0}, "sam_rho must be > 0"), ({"grad_clip": 1.0}, "grad_clip"),
     ({"precision": "16-mixed"}, "16-mixed")],
    ids=["rho", "clip", "fp16"],
)  # fmt: skip
def test_sam_option_errors(tmp_path: Path, changes: dict, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_train_config(None, {"out": tmp_path, "sam": True, **changes})


def test_tiny_run_with_sam_and_ema_completes(tmp_path: Path) -> None:
    from medbalance.training.config import InputSettings, OptimSettings, PhantomSpec, RunSettings

    config = TrainConfig(out=tmp_path / "run", optim=OptimSettings(sam=True, ema=True, epochs=2, batch_size=8),
                         input=InputSettings(image_size=32), run=RunSettings(progress=False),
                         phantoms=PhantomSpec(n_patients=30, prevalence=0.3, size=32))  # fmt: skip
    result = train(config)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert result.status == "completed" and summary["status"] == "completed"
    assert len((tmp_path / "run" / "history.csv").read_text().strip().splitlines()) == 3
    assert (tmp_path / "run" / "predictions_test.csv").is_file()
