"""Fine-tuning schedule: frozen backbone, head-only warm-up, then unfreezing.

The engine calls :func:`apply_freeze` at the start of every epoch; when it
returns True, trainability changed and the optimizer must be REBUILT from
:func:`build_param_groups` (an optimizer built once during warm-up holds only
the head and would leave the backbone frozen forever).

What trains (epochs are 0-based)::

    schedule                                        epoch < warmup   epoch >= warmup
    freeze="none"                                   everything       everything
    freeze="backbone", warmup_epochs=N              head             everything
    freeze="backbone", warmup_epochs=N, last-block  head             head + last block
    freeze="backbone", warmup_epochs=0              -                head only (linear probe)
    freeze="backbone", warmup_epochs=0, last-block  -                head + last block

Example:
    >>> import torch
    >>> from medbalance.training.models import create_model
    >>> model, optimizer = create_model("small-cnn", num_classes=2, in_chans=1), None
    >>> schedule = FreezeSchedule(freeze="backbone", warmup_epochs=2)
    >>> for epoch in range(4):
    ...     if apply_freeze(model, schedule, epoch) or optimizer is None:
    ...         optimizer = torch.optim.AdamW(build_param_groups(model, lr=1e-3, weight_decay=0.05))
    ...         print(epoch, sum(p.numel() for g in optimizer.param_groups for p in g["params"]))
    0 258
    2 99986
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.registry import look_up_option
from medbalance.training._parts import split_parameter_names

__all__ = ["FreezeSchedule", "apply_freeze", "build_param_groups", "trainable_parameter_names"]


@dataclass(frozen=True)
class FreezeSchedule:
    """Which parameters train in which epoch.

    Attributes:
        freeze: ``"none"`` trains everything; ``"backbone"`` starts with only the head.
        warmup_epochs: head-only epochs before unfreezing. With ``freeze="backbone"``
            and 0, the backbone stays frozen for the whole run, except the last
            block when ``unfreeze="last-block"``.
        unfreeze: what joins the head at epoch ``warmup_epochs``: ``"all"`` the whole
            backbone (needs a warm-up), ``"last-block"`` the last feature stage only.
    """

    freeze: Literal["none", "backbone"] = "none"
    warmup_epochs: int = option(0, ge=0)
    unfreeze: Literal["all", "last-block"] = "all"

    def __post_init__(self) -> None:
        look_up_option(self.freeze, ("none", "backbone"), what="freeze option")
        look_up_option(self.unfreeze, ("all", "last-block"), what="unfreeze option")
        check_constraints(self)
        if self.freeze == "none" and (self.warmup_epochs > 0 or self.unfreeze != "all"):
            raise ConfigError(
                f"warmup_epochs={self.warmup_epochs} / unfreeze={self.unfreeze!r} need a frozen backbone to "
                "unfreeze, but freeze='none'; add --freeze backbone."
            )

    def phase(self, epoch: int) -> Literal["all", "head", "last-block"]:
        """What trains in ``epoch`` (0-based): ``"all"``, ``"head"`` or ``"last-block"`` (+ head)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}.")
        if self.freeze == "none":
            return "all"
        if epoch < self.warmup_epochs:
            return "head"
        if self.unfreeze == "last-block":
            return "last-block"
        return "all" if self.warmup_epochs > 0 else "head"


def trainable_parameter_names(model: nn.Module, schedule: FreezeSchedule, epoch: int) -> set[str]:
    """Names of the parameters ``schedule`` trains in ``epoch``."""
    backbone, head, last = split_parameter_names(model)
    phase = schedule.phase(epoch)
    if phase == "all":
        return set(backbone) | set(head)
    if phase == "last-block":
        return set(head) | set(last)
    return set(head)


def apply_freeze(model: nn.Module, schedule: FreezeSchedule, epoch: int) -> bool:
    """Set ``requires_grad`` for ``epoch``; return True when any parameter changed.

    When it returns True, rebuild the optimizer from :func:`build_param_groups`.
    Frozen BatchNorm layers still update their running statistics in train mode;
    put them in eval mode if that matters for the run.
    """
    wanted = trainable_parameter_names(model, schedule, epoch)
    changed = False
    for name, param in model.named_parameters():
        trainable = name in wanted
        if param.requires_grad != trainable:
            param.requires_grad_(trainable)
            changed = True
    return changed


def build_param_groups(
    model: nn.Module, *, lr: float, weight_decay: float, head_lr_mult: float = 1.0
) -> list[dict[str, Any]]:
    """Optimizer parameter groups over the TRAINABLE parameters only.

    Biases and normalisation weights (every parameter with fewer than two
    dimensions, as timm's ``param_groups_weight_decay``) get no weight decay; the
    head's learning rate is ``lr * head_lr_mult``. Empty groups are left out.

    Returns:
        Dicts with ``params``, ``lr``, ``weight_decay`` and a ``name``
        (``backbone``/``backbone_no_decay``/``head``/``head_no_decay``).
    """
    for label, value in (("lr", lr), ("weight_decay", weight_decay), ("head_lr_mult", head_lr_mult)):
        if not value >= 0:
            raise ConfigError(f"{label} must be >= 0, got {value!r}.")
    _, head, _ = split_parameter_names(model)
    head_set = set(head)
    buckets: dict[str, list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "head" if name in head_set else "backbone"
        key = part if param.ndim > 1 else f"{part}_no_decay"
        buckets.setdefault(key, []).append(param)
    groups = []
    for key in ("backbone", "backbone_no_decay", "head", "head_no_decay"):
        if key in buckets:
            groups.append(
                {
                    "name": key,
                    "params": buckets[key],
                    "lr": lr * (head_lr_mult if key.startswith("head") else 1.0),
                    "weight_decay": 0.0 if key.endswith("no_decay") else weight_decay,
                }
            )
    if not groups:
        raise ConfigError("no trainable parameters: the schedule froze the whole model, head included.")
    return groups
