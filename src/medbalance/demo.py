"""The main job on the embedded data: ``medbalance demo`` (and ``make demo``).

Phantom mammograms at a 19:1 imbalance -> patient-grouped split -> validation
-> a contact sheet of preprocessed images -> one small CNN per imbalance
strategy under the same protocol -> evaluation of each run at breast level
(AUC with patient-clustered CIs, sensitivity and specificity at 0.5 and at
operating points chosen on validation, calibration) -> one comparison table.
Everything lands under ``out``; an interrupted demo continues with ``resume``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from medbalance.config import config_to_dict
from medbalance.errors import ConfigError, MedbalanceError
from medbalance.io import atomic_write_text, prepare_output_dir

if TYPE_CHECKING:
    from medbalance.training.config import TrainConfig

__all__ = ["DEFAULT_STRATEGIES", "DemoConfig", "DemoResult", "run_demo"]

DEFAULT_STRATEGIES: tuple[str, ...] = (
    "none",
    "class-weight",
    "undersample",
    "oversample",
    "focal",
    "logit-adjust",
    "synthetic-lesions",
)
"""The techniques Walsh & Tardy (2023) compare, plus focal loss and logit adjustment."""

RULES: tuple[str, ...] = ("fixed:0.5", "youden", "target-sensitivity:0.9")


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs.

    Attributes:
        out: the folder for every output (refused if not empty unless ``overwrite`` or ``resume``).
        n_patients: phantom patients (4 images each).
        prevalence: share of malignant breasts (0.05 = 19:1).
        size: phantom image size in pixels.
        image_size: network input size in pixels.
        epochs: training epochs per strategy.
        batch_size: images per batch.
        strategies: strategy names, each trained once under the same protocol.
        level: the unit of evaluation (``breast``: mean of CC and MLO, as Walsh & Tardy).
        n_bootstrap: bootstrap resamples of every interval.
        seed: one seed for data, split, sampling and initialisation.
        overwrite: replace an existing ``out``.
        resume: keep the finished steps of an earlier demo in ``out`` with the same config.
        progress: show training progress bars.
    """

    out: Path
    n_patients: int = 500
    prevalence: float = 0.05
    size: int = 128
    image_size: int = 128
    epochs: int = 8
    batch_size: int = 16
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    level: str = "breast"
    n_bootstrap: int = 1000
    seed: int = 0
    overwrite: bool = False
    resume: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.overwrite and self.resume:
            raise ConfigError("--overwrite and --resume exclude each other: choose one.")
        if not self.strategies:
            raise ConfigError("no strategy given; pass e.g. --strategies none,class-weight.")
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"a strategy is listed twice in {','.join(self.strategies)}.")

    def identity(self) -> dict[str, Any]:
        """The fields that decide the results (not where or whether to replace)."""
        fields = config_to_dict(self)
        return {k: v for k, v in fields.items() if k not in ("out", "overwrite", "resume", "progress")}


@dataclass(frozen=True)
class DemoResult:
    """What the demo wrote.

    Attributes:
        out: the demo folder.
        table: one row per strategy (also ``comparison.csv`` and ``comparison.md``).
        preview: the contact sheet of preprocessed phantoms.
        reused: strategies whose finished run an earlier, interrupted demo left.
    """

    out: Path
    table: pd.DataFrame
    preview: Path
    reused: tuple[str, ...]


def _open_output(config: DemoConfig) -> None:
    """Create ``out``, or check that a resumed one was made by the same config."""
    stamp = config.out / "demo_config.json"
    if config.resume and config.out.is_dir() and any(config.out.iterdir()):
        if not stamp.is_file():
            raise MedbalanceError(
                f"{config.out} was not made by medbalance demo (no demo_config.json); "
                "choose another --out or pass --overwrite."
            )
        earlier = json.loads(stamp.read_text(encoding="utf-8"))
        if earlier != config.identity():
            changed = sorted(
                k for k in set(earlier) | set(config.identity()) if earlier.get(k) != config.identity().get(k)
            )
            raise MedbalanceError(
                f"{config.out} holds a demo with other settings ({', '.join(changed)} differ); "
                "resume it with the same options, or pass --overwrite to start again."
            )
        return
    prepare_output_dir(config.out, overwrite=config.overwrite)
    atomic_write_text(stamp, json.dumps(config.identity(), indent=2) + "\n")


def _check_settings(config: DemoConfig) -> None:
    """Build every stage's config once, so a bad option fails before anything is written."""
    from medbalance.evaluation.evaluate import EvaluateConfig, check_evaluate_config
    from medbalance.strategies import create_strategy
    from medbalance.synth.phantoms import PhantomConfig

    PhantomConfig(
        n_patients=config.n_patients, prevalence=config.prevalence, size=config.size, seed=config.seed
    )
    for name in config.strategies:
        create_strategy(name)  # unknown names (with "did you mean") and double balancing
        _train_config(config, config.out / "data" / "manifest.csv", name, config.out / "runs" / name)
    check_evaluate_config(
        EvaluateConfig(level=config.level, rules=RULES, n_bootstrap=config.n_bootstrap)  # type: ignore[arg-type]
    )


def _train_config(config: DemoConfig, manifest_path: Path, strategy: str, run_dir: Path) -> TrainConfig:
    from medbalance.training.config import load_train_config

    return load_train_config(
        None,
        {
            "out": str(run_dir), "data": str(manifest_path), "strategy": strategy, "model": "small-cnn",
            "epochs": config.epochs, "batch_size": config.batch_size, "image_size": config.image_size,
            "lr": 1e-3, "seed": config.seed, "cache_dir": str(config.out / "cache"), "overwrite": True,
            "progress": config.progress,
        },
    )  # fmt: skip


