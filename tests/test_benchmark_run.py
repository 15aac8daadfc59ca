"""``run_benchmark`` end to end on tiny phantoms: store, units in and out of distribution, resume, shards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmark_helpers import tiny_settings
from medbalance.benchmark.config import load_benchmark_config
from medbalance.benchmark.merge import merge_benchmarks
from medbalance.benchmark.run import read_benchmark_config, run_benchmark
from medbalance.benchmark.store import ResultsStore
from medbalance.errors import ConfigError, DataError, MedbalanceError


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "b"
    events = []
    result = run_benchmark(load_benchmark_config(None, tiny_settings(out)), on_event=events.append)
    assert result.failed == () and len(result.ran) == 2
    kinds = [e.kind for e in events]
    assert kinds.count("cell_start") == 2 and kinds.count("cell_end") == 2 and "epoch" in kinds
    return out


def test_store_holds_cells_and_units_in_and_out_of_distribution(bench: Path) -> None:
    with ResultsStore(bench / "results.sqlite") as store:
        cells, units, metrics = store.cells_frame(), store.units_frame(), store.metrics_frame()
    assert list(cells["cell_id"]) == ["ab__none__default__s0", "ab__oversample__default__s0"]
    assert (
        set(cells["status"]) == {"completed"} and (cells["fold"] == -1).all() and (cells["seconds"] > 0).all()
    )
    assert cells["config_hash"].nunique() == 2 and cells["data_hash"].nunique() == 1
    assert sorted(zip(units["strategy"], units["test_set"], units["in_distribution"], strict=True)) == [
        ("none", "ab", True), ("none", "c", False), ("oversample", "ab", True), ("oversample", "c", False),
    ]  # fmt: skip
    for _, unit in units.iterrows():
        assert (unit["unit_dir"] / "evaluation" / "metrics.json").is_file()
    auc = metrics[(metrics["metric"] == "auc_roc") & (metrics["rule"] == "")]
    assert len(auc) == 4 and auc["estimate"].between(0, 1).all()


def test_units_hold_the_cells_predictions(bench: Path) -> None:
    cell = bench / "cells" / "ab__none__default__s0"
    unit = bench / "units" / "ab__none__default__s0__on__ab"
    ood = bench / "units" / "ab__none__default__s0__on__c"
    for name in ("predictions_val.csv", "predictions_test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(cell / name), pd.read_csv(unit / name), check_exact=False)
    pd.testing.assert_frame_equal(
        pd.read_csv(cell / "predictions_val.csv"), pd.read_csv(ood / "predictions_val.csv")
    )
    test = pd.read_csv(ood / "predictions_test.csv")
    assert set(test["domain"]) == {"vendor-c"} and set(test["split"]) == {"test"}
    trained_on = pd.read_csv(cell / "split.csv")
    assert set(trained_on["domain"]) == {"vendor-a", "vendor-b"}
    assert not set(test["image_id"]) & set(trained_on["image_id"])


def test_every_cell_of_a_data_set_has_the_same_split(bench: Path) -> None:
    splits = [
        pd.read_csv(p / "split.csv")[["image_id", "split"]] for p in sorted((bench / "cells").glob("ab__*/"))
    ]
    pd.testing.assert_frame_equal(splits[0], splits[1])


def test_the_folder_holds_the_resolved_config(bench: Path) -> None:
    config = read_benchmark_config(bench)
    assert config.out == bench and config.strategies == ("none", "oversample")
    assert config.identity() == load_benchmark_config(None, tiny_settings(bench)).identity()


def test_one_preprocessing_cache_per_data_set(bench: Path) -> None:
    for name in ("ab", "c"):  # c: vendor-c images preprocessed as the models trained on ab need them
        assert len([p for p in (bench / "data" / name / "cache").iterdir() if p.is_dir()]) == 1
    assert not list((bench / "cells").glob("*/cache"))


def test_resume_skips_finished_cells(bench: Path) -> None:
    result = run_benchmark(load_benchmark_config(None, tiny_settings(bench, resume=True)))
    assert result.ran == () and len(result.skipped) == 2
    assert len(result.cells) == 2


def test_resume_refuses_a_changed_config(bench: Path) -> None:
    changed = tiny_settings(bench, resume=True, seeds=2, strategies=["none"])
    with pytest.raises(MedbalanceError, match="seeds, strategies differ"):
        run_benchmark(load_benchmark_config(None, changed))


def test_shards_merge_to_the_unsharded_cells(bench: Path, tmp_path: Path) -> None:
    shards = []
    for i in range(2):
        out = tmp_path / f"shard{i}"
        result = run_benchmark(load_benchmark_config(None, tiny_settings(out, shard=f"{i}/2")))
        assert len(result.ran) == 1
        shards.append(out)
    merged = merge_benchmarks(shards, tmp_path / "merged")
    assert merged.n_cells == 2 and merged.n_units == 4
    with (
        ResultsStore(tmp_path / "merged" / "results.sqlite") as a,
        ResultsStore(bench / "results.sqlite") as b,
    ):
        columns = [
            "cell_id",
            "train_set",
            "strategy",
            "variant",
            "seed",
            "fold",
            "status",
            "config_hash",
            "data_hash",
        ]
        pd.testing.assert_frame_equal(a.cells_frame()[columns], b.cells_frame()[columns])
        assert a.unit_ids() == b.unit_ids()
        assert len(a.metrics_frame()) == len(b.metrics_frame())
        assert all(d.is_dir() for d in a.units_frame()["unit_dir"])


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"variants": ["", "sma"]}, "Did you mean 'sam'"),
        ({"train": {"epochs": 1, "seed": 3}}, "train.seed is set by the benchmark"),
        ({"train": {"epoch": 1}}, "Did you mean 'epochs'"),
        ({"strategies": ["oversampel"]}, "Did you mean 'oversample'"),
        ({"evaluation": {"rules": ["yuoden"]}}, "youden"),
        ({"shard": "2/2"}, "shard must be"),
        ({"folds": 2}, "folds must be an integer >= 3"),
    ],
    ids=["variant", "reserved-key", "train-key", "strategy", "rule", "shard", "folds"],
)
def test_bad_options_fail_before_anything_is_written(tmp_path: Path, changes: dict, error: str) -> None:
    out = tmp_path / "b"
    with pytest.raises(ConfigError, match=error):
        run_benchmark(load_benchmark_config(None, tiny_settings(out, **changes)))
    assert not out.exists()


def test_an_impossible_split_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "b"
    with pytest.raises(DataError, match="fewer than the 50 folds"):
        run_benchmark(load_benchmark_config(None, tiny_settings(out, folds=50)))
    assert not out.exists()


def test_unknown_domain_fails_before_anything_is_written(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "b")
    settings["data"][1]["domains"] = ["vendor-x"]
    with pytest.raises(DataError, match="vendor-x"):
        run_benchmark(load_benchmark_config(None, settings))
    assert not (tmp_path / "b").exists()


def test_merge_refuses_different_benchmarks(bench: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "benchmark.yaml").write_text("seeds: 7\n")
    (other / "results.sqlite").write_bytes(b"")
    with pytest.raises(MedbalanceError, match="seeds"):
        merge_benchmarks([bench, other], tmp_path / "m")


def test_export_recommended_bundles_the_recommended_cell(bench: Path, tmp_path: Path) -> None:
    import shutil

    from medbalance.benchmark.recommend import parse_constraint, recommend, write_recommendation
    from medbalance.inference import export_recommended, load_bundle

    copy = tmp_path / "bench"
    shutil.copytree(bench, copy)
    rec = recommend(copy, parse_constraint("sensitivity>=0.9"), n_bootstrap=20)
    write_recommendation(copy, rec)
    export_recommended(copy, tmp_path / "model")
    spec = load_bundle(tmp_path / "model").spec
    # the bundle carries the recommended cell's weights and the threshold recommend chose on validation
    assert Path(spec["source"]["run_dir"]).name == rec.model["cell_ids"][0]
    assert spec["threshold"]["rule"] == rec.model["threshold_rule"]
    assert spec["threshold"]["value"] == pytest.approx(rec.model["threshold"])
