"""The conformance suite every registered imbalance strategy must pass.

Parametrized over EVERY name in ``STRATEGIES`` and over a binary 19:1 and a
3-class (100/30/6) label set. The promised batch class frequencies and the
reference losses are written here from the strategies' documentation, not read
back from the strategies, so a new strategy fails until its promise is added.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medbalance.errors import ConfigError, DataError
from medbalance.strategies import (
    STRATEGIES,
    Strategy,
    create_batch_sampler,
    create_strategy,
)
from medbalance.strategies.testing import LABEL_SETS, check_strategy

NAMES = STRATEGIES.names()
NATURAL = {"none", "class-weight", "focal", "logit-adjust", "ldam-drw", "threshold"}
ONCE_PER_EPOCH = {"none", "class-weight", "focal", "logit-adjust", "ldam-drw", "threshold", "undersample"}


BATCH = 8


@pytest.fixture(params=NAMES, ids=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=list(LABEL_SETS), ids=list(LABEL_SETS))
def label_set(request: pytest.FixtureRequest) -> tuple[np.ndarray, int, int]:
    return LABEL_SETS[request.param]


def _fit(name: str, label_set: tuple[np.ndarray, int, int], seed: int = 0, **params):
    labels, k, positive = label_set
    strategy = create_strategy(name, **params)
    if strategy.binary_only and k != 2:
        pytest.skip(f"{name} is binary-only (its refusal is tested in test_fit)")
    return strategy.fit(labels, k, seed=seed, positive_index=positive)


def _epoch(sampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return [list(b) for b in sampler]


def test_check_strategy_passes_every_registered_strategy(name: str) -> None:
    """The exported conformance suite (fit, hooks, determinism, shares, loss, DDP, describe)."""
    check_strategy(create_strategy(name))


class _NoSamplerDeclared(Strategy):
    """Declares a sampling hook but never makes a sampler: the suite must say so."""

    name = "broken-sampling"
    hooks = frozenset({"sampling"})


class _FixedLoss(Strategy):
    """A loss without gradients (a constant): the suite must say so."""

    name = "broken-loss"
    hooks = frozenset({"loss"})

    def _make_loss(self) -> torch.nn.Module:
        class Constant(torch.nn.Module):
            def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
                return (logits * 0).sum() + 1.0

        return Constant()


@pytest.mark.parametrize(
    ("broken", "message"),
    [(_NoSamplerDeclared, "sampler must exist exactly when"), (_FixedLoss, "non-zero gradients")],
    ids=["sampler", "loss"],
)
def test_check_strategy_catches_a_broken_user_strategy(broken: type[Strategy], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_strategy(broken())


def test_fit(name: str, label_set) -> None:
    labels, k, positive = label_set
    strategy = create_strategy(name)
    if strategy.binary_only and k != 2:
        with pytest.raises(ConfigError, match="binary tasks only"):
            strategy.fit(labels, k, seed=0, positive_index=positive)
        return
    assert strategy.fit(labels, k, seed=0, positive_index=positive) is strategy
    assert strategy.describe()["class_counts"] == np.bincount(labels, minlength=k).tolist()


@pytest.mark.parametrize("names", [None, ("benign", "malignant")], ids=["indices", "names"])
def test_single_class_is_refused(name: str, names) -> None:
    with pytest.raises(DataError, match="more than 1 class") as info:
        create_strategy(name).fit(np.zeros(50, dtype=int), 2, seed=0, positive_index=1, class_names=names)
    assert ("benign: 50" if names else "0: 50") in str(info.value)


def _promised_shares(name: str, counts: np.ndarray) -> np.ndarray:
    """What docs/strategies.md promises for the class shares of an epoch's batches."""
    if name in NATURAL:
        return counts / counts.sum()
    if name in ("oversample", "weighted-sampler"):
        return (counts > 0) / (counts > 0).sum()
    if name in ("undersample", "undersample-epoch"):
        kept = np.minimum(counts, counts[counts > 0].min())
        return kept / kept.sum()
    if name == "synthetic-lesions":  # per batch of 8: 4 benign + 2 copies to become synthetic, 2 real
        return np.array([6 / 8, 2 / 8])
    raise AssertionError(f"add the batch-frequency promise of strategy {name!r} to the conformance suite")


