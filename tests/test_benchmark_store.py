"""The benchmark results store: schema, WAL, records, frames, metric flattening from evaluate_run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from medbalance.benchmark.store import (
    CellRecord,
    MetricRecord,
    ResultsStore,
    UnitRecord,
    metric_records_from_json,
)
from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
from test_evaluate_run import write_run


def _cell(cell_id: str, status: str = "completed", seed: int = 0) -> CellRecord:
    return CellRecord(cell_id=cell_id, train_set="phantoms", strategy="none", variant="", seed=seed, fold=-1,
                      status=status, run_dir=f"cells/{cell_id}", config_json="{}", seconds=1.5)  # fmt: skip


def _unit(unit_id: str, cells: tuple[str, ...]) -> UnitRecord:
    return UnitRecord(unit_id=unit_id, train_set="phantoms", test_set="phantoms", strategy="none", variant="",
                      seed=0, in_distribution=True, unit_dir=f"units/{unit_id}", cell_ids=cells, level="image",
                      n_cases=10, n_positive=2)  # fmt: skip


def test_schema_matches_the_contract_and_uses_wal(tmp_path: Path) -> None:
    ResultsStore(tmp_path / "results.sqlite").close()
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in ("cells", "units", "metrics")}
    assert cols["cells"] == ["cell_id", "train_set", "strategy", "variant", "seed", "fold", "status", "run_dir",
                             "config_json", "config_hash", "data_hash", "code_version", "started_at",
                             "finished_at", "seconds", "error"]  # fmt: skip
    assert cols["units"] == ["unit_id", "train_set", "test_set", "strategy", "variant", "seed", "in_distribution",
                             "unit_dir", "cell_ids", "level", "n_cases", "n_positive"]  # fmt: skip
    assert cols["metrics"] == ["unit_id", "level", "split", "rule", "metric", "estimate", "low", "high",
                               "undefined_reason"]  # fmt: skip
    pk = [r[1] for r in conn.execute("PRAGMA table_info(metrics)") if r[5]]
    assert pk == ["unit_id", "level", "split", "rule", "metric"]


def test_cells_replace_and_delete_cascades_to_units(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        store.record_cell(_cell("a", "running"))
        store.record_cell(_cell("a", "completed"))
        store.record_cell(_cell("b", "failed", seed=1))
        store.record_unit(_unit("u1", ("a",)), [MetricRecord("image", "test", "", "auc_roc", 0.8, 0.7, 0.9)])
        store.record_unit(_unit("u2", ("b",)), [MetricRecord("image", "test", "", "auc_roc", 0.6)])
        assert store.cell_status() == {"a": "completed", "b": "failed"}
        assert len(store.cells_frame()) == 2
        store.delete_cells(["a"])
        assert store.cell_status() == {"b": "failed"}
        assert store.unit_ids() == {"u2"}
        assert set(store.metrics_frame()["unit_id"]) == {"u2"}


def test_record_unit_replaces_its_metrics(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.sqlite")
    store.record_unit(_unit("u", ("a",)), [MetricRecord("image", "test", "", "auc_roc", 0.8),
                                           MetricRecord("image", "test", "", "brier", 0.1)])  # fmt: skip
    store.record_unit(_unit("u", ("a",)), [MetricRecord("image", "test", "", "auc_roc", 0.9)])
    frame = store.metrics_frame()
    assert list(frame["metric"]) == ["auc_roc"] and frame["estimate"].iloc[0] == 0.9
    units = store.units_frame()
    assert units["unit_dir"].iloc[0] == tmp_path / "units" / "u"
    assert units["cell_ids"].iloc[0] == ["a"] and bool(units["in_distribution"].iloc[0]) is True


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.sqlite")
    bad = [MetricRecord("image", "test", "", "auc_roc", 0.8), object()]
    with pytest.raises(TypeError):
        store.record_unit(_unit("u", ("a",)), bad)  # type: ignore[list-item]
    assert store.unit_ids() == set() and store.metrics_frame().empty


def test_empty_store_frames_have_columns(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.sqlite")
    assert "cell_id" in store.cells_frame().columns
    assert {"unit_id", "metric", "estimate", "test_set"} <= set(store.metrics_frame().columns)


def test_metrics_from_evaluate_run_round_trip(tmp_path: Path) -> None:
    run = write_run(tmp_path)
    result = evaluate_run(run, EvaluateConfig(level="breast", n_bootstrap=50, figures=False))
    records = metric_records_from_json(result.metrics)
    keys = [(r.split, r.rule, r.metric) for r in records]
    assert len(keys) == len(set(keys)) and {r.level for r in records} == {"breast"}
    by_key = {(r.split, r.rule, r.metric): r for r in records}
    auc = result.metrics["threshold_free"]["auc_roc"]
    assert by_key[("test", "", "auc_roc")].estimate == pytest.approx(auc["estimate"])
    assert by_key[("test", "", "auc_roc")].low == pytest.approx(auc["low"])
    sens = result.metrics["operating_points"]["youden"]["test"]["sensitivity"]
    assert by_key[("test", "youden", "sensitivity")].estimate == pytest.approx(sens["estimate"])
    threshold = result.metrics["operating_points"]["youden"]["operating_point"]["threshold"]
    assert by_key[("val", "youden", "threshold")].estimate == pytest.approx(threshold)
    assert ("val", "fixed", "sensitivity") in by_key and ("test", "fixed", "mcc") in by_key
    assert by_key[("test", "", "ece_equal_width")].estimate is not None
    assert ("test", "", "auc_roc@vendorA") in by_key
    store = ResultsStore(tmp_path / "results.sqlite")
    store.record_unit(_unit("u", ("a",)), records)
    frame = store.metrics_frame()
    assert len(frame) == len(records)
    row = frame[(frame["metric"] == "auc_roc") & (frame["rule"] == "")].iloc[0]
    assert row["estimate"] == pytest.approx(auc["estimate"]) and row["level"] == "breast"
    json.dumps(frame.drop(columns=["unit_dir"]).to_dict("records"))  # plain values only


def test_undefined_metric_keeps_its_reason() -> None:
    metrics = {"operating_points": {"fixed:0.5": {"test": {"ppv": {
        "metric": "ppv", "estimate": None, "low": None, "high": None, "defined": False,
        "reason": "ppv is undefined: no case scored >= threshold 0.5", "split": "test",
        "threshold_rule": "fixed:0.5"}}}}}  # fmt: skip
    (record,) = metric_records_from_json(metrics, level="image")
    assert record.estimate is None and "no case scored" in record.undefined_reason
    assert (record.split, record.rule, record.metric) == ("test", "fixed:0.5", "ppv")
