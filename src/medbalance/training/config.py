"""The training run's configuration: one frozen dataclass, parsed strictly.

``TrainConfig`` is built from YAML (``--config``) plus CLI overrides through
:func:`medbalance.config.load_config` / :func:`medbalance.config.parse_config`:
unknown keys and wrong types are errors with "did you mean", nothing is
silently ignored. The resolved config is written to ``RUN/config.yaml``.

The config hash (:func:`compute_train_config_hash`) covers every field that
changes what is trained; fields that only say where and how to run (output
folder, resume/force/overwrite, progress, workers, devices, loggers, cache)
are left out, so a run can be resumed on another machine or device count.

Example:
    >>> config = load_train_config(None, {"out": "runs/a", "strategy": "oversample", "epochs": 5})
    >>> config.strategy, config.epochs
    ('oversample', 5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medbalance.config import config_hash, config_to_dict, load_config, merge_overrides, parse_config
from medbalance.constraints import check_constraints, option
from medbalance.defaults import DEFAULT_LR, phantom_option
from medbalance.errors import ConfigError

__all__ = [
    "PHANTOMS",
    "RUN_CONTROL_FIELDS",
    "PhantomSpec",
    "TrainConfig",
    "compute_train_config_hash",
    "load_train_config",
]

PHANTOMS = "phantoms"
"""The value of ``data`` that selects the embedded phantom data set."""

RUN_CONTROL_FIELDS = frozenset(
    {
        "out",
        "resume",
        "force",
        "overwrite",
        "progress",
        "num_workers",
        "accelerator",
        "devices",
        "distributed",
        "num_nodes",
        "loggers",
        "cache_dir",
        "on_collapse",
    }
)
"""Fields left out of the config hash: they say where and how to run, not what is trained."""


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
class TrainConfig:
    """Everything one training run needs.

    Attributes:
        out: the run folder.
        data: a manifest CSV path, or ``"phantoms"`` for generated phantom mammograms.
        classes: the class list to declare for a manifest CSV (else its sidecar's / inferred).
        positive_class: the positive class of a binary task.
        strategy: an imbalance strategy name or a ``+`` composition (``medbalance strategies``).
        strategy_params: the strategy's parameters (CLI ``--strategy-param KEY=VALUE``).
        allow_double_balancing: run a composition that rebalances twice on purpose.
        model: a medbalance model (``small-cnn``, ``resnet22``) or a timm name.
        pretrained: load the model hub's weights (fails offline; use ``weights``).
        weights: a local ``.safetensors`` or state-dict file to start from.
        drop_rate: dropout before the classifier.
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
        image_size: side of the square network input in pixels.
        preprocess: ``mammography`` (Walsh & Tardy pipeline) or ``generic``.
        channels: 1 (grey) or 3 (grey repeated, for RGB backbones).
        equalize: histogram equalisation in preprocessing.
        normalize: subtract the training split's mean and divide by its std.
        augmentation: augmentation preset (``none``, ``mammography``, ``dermoscopy``).
        seed: one seed for split, sampling, augmentation, synthesis and initialisation.
        fractions: train/val/test shares when the manifest has no split.
        group_by: the unit kept within one split.
        fold: cross-validation fold used as the test split (the manifest's ``fold``
            column, 0..K-1, e.g. from ``medbalance data --folds K`` on a manifest without
            a test split); fold ``(fold + 1) % K`` is validation, the rest training.
            None uses the manifest's ``split`` column (or ``fractions``).
        freeze: ``none`` or ``backbone`` (head-only first).
        warmup_epochs: head-only epochs before unfreezing (with ``freeze=backbone``).
        unfreeze: what joins the head after warm-up: ``all`` or ``last-block``.
        monitor: validation metric that selects checkpoints (``auc_roc``, ``mcc``, ..., ``loss``;
            the old name ``auc`` is read as ``auc_roc``).
        top_k: best checkpoints kept.
        early_stopping_patience: stop after this many epochs without improvement, or None.
        on_collapse: ``warn`` or ``stop`` when validation predictions collapse.
        collapse_share: a class holding more than this share of predictions is a collapse.
        sam: sharpness-aware minimisation (Foret et al. 2021; ``pytorch-optimizer``'s SAM
            around the chosen optimizer): each step takes a second forward/backward pass at
            weights perturbed by ``sam_rho`` along the gradient, so it costs about twice the
            compute. Works with ``ema``; not with ``grad_clip`` or ``16-mixed`` precision.
        sam_rho: SAM's neighbourhood radius.
        ema: keep an exponential moving average of the weights.
        ema_decay: EMA decay per optimizer step.
        precision: ``auto`` (mixed on GPUs, 32-bit on CPU) or a Lightning precision.
        accelerator: ``auto`` (CUDA, else Apple's MPS, else CPU), ``cpu``, ``gpu`` (CUDA) or ``mps``.
        devices: ``auto``, a device count (``2``) or CUDA GPU ids (``0,2``; one id as ``3,``).
        distributed: ``auto`` or ``ddp``.
        num_nodes: machines (DDP).
        num_workers: DataLoader worker processes.
        loggers: trackers besides CSV: ``tensorboard``, ``mlflow``, ``wandb`` (docs/integrations.md).
        cache_dir: preprocessing cache (default ``out/cache``).
        phantoms: the phantom set used when ``data`` is ``phantoms``.
        deterministic: deterministic algorithms (same seed, same machine, same metrics).
        progress: show an epoch progress bar (Lightning's tqdm bar from the library;
            ``medbalance train`` draws Rich bars for the epochs and the preprocessing).
        resume: continue the run in ``out`` from its last checkpoint.
        force: resume even when the config or split changed.
        overwrite: replace an existing run folder.
    """

    out: Path
    data: str = PHANTOMS
    classes: tuple[str, ...] | None = None
    positive_class: str | None = None
    strategy: str = "none"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    allow_double_balancing: bool = False
    model: str = "small-cnn"
    pretrained: bool = False
    weights: Path | None = None
    drop_rate: float = option(0.0, ge=0.0, lt=1.0)
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
    image_size: int = option(128, ge=1)
    preprocess: Literal["mammography", "generic"] = "mammography"
    channels: Literal[1, 3] = 1
    equalize: bool = False
    normalize: bool = True
    augmentation: str = "none"
    seed: int = option(0, ge=0)
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    group_by: Literal["patient", "study", "image"] = "patient"
    fold: int | None = option(None, ge=0, fix="give a value of the manifest's fold column (0..K-1), or null.")
    freeze: Literal["none", "backbone"] = "none"
    warmup_epochs: int = option(0, ge=0)
    unfreeze: Literal["all", "last-block"] = "all"
    monitor: str = "auc_roc"
    top_k: int = option(3, ge=1)
    early_stopping_patience: int | None = option(
        None, ge=1, fix="give a number of epochs >= 1, or null to train all epochs."
    )
    on_collapse: Literal["warn", "stop"] = "warn"
    collapse_share: float = option(0.95, gt=0.5, le=1.0)
    sam: bool = False
    sam_rho: float = option(0.05, gt=0.0, fix="give a radius > 0; 0.05 is the usual one.")
    ema: bool = False
    ema_decay: float = option(0.999, gt=0.0, lt=1.0, fix="give a decay in (0, 1), e.g. 0.999.")
    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"] = "auto"
    accelerator: Literal["auto", "cpu", "gpu", "mps"] = "auto"
    devices: str = "auto"
    distributed: Literal["auto", "ddp"] = "auto"
    num_nodes: int = option(1, ge=1)
    num_workers: int = option(0, ge=0)
    loggers: tuple[str, ...] = ()
    cache_dir: Path | None = None
    phantoms: PhantomSpec = field(default_factory=PhantomSpec)
    deterministic: bool = True
    progress: bool = True
    resume: bool = False
    force: bool = False
    overwrite: bool = False

    @property
    def uses_phantoms(self) -> bool:
        """Whether ``data`` selects the generated phantom set."""
        return self.data.strip().lower() == PHANTOMS

    def __post_init__(self) -> None:
        if self.monitor in ("auc", "ema_auc"):  # the name before training adopted evaluation's
            object.__setattr__(self, "monitor", self.monitor + "_roc")
        check_constraints(self)
        if self.sam and self.grad_clip is not None:
            raise ConfigError("sam does not work with grad_clip (SAM steps by hand); drop one of them.")
        if self.sam and self.precision == "16-mixed":
            raise ConfigError(
                "sam does not work with 16-mixed precision (its loss scaler); use bf16-mixed or 32-true."
            )
        text = self.devices.strip().strip("[]").replace(" ", "")
        if (
            text != "auto"
            and not text.isdigit()
            and not ("," in text and text.strip(",") and all(p.isdigit() for p in text.split(",") if p))
        ):
            raise ConfigError(
                f"devices must be 'auto', a number of devices (2) or CUDA GPU ids (0,2 or 3,), got {self.devices!r}."
            )
        for logger in self.loggers:
            if logger not in ("tensorboard", "mlflow", "wandb"):
                raise ConfigError(
                    f"unknown logger {logger!r}; expected 'tensorboard', 'mlflow' or 'wandb' (CSV is always on)."
                )
        if self.weights is not None and self.pretrained:
            raise ConfigError(
                "give either --pretrained (model hub) or --weights PATH (local file), not both."
            )


def load_train_config(path: str | Path | None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from an optional YAML file plus overrides (``None`` values skipped).

    Raises:
        ConfigError: unknown keys (with "did you mean"), wrong types, bad values.
    """
    given = merge_overrides({}, overrides)
    if path is not None:
        return load_config(TrainConfig, path, given)
    if "out" not in given:
        raise ConfigError("no run folder: pass --out RUN_DIR (or 'out:' in the --config YAML).")
    return parse_config(TrainConfig, given, where="train config")


_LATER_FIELDS = {"fold": None, "sam": False, "sam_rho": 0.05}
"""Fields added after runs existed: left out of the hash at their defaults, so older runs still resume."""


def compute_train_config_hash(config: TrainConfig) -> str:
    """Hash of the fields that change what is trained (see :data:`RUN_CONTROL_FIELDS`)."""
    values = config_to_dict(config)
    kept = {k: v for k, v in values.items() if k not in RUN_CONTROL_FIELDS}
    # auc_roc was called auc before training adopted evaluation's names; the checkpoints
    # it ranks are the same, so runs from before the rename still resume.
    kept["monitor"] = {"auc_roc": "auc", "ema_auc_roc": "ema_auc"}.get(kept["monitor"], kept["monitor"])
    if not config.sam:
        kept.pop("sam_rho")
    return config_hash({k: v for k, v in kept.items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]})
