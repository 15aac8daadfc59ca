""" "Your questions, answered from your data": one short answer per question, with this benchmark's numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medbalance.benchmark._unit_scores import load_unit_scores
from medbalance.benchmark.recommend import Recommendation
from medbalance.evaluation.prevalence import compute_metrics_at_prevalence
from medbalance.evaluation.thresholds import select_threshold

__all__ = ["answer_questions"]


def _q(question: str, numbers: list[str], sentence: str) -> dict[str, Any]:
    return {"question": question, "numbers": numbers, "answer": sentence}


def _seed_mean(
    metrics: pd.DataFrame, strategy: str, variant: str, metric: str, rule: str = ""
) -> float | None:
    rows = metrics[(metrics["strategy"] == strategy) & (metrics["variant"].fillna("") == variant)
                   & metrics["in_distribution"].astype(bool) & (metrics["split"] == "test")
                   & (metrics["rule"] == rule) & (metrics["metric"] == metric)]  # fmt: skip
    values = rows["estimate"].dropna()
    return None if values.empty else float(values.mean())


def _which_technique(rec: Recommendation, summary: pd.DataFrame) -> dict[str, Any]:
    auc = summary[(summary["metric"] == "auc_roc") & summary["in_distribution"].astype(bool)]
    top = auc.sort_values("mean", ascending=False).head(3)
    numbers = ["highest mean test AUC: " + ", ".join(f"{r.strategy}{' (' + r.variant + ')' if r.variant else ''} "
                                                      f"{r.mean:.3f}" for r in top.itertuples())]  # fmt: skip
    numbers.append(f"recommended for {rec.constraint}: {rec.strategy}, threshold {rec.threshold_option}")
    return _q("Which technique should I use?", numbers, rec.answer)


def _is_it_real(verdicts: pd.DataFrame) -> dict[str, Any]:
    if verdicts.empty:
        return _q("Is the difference real?", [], "Only the baseline was run (or no seed had a baseline), so nothing "
                  "was compared.")  # fmt: skip
    inside = verdicts[verdicts["in_distribution"].astype(bool)]
    numbers = [
        f"{r.strategy}{' (' + r.variant + ')' if r.variant else ''}: {r.verdict}" for r in inside.itertuples()
    ]
    real = inside[inside["distinguishable"]]
    if real.empty:
        sentence = ("No strategy is distinguishable from training normally on this data: the AUC differences are "
                    "within what another sample of patients or another random start would give.")  # fmt: skip
    else:
        sentence = (f"{len(real)} of {len(inside)} strategies differ from the baseline in every seed after Holm's "
                    f"correction ({', '.join(real['strategy'])}); the others could be noise.")  # fmt: skip
    return _q("Is the difference real?", numbers, sentence)


def _which_metric(rec: Recommendation, summary: pd.DataFrame) -> dict[str, Any]:
    seed = rec.test["per_seed"][0]
    prevalence = seed["n_positive"] / max(1, seed["n_cases"])
    base = summary[(summary["strategy"] == "none") & summary["in_distribution"].astype(bool)]
    sens = base[(base["metric"] == "sensitivity") & base["rule"].isin(["fixed:0.5", "fixed"])]["mean"]
    spec = base[(base["metric"] == "specificity") & base["rule"].isin(["fixed:0.5", "fixed"])]["mean"]
    numbers = [f"test prevalence {prevalence:.3f}: calling every case benign is {1 - prevalence:.1%} accurate "
               "and finds no cancer"]  # fmt: skip
    if not sens.empty and not spec.empty:
        numbers.append(f"baseline at 0.5: sensitivity {sens.iloc[0]:.3f}, specificity {spec.iloc[0]:.3f}")
    sentence = ("Watch sensitivity and specificity at a threshold chosen on validation, with AUC for ranking and "
                "AUPRC for how many alarms are real; accuracy hides a model that misses every cancer.")  # fmt: skip
    return _q("Which metric should I watch, and why?", numbers, sentence)


def _threshold(rec: Recommendation, summary: pd.DataFrame) -> dict[str, Any]:
    question = "Which threshold reaches the target sensitivity, and what specificity does it cost?"
    model_seed = next(s for s in rec.test["per_seed"] if s["seed"] == rec.model["seed"])
    sens, spec = model_seed["sensitivity"], model_seed["specificity"]
    numbers = [f"threshold {rec.model['threshold']:.3f} (chosen on validation, seed {rec.model['seed']})",
               f"test sensitivity {sens['estimate']:.3f} [{sens['low']:.3f}, {sens['high']:.3f}]",
               f"test specificity {spec['estimate']:.3f} [{spec['low']:.3f}, {spec['high']:.3f}]"]  # fmt: skip
    sentence = (f"For {rec.constraint}, use {rec.strategy} with threshold {rec.model['threshold']:.3f}: on new "
                f"patients it found {sens['estimate']:.0%} of cancers at the cost of {1 - spec['estimate']:.0%} "
                "false alarms among the non-cancers.")  # fmt: skip
    return _q(question, numbers, sentence)


def _calibration(rec: Recommendation, metrics: pd.DataFrame) -> dict[str, Any]:
    question = "Can the probabilities be trusted, before and after recalibration?"
    raw = _seed_mean(metrics, rec.strategy, rec.variant, "ece_equal_width")
    after: dict[str, float] = {}
    for method in ("temperature", "platt", "isotonic"):
        value = _seed_mean(metrics, rec.strategy, rec.variant, f"ece_after_{method}")
        if value is not None:
            after[method] = value
    if raw is None:
        return _q(question, [], "The store holds no calibration result for the recommended strategy.")
    numbers = [f"ECE as trained {raw:.3f}"] + [
        f"after {k} (fitted on validation) {v:.3f}" for k, v in after.items()
    ]
    if after:
        best = min(after, key=lambda k: after[k])
        sentence = (f"As trained, a stated probability of cancer is off by about {raw:.2f} on average; after {best} "
                    f"recalibration on validation, by {after[best]:.2f}" + (
                        " - recalibrate before reading the numbers as risks." if after[best] < raw else "."))  # fmt: skip
    else:
        sentence = f"As trained, a stated probability of cancer is off by about {raw:.2f} on average."
    return _q(question, numbers, sentence)


def _ppv_npv(rec: Recommendation, prevalence: float) -> dict[str, Any]:
    mean = rec.test["mean_over_seeds"]
    at = compute_metrics_at_prevalence(float(mean["sensitivity"]), float(mean["specificity"]), prevalence)
    ppv, npv = at["ppv"].value, at["npv"].value
    numbers = [f"test sensitivity {mean['sensitivity']:.3f}, specificity {mean['specificity']:.3f} (mean over seeds)",
               f"at prevalence {prevalence:g}: PPV {ppv if ppv is None else round(ppv, 3)}, NPV "
               f"{npv if npv is None else round(npv, 4)}"]  # fmt: skip
    sentence = (f"Where {prevalence:.1%} of patients have cancer, about {100 * (ppv or 0):.0f} of every 100 flagged "
                f"cases are cancers and {100 * (npv or 0):.1f}% of cleared cases are cancer-free.")  # fmt: skip
    return _q("What happens to PPV and NPV at the deployment prevalence?", numbers, sentence)


def _validation_prevalence(rec: Recommendation, bench_root: Any, prevalence: float) -> dict[str, Any]:
    scores = load_unit_scores(bench_root / rec.model["unit_dir"], rec.level)
    val_prev = float(scores.y_val.mean())
    at_val = select_threshold(scores.y_val, scores.s_val, "min-cost", cost_ratio=10.0, prevalence=val_prev)
    at_dep = select_threshold(scores.y_val, scores.s_val, "min-cost", cost_ratio=10.0, prevalence=prevalence)
    target = select_threshold(scores.y_val, scores.s_val, "target-sensitivity", target=0.9)
    numbers = [f"validation prevalence {val_prev:.3f}, deployment prevalence {prevalence:g}",
               f"sensitivity-0.9 threshold {target.threshold:.3f} (the same at any prevalence)",
               f"min-cost threshold (missed cancer = 10 false alarms): {at_val.threshold:.3f} at the validation "
               f"prevalence, {at_dep.threshold:.3f} at the deployment prevalence"]  # fmt: skip
    sentence = ("A threshold set for a sensitivity or specificity target uses one class at a time, so the validation "
                "prevalence does not move it; a cost- or F1-based threshold does, so give it the prevalence where "
                "the model will be used.")  # fmt: skip
    if np.isclose(at_val.threshold, at_dep.threshold):
        sentence += " Here both prevalences happen to give the same cost-based threshold."
    return _q("Does the validation set's prevalence matter for the chosen threshold?", numbers, sentence)


def answer_questions(rec: Recommendation, summary: pd.DataFrame, verdicts: pd.DataFrame, metrics: pd.DataFrame,
                     bench_root: Any, deployment_prevalence: float) -> list[dict[str, Any]]:  # fmt: skip
    """The seven questions with numbers from this benchmark and one plain sentence each."""
    return [_which_technique(rec, summary), _is_it_real(verdicts), _which_metric(rec, summary),
            _threshold(rec, summary), _calibration(rec, metrics), _ppv_npv(rec, deployment_prevalence),
            _validation_prevalence(rec, bench_root, deployment_prevalence)]  # fmt: skip
