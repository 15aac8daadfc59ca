"""``medbalance recommend``: the strategy and threshold that meet a clinical constraint best on VALIDATION.

Candidates are every in-distribution (strategy, variant) of one training set,
each with two threshold options: 0.5 as trained, or a threshold moved on
validation by the constraint's rule (``target-sensitivity``,
``target-specificity`` or ``min-cost``). A candidate counts only when every seed
meets the constraint on validation; the best mean validation objective wins
(specificity under a sensitivity target, sensitivity under a specificity target,
the lowest expected cost under a cost ratio). "Train normally and move the
threshold" (baseline + moved threshold) is one of the candidates. The test set
is looked at only afterwards, for the evidence: the chosen seeds' test metrics
at their validation thresholds, with patient-clustered bootstrap intervals.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medbalance.benchmark._unit_scores import UnitScores, load_unit_scores
from medbalance.benchmark.leaderboard import load_benchmark_frames
from medbalance.benchmark.paired import BASELINE
from medbalance.constraints import check_constraints, option
from medbalance.errors import ConfigError, DataError
from medbalance.evaluation.bootstrap import bootstrap_cis
from medbalance.evaluation.prevalence import compute_metrics_at_prevalence
from medbalance.evaluation.thresholds import select_threshold
from medbalance.io import atomic_write_text

__all__ = [
    "DEFAULT_CONSTRAINT",
    "Constraint",
    "Recommendation",
    "constraint_for",
    "parse_constraint",
    "recommend",
    "write_recommendation",
]

_PATTERN = re.compile(r"^\s*(sensitivity|specificity)\s*>=\s*([0-9]*\.?[0-9]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """A clinical constraint: a minimum sensitivity or specificity, or a cost ratio at a prevalence.

    Attributes:
        metric: "sensitivity" or "specificity" for a target, None for a cost ratio.
        target: the minimum value of ``metric``.
        cost_fn: cost of a false negative relative to a false positive (1).
        prevalence: prevalence where the cost is counted (and PPV/NPV are reported).
    """

    metric: str | None = None
    target: float | None = option(None, gt=0.0, le=1.0, fix='write e.g. "sensitivity>=0.95".')
    cost_fn: float | None = option(
        None, gt=0.0, fix="give the cost of a false negative relative to a false positive, e.g. --cost-fn 10."
    )
    prevalence: float | None = option(
        None, gt=0.0, lt=1.0, fix="give the deployment prevalence, e.g. --prevalence 0.01."
    )

    def __post_init__(self) -> None:
        check_constraints(self, "constraint")
        if (self.metric is None) == (self.cost_fn is None):
            raise ConfigError(
                'give either --constraint "sensitivity>=0.95" or --cost-fn 10 --prevalence 0.01.'
            )
        if self.cost_fn is not None and self.prevalence is None:
            raise ConfigError("--cost-fn needs --prevalence (the deployment prevalence, e.g. 0.01).")

    @property
    def rule(self) -> str:
        """The threshold rule that moves the threshold for this constraint."""
        return "min-cost" if self.metric is None else f"target-{self.metric}"

    @property
    def params(self) -> dict[str, float]:
        """The rule's parameters."""
        if self.metric is None:
            return {"cost_ratio": float(self.cost_fn or 0), "prevalence": float(self.prevalence or 0)}
        return {"target": float(self.target or 0)}

    def describe(self) -> str:
        """The constraint in words."""
        if self.metric is None:
            return f"lowest expected cost with a missed cancer {self.cost_fn:g}x a false alarm at prevalence {self.prevalence:g}"
        return f"{self.metric} >= {self.target:g}"


def parse_constraint(
    text: str | None, cost_fn: float | None = None, prevalence: float | None = None
) -> Constraint:
    """``"sensitivity>=0.95"`` / ``"specificity>=0.9"``, or a cost ratio and prevalence, as a Constraint.

    Raises:
        ConfigError: unreadable text, both or neither form given, values out of range.
    """
    if text:
        match = _PATTERN.match(text)
        if not match:
            raise ConfigError(
                f'cannot read the constraint {text!r}; write e.g. "sensitivity>=0.95" or "specificity>=0.9".'
            )
        return Constraint(match.group(1), float(match.group(2)), prevalence=prevalence) if cost_fn is None else (
            Constraint(match.group(1), float(match.group(2)), cost_fn, prevalence))  # fmt: skip
    return Constraint(cost_fn=cost_fn, prevalence=prevalence)


