"""``export_bundle``: a finished, evaluated run folder -> a model bundle folder.

What goes in (``docs/predict.md`` lists every key): the best checkpoint's
weights, the threshold of one evaluated rule with its validation and test
evidence, the calibration map refitted on the validation predictions with
evaluation's own function (and checked against the parameters in
``metrics.json``), the strategy's post-hoc logit map (checked against the
run's own validation probabilities), and SHA-256 digests. The folder appears
only once complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file
from scipy.special import softmax

from medbalance import __version__
from medbalance.errors import DataError
from medbalance.inference._run_record import RunRecord, read_run_record
from medbalance.inference.bundle import (
    BUNDLE_FILE,
    BUNDLE_FORMAT_VERSION,
    ONNX_FILE,
    WEIGHTS_FILE,
    Bundle,
    build_bundle,
    spec_digest,
)  # fmt: skip
from medbalance.inference.calibration import CalibrationMap, choose_calibration, fit_calibration_map
from medbalance.io import atomic_write_text, check_output_dir, file_sha256, replace_dir
from medbalance.outputs import claim_output_dir

__all__ = ["ExportResult", "create_bundle", "export_bundle", "export_recommended"]


@dataclass(frozen=True)
class ExportResult:
    """What ``export_bundle`` wrote: the folder, its spec and the files."""

    out_dir: Path
    spec: dict[str, Any]
    files: tuple[str, ...]


def _find_rule(record: RunRecord, rule: str) -> tuple[str, dict[str, Any]]:
    from medbalance.evaluation._evaluate_common import parse_rule_spec

    config = record.metrics.get("evaluation", {}).get("config", {})
    costs = {"cost_ratio": config.get("cost_ratio"), "prevalence": config.get("prevalence")}
    wanted = parse_rule_spec(rule, **costs)
    points = record.metrics.get("operating_points") or {}
    for spec, entry in points.items():
        if parse_rule_spec(spec, **costs) == wanted:
            if not entry.get("defined", False):
                raise DataError(f"rule {spec!r} is undefined in {record.evaluation_dir / 'metrics.json'}: "
                                f"{entry.get('reason')}; choose another rule.")  # fmt: skip
            return spec, entry
    raise DataError(
        f"rule {rule!r} was not evaluated in {record.evaluation_dir / 'metrics.json'} (evaluated: {sorted(points)}); "
        f"evaluate it first: `medbalance evaluate {record.run_dir} --rule {rule} --overwrite`, or pick one of those."
    )


def _ci(entry: dict[str, Any] | None) -> dict[str, Any]:
    entry = entry or {}
    return {k: entry.get(k) for k in ("estimate", "low", "high", "ci_level", "ci_method", "n_resamples")}


def _threshold_entry(spec: str, entry: dict[str, Any], level: str, aggregate: str) -> dict[str, Any]:
    op = entry["operating_point"]
    val = op.get("val_metrics", {})
    test = entry.get("test", {})
    return {
        "rule": spec, "value": float(op["threshold"]), "chosen_on": "validation", "level": level,
        "aggregate": aggregate, "applies_to": "score_uncalibrated (the model's positive-class probability)",
        "validation": {
            "n": op.get("n_val"), "n_positive": op.get("n_val_positive"),
            "sensitivity": {"estimate": (val.get("sensitivity") or {}).get("value")},
            "specificity": {"estimate": (val.get("specificity") or {}).get("value")},
        },
        "test": {"sensitivity": _ci(test.get("sensitivity")), "specificity": _ci(test.get("specificity")),
                 "target_met_on_test": entry.get("target_met_on_test")},
    }  # fmt: skip


def _validation_scores(record: RunRecord, level: str, aggregate: str) -> tuple[np.ndarray, np.ndarray, Any]:
    from medbalance.evaluation.aggregation import aggregate_predictions
    from medbalance.evaluation.run_folder import load_run_predictions

    run = load_run_predictions(record.run_dir)
    agg = aggregate_predictions(run.val, classes=run.classes, level=level, method=aggregate,  # type: ignore[arg-type]
                                positive_class=run.positive_class, on_conflict="max")  # fmt: skip
    pos = run.classes.index(str(run.positive_class))
    return (agg.labels == pos).astype(int), agg.proba[:, pos], run


def _calibration(record: RunRecord, y: np.ndarray, s: np.ndarray, method: str, level: str) -> CalibrationMap:
    scores: dict[str, float] = {}
    chosen_by = "stated (--calibration)"
    if method == "auto":
        method, scores = choose_calibration(y, s)
        chosen_by = "lowest 5-fold cross-fitted Brier score on validation"
    cal = fit_calibration_map(y, s, method, fitted_on="validation", level=level, chosen_by=chosen_by,
                              validation_brier_cross_fitted=scores)  # fmt: skip
    reported = ((record.metrics.get("calibration") or {}).get("recalibrated") or {}).get(method)
    if isinstance(reported, dict) and "params" in reported:
        mine = {
            k: float(len(cal.params["x"])) if k == "n_thresholds" else cal.params[k]
            for k in reported["params"]
        }
        if not all(
            np.isclose(mine[k], float(v), rtol=1e-9, atol=1e-12) for k, v in reported["params"].items()
        ):
            raise DataError(
                f"the {method} calibration refitted on predictions_val.csv ({mine}) differs from "
                f"{record.evaluation_dir / 'metrics.json'} ({reported['params']}); the predictions changed "
                f"after evaluation. Re-run `medbalance evaluate {record.run_dir} --overwrite`."
            )
    return cal


def _check_logit_map(run: Any, scale: list[float], offset: list[float]) -> None:
    logits = run.val[[f"logit_{c}" for c in run.classes]].to_numpy(np.float64)
    probs = run.val[[f"prob_{c}" for c in run.classes]].to_numpy(np.float64)
    if len(logits) and not np.allclose(softmax(logits * scale + offset, axis=1), probs, atol=1e-6):
        raise DataError(
            f"{run.run_dir}/predictions_val.csv: its probabilities do not follow from its logits with the "
            "strategy's post-hoc map; the run folder was edited or mixes two runs."
        )


def create_bundle(
    run_dir: str | Path, rule: str, *, calibration: str = "auto", evaluation_dir: str | Path | None = None
) -> tuple[Bundle, dict[str, Any]]:
    """The bundle of a run, in memory: (bundle, weights). See :func:`export_bundle`."""
    from medbalance.inference._network import compute_logit_map

    record = read_run_record(run_dir, evaluation_dir=evaluation_dir)
    eval_config = record.metrics.get("evaluation", {}).get("config", {})
    level, aggregate = str(eval_config.get("level", "image")), str(eval_config.get("aggregate", "mean"))
    counts = record.summary.get("training_class_counts") or {}
    scale, offset = compute_logit_map(record.config, record.classes, counts, record.positive_class)
    threshold = cal = None
    binary = len(record.classes) == 2 and record.positive_class in record.classes
    y_val: np.ndarray = np.zeros(0)
    if binary:
        spec_name, entry = _find_rule(record, rule)
        y_val, s_val, run = _validation_scores(record, level, aggregate)
        _check_logit_map(run, scale, offset)
        threshold = _threshold_entry(spec_name, entry, level, aggregate)
        cal = _calibration(record, y_val, s_val, calibration, level)
    total = sum(int(v) for v in counts.values())
    pos = str(record.positive_class)
    spec: dict[str, Any] = {
        "format_version": BUNDLE_FORMAT_VERSION, "medbalance_version": __version__,
        "task": "binary" if binary else "multiclass", "classes": list(record.classes),
        "positive_class": record.positive_class if binary else None,
        "model": {"name": record.model, "in_chans": record.in_chans, "num_classes": len(record.classes),
                  "input_size": record.preprocessing.size, "weights": WEIGHTS_FILE,
                  "head": str(record.sidecar.get("head") or "linear")},
        "preprocessing": {k: v for k, v in json.loads(json.dumps(record.preprocessing.__dict__)).items()
                          if k not in ("mean", "std")},
        "normalisation": None if record.mean is None else {"mean": list(record.mean), "std": list(record.std or ())},
        "logit_map": {"scale": scale, "offset": offset, "strategy": record.summary.get("strategy", {}).get("name")},
        "calibration": None if cal is None else cal.to_dict(),
        "threshold": threshold,
        "prevalence": {"training": counts.get(pos, 0) / total if binary and total else None,
                       "validation": float(y_val.mean()) if binary and y_val.size else None},
        "source": {"run_dir": str(record.run_dir), "checkpoint": str(record.weights.relative_to(record.run_dir)),
                   "config_hash": record.summary.get("config_hash"), "split_hash": record.summary.get("split_hash"),
                   "evaluation": str(record.evaluation_dir)},
    }  # fmt: skip
    state = load_file(str(record.weights))
    return build_bundle(spec, state, where=str(record.weights)), state


def export_bundle(
    run_dir: str | Path, out_dir: str | Path, *, rule: str = "target-sensitivity:0.9", calibration: str = "auto",
    onnx: bool = False, overwrite: bool = False, evaluation_dir: str | Path | None = None,
) -> ExportResult:  # fmt: skip
    """Write the bundle of an evaluated run: ``bundle.json``, ``model.safetensors`` (+ ``model.onnx``).

    Args:
        run_dir: a completed run folder with ``evaluation/metrics.json``.
        out_dir: the bundle folder (new or empty unless ``overwrite``).
        rule: an evaluated threshold rule (``target-sensitivity:0.9``, ``youden``, ...).
        calibration: ``auto`` (chosen on validation), ``temperature``, ``platt``, ``isotonic`` or ``none``.
        onnx: also write ``model.onnx``, checked with onnxruntime (extra ``medbalance[onnx]``).
        overwrite: replace an existing folder.
        evaluation_dir: the folder of ``metrics.json`` (default ``RUN_DIR/evaluation``).

    Raises:
        FileNotFoundError: the run, its checkpoint or metrics.json is missing.
        DataError: a failed run, an unevaluated rule, predictions changed since evaluation.
        BundleError: ONNX check failed.
        MedbalanceError: ``out_dir`` exists and is not empty without ``overwrite``.
    """
    out = Path(out_dir)
    with claim_output_dir(out):  # a second export to the same folder is refused, not interleaved
        return _export_into(run_dir, out, rule, calibration, onnx, overwrite, evaluation_dir)


def _export_into(
    run_dir: str | Path, out: Path, rule: str, calibration: str, onnx: bool, overwrite: bool,
    evaluation_dir: str | Path | None,
) -> ExportResult:  # fmt: skip
    check_output_dir(out, overwrite=overwrite)
    bundle, state = create_bundle(run_dir, rule, calibration=calibration, evaluation_dir=evaluation_dir)
    spec = bundle.spec
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(staging / WEIGHTS_FILE),
            metadata={"format": "pt"},
        )
        files = [WEIGHTS_FILE]
        if onnx:
            from medbalance.inference.onnx_export import export_onnx

            spec["onnx"] = export_onnx(bundle.network, staging / ONNX_FILE, channels=int(spec["model"]["in_chans"]),
                                       size=int(spec["model"]["input_size"]))  # fmt: skip
            files.append(ONNX_FILE)
        spec["files"] = {name: file_sha256(staging / name) for name in files}
        spec["spec_sha256"] = spec_digest(spec)
        atomic_write_text(staging / BUNDLE_FILE, json.dumps(spec, indent=2, allow_nan=False) + "\n")
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out, spec, (BUNDLE_FILE, *files))


def export_recommended(bench_dir: str | Path, out_dir: str | Path, **options: Any) -> ExportResult:
    """Export the model a benchmark recommends (``BENCH_DIR/recommendation.json``, written by ``recommend``).

    The recommendation names its model as ``model.cell_ids`` (the cell's run folder
    ``BENCH_DIR/cells/<cell_id>``), ``model.unit_dir`` (where that model was evaluated) and
    ``model.threshold_rule`` (the operating point chosen on validation). A hand-written file may
    name a run instead with ``run_dir`` (relative to BENCH_DIR) or ``cell_id``, and ``rule``.

    Raises:
        FileNotFoundError: no recommendation.json or no such run folder.
        DataError: the file names no run, or names a cross-validated model (one per fold).
    """
    bench = Path(bench_dir)
    path = bench / "recommendation.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; run `medbalance recommend {bench}` (or `medbalance report {bench}`) first."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DataError(f"{path} is not a recommendation (a JSON object); run `medbalance recommend {bench}` again.")
    model: dict[str, Any] = data["model"] if isinstance(data.get("model"), dict) else {}
    rule = data.get("rule") or model.get("threshold_rule")
    if rule and "rule" not in options:
        options["rule"] = str(rule)
    if data.get("run_dir") or data.get("cell_id"):
        run = bench / str(data["run_dir"]) if data.get("run_dir") else bench / "cells" / str(data["cell_id"])
        return export_bundle(run, out_dir, **options)
    cells = model.get("cell_ids") or []
    if len(cells) > 1:
        folds = ", ".join(str(bench / "cells" / str(c)) for c in cells)
        raise DataError(
            f"{path} recommends a cross-validated model: one model per fold ({folds}), pooled for the evidence. "
            f"Export one fold with `medbalance export RUN --rule {options.get('rule', 'RULE')}`, or retrain the "
            "recommended strategy on all the data with `medbalance train` and export that run."
        )
    if not cells or not model.get("unit_dir"):
        raise DataError(
            f"{path} names no model (no 'model.cell_ids' and 'model.unit_dir'); "
            f"run `medbalance recommend {bench}` again with this version of medbalance."
        )
    if options.get("evaluation_dir") is None:  # the recommended model was evaluated in its unit folder
        options["evaluation_dir"] = bench / str(model["unit_dir"]) / "evaluation"
    return export_bundle(bench / "cells" / str(cells[0]), out_dir, **options)
