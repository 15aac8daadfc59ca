"""Walsh & Tardy's (2023) findings, checked on this benchmark's numbers.

Each finding holds (True), does not hold (False), or cannot be checked here
(None: the strategy, the rule or the test set it needs was not run); the
evidence sentence gives the numbers either way. Thresholds of "similar" and
"loses" are stated in the evidence so a reader can disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from medbalance.benchmark.paired import BASELINE

__all__ = ["STANDARD_TECHNIQUES", "Finding", "walsh_tardy_findings"]

STANDARD_TECHNIQUES = (
    "class-weight",
    "oversample",
    "undersample",
    "undersample-epoch",
    "weighted-sampler",
    "focal",
)
"""The re-weighting and re-sampling techniques Walsh & Tardy call standard."""

SIMILAR_AUC = 0.03
"""Mean AUCs within this range of each other are called similar."""

AUC_LOSS = 0.02
"""A mean AUC this much below the baseline's counts as a loss."""


@dataclass(frozen=True)
class Finding:
    """One published finding and whether this benchmark reproduces it.

    Attributes:
        key: short identifier.
        claim: the finding as Walsh & Tardy state it.
        holds: True, False, or None when this benchmark cannot check it.
        evidence: the numbers behind the answer, in one sentence.
    """

    key: str
    claim: str
    holds: bool | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


def _mean(
    summary: pd.DataFrame, strategy: str, metric: str, rule: str = "", in_dist: bool = True
) -> float | None:
    rows = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric) & (summary["rule"] == rule)
                   & (summary["in_distribution"] == in_dist) & (summary["variant"] == "")]  # fmt: skip
    return None if rows.empty else float(rows["mean"].mean())


def _fixed_rule(summary: pd.DataFrame) -> str | None:
    for rule in ("fixed:0.5", "fixed"):
        if (summary["rule"] == rule).any():
            return rule
    return None


def _majority_bias(summary: pd.DataFrame) -> Finding:
    claim = "Trained normally at high imbalance, the model favours the majority at the 0.5 threshold"
    rule = _fixed_rule(summary)
    sens = _mean(summary, BASELINE, "sensitivity", rule or "-")
    spec = _mean(summary, BASELINE, "specificity", rule or "-")
    auc = _mean(summary, BASELINE, "auc_roc")
    if sens is None or spec is None:
        return Finding(
            "majority_bias", claim, None, "no baseline result at the 0.5 threshold in this benchmark."
        )
    auc_text = f" while its AUC is {auc:.3f}" if auc is not None else ""
    return Finding("majority_bias", claim, spec - sens >= 0.5,
                   f"baseline at 0.5: sensitivity {sens:.3f}, specificity {spec:.3f}{auc_text} "
                   "(a gap of 0.5 or more counts as majority bias).")  # fmt: skip


def _similar_aucs(summary: pd.DataFrame, verdicts: pd.DataFrame) -> Finding:
    claim = "Standard techniques (weights, re-sampling, focal loss) do not raise the AUC"
    present = [s for s in (BASELINE, *STANDARD_TECHNIQUES) if _mean(summary, s, "auc_roc") is not None]
    if len(present) < 2 or BASELINE not in present:
        return Finding("similar_aucs", claim, None, "needs the baseline and at least one standard technique.")
    aucs = {s: _mean(summary, s, "auc_roc") or 0.0 for s in present}
    better = []
    if not verdicts.empty:
        rows = verdicts[verdicts["in_distribution"].astype(bool) & verdicts["strategy"].isin(present)
                        & (verdicts["variant"] == "") & verdicts["verdict"].str.startswith("better")]  # fmt: skip
        better = sorted(rows["strategy"].unique())
    gain = max(v for s, v in aucs.items() if s != BASELINE) - aucs[BASELINE]
    holds = not better and gain <= SIMILAR_AUC
    listing = ", ".join(f"{s} {v:.3f}" for s, v in aucs.items())
    tail = (
        f"; significantly better than the baseline: {', '.join(better)}"
        if better
        else "; none is significantly better than the baseline"
    )
    return Finding(
        "similar_aucs",
        claim,
        holds,
        f"mean test AUCs {listing} (best gain over the baseline {gain:+.3f}; up to {SIMILAR_AUC} counts as "
        f"similar){tail}.",
    )


def _undersampling_loss(summary: pd.DataFrame) -> Finding:
    claim = "Under-sampling loses AUC at high imbalance (0.066 at 19:1 in the paper)"
    under, base = _mean(summary, "undersample", "auc_roc"), _mean(summary, BASELINE, "auc_roc")
    if under is None or base is None:
        return Finding(
            "undersampling_loss", claim, None, "needs the baseline and undersample in-distribution."
        )
    return Finding("undersampling_loss", claim, under <= base - AUC_LOSS,
                   f"undersample AUC {under:.3f} vs baseline {base:.3f} (difference {under - base:+.3f}; "
                   f"a loss is counted from {AUC_LOSS}).")  # fmt: skip


def _synthetic_ood(summary: pd.DataFrame, verdicts: pd.DataFrame) -> Finding:
    claim = "Synthetic lesions help most out of distribution (up to +0.07 AUC in the paper)"
    synth = _mean(summary, "synthetic-lesions", "auc_roc", in_dist=False)
    base = _mean(summary, BASELINE, "auc_roc", in_dist=False)
    if synth is None or base is None:
        return Finding("synthetic_ood", claim, None,
                       "needs the baseline and synthetic-lesions tested out of distribution.")  # fmt: skip
    verdict = ""
    if not verdicts.empty:
        rows = verdicts[~verdicts["in_distribution"].astype(bool) & (verdicts["strategy"] == "synthetic-lesions")
                        & (verdicts["variant"] == "")]  # fmt: skip
        verdict = "; paired test: " + "; ".join(rows["verdict"]) if not rows.empty else ""
    return Finding("synthetic_ood", claim, synth >= base + AUC_LOSS,
                   f"out-of-distribution AUC {synth:.3f} vs baseline {base:.3f} "
                   f"(difference {synth - base:+.3f}){verdict}.")  # fmt: skip


def walsh_tardy_findings(summary: pd.DataFrame, verdicts: pd.DataFrame) -> list[Finding]:
    """The four findings, from the leaderboard summary (:func:`summarize_over_seeds`) and the paired verdicts."""
    summary = summary.assign(variant=summary["variant"].fillna("").astype(str),
                             in_distribution=summary["in_distribution"].astype(bool))  # fmt: skip
    return [_majority_bias(summary), _similar_aucs(summary, verdicts), _undersampling_loss(summary),
            _synthetic_ood(summary, verdicts)]  # fmt: skip
