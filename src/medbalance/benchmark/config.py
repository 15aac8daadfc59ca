"""``BenchmarkConfig``: data sets x strategies x variants x seeds (x folds), parsed strictly.

YAML (``medbalance benchmark --config bench.yaml``) -> :func:`load_benchmark_config`
-> frozen dataclasses; unknown keys and wrong types fail with "did you mean".
Every cell's ``TrainConfig`` and the ``EvaluateConfig`` are built by
:func:`medbalance.benchmark.grid.check_benchmark` before any work starts.

Example YAML::

    data:
      - name: ab                      # train on vendors a and b ...
        source: phantoms
        phantoms: {n_patients: 300, prevalence: 0.05, size: 64, domains: [vendor-a, vendor-b, vendor-c]}
        domains: [vendor-a, vendor-b]
      - name: c                       # ... and test on vendor c, never seen in training
        source: phantoms
        phantoms: {n_patients: 300, prevalence: 0.05, size: 64, domains: [vendor-a, vendor-b, vendor-c]}
        domains: [vendor-c]
        role: test
    strategies: [none, class-weight, oversample]
    seeds: 3
    variants: ["", sam, sam+ema]
    train: {model: small-cnn, epochs: 5, image_size: 64}
    evaluation: {level: breast, n_bootstrap: 1000}
    constraint: sensitivity>=0.9
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from medbalance.config import config_hash, config_to_dict, load_config, merge_overrides, parse_config
from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.evaluation.evaluate import EvaluateConfig

__all__ = [
    "RUN_CONTROL_FIELDS",
    "BenchmarkConfig",
    "DataSetSpec",
    "compute_benchmark_hash",
    "data_from_flags",
    "load_benchmark_config",
]

RUN_CONTROL_FIELDS = frozenset(
    {
        "out",
        "resume",
        "overwrite",
        "executor",
        "workers",
        "ray_address",
        "cpus_per_cell",
        "gpus_per_cell",
        "shard",
        "progress",
    }
)
"""Fields that say where and how to run, not what is compared: left out of the config check on resume."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CONSTRAINT = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|>|<)\s*([0-9.]+)\s*$")
DEFAULT_EVALUATION = EvaluateConfig()