DEFAULT_CONSTRAINT = "sensitivity>=0.9"
"""Used when neither the command nor the benchmark's config names a constraint."""


def constraint_for(
    bench_dir: str | Path,
    text: str | None = None,
    cost_fn: float | None = None,
    prevalence: float | None = None,
) -> Constraint:
    """The constraint given, else the one in the benchmark's ``benchmark.yaml``, else sensitivity >= 0.9.

    Raises:
        ConfigError: a constraint that cannot be read.
    """
    if text or cost_fn is not None:
        return parse_constraint(text, cost_fn, prevalence)
    from medbalance.benchmark.run import read_benchmark_config
    from medbalance.errors import MedbalanceError

    try:
        config = read_benchmark_config(bench_dir)
    except MedbalanceError:  # no benchmark.yaml: a store filled by other means
        return parse_constraint(DEFAULT_CONSTRAINT, prevalence=prevalence)
    if config.constraint or config.cost_fn is not None:
        return parse_constraint(config.constraint, config.cost_fn, prevalence or config.prevalence)
    return parse_constraint(DEFAULT_CONSTRAINT, prevalence=prevalence)


def _expected_cost(sens: float, spec: float, constraint: Constraint) -> float:
    pi = float(constraint.prevalence or 0)
    return float(constraint.cost_fn or 0) * pi * (1 - sens) + (1 - pi) * (1 - spec)


def _objective(sens: float, spec: float, constraint: Constraint) -> tuple[bool, float]:
    """(meets the constraint, value to maximise) from validation sensitivity and specificity."""
    if constraint.metric == "sensitivity":
        return sens >= float(constraint.target or 0) - 1e-12, spec
    if constraint.metric == "specificity":
        return spec >= float(constraint.target or 0) - 1e-12, sens
    return True, -_expected_cost(sens, spec, constraint)


def _val_point(scores: UnitScores, constraint: Constraint, moved: bool) -> dict[str, Any]:
    if moved:
        point = select_threshold(scores.y_val, scores.s_val, constraint.rule, **constraint.params)
    else:
        point = select_threshold(scores.y_val, scores.s_val, "fixed", threshold=0.5)
    sens, spec = point.metrics["sensitivity"].value, point.metrics["specificity"].value
    if sens is None or spec is None:
        raise DataError(
            f"{scores.unit_dir}: validation sensitivity or specificity is undefined (one class missing)."
        )
    meets, value = _objective(float(sens), float(spec), constraint)
    return {"threshold": float(point.threshold), "val_sensitivity": float(sens), "val_specificity": float(spec),
            "meets": meets, "objective": value}  # fmt: skip


@dataclass(frozen=True)
class Recommendation:
    """What ``recommend`` chose and why.

    Attributes:
        constraint: the constraint in words.
        train_set: the training set the candidates were trained on.
        level: evaluation level.
        strategy: chosen strategy.
        variant: chosen training variant ('' = default options).
        threshold_option: "moved on validation (<rule>)" or "0.5 as trained".
        answer: the recommendation in one plain sentence.
        model: the recommended model (seed, unit id, unit folder, threshold).
        validation: per-seed validation numbers of the chosen candidate.
        test: per-seed test metrics with intervals at the validation thresholds, and their means.
        candidates: every candidate with its validation objective (mean, sd) and feasibility.
    """

    constraint: str
    train_set: str
    level: str
    strategy: str
    variant: str
    threshold_option: str
    answer: str
    model: dict[str, Any]
    validation: list[dict[str, Any]]
    test: dict[str, Any]
    candidates: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


