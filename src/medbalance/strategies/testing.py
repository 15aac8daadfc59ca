"""The conformance checks every imbalance strategy must pass, for your own strategies too.

As imbalanced-learn exports its estimator checks, medbalance exports the checks its
own strategies pass, so a strategy written for a project can be tested the same way:

    >>> from medbalance.strategies import create_strategy
    >>> from medbalance.strategies.testing import check_strategy
    >>> check_strategy(create_strategy("oversample"))  # raises AssertionError on a broken promise

Checked on a binary 19:1 and a 3-class (100/30/6) label set (binary-only strategies on
the first only): fitting returns the strategy and counts the classes; a single-class
label set is refused; hooks cannot run before ``fit``; declared hooks are the ones that
act (a strategy without ``posthoc`` leaves logits alone, one without ``batch`` leaves
batches alone, a sampler exists exactly when ``sampling`` is declared); batches are
fixed by seed and epoch and change with either; indices are valid; the class shares of
an epoch's batches are what :meth:`Strategy.expected_class_shares` promises; the loss is
a finite, deterministic scalar with finite, non-zero gradients; under DDP the ranks serve
the same number of batches and together exactly the epoch's full batches; ``describe()``
is JSON.

What a strategy should promise (its reference loss, its batch shares from the paper)
stays in your own tests: these checks hold a strategy to what it says about itself.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import torch

from medbalance.errors import DataError
from medbalance.strategies.base import HOOKS, Strategy
from medbalance.strategies.sampling import create_batch_sampler

__all__ = ["LABEL_SETS", "check_strategy"]

_BATCH = 8


def _shuffled(counts: list[int], seed: int = 3) -> np.ndarray:
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return np.random.default_rng(seed).permutation(labels)


#: name -> (labels, number of classes, positive index)
LABEL_SETS: dict[str, tuple[np.ndarray, int, int]] = {
    "binary-19to1": (_shuffled([190, 10]), 2, 1),
    "3class-100-30-6": (_shuffled([100, 30, 6]), 3, 2),
}


def _epoch(sampler: object, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)  # type: ignore[attr-defined]
    return [list(b) for b in sampler]  # type: ignore[attr-defined]


def _check(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{where}: {message}")


def check_strategy(strategy: Strategy, *, random_shares_tolerance: float = 0.05) -> None:
    """Run every conformance check on an unfitted ``strategy`` (it is copied, never fitted itself).

    Args:
        strategy: an instance as ``create_strategy`` or your class's constructor returns it.
        random_shares_tolerance: allowed gap between measured and promised class shares
            for a sampler whose shares are random (measured over 5 epochs); a sampler whose
            promise is exact must match to 1e-9 on one epoch.

    Raises:
        AssertionError: naming the strategy, the label set and the broken promise.
    """
    _check(isinstance(strategy, Strategy), repr(strategy), "is not a medbalance Strategy")
    _check(not getattr(strategy, "_fitted", False), strategy.name, "pass an unfitted strategy")
    name = strategy.name or type(strategy).__name__
    fresh = lambda: copy.deepcopy(strategy)  # noqa: E731
    try:
        fresh().make_loss()
    except RuntimeError as error:
        _check("not fitted" in str(error), name, f"make_loss before fit raised {error!r}, not 'not fitted'")
    else:
        raise AssertionError(
            f"{name}: make_loss() before fit() must raise RuntimeError('... not fitted ...')"
        )
    try:
        fresh().fit(np.zeros(50, dtype=int), 2, seed=0, positive_index=1)
    except DataError as error:
        _check("more than 1 class" in str(error), name, f"single-class refusal says {error}")
    else:
        raise AssertionError(f"{name}: a single-class label set must be refused with DataError")
    for set_name, (labels, k, positive) in LABEL_SETS.items():
        if strategy.binary_only and k != 2:
            continue
        _check_on(name, f"{name} on {set_name}", fresh, labels, k, positive, random_shares_tolerance)


def _check_on(name: str, where: str, fresh, labels: np.ndarray, k: int, positive: int, tol: float) -> None:
    def fitted(seed: int = 0) -> Strategy:
        return fresh().fit(labels, k, seed=seed, positive_index=positive)

    strategy = fresh()
    _check(
        strategy.fit(labels, k, seed=0, positive_index=positive) is strategy, where, "fit must return self"
    )
    counts = np.bincount(labels, minlength=k)
    _check(
        strategy.describe().get("class_counts") == counts.tolist(), where, "describe() must count the classes"
    )
    _check(set(strategy.hooks) <= set(HOOKS), where, f"hooks {sorted(strategy.hooks)} outside {list(HOOKS)}")
    _check(
        set(strategy.balances) <= {"sampling", "loss"}, where, "balances must be a subset of {sampling, loss}"
    )
    own = strategy.make_batch_sampler(_BATCH)
    _check((own is not None) == ("sampling" in strategy.hooks), where,
           "a batch sampler must exist exactly when the 'sampling' hook is declared")  # fmt: skip
    logits = torch.randn(4, k, generator=torch.Generator().manual_seed(0))
    if "posthoc" not in strategy.hooks:
        _check(
            torch.equal(strategy.adjust_logits(logits), logits),
            where,
            "adjust_logits changed logits without 'posthoc'",
        )
    if "batch" not in strategy.hooks:
        images, targets = torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
        out = strategy.transform_batch(images, targets, spacing_mm=None, generator=np.random.default_rng(0))
        _check(
            out[0] is images and out[1] is targets, where, "transform_batch changed a batch without 'batch'"
        )

    first, again, other = (create_batch_sampler(fitted(s), _BATCH) for s in (5, 5, 6))
    _check(_epoch(first, 0) == _epoch(again, 0) and _epoch(first, 3) == _epoch(again, 3), where,
           "the same seed and epoch must give the same batches")  # fmt: skip
    _check(_epoch(first, 0) != _epoch(first, 1), where, "a new epoch must draw new batches")
    _check(_epoch(first, 0) != _epoch(other, 0), where, "a different seed must draw different batches")
    batches = _epoch(create_batch_sampler(fitted(), _BATCH), 0)
    flat = np.concatenate(batches) if batches else np.array([], dtype=int)
    _check(len(batches) > 0 and flat.dtype.kind == "i" and flat.min() >= 0 and flat.max() < len(labels), where,
           "batches must hold valid dataset indices")  # fmt: skip
    _check(all(1 <= len(b) <= _BATCH for b in batches), where, f"batches must hold 1..{_BATCH} indices")

    _check_shares(where, fitted(), labels, k, tol)
    _check_loss(where, fitted, k)
    _check_ddp(where, fitted(), labels)

    strategy = fitted()
    create_batch_sampler(strategy, _BATCH)
    strategy.on_epoch_start(0, 10)
    info = json.loads(json.dumps(strategy.describe()))
    _check(
        info.get("name") == name or not info.get("name"),
        where,
        "describe()['name'] must be the strategy's name",
    )
    _check(set(info["hooks"]) == set(strategy.hooks), where, "describe()['hooks'] must list the hooks")
    _check(math.isclose(sum(info["expected_class_shares"]), 1.0, abs_tol=1e-5), where,
           "expected_class_shares must sum to 1")  # fmt: skip


def _check_shares(where: str, strategy: Strategy, labels: np.ndarray, k: int, tol: float) -> None:
    sampler = create_batch_sampler(strategy, _BATCH, drop_last="batch" in strategy.hooks)
    one = np.bincount(labels[np.concatenate(_epoch(sampler, 0))], minlength=k)
    promised = strategy.expected_class_shares()
    if np.allclose(one / one.sum(), promised, atol=1e-9):
        return
    drawn = np.concatenate([labels[np.concatenate(_epoch(sampler, e))] for e in range(5)])
    measured = np.bincount(drawn, minlength=k) / len(drawn)
    _check(bool(np.allclose(measured, promised, atol=tol)), where,
           f"batches hold class shares {np.round(measured, 3).tolist()}, "
           f"expected_class_shares() promises {np.round(promised, 3).tolist()}")  # fmt: skip


def _check_loss(where: str, fitted, k: int) -> None:
    logits = torch.randn(16, k, generator=torch.Generator().manual_seed(0), requires_grad=True)
    targets = torch.arange(16) % k
    loss = fitted(1).make_loss()(logits, targets)
    same = fitted(1).make_loss()(logits, targets)
    _check(
        loss.ndim == 0 and bool(torch.isfinite(loss)), where, f"the loss must be a finite scalar, got {loss}"
    )
    _check(loss.item() == same.item(), where, "the loss must be deterministic for a seed")
    loss.backward()
    grad = logits.grad
    _check(grad is not None and bool(torch.isfinite(grad).all()) and grad.abs().sum().item() > 0, where,
           "the loss must give finite, non-zero gradients")  # fmt: skip


def _check_ddp(where: str, strategy: Strategy, labels: np.ndarray) -> None:
    ranks = [create_batch_sampler(strategy, _BATCH, num_replicas=2, rank=r, drop_last=True) for r in (0, 1)]
    single = create_batch_sampler(strategy, _BATCH)
    for epoch in (0, 1):
        shares = [_epoch(s, epoch) for s in ranks]
        served = len(ranks[0])  # type: ignore[arg-type]
        _check(
            len(shares[0]) == len(shares[1]) == served > 0,
            where,
            "DDP ranks must serve the same number of batches",
        )
        full = [b for b in _epoch(single, epoch) if len(b) == _BATCH][: 2 * len(shares[0])]
        _check(sorted(shares[0] + shares[1]) == sorted(full), where,
               "together the DDP ranks must hold exactly the epoch's full batches")  # fmt: skip
