"""The notebook API: ``import medbalance as mb``; the documented example runs; a quiet terminal."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import medbalance as mb
from medbalance.cli import main
from medbalance.errors import ConfigError
from medbalance.training.sections import OptimSettings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_package_exports_the_api() -> None:
    from medbalance.api import evaluate, train
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
    from medbalance.inference import load_bundle
    from medbalance.training.config import TrainConfig

    assert mb.train is train and mb.evaluate is evaluate
    assert mb.evaluate_run is evaluate_run and mb.load_bundle is load_bundle
    assert mb.TrainConfig is TrainConfig and mb.EvaluateConfig is EvaluateConfig
    import medbalance.benchmark.run  # noqa: F401  importing the subpackage must not hide the function

    assert callable(mb.benchmark) and mb.benchmark.ResultsStore is not None
    assert set(mb.__all__) <= set(dir(mb))
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        mb.trian  # noqa: B018


def test_import_medbalance_stays_light() -> None:
    code = "import sys, medbalance; print('torch' in sys.modules, 'lightning' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_documented_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = _python_blocks(DOCS / "python-api.md")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(block, "docs/python-api.md", "exec"), scope)
    run, table = scope["run"], scope["table"]
    assert isinstance(run.model, torch.nn.Module) and not run.model.training  # type: ignore[attr-defined]
    # the returned network holds the best checkpoint's weights
    best = load_file(str(run.out / run.summary["best_checkpoint"]))  # type: ignore[attr-defined]
    state = run.model.state_dict()  # type: ignore[attr-defined]
    assert state.keys() == best.keys()
    assert all(torch.equal(state[k].cpu(), best[k]) for k in best)
    auc = table[(table["metric"] == "auc_roc") & (table["rule"] == "")]  # type: ignore[index]
    assert 0.0 <= float(auc["estimate"].iloc[0]) <= 1.0
    assert set(table["rule"]) >= {"", "youden", "target-sensitivity:0.9"}  # type: ignore[index]
    assert list(scope["history"]["epoch"]) == [0, 1]  # type: ignore[index]


def test_options_override_a_config_and_typos_fail_before_writing(tmp_path: Path) -> None:
    from medbalance.api import _train_config

    base = mb.load_train_config(None, {"out": tmp_path / "a", "epochs": 5})
    assert _train_config(base, {"epochs": 2, "strategy": "oversample"}).optim.epochs == 2
    assert _train_config(base, {"optim": {"lr": 0.1}}).optim == OptimSettings(epochs=5, lr=0.1)  # nested keeps epochs
    assert _train_config({"out": tmp_path / "b"}, {"lr": 1e-3}).optim.lr == 1e-3
    assert _train_config({"out": tmp_path / "b", "optim": {"lr": 1e-3}}, {"lr": 0.5}).optim.lr == 0.5
    (tmp_path / "run.yaml").write_text(f"out: {tmp_path / 'y'}\nepochs: 3\n")
    assert _train_config(tmp_path / "run.yaml", {"epochs": 1}).optim.epochs == 1  # flags override the YAML
    (tmp_path / "nested.yaml").write_text(f"out: {tmp_path / 'y'}\noptim: {{epochs: 3}}\n")
    assert _train_config(tmp_path / "nested.yaml", {"epochs": 1}).optim.epochs == 1
    assert _train_config(tmp_path / "nested.yaml", {"optim.epochs": 2}).optim.epochs == 2
    with pytest.raises(ConfigError, match="epochs"):
        mb.train(out=tmp_path / "c", epoch=2)
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError, match="n_bootstrap"):
        mb.evaluate(tmp_path, n_bootstrp=10)


def test_a_run_prints_only_medbalance_output(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Lightning's banners and tips, and warnings of other packages, go to train.log only."""
    import warnings

    from medbalance.training.callbacks import EpochSetup

    class NoisyLibrary(EpochSetup):  # a third-party deprecation warning during training
        def on_train_epoch_start(self, trainer, pl_module):  # type: ignore[no-untyped-def]
            warnings.warn_explicit("old_api() is deprecated", DeprecationWarning, "somelib/core.py", 7)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        from medbalance.api import train

        cached: list[tuple[int, int]] = []
        train(
            out=tmp_path / "run", data="phantoms", phantoms={"n_patients": 12, "prevalence": 0.25, "size": 64},
            image_size=32, epochs=1, progress=False, cache_dir=tmp_path / "cache",
            fractions=[0.6, 0.2, 0.2], callbacks=[NoisyLibrary()], cache_progress=lambda *c: cached.append(c),
        )  # fmt: skip
    out, err = capfd.readouterr()
    terminal = out + err
    n_images = len(pd.read_csv(tmp_path / "run" / "split.csv"))
    assert cached[0] == (0, n_images) and cached[-1] == (n_images, n_images)  # the library reports, prints nothing
    log = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    for noise in ("GPU available", "TPU available", "litlogger", "Tip:", "old_api() is deprecated"):
        assert noise not in terminal, noise
    assert "GPU available" in log and "old_api() is deprecated" in log
    main(["train", "--data", "phantoms", "--phantom-patients", "12", "--phantom-prevalence", "0.25", "--phantom-size", "64", "--image-size",
          "32", "--epochs", "1", "--no-progress", "--fractions", "0.6,0.2,0.2", "--out", str(tmp_path / "cli"),
          "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    out, err = capfd.readouterr()
    assert "GPU available" not in out + err and "Tip:" not in out + err
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert lines and lines[0].startswith(("WARNING: epoch", "completed", "positive class")), lines
    lightning = ("GPU available", "TPU available", "HPU available", "LOCAL_RANK", "| Name", "Trainable params", "💡")
    assert not [line for line in lines if line.lstrip().startswith(lightning)], lines  # wrapped lines of ours only


def test_all_lists_exactly_the_lazy_exports() -> None:
    from medbalance import _EXPORTS

    assert set(mb.__all__) == {*_EXPORTS, "__version__", "benchmark"}


def test_the_example_notebook_runs_and_shows_a_table_and_a_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    # the kernel runs in tmp_path: it must import this medbalance (a relative PYTHONPATH would not reach it)
    package_root = str(Path(mb.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))

    notebook = nbformat.read(DOCS / "python-api.ipynb", as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<table" in t and "auc_roc" in t for t in html)  # the evaluation table
    assert any("<table" in t and "val_auc" in t for t in html)  # the history table
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the ROC figure, inline
    assert (tmp_path / "runs" / "notebook-demo" / "evaluation" / "figures" / "roc.png").is_file()
    streams = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "GPU available" not in streams and "Tip:" not in streams  # Lightning's banners stay in train.log


def test_capture_logs_routes_and_then_restores(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import logging
    import warnings

    from medbalance.training._run_outputs import capture_logs

    lightning = logging.getLogger("lightning.pytorch")
    before = (list(lightning.handlers), lightning.propagate, lightning.level, warnings.showwarning)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with capture_logs(tmp_path / "a.log"), capture_logs(tmp_path / "b.log"):
            lightning.info("GPU available: False, used: False")
            warnings.warn_explicit("x() is deprecated", DeprecationWarning, "otherlib/x.py", 1)
            logging.getLogger("medbalance.training").warning("epoch 0: predictions collapsed")
    out, err = capfd.readouterr()
    assert "GPU available" not in out + err and "deprecated" not in out + err
    assert "predictions collapsed" in err
    assert "GPU available" in (tmp_path / "b.log").read_text() and "x() is deprecated" in (tmp_path / "b.log").read_text()
    assert (list(lightning.handlers), lightning.propagate, lightning.level, warnings.showwarning) == before


def test_benchmark_and_its_leaderboard_from_python(tmp_path: Path) -> None:
    from benchmark_helpers import tiny_settings

    settings = tiny_settings(tmp_path / "bench", strategies=["none", "class-weight"])
    bench = mb.benchmark(**settings)
    assert not bench.failed and len(bench.cells) == 2
    board = mb.leaderboard(bench)
    assert set(board["strategy"]) == {"none", "class-weight"}
    assert {"auc_roc_mean", "auc_roc_low", "auc_roc_high"} <= set(board.columns)
    assert board["auc_roc_mean"].between(0, 1).all()
    assert mb.leaderboard(tmp_path / "bench").equals(board)
    with pytest.raises(FileNotFoundError, match="not a benchmark folder"):
        mb.leaderboard(tmp_path)
