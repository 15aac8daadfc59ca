"""``evaluate_run`` and ``medbalance evaluate`` end to end on synthetic run folders the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.special import softmax

from medbalance.cli import main
from medbalance.errors import ConfigError, DataError, MedbalanceError
from medbalance.evaluation.evaluate import EvaluateConfig, evaluate_run

BINARY = ("benign", "malignant")


def _predictions(rng: np.random.Generator, split: str, n_patients: int, classes: tuple[str, ...],
                 prevalence: float, domains: tuple[str, ...], shift: float = 1.6) -> pd.DataFrame:  # fmt: skip
    rows = []
    for p in range(n_patients):
        patient = f"{split[:1]}{p:04d}"
        label_index = int(rng.random() < prevalence) if len(classes) == 2 else int(rng.integers(len(classes)))
        domain = domains[p % len(domains)]
        patient_effect = rng.normal(0, 0.5)
        for b, side in enumerate(("L", "R")[: 1 + int(rng.random() < 0.5)]):
            for view in ("CC", "MLO")[: 1 + int(rng.random() < 0.8)]:  # 1-4 images per patient
                k = label_index if b == 0 else 0
                z = rng.normal(0, 1, len(classes)) + patient_effect * 0.5
                z[k] += shift
                rows.append({
                    "image_id": f"{patient}_{side}_{view}", "patient_id": patient, "study_id": f"{patient}_s",
                    "breast_id": f"{patient}_{side}", "lesion_id": "", "domain": domain, "split": split,
                    "label": classes[k], "z": z,
                })  # fmt: skip
    table = pd.DataFrame(rows)
    z = np.stack(table.pop("z").to_numpy())
    proba = softmax(z, axis=1)
    for j, c in enumerate(classes):
        table[f"prob_{c}"] = proba[:, j]
    for j, c in enumerate(classes):
        table[f"logit_{c}"] = z[:, j]
    return table


def write_run(root: Path, *, classes: tuple[str, ...] = BINARY, positive: str | None = "malignant",
              strategy: str = "oversample", seed: int = 0, val_prevalence: float = 0.25,
              domains: tuple[str, ...] = ("vendorA", "vendorB"), n_patients: int = 120) -> Path:  # fmt: skip
    """A run folder as training writes it (summary.json + predictions)."""
    rng = np.random.default_rng(seed)
    run = root / "run"
    run.mkdir(parents=True)
    _predictions(rng, "val", n_patients, classes, val_prevalence, domains).to_csv(
        run / "predictions_val.csv", index=False
    )
    _predictions(rng, "test", n_patients, classes, 0.25, domains).to_csv(
        run / "predictions_test.csv", index=False
    )
    summary = {
        "classes": list(classes), "positive_class": positive, "task": "binary" if positive else "multiclass",
        "strategy": {"name": strategy, "balances": [] if strategy == "none" else ["sampler"]},
        "rebalances": strategy != "none", "model": "smallcnn", "seed": 0, "status": "completed", "best_epoch": 3,
        "config_hash": "abc", "split_hash": "def",
        "training_class_counts": {c: 100 * (i + 1) for i, c in enumerate(reversed(classes))},
    }  # fmt: skip
    (run / "summary.json").write_text(json.dumps(summary))
    return run


FAST = {"n_bootstrap": 200, "seed": 0}


def _png_ok(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 0, path
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 100 and image.size[1] > 100


def test_binary_run_end_to_end_at_breast_level(tmp_path: Path) -> None:
    from sklearn.metrics import confusion_matrix, roc_auc_score

    run = write_run(tmp_path)
    config = EvaluateConfig(level="breast", rules=("fixed", "youden", "target-sensitivity:0.9"), cost_ratio=10,
                            deployment_prevalences=(0.01, 0.05), **FAST)  # fmt: skip
    result = evaluate_run(run, config)
    out = run / "evaluation"
    assert result.out_dir == out and result.task == "binary" and result.level == "breast"
    metrics = json.loads((out / "metrics.json").read_text())
    names = {p.name for p in result.figures}
    assert names == {"roc.png", "pr.png", "reliability.png", "score_histograms.png", "confusion_matrices.png",
                     "decision_curve.png"}  # fmt: skip
    for path in result.figures:
        _png_ok(path)
    assert not list(tmp_path.rglob(".*staging*")) and not list(out.rglob("*.tmp"))

    # AUC equals scikit-learn on breast-level means computed independently
    test = pd.read_csv(run / "predictions_test.csv", dtype={"patient_id": str})
    breast = test.groupby("breast_id").agg(
        p=("prob_malignant", "mean"), y=("label", lambda s: (s == "malignant").any())
    )
    auc = metrics["threshold_free"]["auc_roc"]
    assert auc["estimate"] == pytest.approx(roc_auc_score(breast["y"], breast["p"]))
    assert auc["low"] < auc["estimate"] < auc["high"] and auc["clustered"] and auc["n_resamples"] == 200
    assert auc["aggregation_level"] == "breast" and auc["ci_level"] == 0.95
    assert metrics["threshold_free"]["auc_roc_delong"]["ci_method"] == "delong"
    assert metrics["evaluation"]["intervals"]["clustered_by"] == "patient_id"
    assert metrics["evaluation"]["intervals"]["reliability_warning"] == ""

    # threshold chosen on validation, applied to test: sens/spec match sklearn at that threshold
    op = metrics["operating_points"]["target-sensitivity:0.9"]
    threshold = op["operating_point"]["threshold"]
    assert (
        op["operating_point"]["chosen_on"] == "validation"
        and op["operating_point"]["val_metrics"]["sensitivity"]["value"] >= 0.9
    )
    tn, fp, fn, tp = confusion_matrix(breast["y"], breast["p"] >= threshold).ravel()
    sens = op["test"]["sensitivity"]
    assert (
        sens["estimate"] == pytest.approx(tp / (tp + fn))
        and sens["threshold_rule"] == "target-sensitivity:0.9"
    )
    assert op["test_confusion_matrix"]["counts"] == [[tn, fp], [fn, tp]]
    assert op["target_met_on_test"] == (tp / (tp + fn) >= 0.9)
    assert [row["prevalence"] for row in op["at_prevalence"]][1:] == [0.01, 0.05]
    assert "min-cost" in metrics["operating_points"]  # added by the cost ratio

    table = pd.read_csv(out / "operating_points.csv")
    assert table["rule"].tolist() == ["fixed", "youden", "target-sensitivity:0.9", "min-cost"]
    assert set(table["aggregation_level"]) == {"breast"}
    assert {"test_sensitivity_low", "test_specificity_high", "val_sensitivity"} <= set(table.columns)

    cal = metrics["calibration"]
    assert set(cal["recalibrated"]) == {"temperature", "platt", "isotonic"}
    assert cal["prior"]["assumed_training_prior"] == [0.5, 0.5]  # oversample rebalances
    assert 0 < cal["prior"]["saerens_em"]["estimated_test_prevalence"] < 1
    assert set(metrics["per_domain"]) == {"vendorA", "vendorB"}
    assert len(metrics["decision_curve"]["model (raw scores)"]["band_low"]) == 99


def test_every_reported_number_names_its_level(tmp_path: Path) -> None:
    run = write_run(tmp_path, domains=("a",))
    with pytest.warns(UserWarning, match="took the positive label"):  # a patient with one malignant breast
        evaluate_run(run, EvaluateConfig(level="patient", on_label_conflict="max", figures=False, **FAST))
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())

    def walk(node: object, named: bool) -> int:
        """Count numbers; each must sit in a dict that names the level, or below one."""
        found = 0
        if isinstance(node, dict):
            named = named or node.get("aggregation_level") == "patient"
            if "estimate" in node or ("value" in node and "defined" in node):
                assert named, node
                found += 1
            found += sum(walk(v, named) for v in node.values())
        elif isinstance(node, list):
            found += sum(walk(v, named) for v in node)
        return found

    for key in ("threshold_free", "operating_points", "calibration"):
        assert walk(metrics[key], False) > 0, key
    assert "per_domain" not in metrics  # one domain


def test_validation_without_positives_reports_undefined_not_zero(tmp_path: Path) -> None:
    run = write_run(tmp_path, val_prevalence=0.0, domains=("a",))
    result = evaluate_run(run, EvaluateConfig(rules=("fixed", "youden"), figures=False, **FAST))
    ops = result.metrics["operating_points"]
    assert ops["youden"]["defined"] is False and "no positive case" in ops["youden"]["reason"]
    assert ops["fixed"]["defined"] is True
    assert ops["fixed"]["operating_point"]["val_metrics"]["sensitivity"]["defined"] is False
    assert result.metrics["calibration"]["recalibrated"]["defined"] is False
    assert any("youden" in w for w in result.warnings)
    assert result.operating_points["rule"].tolist() == ["fixed"]


def test_overconfident_run_is_flagged(tmp_path: Path) -> None:
    run = write_run(tmp_path, domains=("a",))
    for name in ("predictions_val.csv", "predictions_test.csv"):
        table = pd.read_csv(run / name, dtype=str, keep_default_na=False)
        z = table["logit_malignant"].astype(float) - table["logit_benign"].astype(float)
        p = 1 / (1 + np.exp(-6 * z))  # scores pushed to 0 and 1
        table["prob_malignant"], table["prob_benign"] = p, 1 - p
        table.to_csv(run / name, index=False)
    result = evaluate_run(run, EvaluateConfig(figures=False, **FAST))
    assert result.metrics["calibration"]["overconfidence"]["flagged"]
    assert any(w.startswith("OVERCONFIDENCE") for w in result.warnings)


def test_multiclass_run_end_to_end(tmp_path: Path) -> None:
    run = write_run(
        tmp_path, classes=("A", "B", "C"), positive=None, strategy="none", domains=("a",), n_patients=80
    )
    with pytest.warns(UserWarning, match="different labels"):
        result = evaluate_run(run, EvaluateConfig(level="patient", on_label_conflict="max", **FAST))
    assert result.task == "multiclass"
    assert {p.name for p in result.figures} == {"roc_ovr.png", "confusion_matrices.png", "reliability.png",
                                                "score_histograms.png"}  # fmt: skip
    for path in result.figures:
        _png_ok(path)
    m = result.metrics
    ba = m["argmax"]["metrics"]["balanced_accuracy"]
    assert ba["low"] <= ba["estimate"] <= ba["high"] and ba["aggregation_level"] == "patient"
    assert m["logit_adjusted"]["chosen_on"] == "validation"
    assert m["calibration"]["temperature_scaling"]["temperature"] > 0
    assert result.operating_points["rule"].iloc[0] == "argmax"
    assert any("different labels" in w for w in result.warnings)


def test_output_folder_is_not_overwritten_without_permission(tmp_path: Path) -> None:
    run = write_run(tmp_path, domains=("a",))
    out = tmp_path / "eval"
    config = EvaluateConfig(out_dir=str(out), figures=False, **FAST)
    evaluate_run(run, config)
    before = (out / "metrics.json").read_text()
    with pytest.raises(MedbalanceError, match="--overwrite"):
        evaluate_run(run, config)
    assert (out / "metrics.json").read_text() == before
    evaluate_run(run, EvaluateConfig(out_dir=str(out), figures=False, overwrite=True, n_bootstrap=50))
    assert json.loads((out / "metrics.json").read_text())["evaluation"]["intervals"]["n_bootstrap"] == 50


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (lambda r: (r / "predictions_test.csv").unlink(), FileNotFoundError, "predictions_test.csv"),
        (lambda r: (r / "summary.json").write_text(json.dumps({"status": "failed", "classes": ["a", "b"]})),
         DataError, "status 'failed'"),
        (lambda r: (r / "summary.json").write_text("{broken"), DataError, "not valid JSON"),
        (lambda r: pd.read_csv(r / "predictions_val.csv", dtype=str).assign(prob_malignant="NaN")
         .to_csv(r / "predictions_val.csv", index=False), DataError, "non-numeric or non-finite"),
        (lambda r: pd.read_csv(r / "predictions_val.csv", dtype=str).drop(columns=["breast_id"])
         .to_csv(r / "predictions_val.csv", index=False), DataError, "lacks column"),
        (lambda r: pd.read_csv(r / "predictions_val.csv", dtype=str).assign(label="Malignant ")
         .to_csv(r / "predictions_val.csv", index=False), DataError, "not among the classes"),
    ],
    ids=["missing-predictions", "failed-run", "broken-json", "nan-probability", "missing-column", "unknown-label"],
)  # fmt: skip
def test_broken_run_folders_fail_clearly(tmp_path: Path, damage, error, match) -> None:  # type: ignore[no-untyped-def]
    run = write_run(tmp_path, domains=("a",), n_patients=20)
    damage(run)
    with pytest.raises(error, match=match):
        evaluate_run(run, EvaluateConfig(figures=False, **FAST))
    assert not (run / "evaluation").exists()


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"rules": ("yuden",)}, "Did you mean 'youden'"),
        ({"rules": ("min-cost",)}, "needs a cost ratio"),
        ({"rules": ("target-sensitivity:high",)}, "is not a number"),
        ({"rules": ("youden:0.3",)}, "takes no value"),
        ({"deployment_prevalences": (1.5,)}, r"each value of deployment_prevalences must be in \(0, 1\)"),
        ({"n_bootstrap": 5}, "n_bootstrap"),
        ({"training_prior": "balance"}, "Did you mean 'balanced'"),
    ],
    ids=[
        "typo-rule",
        "min-cost-no-ratio",
        "bad-target",
        "value-on-youden",
        "prevalence>1",
        "few-resamples",
        "prior",
    ],
)
def test_bad_options_raise_config_errors(tmp_path: Path, config: dict[str, object], match: str) -> None:
    run = write_run(tmp_path, domains=("a",), n_patients=20)
    with pytest.raises(ConfigError, match=match):
        evaluate_run(run, EvaluateConfig(**{**FAST, "figures": False, **config}))  # type: ignore[arg-type]


def test_cli_evaluate_prints_a_summary_and_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path, domains=("a",), n_patients=60)
    code = main(["evaluate", str(run), "--level", "breast", "--rule", "youden", "--rule", "target-sensitivity:0.9",
                 "--cost-ratio", "10", "--deployment-prevalence", "0.01,0.05", "--n-bootstrap", "100"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (
        "AUC-ROC" in captured.out
        and "breast level" in captured.out
        and "target-sensitivity:0.9" in captured.out
    )
    assert (run / "evaluation" / "metrics.json").is_file()
    assert main(["evaluate", str(run), "--n-bootstrap", "100"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--rule", "yuden", "--overwrite"]) == 2
    assert "Did you mean 'youden'" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--level", "brest", "--overwrite"]) == 2
    assert main(["evaluate", str(run), "--deployment-prevalence", "0.01,abc", "--overwrite"]) == 2
    assert "not a number" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope")]) == 3  # missing input: a data error


def test_few_positive_patients_warn_that_intervals_are_unreliable(tmp_path: Path) -> None:
    run = write_run(tmp_path, domains=("a",), n_patients=16, seed=3)
    result = evaluate_run(run, EvaluateConfig(level="breast", figures=False, **FAST))
    warning = result.metrics["evaluation"]["intervals"]["reliability_warning"]
    assert "intervals are unreliable" in warning and "patients with class 'malignant'" in warning
    assert warning in result.warnings


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [({"rebalances": True}, [0.5, 0.5]), ({"strategy": {"name": "x", "balances": []}}, [0.75, 0.25]), ({}, None)],
    ids=["rebalances", "strategy-hooks", "not-recorded"],
)
def test_training_prior_comes_from_summary_json_only(recorded: dict, expected: list | None) -> None:
    """Evaluation reads whether the run rebalanced from summary.json; it never re-creates the strategy."""
    from medbalance.evaluation.run_folder import RunPredictions, resolve_training_prior

    summary = {"classes": ["benign", "malignant"], "training_class_counts": {"benign": 300, "malignant": 100}}
    run = RunPredictions(Path("run"), {**summary, **recorded}, ("benign", "malignant"), "malignant",
                         pd.DataFrame(), pd.DataFrame())  # fmt: skip
    prior, reason = resolve_training_prior(run, "auto")
    if expected is None:
        assert prior is None and "pass the training prior" in reason
    else:
        assert prior.tolist() == pytest.approx(expected)
