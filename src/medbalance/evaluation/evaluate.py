"""``evaluate_run``: a run folder's predictions -> metrics.json, operating_points.csv, figures.

Steps, each a tested function of this package:

1. read and check ``summary.json`` and the predictions files (:mod:`.run_folder`);
2. aggregate validation and test predictions to the chosen level (:mod:`.aggregation`);
3. binary runs: threshold-free metrics with patient-clustered bootstrap and
   DeLong intervals; every threshold rule chosen on VALIDATION and applied to
   TEST with intervals and a did-the-target-hold check; PPV/NPV/cost at the
   test and the stated deployment prevalences; calibration before and after
   temperature/Platt/isotonic fitted on validation; the overconfidence check;
   prior correction and the Saerens EM prevalence estimate; decision curves;
   per-domain results when the test set has several domains;
   multi-class runs: metrics with intervals for the arg-max and for post-hoc
   logit adjustment chosen on validation, top-label calibration before and after
   temperature scaling, the overconfidence check;
4. write everything to a staging folder and move it into place at the end, so
   a failure leaves no half-written output folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from medbalance.config import config_to_dict
from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError
from medbalance.evaluation._evaluate_binary import (
    BinaryData,
    evaluate_binary_domains,
    evaluate_binary_operating_points,
    evaluate_binary_ranking,
)
from medbalance.evaluation._evaluate_calibration import binary_figure_data, evaluate_binary_calibration
from medbalance.evaluation._evaluate_common import (
    Section,
    parse_rule_spec,
    patient_groups,
    small_sample_warning,
)
from medbalance.evaluation._evaluate_multiclass import evaluate_multiclass
from medbalance.evaluation.aggregation import AggregatedPredictions, aggregate_predictions
from medbalance.evaluation.run_folder import RunPredictions, load_run_predictions, resolve_training_prior
from medbalance.io import atomic_write_text, check_output_dir, replace_dir
from medbalance.outputs import claim_output_dir
from medbalance.registry import look_up_option
from medbalance.report.evaluation_figures import (
    BinaryFigureData,
    MulticlassFigureData,
    write_evaluation_figures,
)

__all__ = ["EvaluateConfig", "EvaluationResult", "check_evaluate_config", "evaluate_run"]


@dataclass(frozen=True)
class EvaluateConfig:
    """How to evaluate a run.

    Attributes:
        level: aggregation level: "image", "breast", "lesion" or "patient".
        aggregate: "mean" (Walsh & Tardy average CC and MLO) or "max".
        rules: threshold rules, "name" or "name:value" (fixed:0.3, target-sensitivity:0.9, min-cost:10).
        cost_ratio: cost of a false negative / false positive; adds rule min-cost and expected costs.
        prevalence: prevalence for the min-cost rule (default: the validation prevalence).
        deployment_prevalences: prevalences for the PPV/NPV/cost table (the test prevalence is always added).
        n_bootstrap: bootstrap resamples for every interval and band.
        ci_level: confidence level.
        ci_method: "percentile" or "bca" for the binary metric intervals.
        seed: seed of every resampling.
        calibration_bins: bins of the ECE.
        training_prior: prior the probabilities were learned under: "auto" (balanced if the
            strategy rebalances, else the training shares), "balanced" or "counts".
        on_label_conflict: "error" or "max" for aggregated groups with different labels.
        out_dir: output folder (default RUN_DIR/evaluation).
        overwrite: replace an existing, non-empty output folder.
        figures: write the PNG figures.
    """

    level: Literal["image", "breast", "lesion", "patient"] = "image"
    aggregate: Literal["mean", "max"] = "mean"
    rules: tuple[str, ...] = ("fixed", "youden", "target-sensitivity:0.9")
    cost_ratio: float | None = option(
        None, gt=0.0, fix="give the cost of a false negative / false positive (> 0), or null."
    )
    prevalence: float | None = option(None, gt=0.0, lt=1.0)
    deployment_prevalences: tuple[float, ...] = option((), gt=0.0, lt=1.0)
    n_bootstrap: int = option(1000, ge=10, fix="give at least 10 resamples; 1000 is the default.")
    ci_level: float = option(0.95, gt=0.0, lt=1.0)
    ci_method: Literal["percentile", "bca"] = "percentile"
    seed: int = option(0, ge=0)
    calibration_bins: int = option(15, ge=1)
    training_prior: Literal["auto", "balanced", "counts"] = "auto"
    on_label_conflict: Literal["error", "max"] = "error"
    out_dir: str | None = None
    overwrite: bool = False
    figures: bool = True

    def __post_init__(self) -> None:
        check_constraints(self)

    def resolved_rules(self) -> tuple[str, ...]:
        """The rules, checked, with min-cost added when a cost ratio is given."""
        rules = tuple(self.rules)
        if not rules:
            raise ConfigError("no threshold rule given; pass at least one, e.g. --rule youden.")
        names = [parse_rule_spec(r, cost_ratio=self.cost_ratio, prevalence=self.prevalence)[0] for r in rules]
        if self.cost_ratio is not None and "min-cost" not in names:
            rules += ("min-cost",)
        return rules


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate_run`` wrote and found.

    Attributes:
        out_dir: the output folder.
        task: "binary" or "multiclass".
        level: aggregation level.
        metrics: the content of metrics.json.
        operating_points: the content of operating_points.csv.
        figures: the PNGs written.
        warnings: things a reader must not miss (overconfidence, unmet targets, undefined rules).
        summary_rows: (label, text) pairs for a one-screen summary.
    """

    out_dir: Path
    task: str
    level: str
    metrics: dict[str, Any]
    operating_points: pd.DataFrame
    figures: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()
    summary_rows: tuple[tuple[str, str], ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """Every test metric that has an interval, one row each: metric, rule, estimate, low, high.

        ``rule`` is empty for threshold-free metrics (AUC, Brier, ...) and names the
        threshold rule for the metrics of an operating point.
        """
        rows: list[dict[str, Any]] = []

        def collect(node: Any, path: tuple[str, ...]) -> None:
            if isinstance(node, dict):
                if "estimate" in node and "metric" in node:
                    rows.append({
                        "metric": path[-1] if path[0] == "threshold_free" else node["metric"], "rule": node.get("threshold_rule") or "",
                        "estimate": node["estimate"], "low": node.get("low"), "high": node.get("high"),
                        "ci_level": node.get("ci_level"), "defined": node.get("defined", True),
                        "section": "/".join(path),
                    })  # fmt: skip
                    return
                for key, value in node.items():
                    collect(value, (*path, str(key)))

        for section in ("threshold_free", "operating_points", "per_class", "multiclass"):
            collect(self.metrics.get(section), (section,))
        return pd.DataFrame(
            rows, columns=["metric", "rule", "estimate", "low", "high", "ci_level", "defined", "section"]
        )

    def show(self, *names: str) -> list[Any]:
        """The figures (all, or those whose file stem is in ``names``) shown inline in a notebook.

        Returns IPython ``Image`` objects (displayed when IPython is running), or the
        paths when IPython is not installed.
        """
        chosen = [f for f in self.figures if not names or f.stem in names]
        try:
            from IPython.display import Image, display
        except ImportError:
            return list(chosen)
        images = [Image(filename=str(f)) for f in chosen]
        for image in images:
            display(image)
        return images


def check_evaluate_config(config: EvaluateConfig) -> EvaluateConfig:
    """Check the choices of a config built without the parser; raises ConfigError with the fix.

    The bounds are declared on the fields and checked when the config is built.
    """
    for name, options in (("training_prior", ("auto", "balanced", "counts")), ("on_label_conflict", ("error", "max")),
                          ("ci_method", ("percentile", "bca")), ("level", ("image", "breast", "lesion", "patient")),
                          ("aggregate", ("mean", "max"))):  # fmt: skip
        look_up_option(getattr(config, name), options, what=name)
    return config


def _aggregate(run: RunPredictions, table: pd.DataFrame, config: EvaluateConfig) -> AggregatedPredictions:
    return aggregate_predictions(
        table, classes=run.classes, level=config.level, method=config.aggregate,
        positive_class=run.positive_class, on_conflict=config.on_label_conflict,
    )  # fmt: skip


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _binary(run: RunPredictions, val: AggregatedPredictions, test: AggregatedPredictions, config: EvaluateConfig,
            section: Section, groups: np.ndarray | None) -> BinaryFigureData | None:  # fmt: skip
    pos = run.classes.index(str(run.positive_class))
    data = BinaryData(
        (val.labels == pos).astype(int), val.proba[:, pos], (test.labels == pos).astype(int), test.proba[:, pos],
        groups, test.table["domain"].astype(str).to_numpy(), test.level,
    )  # fmt: skip
    classes = (run.classes[1 - pos], run.classes[pos])
    evaluate_binary_ranking(data, config, section)
    points = evaluate_binary_operating_points(data, config, section)
    evaluate_binary_domains(data, points, config, section)
    prior, why = resolve_training_prior(run, config.training_prior)
    if prior is not None:
        prior = np.array([prior[1 - pos], prior[pos]])
    counts = run.training_class_counts
    target = None if not counts else counts[run.positive_class] / max(1, sum(counts.values()))  # type: ignore[index]
    extras = evaluate_binary_calibration(
        data, config, section, classes=classes, prior=prior, prior_reason=why,
        target_prevalence=target if target is not None and 0 < target < 1 else None,
    )  # fmt: skip
    if not config.figures:
        return None
    return binary_figure_data(data, config, section, classes=classes, points=points, extras=extras)


def evaluate_run(run_dir: str | Path, config: EvaluateConfig | None = None) -> EvaluationResult:
    """Evaluate a training run folder and write metrics.json, operating_points.csv and figures/.

    Args:
        run_dir: folder with summary.json, predictions_val.csv and predictions_test.csv.
        config: how to evaluate (defaults: image level, rules fixed/youden/target-sensitivity:0.9,
            1,000 resamples).

    Returns:
        The metrics, operating points, figure paths and warnings.

    Raises:
        FileNotFoundError: run folder or files missing.
        DataError: bad predictions, failed run, label conflicts when aggregating.
        ConfigError: bad options (unknown rule, prevalence out of range, ...).
        MedbalanceError: output folder exists and is not empty without ``overwrite``.
    """
    config = check_evaluate_config(config or EvaluateConfig())
    rules = config.resolved_rules()
    config = dataclasses.replace(
        config, rules=rules, deployment_prevalences=tuple(config.deployment_prevalences)
    )
    run = load_run_predictions(run_dir)
    out_dir = Path(config.out_dir) if config.out_dir else Path(run_dir) / "evaluation"
    with claim_output_dir(out_dir):  # a second evaluate of the same folder is refused, not interleaved
        return _evaluate_into(run, out_dir, config)


def _evaluate_into(run: RunPredictions, out_dir: Path, config: EvaluateConfig) -> EvaluationResult:
    check_output_dir(out_dir, overwrite=config.overwrite)
    val, test = _aggregate(run, run.val, config), _aggregate(run, run.test, config)
    groups, groups_note = patient_groups(test.table["patient_id"].to_numpy())
    staging = out_dir.parent / f".{out_dir.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    section = Section()
    section.warnings.extend(
        f"{split} aggregation: {note}" for split, agg in (("val", val), ("test", test)) for note in agg.notes
    )
    reliability = small_sample_warning(test.labels, groups, run.classes)
    if reliability:
        section.warnings.append(reliability)
    if run.is_binary:
        from medbalance.data.positive import positive_class_warnings

        counts = run.training_class_counts or run.test["label"].astype(str).value_counts().to_dict()
        section.warnings.extend(positive_class_warnings(str(run.positive_class), counts))
    try:
        figure_data: BinaryFigureData | MulticlassFigureData | None
        if run.is_binary:
            figure_data = _binary(run, val, test, config, section, groups)
        else:
            prior, why = resolve_training_prior(run, config.training_prior)
            figure_data = evaluate_multiclass(val, test, config, section, groups=groups, prior=prior, prior_reason=why,
                                              ordinal=bool(run.summary.get("ordinal", False)))  # fmt: skip
        if config.figures and figure_data is not None:
            section.figures.extend(write_evaluation_figures(figure_data, staging / "figures"))
        task = "binary" if run.is_binary else "multiclass"
        metrics = {
            "run": {
                k: run.summary.get(k)
                for k in (
                    "model",
                    "strategy",
                    "task",
                    "seed",
                    "status",
                    "best_epoch",
                    "config_hash",
                    "split_hash",
                )
            }
            | {
                "run_dir": str(run.run_dir),
                "classes": list(run.classes),
                "positive_class": run.positive_class,
            },
            "evaluation": {
                "task": task,
                "aggregation": {"val": val.describe(), "test": test.describe()},
                "intervals": {
                    "n_bootstrap": config.n_bootstrap,
                    "level": config.ci_level,
                    "method": config.ci_method,
                    "seed": config.seed,
                    "clustered_by": None if groups is None else "patient_id",
                    "note": groups_note,
                    "reliability_warning": reliability,
                },
                "thresholds_chosen_on": "validation",
                "config": config_to_dict(config),
            },
            **section.metrics,
            "warnings": section.warnings,
        }
        atomic_write_text(
            staging / "metrics.json",
            json.dumps(metrics, indent=2, allow_nan=False, default=_json_default) + "\n",
        )
        table = pd.DataFrame(section.operating_points)
        atomic_write_text(staging / "operating_points.csv", table.to_csv(index=False))
        replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    figures = tuple(out_dir / "figures" / p.name for p in section.figures)
    result = EvaluationResult(
        out_dir,
        task,
        test.level,
        metrics,
        table,
        figures,
        tuple(section.warnings),
        tuple(section.summary_rows),
    )
    if run.summary.get("trackers"):  # the run trained with MLflow/TensorBoard: add the evaluation there
        from medbalance.evaluation.tracking import log_evaluation

        log_evaluation(run.run_dir, result)
    return result
