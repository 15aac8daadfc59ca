"""Cross-validation folds pooled, the local process pool, and the Ray executor, on tiny phantoms."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark_helpers import tiny_settings
from medbalance.benchmark.config import load_benchmark_config
from medbalance.benchmark.run import run_benchmark
from medbalance.benchmark.store import ResultsStore
from medbalance.benchmark.units import ood_predictions_path


@pytest.mark.slow  # three fold cells (~1.5 min on 2 shared cores)
def test_folds_pool_out_of_fold_predictions(tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = run_benchmark(load_benchmark_config(None, tiny_settings(out, folds=3, strategies=["none"])))
    assert result.failed == () and len(result.ran) == 3
    with ResultsStore(out / "results.sqlite") as store:
        cells, units = store.cells_frame(), store.units_frame()
    assert list(cells["fold"]) == [0, 1, 2]
    assert len(units) == 2 and all(len(ids) == 3 for ids in units["cell_ids"])
    manifest = pd.read_csv(out / "data" / "ab" / "manifest.csv")
    pooled = units.set_index("test_set").loc["ab", "unit_dir"]
    for name in ("predictions_test.csv", "predictions_val.csv"):
        ids = pd.read_csv(pooled / name)["image_id"]
        assert ids.is_unique and set(ids) == set(manifest["image_id"])  # every case tested once
    ood = pd.read_csv(units.set_index("test_set").loc["c", "unit_dir"] / "predictions_test.csv")
    fold_preds = [
        pd.read_csv(ood_predictions_path(out / "cells" / c, "c")).set_index("image_id")
        for c in cells["cell_id"]
    ]
    expected = np.mean([f.loc[ood["image_id"], "prob_malignant"].to_numpy() for f in fold_preds], axis=0)
    np.testing.assert_allclose(ood["prob_malignant"], expected, rtol=1e-5)


@pytest.mark.slow  # two spawned worker processes each import torch
def test_local_executor_with_two_worker_processes(tmp_path: Path) -> None:
    events = []
    settings = tiny_settings(tmp_path / "b", workers=2)
    settings["data"] = settings["data"][:1]
    result = run_benchmark(load_benchmark_config(None, settings), on_event=events.append)
    assert result.failed == () and len(result.ran) == 2
    assert {e.cell_id for e in events if e.kind == "epoch"} == set(result.ran)  # epochs reported from workers
    assert set(result.cells["status"]) == {"completed"}
    # Two workers finishing concurrently: the driver alone writes the store; nothing lost or doubled.
    with sqlite3.connect(tmp_path / "b" / "results.sqlite") as db:
        cells = [r[0] for r in db.execute("SELECT cell_id FROM cells WHERE status = 'completed'")]
        units = db.execute("SELECT COUNT(*), COUNT(DISTINCT unit_id) FROM units").fetchone()
        metric_units = db.execute("SELECT COUNT(DISTINCT unit_id) FROM metrics").fetchone()[0]
    assert sorted(cells) == sorted(result.ran)
    assert units[0] == units[1] == metric_units == len(result.ran)


@pytest.mark.slow  # starts a local Ray instance
def test_ray_executor_runs_two_cells(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    settings = tiny_settings(tmp_path / "b", executor="ray")
    settings["data"] = settings["data"][:1]
    result = run_benchmark(load_benchmark_config(None, settings))
    assert result.failed == () and len(result.ran) == 2
    with ResultsStore(tmp_path / "b" / "results.sqlite") as store:
        assert set(store.cells_frame()["status"]) == {"completed"} and len(store.unit_ids()) == 2