@dataclass(frozen=True)
class DataSetSpec:
    """One data set of the benchmark.

    Attributes:
        name: short name used in cell ids and tables (letters, digits, ``.-_``).
        source: a manifest CSV (made by ``medbalance data``) or ``phantoms``.
        phantoms: ``PhantomConfig`` settings when ``source`` is ``phantoms`` (n_patients,
            prevalence, size, domains, lesion_contrast, benign_finding_rate, seed, ...). Data
            sets with the same settings share one generated set.
        domains: keep only these domains (vendor hold-out: train on some, test on another).
        role: ``both`` (trained on, and its test split tests every model), ``train``, or
            ``test`` (test only: every row is a test case for every model).
        classes: class list to declare for the manifest (else its sidecar's / inferred).
        positive_class: the positive class of a binary task (after ``class_map``).
        class_map: re-label a manifest's classes, e.g. ``{melanoma: melanoma, "*": rest}``
            for melanoma vs rest (see :mod:`medbalance.data.class_map`).
        fractions: train/val/test shares when the manifest has no split.
    """

    name: str
    source: str
    phantoms: dict[str, Any] = field(default_factory=dict)
    domains: tuple[str, ...] | None = None
    role: Literal["both", "train", "test"] = "both"
    classes: tuple[str, ...] | None = None
    positive_class: str | None = None
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    class_map: dict[str, str] | None = None

    @property
    def uses_phantoms(self) -> bool:
        """Whether ``source`` selects generated phantoms."""
        return self.source.strip().lower() == "phantoms"

    @property
    def trains(self) -> bool:
        """Whether models are trained on this data set."""
        return self.role in ("both", "train")

    @property
    def tests(self) -> bool:
        """Whether this data set's test cases test models."""
        return self.role in ("both", "test")

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"data set name {self.name!r}: use letters, digits, '.', '-' or '_' (e.g. 'vindr')."
            )
        if self.phantoms and not self.uses_phantoms:
            raise ConfigError(f"data set {self.name!r}: 'phantoms' settings need source: phantoms.")
        if self.class_map is not None:
            from medbalance.data.class_map import parse_class_map

            if self.uses_phantoms:
                raise ConfigError(f"data set {self.name!r}: class_map applies to a manifest, not to phantoms.")
            object.__setattr__(self, "class_map", parse_class_map(self.class_map))


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything one benchmark compares, and where and how it runs.

    Attributes:
        data: the data sets (at least one with role both or train).
        strategies: strategy names or ``+`` compositions; None = every registered strategy
            that applies to the task (``medbalance strategies``).
        strategy_params: parameters per strategy name, e.g. ``{focal: {gamma: 1.5}}``.
        seeds: a count (seeds 0..n-1) or an explicit list; seeds change initialisation,
            sampling and augmentation, never the split.
        folds: K for patient-grouped, stratified K-fold cross-validation (each fold a cell,
            out-of-fold predictions pooled); None uses one split.
        variants: training-option variants, a grid axis: ``""`` (the train section as is),
            ``sam``, ``ema``, ``sam+ema``, ``aug=<preset>``, ``size=<pixels>``, ``sam-rho=<r>``,
            joined by ``+`` (e.g. ``sam+ema+aug=mammography``).
        train: ``TrainConfig`` settings shared by every cell (model, epochs, image_size, ...).
        evaluation: ``EvaluateConfig`` settings (level, rules, n_bootstrap, ...).
        constraint: the clinical constraint ``recommend`` uses, e.g. ``sensitivity>=0.95``.
        cost_fn: cost of a false negative relative to a false positive (``recommend``).
        prevalence: deployment prevalence (``recommend``).
        data_seed: seed of phantom generation, splits and folds.
        out: the benchmark folder.
        resume: skip finished cells of an earlier run in ``out``, redo partial ones.
        overwrite: replace an existing ``out``.
        executor: ``local`` (processes) or ``ray``.
        workers: parallel cells of the local executor.
        ray_address: the Ray cluster to join (None: a local Ray instance).
        cpus_per_cell: Ray: CPUs each cell task requests.
        gpus_per_cell: Ray: GPUs each cell task requests (1 to give every cell a GPU).
        shard: ``i/N``: run only cells i, i+N, ... (a job array); merge with ``benchmark merge``.
        progress: print one line per cell and epoch.
    """

    data: tuple[DataSetSpec, ...]
    strategies: tuple[str, ...] | None = None
    strategy_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: int | tuple[int, ...] = 3
    folds: int | None = option(
        None, ge=3, fix="give K >= 3 (a test, a validation and a training fold), or null for one split."
    )
    variants: tuple[str, ...] = ("",)
    train: dict[str, Any] = field(default_factory=dict)
    evaluation: EvaluateConfig = DEFAULT_EVALUATION
    constraint: str | None = None
    cost_fn: float | None = option(None, gt=0.0)
    prevalence: float | None = option(None, gt=0.0, lt=1.0)
    data_seed: int = option(0, ge=0)
    out: Path = Path("benchmark")
    resume: bool = False
    overwrite: bool = False
    executor: Literal["local", "ray"] = "local"
    workers: int = option(1, ge=1)
    ray_address: str | None = None
    cpus_per_cell: float = option(1.0, gt=0.0)
    gpus_per_cell: float = option(0.0, ge=0.0, fix="give 0 (no GPU), a share of one (0.5) or a count (1).")
    shard: str | None = None
    progress: bool = True

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds, from the count or the list."""
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else tuple(self.seeds)

    @property
    def shard_index(self) -> tuple[int, int]:
        """(i, N) of ``shard``, (0, 1) without sharding."""
        if self.shard is None:
            return 0, 1
        i, n = self.shard.split("/")
        return int(i), int(n)

    def __post_init__(self) -> None:
        check_constraints(self)
        if not self.data:
            raise ConfigError(
                "no data set: give at least one under 'data' (or --data m.csv / --data phantoms)."
            )
        names = [d.name for d in self.data]
        if len(set(names)) != len(names):
            raise ConfigError(f"data set names must be unique, got {names}.")
        if not any(d.trains for d in self.data):
            raise ConfigError("no data set to train on: give one with role 'both' or 'train'.")
        if isinstance(self.seeds, int) and self.seeds < 1:
            raise ConfigError(f"seeds must be >= 1 (a count) or a list of seeds, got {self.seeds}.")
        seeds = self.seed_list
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ConfigError(f"seeds must be distinct non-negative integers, got {list(seeds)}.")
        if self.strategies is not None and (
            not self.strategies or len(set(self.strategies)) != len(self.strategies)
        ):
            raise ConfigError(
                f"strategies must be a non-empty list without repeats, got {list(self.strategies)}."
            )
        if not self.variants or len(set(self.variants)) != len(self.variants):
            raise ConfigError(
                f"variants must be a non-empty list without repeats, got {list(self.variants)}."
            )
        if self.overwrite and self.resume:
            raise ConfigError("--overwrite and --resume exclude each other: choose one.")
        if self.shard is not None:
            match = re.fullmatch(r"(\d+)/(\d+)", self.shard.strip())
            if not match or not 0 <= int(match[1]) < int(match[2]):
                raise ConfigError(f"shard must be 'i/N' with 0 <= i < N (e.g. 0/4), got {self.shard!r}.")
        if self.constraint is not None and not _CONSTRAINT.match(self.constraint):
            raise ConfigError(
                f"constraint {self.constraint!r}: write METRIC OP VALUE, e.g. 'sensitivity>=0.95'."
            )

    def identity(self) -> dict[str, Any]:
        """The fields that decide the results (resume refuses a change in any of them)."""
        values = config_to_dict(self)
        return {k: v for k, v in values.items() if k not in RUN_CONTROL_FIELDS}


