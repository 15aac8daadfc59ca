"""Post-hoc strategies: nothing changes in training, the decision changes afterwards.

``threshold`` trains exactly like ``none``; the operating point (the
probability above which an image is called positive) is chosen on the
validation split by the evaluation stage. It is a registered strategy so that a
benchmark compares it with the training-time techniques under one protocol:
Walsh & Tardy (2023) found that for moderate imbalance, choosing a threshold
after training may be enough.
"""

from __future__ import annotations

from typing import Any

from medbalance.strategies.base import Hook, Strategy, register_strategy

__all__ = ["Threshold"]


@register_strategy(
    "threshold",
    description="no training change; the evaluation moves the operating point after training",
)
class Threshold(Strategy):
    """Threshold moving: natural batches, cross-entropy, logits untouched."""

    hooks: frozenset[Hook] = frozenset({"posthoc"})

    def _describe_fitted(self) -> dict[str, Any]:
        return {"operating_point": "chosen on the validation split by the evaluation stage"}
