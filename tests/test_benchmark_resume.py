"""A benchmark killed with SIGKILL mid-cell and resumed ends with the same cells and no duplicates."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmark_helpers import tiny_settings
from medbalance.benchmark.store import ResultsStore

SRC = Path(__file__).resolve().parents[1] / "src"


def _status(store: Path) -> dict[str, str]:
    if not store.is_file():
        return {}
    try:
        conn = sqlite3.connect(store, timeout=1)
        try:
            return dict(conn.execute("SELECT cell_id, status FROM cells").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def _cli(config: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "medbalance",
        "benchmark",
        "--config",
        str(config),
        "--out",
        str(out),
        *extra,
    ]


def _killable_benchmark(tmp_path: Path, **overrides: object) -> tuple[Path, Path, dict[str, str]]:
    """A one-data-set, 3-epoch benchmark config file for a CLI process a test will SIGKILL."""
    out = tmp_path / "bench"
    settings = tiny_settings(out, **overrides)
    settings["data"] = settings["data"][:1]
    settings["train"] = {**settings["train"], "epochs": 3}
    for key in ("out", "progress"):
        settings.pop(key)
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump(settings))
    return out, config, {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}


@pytest.mark.slow  # ~2.5 min on 2 shared cores: two CLI starts, three cells
def test_sigkill_mid_cell_then_resume(tmp_path: Path) -> None:
    out, config, env = _killable_benchmark(tmp_path)
    first, second = "ab__none__default__s0", "ab__oversample__default__s0"
    proc = subprocess.Popen(_cli(config, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            status = _status(out / "results.sqlite")
            if status.get(first) == "completed" and (out / "cells" / second / "history.csv").is_file():
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the benchmark ended before it could be killed mid-cell"
        assert _status(out / "results.sqlite") == {first: "completed", second: "running"}
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = subprocess.run(_cli(config, out, "--resume"), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 cell(s) run, 1 kept from before, 0 failed" in done.stdout
    with ResultsStore(out / "results.sqlite") as store:
        cells, units, metrics = store.cells_frame(), store.units_frame(), store.metrics_frame()
    assert list(cells["cell_id"]) == [first, second] and set(cells["status"]) == {"completed"}
    assert len(units) == 2 and units["unit_id"].is_unique
    assert not metrics.duplicated(["unit_id", "level", "split", "rule", "metric"]).any()
    assert sorted(p.name for p in (out / "cells").iterdir() if p.is_dir()) == [first, second]
    assert sorted(p.name for p in (out / "units").iterdir()) == sorted(units["unit_id"])
    history = (out / "cells" / second / "history.csv").read_text().strip().splitlines()
    assert len(history) == 1 + 3  # the redone cell trained all its epochs afresh


def _finished(store: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the completed cells, their units and those units' metrics, as stored."""
    conn = sqlite3.connect(store, timeout=5)
    try:
        done = {c for c, s in conn.execute("SELECT cell_id, status FROM cells") if s == "completed"}
        units = {
            u
            for u, ids in conn.execute("SELECT unit_id, cell_ids FROM units")
            if set(json.loads(ids)) <= done
        }
        return {
            "cells": sorted(r for r in conn.execute("SELECT * FROM cells") if r[0] in done),
            "units": sorted(r for r in conn.execute("SELECT * FROM units") if r[0] in units),
            "metrics": sorted((r for r in conn.execute("SELECT * FROM metrics") if r[0] in units), key=repr),
        }
    finally:
        conn.close()


@pytest.mark.slow  # ~3 min on 2 shared cores: four cells, two at a time, killed and resumed
def test_sigkill_mid_cell_with_two_workers_then_resume(tmp_path: Path) -> None:
    out, config, env = _killable_benchmark(tmp_path, seeds=2)
    store = out / "results.sqlite"
    proc = subprocess.Popen(_cli(config, out, "--workers", "2"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.time() + 400
        while time.time() < deadline and proc.poll() is None:
            status = _status(store)
            running = [
                c
                for c, s in status.items()
                if s == "running" and (out / "cells" / c / "history.csv").is_file()
            ]
            if "completed" in status.values() and running:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the benchmark ended before it could be killed mid-cell"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, both workers and the queue manager
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    status = _status(store)
    before = _finished(store)
    kept = sorted(c for c, s in status.items() if s == "completed")
    assert kept and len(kept) < 4, status
    done = subprocess.run(_cli(config, out, "--resume", "--workers", "2"), env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{4 - len(kept)} cell(s) run, {len(kept)} kept from before, 0 failed" in done.stdout
    after = _finished(store)
    for table, rows in before.items():  # no finished result lost or changed: the same rows, byte for byte
        assert set(rows) <= set(after[table]), table
    with ResultsStore(store) as reader:
        cells, units, metrics = reader.cells_frame(), reader.units_frame(), reader.metrics_frame()
    assert len(cells) == 4 and cells["cell_id"].is_unique and set(cells["status"]) == {"completed"}
    assert len(units) == 4 and units["unit_id"].is_unique
    assert sorted(c for ids in units["cell_ids"] for c in ids) == sorted(cells["cell_id"])
    assert not metrics.duplicated(["unit_id", "level", "split", "rule", "metric"]).any()
    assert set(metrics["unit_id"]) == set(units["unit_id"])
    assert sorted(p.name for p in (out / "cells").iterdir() if p.is_dir()) == sorted(cells["cell_id"])
    assert sorted(p.name for p in (out / "units").iterdir()) == sorted(units["unit_id"])
    for cell_id in cells["cell_id"]:
        history = (out / "cells" / cell_id / "history.csv").read_text().strip().splitlines()
        assert len(history) == 1 + 3, cell_id  # every epoch once, in every cell
