"""The sections of :class:`~medbalance.training.config.TrainConfig`: small frozen dataclasses.

Each section groups the options of one concern (``optim``: how the weights move,
``hardware``: where it runs, ...). Field names are unique across the sections, so a
flat key (``epochs``) names exactly one section field (``optim.epochs``): YAML files,
``--set`` and ``mb.train(...)`` accept either spelling
(:func:`medbalance.config.nest_sections`). A check that ties two fields of one
section together lives in that section's ``__post_init__``; one that spans sections
lives in ``TrainConfig.__post_init__``.

``phantoms`` (:class:`PhantomSpec`) is a nested setting, not a section: its names
(``seed``, ``size``) would clash with other fields, so it is always written nested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medbalance.constraints import check_constraints, option
from medbalance.defaults import DEFAULT_LR, phantom_option
from medbalance.errors import ConfigError

__all__ = [
    "BalancingSettings",
    "CheckpointSettings",
    "HardwareSettings",
    "InputSettings",
    "LabelSettings",
    "NetworkSettings",
    "OptimSettings",
    "PhantomSpec",
    "RunSettings",
    "SplitSettings",
]


@dataclass(frozen=True)
class PhantomSpec:
    """The phantom set generated when ``data`` is ``phantoms`` (see ``PhantomConfig``).

    Attributes:
        n_patients: patients (4 images each).
        prevalence: share of malignant breasts (0.05 = 19:1).
        size: phantom image side in pixels.
        lesion_contrast: lesion visibility (the phantom generator's default, 3.0).
        domains: vendor domains, assigned in turn.
        seed: the phantom seed; None uses the run's seed.
    """

    n_patients: int = phantom_option("n_patients")
    prevalence: float = phantom_option("prevalence")
    size: int = phantom_option("size")
    lesion_contrast: float = phantom_option("lesion_contrast")
    domains: tuple[str, ...] = phantom_option("domains")
    seed: int | None = option(None, ge=0)

    def __post_init__(self) -> None:
        check_constraints(self, "phantoms")


@dataclass(frozen=True)
class LabelSettings:
    """Which classes a manifest CSV has.

    Attributes:
        classes: the class list to declare for a manifest CSV (else its sidecar's / inferred).
        positive_class: the positive class of a binary task.
    """

    classes: tuple[str, ...] | None = None
    positive_class: str | None = None


@dataclass(frozen=True)
class SplitSettings:
    """How the manifest is split into train, validation and test.

    Attributes:
        fractions: train/val/test shares when the manifest has no split.
        group_by: the unit kept within one split.
        fold: cross-validation fold used as the test split (the manifest's ``fold``
            column, 0..K-1, e.g. from ``medbalance data --folds K`` on a manifest without
            a test split); fold ``(fold + 1) % K`` is validation, the rest training.
            None uses the manifest's ``split`` column (or ``fractions``).
    """

    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    group_by: Literal["patient", "study", "image"] = "patient"
    fold: int | None = option(None, ge=0, fix="give a value of the manifest's fold column (0..K-1), or null.")

    def __post_init__(self) -> None:
        check_constraints(self, "split")


@dataclass(frozen=True)
class BalancingSettings:
    """The strategy's parameters and the guard against a collapsed model.

    Attributes:
        strategy_params: the strategy's parameters (CLI ``--strategy-param KEY=VALUE``).
        allow_double_balancing: run a composition that rebalances twice on purpose.
        on_collapse: ``warn`` or ``stop`` when validation predictions collapse.
        collapse_share: a class holding more than this share of predictions is a collapse.
    """

    strategy_params: dict[str, Any] = field(default_factory=dict)
    allow_double_balancing: bool = False
    on_collapse: Literal["warn", "stop"] = "warn"
    collapse_share: float = option(0.95, gt=0.5, le=1.0)

    def __post_init__(self) -> None:
        check_constraints(self, "balancing")


@dataclass(frozen=True)
class NetworkSettings:
    """The network's weights, head and fine-tuning schedule.

    Attributes:
        pretrained: load the model hub's weights (fails offline; use ``weights``).
        weights: a local ``.safetensors`` or state-dict file to start from.
        drop_rate: dropout before the classifier.
        channels: 1 (grey) or 3 (grey repeated, for RGB backbones).
        freeze: ``none`` or ``backbone`` (head-only first).
        warmup_epochs: head-only epochs before unfreezing (with ``freeze=backbone``).
        unfreeze: what joins the head after warm-up: ``all`` or ``last-block``.
    """

    pretrained: bool = False
    weights: Path | None = None
    drop_rate: float = option(0.0, ge=0.0, lt=1.0)
    channels: Literal[1, 3] = 1
    freeze: Literal["none", "backbone"] = "none"
    warmup_epochs: int = option(0, ge=0)
    unfreeze: Literal["all", "last-block"] = "all"

    def __post_init__(self) -> None:
        check_constraints(self, "network")
        if self.weights is not None and self.pretrained:
            raise ConfigError(
                "give either --pretrained (model hub) or --weights PATH (local file), not both."
            )


@dataclass(frozen=True)
class InputSettings:
    """What the network sees: preprocessing, normalisation, augmentation and their cache.

    Attributes:
        image_size: side of the square network input in pixels.
        preprocess: ``mammography`` (Walsh & Tardy pipeline) or ``generic``.
        equalize: histogram equalisation in preprocessing.
        normalize: subtract the training split's mean and divide by its std.
        augmentation: augmentation preset (``none``, ``mammography``, ``dermoscopy``).
        cache_dir: preprocessing cache (default ``out/cache``).
    """

    image_size: int = option(128, ge=1)
    preprocess: Literal["mammography", "generic"] = "mammography"
    equalize: bool = False
    normalize: bool = True
    augmentation: str = "none"
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        check_constraints(self, "input")


@dataclass(frozen=True)
class OptimSettings:
    """How the weights move: budget, optimizer, schedule, SAM and EMA.

    Attributes:
        epochs: training epochs.
        batch_size: images per batch (per device under DDP).
        lr: peak learning rate.
        weight_decay: decoupled weight decay (AdamW) or L2 (SGD).
        optimizer: ``adamw`` or ``sgd``.
        scheduler: ``cosine``, ``plateau`` or ``none``.
        lr_warmup_epochs: epochs of linear learning-rate warm-up.
        grad_clip: gradient-norm clipping value, or None (default: off). Clipping
            fights loss re-weighting: the rare, heavily weighted minority batches
            have the largest gradients and get clipped while majority batches do
            not, which pulls the model back to the majority (measured: class-weight
            at 19:1 with clip 1.0 ends at p(malignant) ~0.07 for every image, without
            clipping ~0.5). Turn it on for unstable models, not for imbalance studies.
        sam: sharpness-aware minimisation (Foret et al. 2021; ``pytorch-optimizer``'s SAM
            around the chosen optimizer): each step takes a second forward/backward pass at
            weights perturbed by ``sam_rho`` along the gradient, so it costs about twice the
            compute. Works with ``ema``; not with ``grad_clip`` or ``16-mixed`` precision.
        sam_rho: SAM's neighbourhood radius.
        ema: keep an exponential moving average of the weights.
        ema_decay: EMA decay per optimizer step.
    """

    epochs: int = option(10, ge=1)
    batch_size: int = option(8, ge=1)
    lr: float = option(DEFAULT_LR, gt=0.0)
    weight_decay: float = option(1e-4, ge=0.0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    scheduler: Literal["cosine", "plateau", "none"] = "cosine"
    lr_warmup_epochs: int = option(0, ge=0)
    grad_clip: float | None = option(
        None, gt=0.0, fix="give a gradient-norm limit > 0, or null for no clipping."
    )
    sam: bool = False
    sam_rho: float = option(0.05, gt=0.0, fix="give a radius > 0; 0.05 is the usual one.")
    ema: bool = False
    ema_decay: float = option(0.999, gt=0.0, lt=1.0, fix="give a decay in (0, 1), e.g. 0.999.")

    def __post_init__(self) -> None:
        check_constraints(self, "optim")
        if self.sam and self.grad_clip is not None:
            raise ConfigError("sam does not work with grad_clip (SAM steps by hand); drop one of them.")


@dataclass(frozen=True)
class CheckpointSettings:
    """Which checkpoints are kept and when training stops.

    Attributes:
        monitor: validation metric that selects checkpoints (``auc_roc``, ``mcc``, ..., ``loss``;
            the old name ``auc`` is read as ``auc_roc``).
        top_k: best checkpoints kept.
        early_stopping_patience: stop after this many epochs without improvement, or None.
    """

    monitor: str = "auc_roc"
    top_k: int = option(3, ge=1)
    early_stopping_patience: int | None = option(
        None, ge=1, fix="give a number of epochs >= 1, or null to train all epochs."
    )

    def __post_init__(self) -> None:
        if self.monitor in ("auc", "ema_auc"):  # the name before training adopted evaluation's
            object.__setattr__(self, "monitor", self.monitor + "_roc")
        check_constraints(self, "checkpoints")


@dataclass(frozen=True)
class HardwareSettings:
    """Where and how fast it runs (none of it changes the config hash but ``precision``).

    Attributes:
        precision: ``auto`` (mixed on GPUs, 32-bit on CPU) or a Lightning precision.
        accelerator: ``auto`` (CUDA, else Apple's MPS, else CPU), ``cpu``, ``gpu`` (CUDA) or ``mps``.
        devices: ``auto``, a device count (``2``) or CUDA GPU ids (``0,2``; one id as ``3,``).
        distributed: ``auto`` or ``ddp``.
        num_nodes: machines (DDP).
        num_workers: DataLoader worker processes.
        deterministic: deterministic algorithms (same seed, same machine, same metrics).
    """

    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"] = "auto"
    accelerator: Literal["auto", "cpu", "gpu", "mps"] = "auto"
    devices: str = "auto"
    distributed: Literal["auto", "ddp"] = "auto"
    num_nodes: int = option(1, ge=1)
    num_workers: int = option(0, ge=0)
    deterministic: bool = True

    def __post_init__(self) -> None:
        check_constraints(self, "hardware")
        text = self.devices.strip().strip("[]").replace(" ", "")
        if (
            text != "auto"
            and not text.isdigit()
            and not ("," in text and text.strip(",") and all(p.isdigit() for p in text.split(",") if p))
        ):
            raise ConfigError(
                f"devices must be 'auto', a number of devices (2) or CUDA GPU ids (0,2 or 3,), got {self.devices!r}."
            )


@dataclass(frozen=True)
class RunSettings:
    """What to do with the run folder, and what to show while running.

    Attributes:
        resume: continue the run in ``out`` from its last checkpoint.
        force: resume even when the config or split changed.
        overwrite: replace an existing run folder.
        progress: show an epoch progress bar (Lightning's tqdm bar from the library;
            ``medbalance train`` draws Rich bars for the epochs and the preprocessing).
        loggers: trackers besides CSV: ``tensorboard``, ``mlflow``, ``wandb`` (docs/integrations.md).
    """

    resume: bool = False
    force: bool = False
    overwrite: bool = False
    progress: bool = True
    loggers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for logger in self.loggers:
            if logger not in ("tensorboard", "mlflow", "wandb"):
                raise ConfigError(
                    f"unknown logger {logger!r}; expected 'tensorboard', 'mlflow' or 'wandb' (CSV is always on)."
                )