def test_batch_class_frequencies_match_the_promise(name: str, label_set) -> None:
    labels, k, _ = label_set
    strategy = _fit(name, label_set)
    sampler = create_batch_sampler(strategy, BATCH, drop_last=name == "synthetic-lesions")
    epochs = 5 if name == "weighted-sampler" else 1  # the only sampler whose shares are random
    drawn = np.concatenate([labels[np.concatenate(_epoch(sampler, e))] for e in range(epochs)])
    measured = np.bincount(drawn, minlength=k) / len(drawn)
    promised = _promised_shares(name, np.bincount(labels, minlength=k))
    tolerance = 0.05 if name == "weighted-sampler" else 1e-9
    np.testing.assert_allclose(measured, promised, atol=tolerance)
    np.testing.assert_allclose(strategy.expected_class_shares(), promised, atol=1e-9)


def _reference_loss(name: str, counts: np.ndarray, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example loss as documented, written from the papers' formulas."""
    ce = F.cross_entropy(z, y, reduction="none")
    n = torch.as_tensor(counts, dtype=torch.float32)
    if name == "class-weight":  # inverse: n_max / n_c
        return (n.max() / n)[y] * ce
    if name == "focal":  # gamma 2: (1 - p_y)^2 CE
        return (1 - torch.exp(-ce)) ** 2 * ce
    if name == "logit-adjust":  # CE(z + log prior)
        return F.cross_entropy(z + torch.log(n / n.sum()), y, reduction="none")
    if name == "ldam-drw":  # before DRW: CE(30 (z - m_y e_y)), m ∝ n^-1/4, max 0.5
        m = n**-0.25 * 0.5 / (n**-0.25).max()
        return F.cross_entropy(30 * (z - F.one_hot(y, len(n)) * m[y][:, None]), y, reduction="none")
    if name in ("none", "threshold") or name in ("oversample", "weighted-sampler", "synthetic-lesions"):
        return ce
    if name in ("undersample", "undersample-epoch"):
        return ce
    raise AssertionError(f"add the reference loss of strategy {name!r} to the conformance suite")


def test_effective_loss_weights_match_the_reference(name: str, label_set) -> None:
    labels, k, _ = label_set
    z = torch.randn(12, k, generator=torch.Generator().manual_seed(2))
    y = torch.arange(12) % k
    loss_fn = _fit(name, label_set).make_loss()
    per_example = torch.stack([loss_fn(z[i : i + 1], y[i : i + 1]) for i in range(len(y))])
    expected = _reference_loss(name, np.bincount(labels, minlength=k), z, y)
    torch.testing.assert_close(per_example, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss_fn(z, y), expected.mean(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("drop_last", [True, False], ids=["drop_last", "pad"])
def test_ddp_ranks_share_each_epoch_without_overlap(name: str, label_set, drop_last: bool) -> None:
    labels = label_set[0]
    strategy = _fit(name, label_set)
    ranks = [
        create_batch_sampler(strategy, BATCH, num_replicas=2, rank=r, drop_last=drop_last) for r in (0, 1)
    ]
    single = create_batch_sampler(strategy, BATCH)
    for epoch in (0, 1):
        shares = [_epoch(s, epoch) for s in ranks]
        assert len(shares[0]) == len(shares[1]) == len(ranks[0]) > 0
        everything = _epoch(single, epoch)
        if drop_last:  # together the ranks hold exactly the epoch's full batches, none twice
            full = [b for b in everything if len(b) == BATCH][: 2 * len(shares[0])]
            assert sorted(shares[0] + shares[1]) == sorted(full)
            once = set(range(len(labels))) if name in ONCE_PER_EPOCH else set()
            if name in ("oversample", "synthetic-lesions"):  # majority / benign: once per epoch
                once = set(np.flatnonzero(labels == np.argmax(np.bincount(labels))).tolist())
            if name == "undersample-epoch":
                once = set(range(len(labels)))
            assert not set(np.concatenate(shares[0])) & set(np.concatenate(shares[1])) & once
        else:  # padding repeats leading batches; every batch of the epoch is still served
            assert {tuple(b) for b in everything} == {tuple(b) for b in shares[0] + shares[1]}


def test_undersample_keeps_what_it_promises() -> None:
    labels, k, _ = LABEL_SETS["binary-19to1"]
    fixed = _fit("undersample", LABEL_SETS["binary-19to1"])
    fresh = _fit("undersample-epoch", LABEL_SETS["binary-19to1"])
    minority = set(np.flatnonzero(labels == 1).tolist())
    kept = [
        {i for b in _epoch(create_batch_sampler(s, BATCH), e) for i in b}
        for s in (fixed, fresh)
        for e in (0, 1)
    ]
    assert kept[0] == kept[1], "undersample: the same majority subset every epoch"
    assert kept[2] != kept[3], "undersample-epoch: a fresh majority subset every epoch"
    assert all(minority <= epoch_set and len(epoch_set) == 20 for epoch_set in kept)
    assert Counter(labels[list(kept[0])].tolist()) == {0: 10, 1: 10} and k == 2
