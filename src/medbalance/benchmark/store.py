"""The benchmark results store: SQLite (stdlib ``sqlite3``), WAL mode, one transaction per record.

Schema (fixed by the benchmark contract shared with the leaderboard/report code)::

    cells(cell_id PK, train_set, strategy, variant, seed, fold, status, run_dir, config_json,
          config_hash, data_hash, code_version, started_at, finished_at, seconds, error)
    units(unit_id PK, train_set, test_set, strategy, variant, seed, in_distribution, unit_dir,
          cell_ids /* JSON list */, level, n_cases, n_positive)
    metrics(unit_id, level, split, rule, metric, estimate, low, high, undefined_reason,
            PK(unit_id, level, split, rule, metric))

``fold`` is -1 without cross-validation; ``variant`` is "" for the default training
options. Paths are stored relative to the benchmark folder (the store's folder).
Only the benchmark driver writes; readers use the ``*_frame`` methods.

Example:
    >>> store = ResultsStore(bench / "results.sqlite")  # doctest: +SKIP
    >>> store.metrics_frame().query("metric == 'auc_roc' and rule == ''")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from medbalance.benchmark._metric_rows import MetricRecord, metric_records_from_json

__all__ = [
    "CellRecord",
    "CellStatus",
    "MetricRecord",
    "ResultsStore",
    "UnitRecord",
    "metric_records_from_json",
]

CellStatus = Literal["running", "completed", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells(
    cell_id TEXT PRIMARY KEY, train_set TEXT, strategy TEXT, variant TEXT, seed INT, fold INT,
    status TEXT, run_dir TEXT, config_json TEXT, config_hash TEXT, data_hash TEXT,
    code_version TEXT, started_at TEXT, finished_at TEXT, seconds REAL, error TEXT);
CREATE TABLE IF NOT EXISTS units(
    unit_id TEXT PRIMARY KEY, train_set TEXT, test_set TEXT, strategy TEXT, variant TEXT, seed INT,
    in_distribution INT, unit_dir TEXT, cell_ids TEXT, level TEXT, n_cases INT, n_positive INT);
CREATE TABLE IF NOT EXISTS metrics(
    unit_id TEXT, level TEXT, split TEXT, rule TEXT, metric TEXT, estimate REAL, low REAL, high REAL,
    undefined_reason TEXT, PRIMARY KEY(unit_id, level, split, rule, metric));
"""


@dataclass(frozen=True)
class CellRecord:
    """One row of ``cells`` (one training run of the grid)."""

    cell_id: str
    train_set: str
    strategy: str
    variant: str
    seed: int
    fold: int
    status: str
    run_dir: str
    config_json: str = "{}"
    config_hash: str = ""
    data_hash: str = ""
    code_version: str = ""
    started_at: str = ""
    finished_at: str = ""
    seconds: float | None = None
    error: str = ""


@dataclass(frozen=True)
class UnitRecord:
    """One row of ``units`` (one evaluated set of predictions: in/out of distribution, pooled folds)."""

    unit_id: str
    train_set: str
    test_set: str
    strategy: str
    variant: str
    seed: int
    in_distribution: bool
    unit_dir: str
    cell_ids: tuple[str, ...]
    level: str
    n_cases: int
    n_positive: int


def _columns(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


class ResultsStore:
    """Open (and create when missing) a results store.

    Args:
        path: the SQLite file, normally ``BENCH/results.sqlite``; its folder is the base of
            the relative run and unit paths.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.root = self.path.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- writing (the driver only) -------------------------------------------------------
    def record_cell(self, cell: CellRecord) -> None:
        """Insert or replace a cell's row (status running, completed or failed), in one transaction."""
        cols = _columns(CellRecord)
        with self._transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO cells({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                astuple(cell),
            )

    def record_unit(self, unit: UnitRecord, metrics: Iterable[MetricRecord]) -> None:
        """Replace a unit's row and all its metric rows in one transaction."""
        cols = _columns(UnitRecord)
        values = list(astuple(unit))
        values[cols.index("in_distribution")] = int(unit.in_distribution)
        values[cols.index("cell_ids")] = json.dumps(list(unit.cell_ids))
        mcols = ["unit_id", *_columns(MetricRecord)]
        with self._transaction() as conn:
            conn.execute("DELETE FROM metrics WHERE unit_id = ?", (unit.unit_id,))
            conn.execute(
                f"INSERT OR REPLACE INTO units({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", values
            )
            conn.executemany(
                f"INSERT OR REPLACE INTO metrics({','.join(mcols)}) VALUES ({','.join('?' * len(mcols))})",
                [(unit.unit_id, *astuple(m)) for m in metrics],
            )

    def delete_cells(self, cell_ids: Iterable[str]) -> None:
        """Remove cells and every unit (with its metrics) built from them, in one transaction."""
        ids = set(cell_ids)
        doomed = [
            u
            for u, c in self._conn.execute("SELECT unit_id, cell_ids FROM units")
            if ids & set(json.loads(c))
        ]
        with self._transaction() as conn:
            conn.executemany("DELETE FROM cells WHERE cell_id = ?", [(c,) for c in ids])
            conn.executemany("DELETE FROM metrics WHERE unit_id = ?", [(u,) for u in doomed])
            conn.executemany("DELETE FROM units WHERE unit_id = ?", [(u,) for u in doomed])

    # --- reading -------------------------------------------------------------------------
    def cell_status(self) -> dict[str, str]:
        """cell_id -> status for every recorded cell."""
        return dict(self._conn.execute("SELECT cell_id, status FROM cells").fetchall())

    def unit_ids(self) -> set[str]:
        """The ids of the recorded units."""
        return {r[0] for r in self._conn.execute("SELECT unit_id FROM units")}

    def _frame(self, sql: str) -> pd.DataFrame:
        cur = self._conn.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])

    def cells_frame(self) -> pd.DataFrame:
        """The ``cells`` table, one row per cell, ordered by cell_id."""
        return self._frame("SELECT * FROM cells ORDER BY cell_id")

    def units_frame(self) -> pd.DataFrame:
        """The ``units`` table; ``unit_dir`` as an absolute Path, ``cell_ids`` as a list."""
        frame = self._frame("SELECT * FROM units ORDER BY unit_id")
        frame["unit_dir"] = [self.root / d for d in frame["unit_dir"]]
        frame["cell_ids"] = [json.loads(c) for c in frame["cell_ids"]]
        frame["in_distribution"] = frame["in_distribution"].astype(bool)
        return frame

    def metrics_frame(self) -> pd.DataFrame:
        """Long table: the units columns plus level, split, rule, metric, estimate, low, high,
        undefined_reason (one row per metric of each unit)."""
        units = self.units_frame().drop(columns=["level"])
        metrics = self._frame("SELECT * FROM metrics ORDER BY unit_id, level, split, rule, metric")
        return units.merge(metrics, on="unit_id", how="inner")

    def raw_rows(self, table: Literal["cells", "units", "metrics"]) -> list[tuple[Any, ...]]:
        """Every row of a table as stored (used by ``merge``)."""
        return self._conn.execute(f"SELECT * FROM {table}").fetchall()
