"""The grid: cells (train set x strategy x variant x seed [x fold]) and their training configs.

Every cell of a data set trains on the same manifest (same split, same folds)
with the same budget; only the strategy, the variant's training options and the
seed differ. :func:`check_benchmark` builds every cell's ``TrainConfig`` and the
``EvaluateConfig`` before any work, so a bad option fails before a folder exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medbalance.benchmark.config import BenchmarkConfig, DataSetSpec
from medbalance.errors import ConfigError
from medbalance.registry import look_up_option

__all__ = [
    "Cell",
    "build_cells",
    "cell_train_config",
    "check_benchmark",
    "parse_variant",
    "resolve_strategies",
    "select_shard",
    "unit_id",
]

RESERVED_TRAIN_KEYS = {
    "out": "--out of the benchmark", "data": "the data section", "strategy": "strategies",
    "strategy_params": "strategy_params", "seed": "seeds", "fold": "folds", "cache_dir": "(shared per data set)",
    "overwrite": "--overwrite", "resume": "--resume", "force": "--resume", "phantoms": "data[].phantoms",
    "classes": "data[].classes", "positive_class": "data[].positive_class", "fractions": "data[].fractions",
    "progress": "--progress",
}  # fmt: skip
_VARIANT_FLAGS = {"sam": {"sam": True}, "ema": {"ema": True}}
_VARIANT_VALUES = {"aug": ("augmentation", str), "size": ("image_size", int), "sam-rho": ("sam_rho", float)}


@dataclass(frozen=True)
class Cell:
    """One training run of the grid (``fold`` is -1 without cross-validation)."""

    train_set: str
    strategy: str
    variant: str
    seed: int
    fold: int = -1

    @property
    def cell_id(self) -> str:
        """A stable, file-name-safe id, e.g. ``phantoms__oversample__sam+ema__s1__f2``."""
        parts = [self.train_set, _slug(self.strategy), _slug(self.variant) or "default", f"s{self.seed}"]
        return "__".join(parts + ([f"f{self.fold}"] if self.fold >= 0 else []))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", text)


def unit_id(train_set: str, test_set: str, strategy: str, variant: str, seed: int) -> str:
    """The id of the evaluation unit of a (train set, test set, strategy, variant, seed)."""
    return "__".join([train_set, _slug(strategy), _slug(variant) or "default", f"s{seed}", "on", test_set])


def parse_variant(variant: str) -> dict[str, Any]:
    """``"sam+ema+aug=mammography+size=256"`` -> TrainConfig overrides.

    Raises:
        ConfigError: an unknown token (with "did you mean") or a bad value.
    """
    overrides: dict[str, Any] = {}
    for token in [t.strip() for t in variant.split("+")] if variant.strip() else []:
        name, eq, value = token.partition("=")
        if not eq:
            look_up_option(name, list(_VARIANT_FLAGS) + [f"{k}=..." for k in _VARIANT_VALUES], what="variant")
            overrides.update(_VARIANT_FLAGS[name])
            continue
        key = look_up_option(name, list(_VARIANT_VALUES), what="variant option")
        field, kind = _VARIANT_VALUES[key]
        try:
            overrides[field] = kind(value)
        except ValueError:
            raise ConfigError(f"variant {variant!r}: {token!r} needs a {kind.__name__} value.") from None
    return overrides


def resolve_strategies(config: BenchmarkConfig, *, binary: bool) -> tuple[str, ...]:
    """The configured strategies, or every registered one that applies to the task (baseline first)."""
    if config.strategies is not None:
        return config.strategies
    from medbalance.strategies import list_strategies

    names = [s.name for s in list_strategies() if binary or not s.binary_only]
    return tuple(sorted(names, key=lambda n: (n != "none", n)))


def build_cells(config: BenchmarkConfig, strategies: tuple[str, ...]) -> list[Cell]:
    """Every cell, in a stable order (data set, strategy, variant, seed, fold)."""
    folds = range(config.folds) if config.folds else [-1]
    return [
        Cell(data.name, strategy, variant, seed, fold)
        for data in config.data if data.trains
        for strategy in strategies
        for variant in config.variants
        for seed in config.seed_list
        for fold in folds
    ]  # fmt: skip


def select_shard(cells: list[Cell], shard: tuple[int, int]) -> list[Cell]:
    """Cells i, i+N, ... of shard (i, N)."""
    index, count = shard
    return cells[index::count]


def cell_train_config(config: BenchmarkConfig, cell: Cell, bench: Path) -> Any:
    """The ``TrainConfig`` of one cell (data from ``bench/data/<set>``, run folder ``bench/cells/<id>``).

    Raises:
        ConfigError: a reserved or unknown train key, a bad variant or value.
    """
    from medbalance.config import merge_config_layers, parse_config, section_paths
    from medbalance.training.config import TrainConfig

    sections = {path.split(".")[0] for path in section_paths(TrainConfig).values()}
    for key, value in config.train.items():
        nested = key in sections and isinstance(value, Mapping)
        for path in [f"{key}.{name}" for name in value] if nested else [key]:
            name = path.rpartition(".")[2].replace("-", "_")
            if name in RESERVED_TRAIN_KEYS:
                raise ConfigError(
                    f"train.{path} is set by the benchmark for every cell; use {RESERVED_TRAIN_KEYS[name]} instead."
                )
    where = f"cell {cell.cell_id}"
    data_dir = bench / "data" / cell.train_set
    fixed = {
        "out": str(bench / "cells" / cell.cell_id),
        "data": str(data_dir / "manifest.csv"),
        "strategy": cell.strategy,
        "strategy_params": dict(config.strategy_params.get(cell.strategy, {})),
        "seed": cell.seed,
        "fold": None if cell.fold < 0 else cell.fold,  # None skipped: the default, as train cannot set it
        "cache_dir": str(data_dir / "cache"),
        "overwrite": True,
        "progress": False,
    }
    values = merge_config_layers(TrainConfig, config.train, parse_variant(cell.variant), fixed, where=where)
    return parse_config(TrainConfig, values, where=where)


def _check_data_set(spec: DataSetSpec, phantom_domains: tuple[str, ...] | None) -> bool:
    """Whether the data set is binary; raises when its manifest or its domains do not exist."""
    from medbalance.errors import DataError

    if spec.uses_phantoms:
        binary, present = True, set(phantom_domains or ())
    else:
        from medbalance.data.manifest import load_manifest

        path = Path(spec.source)
        if not path.is_file():
            raise FileNotFoundError(
                f"data set {spec.name!r}: manifest {path} does not exist; check data[].source."
            )
        manifest = load_manifest(path, classes=spec.classes, positive_class=spec.positive_class)
        binary, present = manifest.is_binary, set(manifest.table["domain"])
    missing = sorted(set(spec.domains or ()) - present)
    if missing:
        raise DataError(
            f"data set {spec.name!r}: domain(s) {missing} do not occur in {spec.source} "
            f"(present: {sorted(present)}); fix data[].domains."
        )
    return binary


def check_benchmark(config: BenchmarkConfig) -> tuple[tuple[str, ...], list[Cell]]:
    """Check every option: phantom settings, strategies, each cell's TrainConfig, the EvaluateConfig.

    Returns:
        The strategies and every cell (before sharding).

    Raises:
        ConfigError: the first bad option, naming where it is.
        FileNotFoundError: a manifest does not exist.
        DataError: a data set names a domain its source does not have.
    """
    from medbalance.config import parse_config
    from medbalance.evaluation.evaluate import check_evaluate_config
    from medbalance.strategies import create_strategy
    from medbalance.synth.phantoms import PhantomConfig

    binary = True
    for spec in config.data:
        domains = None
        if spec.uses_phantoms:
            phantom = parse_config(
                PhantomConfig, {"seed": config.data_seed, **spec.phantoms}, where=f"data.{spec.name}.phantoms"
            )
            domains = tuple(phantom.domains)
        binary = _check_data_set(spec, domains) and binary
    strategies = resolve_strategies(config, binary=binary)
    for name in strategies:
        create_strategy(name, **config.strategy_params.get(name, {}))
    for name in config.strategy_params:
        if name not in strategies:
            look_up_option(name, strategies, what="strategy in strategy_params")
    check_evaluate_config(config.evaluation)
    config.evaluation.resolved_rules()
    cells = build_cells(config, strategies)
    for cell in cells:
        cell_train_config(config, cell, config.out)
    return strategies, cells
