"""The benchmark grid without training: variants, cells, shards, folds in training, progress lines, CLI."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark_helpers import tiny_settings
from medbalance.benchmark._cell import BenchmarkEvent
from medbalance.benchmark.config import load_benchmark_config
from medbalance.benchmark.grid import Cell, cell_train_config, check_benchmark, parse_variant, select_shard
from medbalance.benchmark.progress import ProgressPrinter, format_seconds
from medbalance.cli import main
from medbalance.data.manifest import Manifest
from medbalance.errors import ConfigError, DataError
from medbalance.training._run_data import apply_fold


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("", {}),
        ("sam", {"sam": True}),
        ("sam+ema", {"sam": True, "ema": True}),
        ("aug=mammography+size=256", {"augmentation": "mammography", "image_size": 256}),
        ("sam+sam-rho=0.1", {"sam": True, "sam_rho": 0.1}),
    ],
    ids=["default", "sam", "sam-ema", "aug-size", "rho"],
)
def test_parse_variant(variant: str, expected: dict) -> None:
    assert parse_variant(variant) == expected


def test_parse_variant_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="needs a int value"):
        parse_variant("size=big")


def test_cells_ids_and_shards(tmp_path: Path) -> None:
    config = load_benchmark_config(
        None, tiny_settings(tmp_path / "b", seeds=[0, 5], folds=3, variants=["", "ema"])
    )
    strategies, cells = check_benchmark(config)
    assert strategies == ("none", "oversample")
    assert len(cells) == 2 * 2 * 2 * 3  # strategies x variants x seeds x folds; test-only set trains nothing
    assert len({c.cell_id for c in cells}) == len(cells)
    assert Cell("ab", "oversample", "ema", 5, 2).cell_id == "ab__oversample__ema__s5__f2"
    shards = [select_shard(cells, (i, 3)) for i in range(3)]
    assert sorted(c.cell_id for s in shards for c in s) == sorted(c.cell_id for c in cells)
    train = cell_train_config(config, Cell("ab", "oversample", "ema", 5, 2), tmp_path / "b")
    assert (train.split.fold, train.seed, train.optim.ema, train.strategy) == (2, 5, True, "oversample")
    assert train.input.cache_dir == tmp_path / "b" / "data" / "ab" / "cache" and train.run.progress is False


def test_flags_update_the_files_sections_key_by_key(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({**tiny_settings(tmp_path / "b"), "evaluation": {"level": "breast"}}))
    config = load_benchmark_config(
        path, {"train": {"batch_size": 4}, "evaluation": {"n_bootstrap": 50}, "seeds": 2}
    )
    assert config.train == {"epochs": 1, "image_size": 32, "batch_size": 4, "top_k": 1}
    assert (config.evaluation.level, config.evaluation.n_bootstrap, config.seeds) == ("breast", 50, 2)
    with pytest.raises(ConfigError, match="Did you mean 'seeds'"):
        load_benchmark_config(path, {"seed": 2})


def test_default_strategies_are_every_registered_one_baseline_first(tmp_path: Path) -> None:
    from medbalance.strategies import list_strategies

    config = load_benchmark_config(None, tiny_settings(tmp_path / "b", strategies=None))
    strategies, _ = check_benchmark(config)
    assert strategies[0] == "none" and set(strategies) == {s.name for s in list_strategies()}


def _manifest(folds: list[str]) -> Manifest:
    n = len(folds)
    table = pd.DataFrame({
        "image_id": [f"i{k}" for k in range(n)], "path": [f"{k}.png" for k in range(n)],
        "label": ["a", "b"] * (n // 2), "patient_id": [f"p{k}" for k in range(n)], "split": "", "fold": folds,
    })  # fmt: skip
    return Manifest(table=table, classes=("a", "b"))


def test_apply_fold_tests_fold_k_and_validates_on_the_next() -> None:
    manifest = apply_fold(_manifest(["0", "0", "1", "1", "2", "2", "3", "3"]), 3)
    assert list(manifest.table["split"]) == ["val"] * 2 + ["train"] * 4 + ["test"] * 2  # wraps around
    manifest = apply_fold(_manifest(["0", "0", "1", "1", "2", "2", "3", "3"]), 1)
    assert list(manifest.table["split"]) == ["train"] * 2 + ["test"] * 2 + ["val"] * 2 + ["train"] * 2
    last = apply_fold(_manifest(["0", "0", "1", "1", "2", "2"]), 2)
    assert list(last.table["split"]) == ["val"] * 2 + ["train"] * 2 + ["test"] * 2


def test_apply_fold_with_a_held_out_test_split_validates_on_fold_k() -> None:
    manifest = _manifest(["0", "0", "1", "1", "", ""])
    manifest = manifest.with_table(manifest.table.assign(split=["train"] * 4 + ["test"] * 2))
    assert list(apply_fold(manifest, 1).table["split"]) == ["train"] * 2 + ["val"] * 2 + ["test"] * 2


@pytest.mark.parametrize(
    ("folds", "fold", "error"),
    [
        (None, 0, "needs a 'fold' column"),
        (["0", "1", "", "2"], 0, "not in a held-out test split"),
        (["0", "0", "1", "1"], 0, "K >= 3"),
        (["0", "1", "2", "2"], 5, "not among"),
    ],
    ids=["no-column", "empty", "two-folds", "unknown"],
)
def test_apply_fold_errors(folds: list[str] | None, fold: int, error: str) -> None:
    manifest = _manifest(folds or ["0"] * 4)
    if folds is None:
        manifest = manifest.with_table(manifest.table.drop(columns=["fold"]))
    with pytest.raises(DataError, match=error):
        apply_fold(manifest, fold)


def test_progress_lines() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    printer(BenchmarkEvent("cell_start", "c1", 1, 2, epochs=4))
    printer(BenchmarkEvent("epoch", "c1", 1, 2, epoch=1, epochs=4, elapsed=10.0))
    printer(BenchmarkEvent("cell_end", "c1", 1, 2, elapsed=40.0, status="completed"))
    printer(BenchmarkEvent("cell_end", "c2", 2, 2, elapsed=20.0, status="failed", message="DataError: x"))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[1/2] c1: completed in 0:40, benchmark ETA 0:40",
        "[2/2] c2: failed in 0:20, benchmark ETA 0:00 -- DataError: x",
    ]
    assert format_seconds(3725) == "1:02:05" and format_seconds(np.float64(65.4)) == "1:05"


def test_cli_bad_option_exits_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["benchmark", "--data", "phantoms", "--strategies", "none,oversampel", "--out", str(tmp_path / "b")]
    )
    assert code == 2 and "oversample" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_cli_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--config", "--folds", "--variants", "--executor", "--shard", "--resume", "merge"):
        assert option in text
