"""``merge_benchmarks``: shard folders (``--shard i/N``) -> one benchmark folder.

Every shard must hold the same benchmark (``benchmark.yaml``) and the same data
(manifest hashes); the merged store holds each cell once (a completed copy wins
over a failed or partial one), its run folder and its units. Cross-validation
folds split across shards are pooled here, once all K folds are present.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from medbalance.benchmark.store import ResultsStore
from medbalance.errors import MedbalanceError
from medbalance.io import prepare_output_dir
from medbalance.outputs import claim_output_dir

__all__ = ["MergeResult", "merge_benchmarks"]


@dataclass(frozen=True)
class MergeResult:
    """What the merged folder holds."""

    out: Path
    n_cells: int
    n_units: int


def _identity(shard: Path) -> dict:
    from medbalance.benchmark.run import CONFIG_FILE, STORE_FILE

    if not (shard / CONFIG_FILE).is_file() or not (shard / STORE_FILE).is_file():
        raise MedbalanceError(f"{shard} is not a benchmark folder (no {CONFIG_FILE} or {STORE_FILE}).")
    return yaml.safe_load((shard / CONFIG_FILE).read_text(encoding="utf-8")) or {}


def _rows(path: Path, table: str) -> tuple[list[str], list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        cur = conn.execute(f"SELECT * FROM {table}")
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        conn.close()


def merge_benchmarks(shards: Sequence[Path], out: Path, *, overwrite: bool = False) -> MergeResult:
    """Combine shard folders into ``out`` (a new folder).

    Raises:
        MedbalanceError: no shard, a folder that is not a benchmark, shards of different
            benchmarks (the differing fields named), or ``out`` not empty without ``overwrite``.
    """
    from medbalance.benchmark.run import STORE_FILE

    shards = [Path(s) for s in shards]
    if not shards:
        raise MedbalanceError("no shard folder given; pass the folders of `benchmark --shard i/N` runs.")
    first = _identity(shards[0])
    for shard in shards[1:]:
        other = _identity(shard)
        changed = sorted(k for k in set(first) | set(other) if first.get(k) != other.get(k))
        if changed:
            raise MedbalanceError(
                f"{shard} holds another benchmark than {shards[0]} ({', '.join(changed)} differ)."
            )
    best: dict[str, tuple[Path, tuple]] = {}
    data_hashes: dict[str, tuple[str, Path]] = {}
    for shard in shards:
        columns, rows = _rows(shard / STORE_FILE, "cells")
        status, train_set, data_hash = (columns.index(c) for c in ("status", "train_set", "data_hash"))
        for row in rows:
            seen = data_hashes.setdefault(row[train_set], (row[data_hash], shard))
            if seen[0] != row[data_hash]:
                raise MedbalanceError(
                    f"data set {row[train_set]!r} differs between {seen[1]} and {shard} (data hash {seen[0]} vs "
                    f"{row[data_hash]}): the shards did not split the same data; rerun them from one config."
                )
            if row[0] not in best or (row[status] == "completed" and best[row[0]][1][status] != "completed"):
                best[row[0]] = (shard, row)
    with claim_output_dir(out):
        return _merge_claimed(shards, Path(out), best, overwrite)


def _merge_claimed(shards: list[Path], out: Path, best: dict[str, tuple[Path, tuple]], overwrite: bool) -> MergeResult:
    out = prepare_output_dir(Path(out), overwrite=overwrite)
    try:
        return _write(shards, out, best)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # nothing half-merged is left behind
        raise


def _write(shards: list[Path], out: Path, best: dict[str, tuple[Path, tuple]]) -> MergeResult:
    from medbalance.benchmark._data import prepare_data_sets
    from medbalance.benchmark.grid import check_benchmark
    from medbalance.benchmark.run import CONFIG_FILE, STORE_FILE, _pool_folds, read_benchmark_config

    shutil.copy2(shards[0] / CONFIG_FILE, out / CONFIG_FILE)
    shutil.copytree(shards[0] / "data", out / "data", ignore=shutil.ignore_patterns("cache"))
    store = ResultsStore(out / STORE_FILE)
    try:
        conn = sqlite3.connect(out / STORE_FILE)
        try:
            with conn:
                for cell_id, (shard, row) in sorted(best.items()):
                    conn.execute(f"INSERT INTO cells VALUES ({','.join('?' * len(row))})", row)
                    if (shard / "cells" / cell_id).is_dir():
                        shutil.copytree(shard / "cells" / cell_id, out / "cells" / cell_id)
                    console = shard / "cells" / f"{cell_id}.console.log"
                    if console.is_file():
                        shutil.copy2(console, out / "cells" / console.name)
                for shard in shards:
                    _, units = _rows(shard / STORE_FILE, "units")
                    _, metrics = _rows(shard / STORE_FILE, "metrics")
                    keep = {u[0] for u in units if all(best.get(c, (shard,))[0] == shard for c in _ids(u[8]))}
                    for unit in units:
                        if unit[0] in keep:
                            conn.execute(
                                f"INSERT OR REPLACE INTO units VALUES ({','.join('?' * len(unit))})", unit
                            )
                            shutil.copytree(shard / unit[7], out / unit[7], dirs_exist_ok=True)
                    conn.executemany(
                        "INSERT OR REPLACE INTO metrics VALUES (?,?,?,?,?,?,?,?,?)",
                        [m for m in metrics if m[0] in keep],
                    )
        finally:
            conn.close()
        config = read_benchmark_config(out)
        _, cells = check_benchmark(config)
        _pool_folds(config, cells, prepare_data_sets(config, out), store, lambda event: None)
        return MergeResult(out, len(store.cells_frame()), len(store.unit_ids()))
    finally:
        store.close()


def _ids(text: str) -> list[str]:
    import json

    return list(json.loads(text))