def compute_benchmark_hash(config: BenchmarkConfig) -> str:
    """Hash of :meth:`BenchmarkConfig.identity`."""
    return config_hash(config.identity())


def data_from_flags(value: Any) -> list[dict[str, Any]]:
    """``--data`` values (manifest paths or ``phantoms``) as data set entries."""
    entries = []
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, Mapping):
            entries.append(dict(item))
            continue
        text = str(item)
        name = "phantoms" if text.strip().lower() == "phantoms" else Path(text).parent.name or Path(text).stem
        entries.append({"name": re.sub(r"[^A-Za-z0-9._-]", "-", name) or "data", "source": text})
    return entries


def _merge_sections(path: Path, given: dict[str, Any]) -> dict[str, Any]:
    """Overrides of the mapping sections (train, evaluation, strategy_params) update the file's, key by key."""
    try:
        base = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return given  # load_config reports the problem
    if not isinstance(base, dict):
        return given
    from medbalance.config import flatten_sections, merge_config_layers
    from medbalance.training.config import TrainConfig

    merged = dict(given)
    for key in ("train", "evaluation", "strategy_params"):
        if isinstance(merged.get(key), Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = (  # train keys may be flat (epochs) or in their section (optim.epochs) on either side
                flatten_sections(TrainConfig, merge_config_layers(TrainConfig, base[key], given[key], where="train"))
                if key == "train"
                else {**base[key], **merged[key]}
            )
    return merged


def load_benchmark_config(
    path: str | Path | None, overrides: Mapping[str, Any] | None = None
) -> BenchmarkConfig:
    """A :class:`BenchmarkConfig` from an optional YAML file plus overrides (``None`` values skipped).

    ``data`` in the overrides may be manifest paths or ``phantoms`` (as ``--data`` gives them);
    ``train``, ``evaluation`` and ``strategy_params`` overrides update the file's sections key by key.

    Raises:
        ConfigError: unknown keys (with "did you mean"), wrong types, bad values.
    """
    given = merge_overrides({}, overrides)  # None skipped; dotted keys (evaluation.level) nested
    if "data" in given:
        given["data"] = data_from_flags(given["data"])
    if path is not None:
        given = _merge_sections(Path(path), given)
        # train is merged with the file's already; a second, deep merge would bring back the
        # file's spelling of a key (optim: {epochs: 3}) beside the flag's (epochs: 5)
        train = given.pop("train") if isinstance(given.get("train"), Mapping) else None
        config = load_config(BenchmarkConfig, path, given)
        return config if train is None else dataclasses.replace(config, train=dict(train))
    if "data" not in given:
        raise ConfigError("no data: pass --data MANIFEST.csv (or phantoms), or --config bench.yaml.")
    return parse_config(BenchmarkConfig, given, where="benchmark config")
