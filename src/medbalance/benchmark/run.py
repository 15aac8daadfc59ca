"""``run_benchmark(config)``: check -> data once -> cells on an executor -> units -> the store.

Resume: cells whose status in the store is ``completed`` are skipped; partial or
failed ones are deleted (run folder and rows) and run again; a changed config is
refused, naming the fields. Shards (``i/N``) run cells i, i+N, ... and write their
own store; ``merge_benchmarks`` combines them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from medbalance import __version__
from medbalance.benchmark._cell import BenchmarkEvent, CellOutcome, CellTask
from medbalance.benchmark._data import PreparedData, prepare_data_sets
from medbalance.benchmark.config import BenchmarkConfig
from medbalance.benchmark.grid import Cell, cell_train_config, check_benchmark, select_shard, unit_id
from medbalance.benchmark.store import CellRecord, ResultsStore
from medbalance.benchmark.units import UnitSpec, build_unit
from medbalance.config import config_to_dict, dump_config
from medbalance.errors import MedbalanceError
from medbalance.io import prepare_output_dir
from medbalance.outputs import claim_output_dir

__all__ = ["BenchmarkResult", "benchmark", "read_benchmark_config", "run_benchmark"]

CONFIG_FILE = "benchmark.yaml"
STORE_FILE = "results.sqlite"


@dataclass(frozen=True)
class BenchmarkResult:
    """What :func:`run_benchmark` did.

    Attributes:
        out: the benchmark folder.
        store: the results store path.
        cells: the ``cells`` table after the run.
        ran: cells run now; skipped: finished cells kept from an earlier run; failed: cells that failed.
        seconds: wall time.
    """

    out: Path
    store: Path
    cells: pd.DataFrame
    ran: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    seconds: float

    def to_frame(self) -> pd.DataFrame:
        """Every metric of the store, one row per (unit, level, split, rule, metric), with the
        unit's train set, test set, strategy, variant and seed (what the leaderboard summarises)."""
        from medbalance.benchmark.leaderboard import load_benchmark_frames

        units, metrics = load_benchmark_frames(self.out)
        return metrics.merge(units, on="unit_id", how="left", suffixes=("", "_unit"))


def read_benchmark_config(bench: str | Path) -> BenchmarkConfig:
    """The config of the benchmark in folder ``bench`` (its ``benchmark.yaml``, ``out`` = ``bench``).

    Raises:
        MedbalanceError: ``bench`` holds no benchmark.yaml.
        ConfigError: the file does not parse.
    """
    from medbalance.config import parse_config

    path = Path(bench) / CONFIG_FILE
    if not path.is_file():
        raise MedbalanceError(
            f"{bench} is not a benchmark folder: no {CONFIG_FILE} (made by medbalance benchmark)."
        )
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return parse_config(BenchmarkConfig, {**values, "out": str(bench)}, where=str(path))