def _candidates(units: pd.DataFrame, constraint: Constraint) -> pd.DataFrame:
    rows = []
    for unit in units.itertuples(index=False):
        scores = load_unit_scores(unit.unit_dir, str(unit.level))
        for moved in (False, True):
            rows.append({"strategy": unit.strategy, "variant": unit.variant or "", "moved": moved,
                         "seed": int(unit.seed), "unit_id": unit.unit_id, "unit_dir": str(unit.unit_dir),
                         "cell_ids": list(unit.cell_ids), **_val_point(scores, constraint, moved)})  # fmt: skip
    return pd.DataFrame(rows)


def _summary(per_seed: pd.DataFrame) -> pd.DataFrame:
    grouped = per_seed.groupby(["strategy", "variant", "moved"], sort=False)
    table = grouped.agg(n_seeds=("seed", "nunique"), meets_all=("meets", "all"), objective_mean=("objective", "mean"),
                        objective_sd=("objective", "std")).reset_index()  # fmt: skip
    table["simplicity"] = [
        (s != BASELINE) * 2 + int(m) for s, m in zip(table["strategy"], table["moved"], strict=True)
    ]
    return table.sort_values(["meets_all", "objective_mean", "simplicity"], ascending=[False, False, True])


def _test_evidence(
    chosen: pd.DataFrame, constraint: Constraint, n_bootstrap: int, level: str
) -> dict[str, Any]:
    per_seed = []
    for row in chosen.itertuples(index=False):
        scores = load_unit_scores(row.unit_dir, level)
        cis = bootstrap_cis(scores.y_test, scores.s_test, ("sensitivity", "specificity", "ppv", "npv", "auc_roc"),
                            threshold=row.threshold, groups=scores.test_patients, n_resamples=n_bootstrap, seed=0)  # fmt: skip
        entry: dict[str, Any] = {"seed": row.seed, "threshold": row.threshold, "n_cases": int(scores.y_test.size),
                                 "n_positive": int(scores.y_test.sum())}  # fmt: skip
        for name, ci in cis.items():
            entry[name] = {"estimate": ci.estimate, "low": ci.low, "high": ci.high}
        sens, spec = entry["sensitivity"]["estimate"], entry["specificity"]["estimate"]
        if constraint.prevalence is not None and sens is not None and spec is not None:
            at = compute_metrics_at_prevalence(
                sens, spec, constraint.prevalence, cost_ratio=constraint.cost_fn
            )
            entry["at_deployment_prevalence"] = {k: v.value for k, v in at.items()}
        if constraint.metric is not None:
            ci = entry[constraint.metric]
            entry["target_met_on_test"] = ci["estimate"] is not None and ci["estimate"] >= constraint.target
            entry["target_met_with_confidence"] = ci["low"] is not None and ci["low"] >= constraint.target
        per_seed.append(entry)
    means = {m: float(np.nanmean([e[m]["estimate"] if e[m]["estimate"] is not None else np.nan for e in per_seed]))
             for m in ("sensitivity", "specificity", "ppv", "npv", "auc_roc")}  # fmt: skip
    return {"per_seed": per_seed, "mean_over_seeds": means, "n_bootstrap": n_bootstrap,
            "intervals": "95% patient-clustered bootstrap, thresholds chosen on validation"}  # fmt: skip


def _relative(path: Path, bench: Path) -> str:
    """``path`` relative to the benchmark folder when inside it (portable), else absolute."""
    path, bench = path.resolve(), bench.resolve()
    return path.relative_to(bench).as_posix() if path.is_relative_to(bench) else str(path)


def _rule_spec(constraint: Constraint, moved: bool) -> str:
    """The threshold rule as evaluation writes it (``target-sensitivity:0.9``), for ``export --recommended``."""
    if not moved:
        return "fixed:0.5"
    if constraint.metric is None:
        return f"min-cost:{constraint.cost_fn:g}"
    return f"{constraint.rule}:{constraint.target:g}"


