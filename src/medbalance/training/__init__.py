"""Training: models (medbalance's own and timm's), fine-tuning schedule, augmentation presets."""

from __future__ import annotations

from medbalance.training.augment import (
    AUGMENTATIONS,
    Augmentation,
    create_augmentation,
    create_generator,
    seed_worker,
)
from medbalance.training.finetune import FreezeSchedule, apply_freeze, build_param_groups
from medbalance.training.models import (
    MODELS,
    ModelEntry,
    WeightsReport,
    create_model,
    list_models,
    load_weights,
    split_parameters,
)

__all__ = [
    "AUGMENTATIONS",
    "MODELS",
    "Augmentation",
    "FreezeSchedule",
    "ModelEntry",
    "WeightsReport",
    "apply_freeze",
    "build_param_groups",
    "create_augmentation",
    "create_generator",
    "create_model",
    "list_models",
    "load_weights",
    "seed_worker",
    "split_parameters",
]
