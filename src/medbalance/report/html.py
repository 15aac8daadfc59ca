"""``report.html``: one self-contained file with the benchmark's evidence (figures embedded, no CDN).

Everything is read from the results store and the unit folders it points to:
the leaderboard (also written as CSV/Markdown), the paired tests, Walsh & Tardy's
findings, the recommendation (also ``recommendation.json``), figures made by
:mod:`medbalance.report.plots` / :mod:`medbalance.report.benchmark_plots` and
embedded as base64 PNGs, the data section, the model card and the answers to the
questions users ask. The page is written atomically; it opens offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import average_precision_score

from medbalance.benchmark._unit_scores import load_unit_scores
from medbalance.benchmark.findings import walsh_tardy_findings
from medbalance.benchmark.leaderboard import leaderboard_blocks, summarize_over_seeds, write_leaderboard
from medbalance.benchmark.paired import compare_with_baseline, paired_verdicts
from medbalance.benchmark.recommend import Recommendation, constraint_for, recommend, write_recommendation
from medbalance.evaluation.curves import compute_roc_curve
from medbalance.io import atomic_write_text
from medbalance.report._latent import latent_view
from medbalance.report._report_data import GLOSSARY, data_sections
from medbalance.report._report_questions import answer_questions
from medbalance.report.benchmark_plots import compute_pr_band, plot_pr_overlay, plot_roc_overlay

__all__ = ["FIGURES_PER_STRATEGY", "ReportConfig", "write_report"]

FIGURES_PER_STRATEGY = {
    "reliability.png": "Reliability diagram (before and after recalibration)",
    "score_histograms.png": "Score histograms per class",
    "confusion_matrices.png": "Confusion matrices at the operating points chosen on validation",
    "decision_curve.png": "Decision curve (net benefit)",
}
"""Figures ``evaluate_run`` writes into each unit's evaluation/figures, shown per strategy."""


@dataclass(frozen=True)
class ReportConfig:
    """What the report assumes.

    Attributes:
        constraint: the recommendation's constraint, e.g. "sensitivity>=0.9" (None: the benchmark config's,
            else sensitivity>=0.9).
        cost_fn: instead of a target: cost of a false negative relative to a false positive.
        deployment_prevalence: prevalence where PPV/NPV (and a cost) are reported.
        n_bootstrap: resamples of the recommendation's intervals and of the curve bands' PR part.
        train_set: the training set of the recommendation (needed when there are several).
        explain: export the recommended model to ``BENCH/model`` (a bundle for ``medbalance predict``)
            and add its Grad-CAM contact sheet and t-SNE (``BENCH/explain``) to the report.
    """

    constraint: str | None = None
    cost_fn: float | None = None
    deployment_prevalence: float = 0.01
    n_bootstrap: int = 1000
    train_set: str | None = None
    explain: bool = True


