"""Imbalance strategies: one registry, four hooks, one conformance suite.

Every strategy is built by name (``create_strategy("focal", gamma=1.5)``),
fitted once on the training labels, and asked by the training engine for the
hooks it declares: a batch sampler (``sampling``), a loss (``loss``), a batch
transform (``batch``) and a post-hoc logit adjustment (``posthoc``). Names
joined by ``+`` compose (``"oversample+focal"``), under the rules in
:mod:`medbalance.strategies.compose`.

Example:
    >>> import numpy as np
    >>> train_labels = np.array([0] * 90 + [1] * 10)
    >>> strategy = create_strategy("oversample").fit(train_labels, 2, seed=0, positive_index=1)
    >>> sampler = create_batch_sampler(strategy, 8, num_replicas=1, rank=0)
    >>> loss_fn = strategy.make_loss()
    >>> max_epochs, seen = 2, []
    >>> for epoch in range(max_epochs):
    ...     sampler.set_epoch(epoch)
    ...     strategy.on_epoch_start(epoch, max_epochs)
    ...     seen += [i for indices in sampler for i in indices]
    >>> 0.3 < float(np.mean(train_labels[seen])) < 0.7  # about half the drawn images are positive
    True
    >>> summary = {"strategy": strategy.describe()}
    >>> summary["strategy"]["balances"]
    ['sampling']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from medbalance.errors import ConfigError
from medbalance.registry import look_up_option
from medbalance.strategies import losses, posthoc, sampling, synthetic, weighting
from medbalance.strategies._params import ParamInfo, describe_params
from medbalance.strategies.base import HOOKS, STRATEGIES, Hook, Strategy, register_strategy
from medbalance.strategies.compose import ComposedStrategy, check_composition
from medbalance.strategies.sampling import create_batch_sampler

__all__ = [
    "HOOKS",
    "STRATEGIES",
    "ComposedStrategy",
    "Hook",
    "ParamInfo",
    "Strategy",
    "StrategyInfo",
    "check_composition",
    "create_batch_sampler",
    "create_strategy",
    "list_strategies",
    "register_strategy",
]

_ = (losses, posthoc, sampling, synthetic, weighting)  # imported to fill STRATEGIES


@dataclass(frozen=True)
class StrategyInfo:
    """One line of :func:`list_strategies`."""

    name: str
    description: str
    hooks: tuple[str, ...]
    balances: tuple[str, ...]
    binary_only: bool
    params: tuple[ParamInfo, ...]


def list_strategies() -> list[StrategyInfo]:
    """Every registered strategy with its description, hooks and parameters, by name."""
    return [
        StrategyInfo(
            name=entry.name,
            description=entry.description,
            hooks=tuple(h for h in HOOKS if h in entry.obj.hooks),
            balances=tuple(sorted(entry.obj.balances)),
            binary_only=entry.obj.binary_only,
            params=tuple(describe_params(entry.obj.Params)),
        )
        for entry in STRATEGIES.entries()
    ]


def _param_names(cls: type[Strategy]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls.Params)}


def _route_params(classes: dict[str, type[Strategy]], params: dict[str, Any], spec: str) -> dict[str, dict]:
    """Give each keyword parameter to the one part that declares it (or ``part.param``)."""
    routed: dict[str, dict[str, Any]] = {name: {} for name in classes}
    for key, value in params.items():
        part, dot, name = key.rpartition(".")
        name = name.replace("-", "_")
        if dot:
            look_up_option(part, classes, what=f"strategy in {spec!r}")
            owners = [part] if name in _param_names(classes[part]) else []
        else:
            owners = [n for n, cls in classes.items() if name in _param_names(cls)]
        if not owners:
            known = set().union(*(_param_names(c) for c in classes.values()))
            if not known:
                raise ConfigError(f"strategy {spec!r} takes no parameters, got {key!r}. Fix: remove it.")
            look_up_option(name, known, what=f"parameter of strategy {spec!r}")
        if len(owners) > 1:
            raise ConfigError(
                f"parameter {key!r} belongs to {', '.join(owners)} in {spec!r}; name the part, e.g. "
                f"'{owners[0]}.{name}'."
            )
        routed[owners[0]][name] = value
    return routed


def create_strategy(spec: str, *, allow_double_balancing: bool = False, **params: Any) -> Strategy:
    """Build a strategy (unfitted) from its name, or from names joined by ``+``.

    Args:
        spec: a registered name (``"focal"``) or a composition (``"oversample+focal"``).
        allow_double_balancing: accept a composition in which two parts rebalance.
        **params: the strategy's parameters; in a composition each goes to the
            part that declares it (write ``"part.param"`` when two parts do).

    Raises:
        ConfigError: unknown name (with "did you mean"), unknown or invalid
            parameter, or a composition that breaks the rules (double balancing).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"strategy must be a name such as 'oversample', got {spec!r}.")
    names = [n.strip() for n in spec.split("+")]
    if any(not n for n in names):
        raise ConfigError(f"strategy {spec!r} has an empty name around '+'; write e.g. 'oversample+focal'.")
    classes = {n: STRATEGIES.get(n) for n in names}
    if len(classes) < len(names):
        raise ConfigError(f"strategy {spec!r} names a strategy twice; name each strategy once.")
    routed = _route_params(classes, params, spec)
    if len(names) == 1:
        return classes[names[0]](**routed[names[0]])
    parts = [classes[n](**routed[n]) for n in names]
    return ComposedStrategy(parts, allow_double_balancing=allow_double_balancing)