def code_version() -> str:
    """medbalance's version plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def _open(config: BenchmarkConfig) -> None:
    """Create ``out``, or check that a resumed one holds the same benchmark (naming changed fields)."""
    stamp = config.out / CONFIG_FILE
    if config.resume and stamp.is_file():
        earlier = yaml.safe_load(stamp.read_text(encoding="utf-8")) or {}
        now = config.identity()
        changed = sorted(k for k in set(earlier) | set(now) if k in now and earlier.get(k) != now[k])
        if changed:
            raise MedbalanceError(
                f"{config.out} holds a benchmark with other settings ({', '.join(changed)} differ); "
                "resume it with the same config, or choose another --out (or --overwrite to start again)."
            )
        return
    if config.resume and config.out.is_dir() and any(config.out.iterdir()):
        raise MedbalanceError(
            f"{config.out} holds no {CONFIG_FILE}: not a benchmark folder; choose another --out."
        )
    prepare_output_dir(config.out, overwrite=config.overwrite)
    dump_config(config.identity(), stamp)


def _positive_class_lines(data: dict[str, PreparedData]) -> list[str]:
    """Per binary data set: which class is positive, and a warning when it looks backwards."""
    from medbalance.data.manifest import load_manifest
    from medbalance.data.positive import positive_class_warnings

    lines = []
    for name, prepared in data.items():
        manifest = load_manifest(prepared.manifest_path)
        if not manifest.is_binary:
            continue
        lines.append(f"data set {name!r}: positive class {manifest.positive!r} (of {list(manifest.classes)})")
        declared = manifest.positive_class is not None
        lines += [f"warning: data set {name!r}: {w}" for w in
                  positive_class_warnings(manifest.positive, manifest.class_counts(), declared=declared)]  # fmt: skip
    return lines


def _units_of(config: BenchmarkConfig, cell: Cell, data: dict[str, PreparedData]) -> tuple[UnitSpec, ...]:
    """The units a cell makes on its own (none with folds: those pool K cells)."""
    if cell.fold >= 0:
        return ()
    return tuple(
        UnitSpec(
            unit_id(cell.train_set, name, cell.strategy, cell.variant, cell.seed),
            cell.train_set,
            name,
            cell.strategy,
            cell.variant,
            cell.seed,
            name == cell.train_set,
            (cell.cell_id,),
        )
        for name, prepared in data.items()
        if name == cell.train_set or prepared.spec.tests
    )


def _pooled_units(
    config: BenchmarkConfig, cells: list[Cell], data: dict[str, PreparedData]
) -> list[UnitSpec]:
    groups: dict[tuple[str, str, str, int], list[Cell]] = {}
    for cell in cells:
        if cell.fold >= 0:
            groups.setdefault((cell.train_set, cell.strategy, cell.variant, cell.seed), []).append(cell)
    specs = []
    for (train_set, strategy, variant, seed), members in groups.items():
        ids = tuple(c.cell_id for c in sorted(members, key=lambda c: c.fold))
        for name, prepared in data.items():
            if name == train_set or prepared.spec.tests:
                specs.append(UnitSpec(unit_id(train_set, name, strategy, variant, seed), train_set, name,
                                      strategy, variant, seed, name == train_set, ids))  # fmt: skip
    return specs


def _task(config: BenchmarkConfig, cell: Cell, index: int, total: int, data: dict[str, PreparedData],
          threads: int) -> CellTask:  # fmt: skip
    others = tuple(
        (name, p.manifest_path, p.cache_dir)
        for name, p in data.items()
        if name != cell.train_set and p.spec.tests
    )
    return CellTask(cell, index, total, cell_train_config(config, cell, config.out), others,
                    _units_of(config, cell, data), config.out, config.evaluation, threads)  # fmt: skip


def _cell_record(config: BenchmarkConfig, cell: Cell, data: PreparedData, status: str, *,
                 outcome: CellOutcome | None = None) -> CellRecord:  # fmt: skip
    from medbalance.config import config_hash, flatten_sections
    from medbalance.training.config import RUN_CONTROL_FIELDS, TrainConfig

    train_config = cell_train_config(config, cell, config.out)
    flat = flatten_sections(TrainConfig, config_to_dict(train_config))  # the hash of before the sections
    return CellRecord(
        cell_id=cell.cell_id, train_set=cell.train_set, strategy=cell.strategy, variant=cell.variant,
        seed=cell.seed, fold=cell.fold, status=status, run_dir=f"cells/{cell.cell_id}",
        config_json=json.dumps(config_to_dict(train_config), sort_keys=True, default=str),
        config_hash=config_hash({k: v for k, v in flat.items() if k not in RUN_CONTROL_FIELDS and k != "data"}), data_hash=data.data_hash, code_version=code_version(),
        started_at=outcome.started_at if outcome else "", finished_at=outcome.finished_at if outcome else "",
        seconds=outcome.seconds if outcome else None, error=outcome.error if outcome else "",
    )  # fmt: skip


def _forget(store: ResultsStore, bench: Path, cell_ids: list[str]) -> None:
    """Delete partial cells: rows, run folders and their units."""
    units = store.units_frame()
    for _, row in units.iterrows():
        if set(row["cell_ids"]) & set(cell_ids):
            shutil.rmtree(row["unit_dir"], ignore_errors=True)
    store.delete_cells(cell_ids)
    for cell_id in cell_ids:
        shutil.rmtree(bench / "cells" / cell_id, ignore_errors=True)
        (bench / "cells" / f"{cell_id}.console.log").unlink(missing_ok=True)


def _build_caches(tasks: list[CellTask], data: dict[str, PreparedData]) -> None:
    """Each data set's preprocessing cache, once, before any cell (for every input size used)."""
    from medbalance.data.cache import PreprocessCache
    from medbalance.data.manifest import load_manifest
    from medbalance.data.preprocess import PreprocessConfig
    from medbalance.training._run_data import create_preprocess_config

    built: set[tuple[str, PreprocessConfig]] = set()
    for task in tasks:
        preprocessing = create_preprocess_config(task.train_config)
        for name in (task.cell.train_set, *(test_set for test_set, _, _ in task.ood)):
            if (name, preprocessing) not in built:
                built.add((name, preprocessing))
                manifest = load_manifest(data[name].manifest_path)
                PreprocessCache(data[name].cache_dir, preprocessing).build(manifest)


def _execute(
    config: BenchmarkConfig, tasks: list[CellTask], report: Callable[[BenchmarkEvent], None]
) -> Iterator[CellOutcome]:
    from medbalance.benchmark.executors import run_local, run_ray

    if config.executor == "ray":
        return run_ray(tasks, report, address=config.ray_address, num_cpus=config.cpus_per_cell,
                       num_gpus=config.gpus_per_cell)  # fmt: skip
    return run_local(tasks, config.workers, report)


def run_benchmark(
    config: BenchmarkConfig, on_event: Callable[[BenchmarkEvent], None] | None = None
) -> BenchmarkResult:
    """Run (or resume) a benchmark and fill ``config.out/results.sqlite``.

    Args:
        config: what to compare and how to run it.
        on_event: called with a :class:`BenchmarkEvent` for each cell start, epoch and end.

    Returns:
        The cells run, skipped and failed, and the ``cells`` table.

    Raises:
        ConfigError: a bad option (checked before anything is written).
        MedbalanceError: ``out`` holds other results, or (on resume) another config.
    """
    report = on_event or (lambda event: None)
    started = time.time()
    config = replace(config, out=Path(config.out))
    _, cells = check_benchmark(config)
    with claim_output_dir(config.out):  # a second benchmark (or demo) on the same folder is refused
        return _run_claimed(config, cells, report, started)