def _b64(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _name(strategy: str, variant: str) -> str:
    return strategy + (f" ({variant})" if variant else "")


def _curves(units: pd.DataFrame, work: Path, n_bootstrap: int) -> list[dict[str, Any]]:
    """ROC and PR overlays per (training set, test set) from each strategy's lowest seed."""
    blocks = []
    units = units.assign(variant=units["variant"].fillna("").astype(str))
    for (train, test, in_dist), block in units.groupby(
        ["train_set", "test_set", "in_distribution"], sort=True
    ):
        first = block.sort_values("seed").groupby(["strategy", "variant"], sort=False).head(1)
        first = first.assign(_b=(first["strategy"] != "none").astype(int)).sort_values(
            ["_b", "strategy", "variant"]
        )
        rocs, prs, extras = {}, {}, []
        for row in first.itertuples(index=False):
            scores = load_unit_scores(row.unit_dir, str(row.level))
            if scores.y_test.min() == scores.y_test.max():
                continue
            name = _name(str(row.strategy), str(row.variant))
            roc = compute_roc_curve(
                scores.y_test, scores.s_test, groups=scores.test_patients, n_resamples=min(n_bootstrap, 300)
            )
            auc = float(((roc.fpr[1:] - roc.fpr[:-1]) * (roc.tpr[1:] + roc.tpr[:-1]) / 2).sum())
            rocs[name] = (roc, f"AUC {auc:.3f}")
            pr = compute_pr_band(
                scores.y_test, scores.s_test, scores.test_patients, n_resamples=min(n_bootstrap, 200)
            )
            prs[name] = (pr, f"AP {average_precision_score(scores.y_test, scores.s_test):.3f}")
            figures = Path(row.unit_dir) / "evaluation" / "figures"
            if in_dist:
                extras.append({"strategy": name, "seed": int(row.seed), "figures": [
                    {"title": t, "src": _b64(figures / f)} for f, t in FIGURES_PER_STRATEGY.items()
                    if (figures / f).is_file()]})  # fmt: skip
        if not rocs:
            continue
        where = "in-distribution" if in_dist else "out-of-distribution"
        title = f"{train} -> {test} ({where})"
        stem = work / f"{train}--{test}"
        roc_png = plot_roc_overlay(
            rocs, f"{stem}-roc.png", title=f"ROC, test set {test} (trained on {train})"
        )
        pr_png = plot_pr_overlay(
            prs, f"{stem}-pr.png", title=f"Precision-recall, test set {test} (trained on {train})"
        )
        blocks.append({"title": title, "in_distribution": bool(in_dist), "roc": _b64(roc_png), "pr": _b64(pr_png),
                       "per_strategy": extras})  # fmt: skip
    return blocks


def _ood_rows(summary: pd.DataFrame) -> list[list[str]]:
    auc = summary[summary["metric"] == "auc_roc"].assign(variant=lambda f: f["variant"].fillna(""))
    inside = auc[auc["in_distribution"].astype(bool)].set_index(["train_set", "strategy", "variant"])["mean"]
    rows = []
    for r in auc[~auc["in_distribution"].astype(bool)].itertuples(index=False):
        own = inside.get((r.train_set, r.strategy, r.variant))
        drop = "n/a" if own is None else f"{r.mean - own:+.3f}"
        rows.append([r.train_set, r.test_set, _name(r.strategy, r.variant), "n/a" if own is None else f"{own:.3f}",
                     f"{r.mean:.3f} [{r.low:.2f}, {r.high:.2f}]", drop])  # fmt: skip
    return rows


def _model_card(rec: Recommendation, bench: Path, summary: pd.DataFrame) -> dict[str, Any]:
    unit = bench / rec.model["unit_dir"]
    summary_json = json.loads((unit / "summary.json").read_text(encoding="utf-8"))
    seed = next(s for s in rec.test["per_seed"] if s["seed"] == rec.model["seed"])
    ood = summary[(summary["metric"] == "auc_roc") & ~summary["in_distribution"].astype(bool)
                  & (summary["strategy"] == rec.strategy)]  # fmt: skip
    ci = {k: seed[k] for k in ("auc_roc", "sensitivity", "specificity", "ppv", "npv")}
    return {
        "model": summary_json.get("model", "?"), "strategy": _name(rec.strategy, rec.variant), "seed": rec.model["seed"],
        "threshold": rec.model["threshold"], "unit": rec.model["unit_dir"], "train_set": rec.train_set,
        "level": rec.level, "n_cases": seed["n_cases"], "n_positive": seed["n_positive"], "metrics": ci,
        "ood": [f"{r.test_set}: AUC {r.mean:.3f} [{r.low:.2f}, {r.high:.2f}]" for r in ood.itertuples()],
        "classes": summary_json.get("classes"), "positive_class": summary_json.get("positive_class"),
    }  # fmt: skip


def write_report(bench_dir: str | Path, config: ReportConfig | None = None) -> Path:
    """Write leaderboard.csv/.md, recommendation.json and report.html into ``bench_dir``; returns the report path.

    Raises:
        FileNotFoundError: not a benchmark folder.
        ConfigError: bad constraint or ambiguous training set.
        DataError: nothing evaluated yet, unreadable unit predictions.
    """
    import jinja2

    config = config or ReportConfig()
    bench = Path(bench_dir).resolve()
    constraint = constraint_for(bench, config.constraint, config.cost_fn, config.deployment_prevalence)
    _, _, wide = write_leaderboard(bench)
    from medbalance.benchmark.leaderboard import load_benchmark_frames

    units, metrics = load_benchmark_frames(bench)
    summary = summarize_over_seeds(metrics)
    per_seed = compare_with_baseline(units)
    verdicts = paired_verdicts(per_seed)
    findings = walsh_tardy_findings(summary, verdicts)
    rec = recommend(bench, constraint, train_set=config.train_set, n_bootstrap=config.n_bootstrap)
    write_recommendation(bench, rec)
    positive = json.loads((Path(units["unit_dir"].iloc[0]) / "summary.json").read_text()).get(
        "positive_class"
    )
    with tempfile.TemporaryDirectory() as tmp:
        curves = _curves(units, Path(tmp), config.n_bootstrap)
    context = {
        "title": f"medbalance benchmark report - {bench.name}",
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n_units": len(units), "seeds": sorted(int(s) for s in units["seed"].unique()),
        "data": data_sections(bench, positive), "leaderboard": leaderboard_blocks(wide),
        "verdicts": [] if verdicts.empty else verdicts.to_dict("records"),
        "per_seed": [] if per_seed.empty else per_seed.to_dict("records"),
        "findings": [f.to_dict() for f in findings], "curves": curves, "ood": _ood_rows(summary),
        "rec": rec.to_dict(), "card": _model_card(rec, bench, summary),
        "questions": answer_questions(rec, summary, verdicts, metrics, bench, config.deployment_prevalence),
        "glossary": GLOSSARY, "deployment_prevalence": config.deployment_prevalence,
        "latent": latent_view(bench, rec.to_dict(), to_src=_b64) if config.explain else
        {"available": False, "reason": "not requested (the report was written with --no-explain).", "figures": [],
         "bundle": ""},
    }  # fmt: skip
    env = jinja2.Environment(loader=jinja2.PackageLoader("medbalance", "report/templates"),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)  # fmt: skip
    html = env.get_template("benchmark_report.html").render(**context)
    path = bench / "report.html"
    atomic_write_text(path, html)
    return path