def _prepare_data(config: DemoConfig) -> Path:
    """Phantoms -> split -> leakage check -> validation; returns the manifest path."""
    from medbalance.cli._data import print_counts, print_report
    from medbalance.data.manifest import load_manifest
    from medbalance.data.splits import assert_no_leakage, split_counts, split_manifest
    from medbalance.data.validate import validate_manifest
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    data_dir = config.out / "data"
    path = data_dir / "manifest.csv"
    if (data_dir / "split_counts.csv").is_file():  # written last: the data step finished
        return path
    phantom = PhantomConfig(
        n_patients=config.n_patients, prevalence=config.prevalence, size=config.size, seed=config.seed
    )
    generate_phantoms(phantom, out_dir=data_dir, overwrite=True)
    manifest = split_manifest(
        load_manifest(path), fractions=(0.6, 0.2, 0.2), group_by="patient", seed=config.seed
    )
    assert_no_leakage(manifest)
    report = validate_manifest(manifest, n_folds=2)
    print_report(report)
    if not report.ok:
        raise MedbalanceError(f"the phantom manifest failed validation; see {data_dir / 'validation.json'}.")
    report.save(data_dir / "validation.json")
    manifest.save(path)
    counts = split_counts(manifest)
    print_counts(
        counts, title=f"Phantom images per split and class (prevalence {config.prevalence:g} by breast)"
    )
    atomic_write_text(data_dir / "split_counts.csv", counts.to_csv(index_label="split"))
    return path


def _write_preview(config: DemoConfig, manifest_path: Path) -> Path:
    from medbalance.data.manifest import load_manifest
    from medbalance.data.preprocess import PreprocessConfig
    from medbalance.report.contact_sheet import write_preprocessing_preview

    path = config.out / "preview.png"
    if not path.is_file():
        manifest = load_manifest(manifest_path)
        write_preprocessing_preview(
            manifest, path, PreprocessConfig(size=config.image_size), n=8, seed=config.seed
        )
    return path


def _finished(run_dir: Path) -> bool:
    summary = run_dir / "summary.json"
    if not (summary.is_file() and (run_dir / "evaluation" / "metrics.json").is_file()):
        return False
    return bool(json.loads(summary.read_text(encoding="utf-8")).get("status") == "completed")


def _train_and_evaluate(config: DemoConfig, manifest_path: Path, strategy: str, run_dir: Path) -> float:
    """One strategy's run folder and its evaluation; returns the seconds it took."""
    from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run
    from medbalance.training.run import train

    started = time.perf_counter()
    train(_train_config(config, manifest_path, strategy, run_dir))
    evaluate_run(
        run_dir,
        EvaluateConfig(level=config.level, rules=RULES, n_bootstrap=config.n_bootstrap, seed=config.seed,  # type: ignore[arg-type]
                       deployment_prevalences=(0.01,), overwrite=True),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    atomic_write_text(run_dir / "demo_seconds.txt", f"{seconds:.1f}\n")
    return seconds


def comparison_row(strategy: str, run_dir: Path) -> dict[str, Any]:
    """One table row from a run's summary.json and evaluation (test split, thresholds from validation)."""
    metrics = json.loads((run_dir / "evaluation" / "metrics.json").read_text(encoding="utf-8"))
    points = pd.read_csv(run_dir / "evaluation" / "operating_points.csv").set_index("rule")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    auc = metrics["threshold_free"]["auc_roc"]
    row: dict[str, Any] = {
        "strategy": strategy,
        "level": auc["aggregation_level"],
        "auc": auc["estimate"],
        "auc_low": auc["low"],
        "auc_high": auc["high"],
    }
    for rule, short in (("fixed:0.5", "0.5"), ("youden", "youden"), ("target-sensitivity:0.9", "sens90")):
        row[f"sens@{short}"] = points.loc[rule, "test_sensitivity"]
        row[f"spec@{short}"] = points.loc[rule, "test_specificity"]
    row["brier"] = metrics["threshold_free"]["brier"]["estimate"]
    row["overconfident"] = bool(metrics["calibration"]["overconfidence"]["flagged"])
    row["best_epoch"] = summary.get("best_epoch")
    seconds = run_dir / "demo_seconds.txt"
    row["seconds"] = float(seconds.read_text()) if seconds.is_file() else None
    return row


def format_markdown(table: pd.DataFrame) -> str:
    """A Markdown table, three decimals for floats."""

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def run_demo(config: DemoConfig, on_strategy: Callable[[str, int, int], None] | None = None) -> DemoResult:
    """Run the whole job and return the comparison table (also written as CSV and Markdown).

    Args:
        config: what to run.
        on_strategy: called with (strategy, index, total) before each strategy starts.

    Raises:
        MedbalanceError: ``out`` holds other results (without ``overwrite``) or a demo
            with other settings (with ``resume``); a strategy name is unknown.
    """
    config = replace(config, out=Path(config.out))
    _check_settings(config)
    _open_output(config)
    manifest_path = _prepare_data(config)
    preview = _write_preview(config, manifest_path)
    reused = []
    rows = []
    for index, strategy in enumerate(config.strategies):
        run_dir = config.out / "runs" / strategy
        if config.resume and _finished(run_dir):
            reused.append(strategy)
        else:
            if on_strategy:
                on_strategy(strategy, index, len(config.strategies))
            _train_and_evaluate(config, manifest_path, strategy, run_dir)
        rows.append(comparison_row(strategy, run_dir))
    table = pd.DataFrame(rows)
    atomic_write_text(config.out / "comparison.csv", table.to_csv(index=False))
    atomic_write_text(config.out / "comparison.md", format_markdown(table))
    return DemoResult(config.out, table, preview, tuple(reused))
