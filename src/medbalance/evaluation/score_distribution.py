"""Score distributions per true class, and the overconfidence warning.

Walsh & Tardy (2023, Figure 2) show histograms of the malignancy score per
true class; after over-sampling, the model overfits the few repeated
positives and its scores pile up at 0 and 1, so the probabilities say
"certain" far more often than the model is right.

Overconfidence rule (documented in docs/evaluation-outputs.md): for each true
class k, look at the probability the model gives to class k on the cases of
class k (for a binary model: the positive-class score of positives, and one
minus it for negatives). The share of those cases below ``extreme`` (default
0.02: confidently wrong) plus the share above ``1 - extreme`` (confidently
right) is the class's *extreme share*. A class whose extreme share exceeds
``max_share`` (default 0.5) is flagged. The warning names the class, the
shares and the number of confidently wrong cases. It asks for a look at the
histogram and at the calibration slope; it is not proof of a fault, since a
calibrated model at very low prevalence may legitimately give most negatives
scores below 0.02.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medbalance.evaluation._checks import check_multiclass

__all__ = [
    "ClassExtremes",
    "OverconfidenceReport",
    "ScoreHistograms",
    "check_overconfidence",
    "compute_score_histograms",
]


def _check_inputs(y_true: object, proba: object, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    p_array = np.asarray(proba)
    if p_array.ndim != 2 or p_array.shape[1] != len(class_names):
        raise ValueError(
            f"proba must have shape (N, {len(class_names)}) for classes {list(class_names)}, got {p_array.shape}."
        )
    y, p = check_multiclass(y_true, p_array, p_array.shape[1])
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("proba must hold probabilities in [0, 1]; pass prob_<class> values, not logits.")
    return y, p


@dataclass(frozen=True)
class ScoreHistograms:
    """Histograms of one class's probability, one histogram per true class.

    Attributes:
        score_class: the class whose probability is histogrammed (the positive class for binary).
        edges: bin edges on [0, 1].
        counts: true class name -> counts per bin.
    """

    score_class: str
    edges: np.ndarray
    counts: dict[str, np.ndarray]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "score_class": self.score_class,
            "edges": [float(e) for e in self.edges],
            "counts": {name: [int(c) for c in counts] for name, counts in self.counts.items()},
        }


def compute_score_histograms(
    y_true: object, proba: object, class_names: Sequence[str], *, score_class: str, n_bins: int = 20
) -> ScoreHistograms:
    """Histogram of ``proba[:, score_class]`` for the cases of each true class.

    Args:
        y_true: class indices 0..K-1.
        proba: (N, K) probabilities.
        class_names: names in index order.
        score_class: which class's probability to histogram (e.g. "malignant").
        n_bins: equal-width bins on [0, 1].
    """
    y, p = _check_inputs(y_true, proba, class_names)
    if score_class not in class_names:
        raise ValueError(f"score_class {score_class!r} is not one of {list(class_names)}.")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}.")
    column = p[:, list(class_names).index(score_class)]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = {name: np.histogram(column[y == k], bins=edges)[0] for k, name in enumerate(class_names)}
    return ScoreHistograms(score_class, edges, counts)


@dataclass(frozen=True)
class ClassExtremes:
    """How a true class's own probability is spread towards 0 and 1."""

    n: int
    share_confidently_wrong: float | None
    share_confidently_right: float | None

    @property
    def share_extreme(self) -> float | None:
        """Share below ``extreme`` plus share above ``1 - extreme`` (None for an absent class)."""
        if self.share_confidently_wrong is None or self.share_confidently_right is None:
            return None
        return self.share_confidently_wrong + self.share_confidently_right

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "n": self.n,
            "share_confidently_wrong": self.share_confidently_wrong,
            "share_confidently_right": self.share_confidently_right,
            "share_extreme": self.share_extreme,
        }


@dataclass(frozen=True)
class OverconfidenceReport:
    """Per-class extreme shares, the flagged classes and the warning text ("" when none)."""

    extreme: float
    max_share: float
    per_class: dict[str, ClassExtremes]
    flagged: tuple[str, ...]
    warning: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "rule": (
                f"a class is flagged when more than {self.max_share:.0%} of its cases get a probability "
                f"for their own class below {self.extreme} or above {1 - self.extreme}"
            ),
            "extreme": self.extreme,
            "max_share": self.max_share,
            "per_class": {name: c.to_dict() for name, c in self.per_class.items()},
            "flagged": list(self.flagged),
            "warning": self.warning,
        }


def check_overconfidence(
    y_true: object,
    proba: object,
    class_names: Sequence[str],
    *,
    extreme: float = 0.02,
    max_share: float = 0.5,
) -> OverconfidenceReport:
    """Flag classes whose scores pile up at 0 and 1 (the over-sampling failure).

    Args:
        y_true: class indices 0..K-1.
        proba: (N, K) probabilities (for binary: the two prob_<class> columns).
        class_names: names in index order.
        extreme: a probability below this (or above 1 - this) counts as extreme.
        max_share: flag a class when its extreme share is above this.
    """
    if not 0.0 < extreme < 0.5:
        raise ValueError(f"extreme must lie in (0, 0.5), e.g. 0.02; got {extreme!r}.")
    if not 0.0 < max_share < 1.0:
        raise ValueError(f"max_share must lie in (0, 1), e.g. 0.5; got {max_share!r}.")
    y, p = _check_inputs(y_true, proba, class_names)
    per_class: dict[str, ClassExtremes] = {}
    for k, name in enumerate(class_names):
        own = p[y == k, k]
        if own.size == 0:
            per_class[name] = ClassExtremes(0, None, None)
            continue
        per_class[name] = ClassExtremes(
            int(own.size), float(np.mean(own < extreme)), float(np.mean(own > 1.0 - extreme))
        )
    flagged = tuple(
        name for name, c in per_class.items() if c.share_extreme is not None and c.share_extreme > max_share
    )
    lines = [
        f"class {name!r}: {c.share_extreme:.0%} of its {c.n} cases score < {extreme} or > {1 - extreme} "
        f"for their own class ({round((c.share_confidently_wrong or 0.0) * c.n)} confidently wrong)"
        for name, c in per_class.items()
        if name in flagged and c.share_extreme is not None
    ]
    warning = (
        "OVERCONFIDENCE: scores pile up at 0 and 1 (" + "; ".join(lines) + "). Over-sampling can overfit the "
        "repeated cases this way (Walsh & Tardy 2023); check the score histograms and the calibration slope, "
        "and prefer recalibrated probabilities."
        if flagged
        else ""
    )
    return OverconfidenceReport(float(extreme), float(max_share), per_class, flagged, warning)
