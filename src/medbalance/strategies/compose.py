"""Composing strategies: ``"oversample+focal"``, ``"undersample+threshold"``, ...

Rules, checked when the composition is built:

* at most one strategy with a sampling hook (one batch sampler per loader);
* at most one strategy with a loss hook (one training loss);
* no double balancing: at most one part may rebalance (``balances`` not
  empty). A balanced sampler with class weights, focal alpha, logit adjustment
  or LDAM-DRW, or two of those losses, are refused, because each alone already
  corrects for the imbalance; together the minority is over-corrected
  (weighted about ``n_majority / n_minority`` times too much) and the model
  over-predicts it.
  ``allow_double_balancing=True`` (CLI ``--allow-double-balancing``) runs it anyway.

Batch transforms and post-hoc logit adjustments of the parts are applied in
the order the parts are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Sampler

from medbalance.errors import ConfigError
from medbalance.strategies._params import NoParams
from medbalance.strategies.base import Balance, Hook, Strategy

__all__ = ["ComposedStrategy", "check_composition"]


def _names(parts: Sequence[Strategy]) -> str:
    return ", ".join(repr(p.name) for p in parts)


def check_composition(parts: Sequence[Strategy], *, allow_double_balancing: bool = False) -> None:
    """Raise ConfigError when ``parts`` cannot be combined (see the module doc)."""
    spec = "+".join(p.name for p in parts)
    names = [p.name for p in parts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"strategy {spec!r} names {', '.join(duplicates)} twice; name each strategy once.")
    if "none" in names:
        raise ConfigError(
            f"strategy {spec!r}: 'none' means no imbalance handling and cannot be combined; drop it."
        )
    for hook in ("sampling", "loss"):
        users = [p for p in parts if hook in p.hooks]
        if len(users) > 1:
            raise ConfigError(
                f"strategy {spec!r}: at most one strategy may define the {hook}, got {_names(users)}. "
                f"Keep one of them."
            )
    balancers = [p for p in parts if p.balances]
    if len(balancers) > 1 and not allow_double_balancing:
        first, second = balancers[0], balancers[1]
        raise ConfigError(
            f"strategy {spec!r} balances twice (double balancing): {first.name!r} already rebalances "
            f"the {_what(first)}, and {second.name!r} corrects the {_what(second)} for the original class "
            "counts on top of that. Each alone corrects the imbalance; together the minority class is "
            "weighted about n_majority/n_minority times too much and the model over-predicts it. Use one "
            "of them (a sampler combines with focal without alpha, or with threshold), or pass "
            "allow_double_balancing=True (CLI: --allow-double-balancing) to run the combination on purpose."
        )


def _what(part: Strategy) -> str:
    return "batches" if "sampling" in part.balances else "loss"


class ComposedStrategy(Strategy):
    """Several strategies acting through different hooks, as one strategy.

    Args:
        parts: the strategies, built but not fitted, in the order named.
        allow_double_balancing: accept a sampling balancer with a loss balancer.
    """

    def __init__(self, parts: Sequence[Strategy], *, allow_double_balancing: bool = False) -> None:
        if len(parts) < 2:
            raise ConfigError(f"a composition needs at least 2 strategies, got {len(parts)}.")
        check_composition(parts, allow_double_balancing=allow_double_balancing)
        self.parts = tuple(parts)
        self.params = NoParams()
        self._fitted = False
        self.allow_double_balancing = allow_double_balancing
        self.name = "+".join(p.name for p in parts)
        self.description = "; ".join(p.description for p in parts)
        self.hooks = frozenset[Hook]().union(*(p.hooks for p in parts))
        self.balances = frozenset[Balance]().union(*(p.balances for p in parts))
        self.binary_only = any(p.binary_only for p in parts)
        self.classifier_head = "cosine" if any(p.classifier_head == "cosine" for p in parts) else "linear"

    def __repr__(self) -> str:
        return f"ComposedStrategy({list(self.parts)!r})"

    def _part(self, hook: Hook) -> Strategy | None:
        return next((p for p in self.parts if hook in p.hooks), None)

    def _fit(self) -> None:
        for part in self.parts:
            part.fit(
                self.labels_,
                self.num_classes_,
                seed=self.seed_,
                positive_index=self.positive_index_,
                class_names=self.class_names_,
            )

    def _make_batch_sampler(
        self, batch_size: int, *, num_replicas: int = 1, rank: int = 0, drop_last: bool = False
    ) -> Sampler[list[int]] | None:
        part = self._part("sampling")
        if part is None:
            return None
        return part.make_batch_sampler(batch_size, num_replicas=num_replicas, rank=rank, drop_last=drop_last)

    def _make_loss(self) -> nn.Module:
        part = self._part("loss")
        return part.make_loss() if part is not None else super()._make_loss()

    def _on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        for part in self.parts:
            part.on_epoch_start(epoch, max_epochs)

    def _transform_batch(
        self,
        images: Tensor,
        targets: Tensor,
        *,
        spacing_mm: Tensor | None,
        generator: np.random.Generator,
    ) -> tuple[Tensor, Tensor]:
        for part in self.parts:
            if "batch" in part.hooks:
                images, targets = part.transform_batch(
                    images, targets, spacing_mm=spacing_mm, generator=generator
                )
        return images, targets

    def _adjust_logits(self, logits: Tensor) -> Tensor:
        for part in self.parts:
            if "posthoc" in part.hooks:
                logits = part.adjust_logits(logits)
        return logits

    def _expected_class_shares(self) -> np.ndarray:
        part = self._part("sampling")
        return part.expected_class_shares() if part is not None else super()._expected_class_shares()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["params"] = {p.name: p.describe()["params"] for p in self.parts}
        info["allow_double_balancing"] = self.allow_double_balancing
        info["parts"] = [p.describe() for p in self.parts]
        return info