def _run_claimed(
    config: BenchmarkConfig, cells: list[Cell], report: Callable[[BenchmarkEvent], None], started: float
) -> BenchmarkResult:
    from medbalance.benchmark.executors import threads_per_worker

    fresh = not (config.resume and (config.out / CONFIG_FILE).is_file())
    _open(config)
    report(BenchmarkEvent("data", message="preparing data sets"))
    try:
        data = prepare_data_sets(config, config.out)
    except BaseException:
        if fresh:  # an impossible split or a bad manifest leaves no half-made benchmark folder
            shutil.rmtree(config.out, ignore_errors=True)
        raise
    for line in _positive_class_lines(data):
        report(BenchmarkEvent("data", message=line))
    mine = select_shard(cells, config.shard_index)
    store = ResultsStore(config.out / STORE_FILE)
    try:
        status = store.cell_status()
        done = [c for c in mine if status.get(c.cell_id) == "completed"]
        todo = [c for c in mine if status.get(c.cell_id) != "completed"]
        partial = [
            c.cell_id for c in todo if c.cell_id in status or (config.out / "cells" / c.cell_id).exists()
        ]
        _forget(store, config.out, partial)
        threads = threads_per_worker(config.workers) if config.workers > 1 else 0
        tasks = [_task(config, c, i + 1, len(todo), data, threads) for i, c in enumerate(todo)]
        report(BenchmarkEvent("data", message="building the preprocessing caches"))
        _build_caches(tasks, data)
        by_id = {c.cell_id: c for c in todo}
        for cell in todo:
            store.record_cell(_cell_record(config, cell, data[cell.train_set], "running"))
        failed = []
        for outcome in _execute(config, tasks, report):
            cell = by_id[outcome.cell_id]
            for record, metrics in outcome.units:
                store.record_unit(record, metrics)
            store.record_cell(
                _cell_record(config, cell, data[cell.train_set], outcome.status, outcome=outcome)
            )
            if outcome.status != "completed":
                failed.append(cell.cell_id)
            index = next(t.index for t in tasks if t.cell.cell_id == cell.cell_id)
            report(BenchmarkEvent("cell_end", cell.cell_id, index, len(tasks), elapsed=outcome.seconds,
                                  status=outcome.status, message=outcome.error))  # fmt: skip
        _pool_folds(config, mine, data, store, report)
    finally:
        store.close()
    with ResultsStore(config.out / STORE_FILE) as reader:
        table = reader.cells_frame()
    report(BenchmarkEvent("done", elapsed=time.time() - started, total=len(mine)))
    return BenchmarkResult(config.out, config.out / STORE_FILE, table, tuple(c.cell_id for c in todo),
                           tuple(c.cell_id for c in done), tuple(failed), time.time() - started)  # fmt: skip


def _pool_folds(config: BenchmarkConfig, cells: list[Cell], data: dict[str, PreparedData], store: ResultsStore,
                report: Callable[[BenchmarkEvent], None]) -> None:  # fmt: skip
    """Evaluate each pooled-folds unit whose K cells are all completed (and that is not recorded yet)."""
    status, recorded = store.cell_status(), store.unit_ids()
    for spec in _pooled_units(config, cells, data):
        if spec.unit_id in recorded or any(status.get(c) != "completed" for c in spec.cell_ids):
            continue
        if len(spec.cell_ids) != config.folds:
            continue  # a shard holds only some folds: merge, then `benchmark merge` pools them
        record, metrics = build_unit(spec, [config.out / "cells" / c for c in spec.cell_ids], config.out,
                                     config.evaluation)  # fmt: skip
        store.record_unit(record, metrics)
        report(BenchmarkEvent("unit", spec.unit_id))


def benchmark(
    config: BenchmarkConfig | str | Path | None = None,
    /,
    *,
    on_event: Callable[[BenchmarkEvent], None] | None = None,
    **options: Any,
) -> BenchmarkResult:
    """Run or resume a benchmark from a config, a YAML file or keyword options (``mb.benchmark``).

    Args:
        config: a :class:`~medbalance.benchmark.config.BenchmarkConfig`, a YAML file, or None.
        on_event: called with each cell start, epoch and end.
        **options: ``BenchmarkConfig`` keys (``data``, ``strategies``, ``seeds``, ``out``, ...);
            they override ``config``'s, parsed as strictly as the CLI's flags.

    Returns:
        A :class:`BenchmarkResult` (``cells``: a DataFrame).
    """
    from medbalance.benchmark.config import load_benchmark_config
    from medbalance.config import parse_config

    if isinstance(config, BenchmarkConfig):
        values = {**config_to_dict(config), **options}
        parsed = parse_config(BenchmarkConfig, values, where="benchmark config") if options else config
    else:
        parsed = load_benchmark_config(config, options)
    return run_benchmark(parsed, on_event=on_event)
