"""Freeze schedule: trainable parameters per epoch, optimizer rebuilt when trainability changes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medbalance.config import parse_config
from medbalance.errors import ConfigError
from medbalance.training import (
    FreezeSchedule,
    apply_freeze,
    build_param_groups,
    create_model,
    split_parameters,
)

EPOCHS = 4


def _count(params: list[nn.Parameter]) -> int:
    return sum(p.numel() for p in params)


def _trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["small-cnn", "resnet22", "test_resnet"])
@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (FreezeSchedule(), ["all"] * EPOCHS),
        (FreezeSchedule(freeze="backbone", warmup_epochs=2), ["head", "head", "all", "all"]),
        (
            FreezeSchedule(freeze="backbone", warmup_epochs=2, unfreeze="last-block"),
            ["head", "head", "last", "last"],
        ),
        (FreezeSchedule(freeze="backbone"), ["head"] * EPOCHS),
        (FreezeSchedule(freeze="backbone", unfreeze="last-block"), ["last"] * EPOCHS),
    ],
    ids=["none", "warmup-2-all", "warmup-2-last-block", "frozen-backbone", "last-block-only"],
)
def test_trainable_parameter_count_in_every_epoch(
    name: str, schedule: FreezeSchedule, expected: list[str]
) -> None:
    model = create_model(name, num_classes=2)
    backbone, head, last = split_parameters(model)
    sizes = {
        "all": _count(backbone) + _count(head),
        "head": _count(head),
        "last": _count(head) + _count(last),
    }
    assert sizes["head"] < sizes["last"] < sizes["all"]
    counts, changes = [], []
    for epoch in range(EPOCHS):
        changes.append(apply_freeze(model, schedule, epoch))
        counts.append(_trainable(model))
    assert counts == [sizes[e] for e in expected]
    # trainability changes when the first call freezes something, and at the unfreeze epoch only
    assert changes[1:] == [expected[e] != expected[e - 1] for e in range(1, EPOCHS)]
    assert changes[0] == (expected[0] != "all")


def test_rebuilt_optimizer_updates_backbone_after_warmup() -> None:
    torch.manual_seed(0)
    model = create_model("small-cnn", num_classes=2)
    schedule = FreezeSchedule(freeze="backbone", warmup_epochs=2)
    probe = model.stages[0][0].weight  # a backbone tensor far from the head
    x, y = torch.rand(4, 1, 32, 32), torch.tensor([0, 1, 0, 1])
    optimizer = None
    moved = []
    for epoch in range(EPOCHS):
        if apply_freeze(model, schedule, epoch) or optimizer is None:
            optimizer = torch.optim.SGD(build_param_groups(model, lr=0.1, weight_decay=0.0))
        before = probe.detach().clone()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        moved.append(not torch.equal(before, probe.detach()))
    assert moved == [False, False, True, True]


def test_optimizer_built_once_during_warmup_leaves_backbone_frozen() -> None:
    """The peer bug this schedule prevents: the backbone never joins the optimizer."""
    model = create_model("small-cnn", num_classes=2)
    schedule = FreezeSchedule(freeze="backbone", warmup_epochs=1)
    apply_freeze(model, schedule, 0)
    optimizer = torch.optim.SGD(build_param_groups(model, lr=0.1, weight_decay=0.0))
    apply_freeze(model, schedule, 1)
    probe = model.stages[0][0].weight
    before = probe.detach().clone()
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(torch.rand(2, 1, 32, 32)), torch.tensor([0, 1])).backward()
    optimizer.step()
    assert torch.equal(before, probe.detach())


def test_param_groups_decay_and_head_lr() -> None:
    model = create_model("small-cnn", num_classes=2)
    apply_freeze(model, FreezeSchedule(freeze="backbone", warmup_epochs=1), 1)
    groups = {g["name"]: g for g in build_param_groups(model, lr=1e-3, weight_decay=0.05, head_lr_mult=10.0)}
    assert set(groups) == {"backbone", "backbone_no_decay", "head", "head_no_decay"}
    assert groups["head"]["lr"] == pytest.approx(1e-2) and groups["backbone"]["lr"] == pytest.approx(1e-3)
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0 and groups["backbone"]["weight_decay"] == 0.05
    assert all(p.ndim == 1 for g in ("backbone_no_decay", "head_no_decay") for p in groups[g]["params"])
    assert all(p.ndim > 1 for g in ("backbone", "head") for p in groups[g]["params"])
    n_grouped = sum(p.numel() for g in groups.values() for p in g["params"])
    assert n_grouped == _trainable(model)


def test_param_groups_hold_only_trainable_parameters() -> None:
    model = create_model("small-cnn", num_classes=2)
    apply_freeze(model, FreezeSchedule(freeze="backbone", warmup_epochs=3), 0)
    groups = build_param_groups(model, lr=1e-3, weight_decay=0.05)
    assert {g["name"] for g in groups} == {"head", "head_no_decay"}
    assert all(p.requires_grad for g in groups for p in g["params"])


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"freeze": "backbon"}, "Did you mean 'backbone'"),
        ({"freeze": "backbone", "unfreeze": "last"}, "Did you mean 'last-block'"),
        ({"freeze": "backbone", "warmup_epochs": -1}, "warmup_epochs must be an integer >= 0"),
        ({"warmup_epochs": 2}, "add --freeze backbone"),
        ({"unfreeze": "last-block"}, "add --freeze backbone"),
        ({"warmup_epoch": 2}, "Did you mean 'warmup_epochs'"),
    ],
    ids=[
        "freeze-typo",
        "unfreeze-typo",
        "negative-warmup",
        "warmup-without-freeze",
        "last-block-without-freeze",
        "key-typo",
    ],
)
def test_schedule_rejects_bad_config(mapping: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(FreezeSchedule, mapping)


def test_param_groups_refuse_bad_values_and_a_fully_frozen_model() -> None:
    model = create_model("small-cnn", num_classes=2)
    with pytest.raises(ConfigError, match="lr must be >= 0"):
        build_param_groups(model, lr=-1.0, weight_decay=0.0)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_param_groups(model, lr=1e-3, weight_decay=0.0)
