"""The training run's configuration: one frozen dataclass, parsed strictly.

``TrainConfig`` is built from YAML (``--config``) plus CLI overrides through
:func:`medbalance.config.load_config` / :func:`medbalance.config.parse_config`:
unknown keys and wrong types are errors with "did you mean", nothing is
silently ignored. The resolved config is written to ``RUN/config.yaml``.

The config hash (:func:`compute_train_config_hash`) covers every field that
changes what is trained; fields that only say where and how to run (output
folder, resume/force/overwrite, progress, workers, devices, loggers, cache)
are left out, so a run can be resumed on another machine or device count.

Options are grouped into sections (:mod:`medbalance.training.sections`); a section's
field may be given flat or nested, in YAML, ``--set`` and ``mb.train(...)`` alike.

Example:
    >>> config = load_train_config(None, {"out": "runs/a", "strategy": "oversample", "epochs": 5})
    >>> config.strategy, config.optim.epochs
    ('oversample', 5)
    >>> load_train_config(None, {"out": "runs/a", "optim": {"epochs": 5}}).optim == config.optim
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbalance.config import (
    config_hash,
    config_to_dict,
    flatten_sections,
    load_config,
    merge_overrides,
    parse_config,
    section,
)
from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.training.sections import (
    BalancingSettings,
    CheckpointSettings,
    HardwareSettings,
    InputSettings,
    LabelSettings,
    NetworkSettings,
    OptimSettings,
    PhantomSpec,
    RunSettings,
    SplitSettings,
)

__all__ = [
    "PHANTOMS",
    "RUN_CONTROL_FIELDS",
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
"""Fields (flat names) left out of the config hash: they say where and how to run, not what is trained."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs: what the run is, plus one section per concern.

    Every option lives in one section (:mod:`medbalance.training.sections`) and is read
    by its path, ``config.optim.epochs``. Parsed from a mapping (YAML, ``--set``,
    ``mb.train(...)``), a section's field may also be given flat (``epochs: 5`` is
    ``optim: {epochs: 5}``); ``RUN/config.yaml`` is written nested.

    Attributes:
        out: the run folder.
        data: a manifest CSV path, or ``"phantoms"`` for generated phantom mammograms.
        strategy: an imbalance strategy name or a ``+`` composition (``medbalance strategies``).
        model: a medbalance model (``small-cnn``, ``resnet22``) or a timm name.
        seed: one seed for split, sampling, augmentation, synthesis and initialisation.
        labels: classes and positive class (:class:`LabelSettings`).
        split: fractions, group_by, fold (:class:`SplitSettings`).
        phantoms: the phantom set used when ``data`` is ``phantoms`` (:class:`PhantomSpec`;
            always nested, never flat).
        balancing: strategy_params, allow_double_balancing, on_collapse, collapse_share
            (:class:`BalancingSettings`).
        network: pretrained, weights, drop_rate, channels, freeze, warmup_epochs, unfreeze
            (:class:`NetworkSettings`).
        input: image_size, preprocess, equalize, normalize, augmentation, cache_dir
            (:class:`InputSettings`).
        optim: epochs, batch_size, lr, weight_decay, optimizer, scheduler, lr_warmup_epochs,
            grad_clip, sam, sam_rho, ema, ema_decay (:class:`OptimSettings`).
        checkpoints: monitor, top_k, early_stopping_patience (:class:`CheckpointSettings`).
        hardware: precision, accelerator, devices, distributed, num_nodes, num_workers,
            deterministic (:class:`HardwareSettings`).
        run: resume, force, overwrite, progress, loggers (:class:`RunSettings`).
    """

    out: Path
    data: str = PHANTOMS
    strategy: str = "none"
    model: str = "small-cnn"
    seed: int = option(0, ge=0)
    labels: LabelSettings = section(LabelSettings)
    split: SplitSettings = section(SplitSettings)
    phantoms: PhantomSpec = field(default_factory=PhantomSpec)
    balancing: BalancingSettings = section(BalancingSettings)
    network: NetworkSettings = section(NetworkSettings)
    input: InputSettings = section(InputSettings)
    optim: OptimSettings = section(OptimSettings)
    checkpoints: CheckpointSettings = section(CheckpointSettings)
    hardware: HardwareSettings = section(HardwareSettings)
    run: RunSettings = section(RunSettings)

    @property
    def uses_phantoms(self) -> bool:
        """Whether ``data`` selects the generated phantom set."""
        return self.data.strip().lower() == PHANTOMS

    def __post_init__(self) -> None:
        check_constraints(self)
        if self.optim.sam and self.hardware.precision == "16-mixed":
            raise ConfigError(
                "sam does not work with 16-mixed precision (its loss scaler); use bf16-mixed or 32-true."
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
    """Hash of the fields that change what is trained (see :data:`RUN_CONTROL_FIELDS`).

    Computed over the flat names (sections lifted to the top level, as the config was
    before it had sections), so a run made before then still resumes.
    """
    values = flatten_sections(TrainConfig, config_to_dict(config))
    kept = {k: v for k, v in values.items() if k not in RUN_CONTROL_FIELDS}
    # auc_roc was called auc before training adopted evaluation's names; the checkpoints
    # it ranks are the same, so runs from before the rename still resume.
    kept["monitor"] = {"auc_roc": "auc", "ema_auc_roc": "ema_auc"}.get(kept["monitor"], kept["monitor"])
    if not config.optim.sam:
        kept.pop("sam_rho")
    return config_hash({k: v for k, v in kept.items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]})
