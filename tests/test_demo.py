"""``medbalance demo``: the benchmark preset end to end on tiny settings; the preset file; refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from medbalance.benchmark.store import ResultsStore
from medbalance.cli import main
from medbalance.demo import DEMO_PRESET, DemoConfig, demo_benchmark_config, run_demo
from medbalance.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
TINY = {"n_patients": 60, "prevalence": 0.2, "image_size": 32, "epochs": 1, "seeds": 1,
        "strategies": ("none", "class-weight"), "n_bootstrap": 50}  # fmt: skip


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    run_demo(DemoConfig(out=out, **TINY))  # type: ignore[arg-type]
    return out


def test_demo_is_a_benchmark_with_a_report(demo_dir: Path) -> None:
    for name in ("results.sqlite", "benchmark.yaml", "leaderboard.csv", "leaderboard.md", "recommendation.json",
                 "report.html", "data/phantoms-ab/manifest.csv"):  # fmt: skip
        assert (demo_dir / name).is_file(), name
    with ResultsStore(demo_dir / "results.sqlite") as store:
        cells, units = store.cells_frame(), store.units_frame()
    assert set(cells["status"]) == {"completed"} and len(cells) == 2
    # each model tested in distribution and on vendor c, never seen in training
    assert sorted(units["test_set"].unique()) == ["phantoms-ab", "vendor-c"] and len(units) == 4
    manifest = pd.read_csv(demo_dir / "data" / "phantoms-ab" / "manifest.csv")
    assert "vendor-c" not in set(manifest["domain"])


def test_leaderboard_auc_is_the_breast_level_auc_of_the_unit(demo_dir: Path) -> None:
    with ResultsStore(demo_dir / "results.sqlite") as store:
        units = store.units_frame()
    unit = units[(units["strategy"] == "none") & units["in_distribution"]].iloc[0]
    test = pd.read_csv(Path(unit["unit_dir"]) / "predictions_test.csv")
    breast = test.groupby("breast_id").agg(
        p=("prob_malignant", "mean"), y=("label", lambda s: (s == "malignant").any())
    )
    table = pd.read_csv(demo_dir / "leaderboard.csv")
    row = table[(table["strategy"] == "none") & table["in_distribution"]].iloc[0]
    assert row["auc_roc_mean"] == pytest.approx(roc_auc_score(breast["y"], breast["p"]))


def test_cli_resume_keeps_the_cells_and_prints_the_leaderboard(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo", "--out", str(demo_dir), "--resume", "--n-patients", "60", "--prevalence", "0.2",
            "--image-size", "32", "--epochs", "1", "--seeds", "1", "--strategies", "none,class-weight",
            "--n-bootstrap", "50"]  # fmt: skip
    with ResultsStore(demo_dir / "results.sqlite") as store:
        before = store.cells_frame()[["cell_id", "finished_at"]]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "# Leaderboard" in out and "Recommendation (sensitivity >= 0.9)" in out and "report.html" in out
    with ResultsStore(demo_dir / "results.sqlite") as store:
        after = store.cells_frame()[["cell_id", "finished_at"]]
    pd.testing.assert_frame_equal(before, after)  # the finished cells were kept, not trained again
    assert main([*args[:4], "--epochs", "2"]) != 0  # a resumed demo with other settings is refused
    assert "other settings" in (err := capsys.readouterr().err) and "train" in err


def test_preset_file_equals_the_preset() -> None:
    on_disk = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    assert on_disk == json.loads(json.dumps(DEMO_PRESET))
    config = demo_benchmark_config(DemoConfig(out=Path("x")))
    assert (
        config.seeds == 2
        and "none" in (config.strategies or ())
        and "synthetic-lesions" in (config.strategies or ())
    )
    assert [d.role for d in config.data] == ["both", "test"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"strategies": ("none", "nope")}, "nope"),
        ({"prevalence": 1.5}, "prevalence"),
        ({"epochs": 0}, "epochs"),
    ],
    ids=["strategy", "prevalence", "epochs"],
)
def test_bad_settings_fail_before_anything_is_written(tmp_path: Path, change: dict, match: str) -> None:
    out = tmp_path / "demo"
    with pytest.raises(ConfigError, match=match):
        run_demo(DemoConfig(out=out, **{**TINY, **change}))  # type: ignore[arg-type]
    assert not out.exists()


def test_cli_refuses_overwrite_with_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "--overwrite", "--resume"]) != 0
    assert "exclude each other" in capsys.readouterr().err


def test_demo_exports_and_explains_the_recommended_model(demo_dir: Path) -> None:
    from medbalance.inference import load_bundle

    pytest.importorskip("captum", reason="the explain extra is not installed: the report says so instead")
    rec = json.loads((demo_dir / "recommendation.json").read_text())
    bundle = load_bundle(demo_dir / "model")  # hashes checked: a bundle predict can apply
    assert Path(bundle.spec["source"]["run_dir"]).name == rec["model"]["cell_ids"][0]
    assert bundle.spec["threshold"]["value"] == pytest.approx(rec["model"]["threshold"])
    assert (demo_dir / "explain" / "contact_sheet.png").is_file() and (demo_dir / "explain" / "tsne.png").is_file()
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "What the recommended model looks at" in html and 'alt="Grad-CAM' in html and 'alt="t-SNE' in html