def _answer(strategy: str, variant: str, moved: bool, threshold: float, constraint: Constraint,
            val: pd.DataFrame, test: dict[str, Any]) -> str:  # fmt: skip
    name = strategy + (f" ({variant})" if variant else "")
    how = f"move the threshold to {threshold:.3f}" if moved else "keep the 0.5 threshold"
    start = (
        f"Train normally (no imbalance technique) and {how}"
        if strategy == BASELINE
        else f"Train with {name} and {how}"
    )
    mean = test["mean_over_seeds"]
    return (f"{start}: on validation this meets {constraint.describe()} with sensitivity "
            f"{val['val_sensitivity'].mean():.2f} and specificity {val['val_specificity'].mean():.2f} "
            f"(mean over {len(val)} seed{'s' if len(val) != 1 else ''}); on the test set it reached sensitivity {mean['sensitivity']:.2f} and "
            f"specificity {mean['specificity']:.2f}.")  # fmt: skip


def recommend(
    bench_dir: str | Path, constraint: Constraint, *, train_set: str | None = None, n_bootstrap: int = 1000
) -> Recommendation:
    """Choose on validation, report on test.

    Args:
        bench_dir: a benchmark folder (``results.sqlite`` and ``units/``).
        constraint: what the operating point must meet.
        train_set: the training set whose models are candidates (needed when there are several).
        n_bootstrap: resamples of the test intervals.

    Raises:
        FileNotFoundError: not a benchmark folder.
        ConfigError: unknown or ambiguous training set.
        DataError: no in-distribution unit, or no candidate meets the constraint on validation.
    """
    units, _ = load_benchmark_frames(bench_dir)
    units = units[units["in_distribution"].astype(bool)]
    sets = sorted(units["train_set"].unique())
    if not sets:
        raise DataError(
            f"{bench_dir} holds no in-distribution evaluation unit yet; run or resume the benchmark."
        )
    if train_set is None and len(sets) > 1:
        raise ConfigError(
            f"{bench_dir} has several training sets ({', '.join(sets)}); choose one with --train-set."
        )
    train_set = train_set or sets[0]
    if train_set not in sets:
        raise ConfigError(f"training set {train_set!r} is not in {bench_dir}; it has {', '.join(sets)}.")
    units = units[units["train_set"] == train_set]
    level = str(units["level"].iloc[0])
    per_seed = _candidates(units, constraint)
    table = _summary(per_seed)
    best = table.iloc[0]
    if not bool(best["meets_all"]):
        raise DataError(
            f"no strategy meets {constraint.describe()} on validation in every seed of {train_set}."
        )
    chosen = per_seed[(per_seed["strategy"] == best["strategy"]) & (per_seed["variant"] == best["variant"])
                      & (per_seed["moved"] == best["moved"])].sort_values("seed")  # fmt: skip
    test = _test_evidence(chosen, constraint, n_bootstrap, level)
    model_row = chosen.sort_values(["objective", "seed"], ascending=[False, True]).iloc[0]
    option = f"moved on validation ({constraint.rule})" if best["moved"] else "0.5 as trained"
    model = {"seed": int(model_row["seed"]), "unit_id": model_row["unit_id"], "threshold": float(model_row["threshold"]),
             "unit_dir": _relative(Path(model_row["unit_dir"]), Path(bench_dir)),
             "cell_ids": list(model_row["cell_ids"]), "threshold_rule": _rule_spec(constraint, bool(best["moved"])),
             "why_this_seed": "the seed with the best validation objective"}  # fmt: skip
    candidates = [{**{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}}
                  for r in table.drop(columns="simplicity").to_dict("records")]  # fmt: skip
    validation = chosen[["seed", "threshold", "val_sensitivity", "val_specificity", "objective"]].to_dict(
        "records"
    )
    answer = _answer(str(best["strategy"]), str(best["variant"]), bool(best["moved"]), model["threshold"], constraint,
                     chosen, test)  # fmt: skip
    return Recommendation(constraint.describe(), train_set, level, str(best["strategy"]), str(best["variant"]), option,
                          answer, model, validation, test, candidates)  # fmt: skip


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None (a single seed has no standard deviation)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def write_recommendation(bench_dir: str | Path, recommendation: Recommendation) -> Path:
    """Write ``bench_dir/recommendation.json`` atomically (strict JSON); returns its path."""
    path = Path(bench_dir) / "recommendation.json"
    atomic_write_text(path, json.dumps(_finite(recommendation.to_dict()), indent=2, allow_nan=False) + "\n")
    return path
