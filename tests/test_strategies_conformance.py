"""The conformance suite every registered imbalance strategy must pass.

Parametrized over EVERY name in ``STRATEGIES`` and over a binary 19:1 and a
3-class (100/30/6) label set. The promised batch class frequencies and the
reference losses are written here from the strategies' documentation, not read
back from the strategies, so a new strategy fails until its promise is added.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medbalance.errors import ConfigError, DataError
from medbalance.strategies import HOOKS, STRATEGIES, create_batch_sampler, create_strategy

NAMES = STRATEGIES.names()
NATURAL = {"none", "class-weight", "focal", "logit-adjust", "ldam-drw", "threshold"}
ONCE_PER_EPOCH = {"none", "class-weight", "focal", "logit-adjust", "ldam-drw", "threshold", "undersample"}


def _shuffled(counts: list[int], seed: int = 3) -> np.ndarray:
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return np.random.default_rng(seed).permutation(labels)


LABEL_SETS = {
    "binary-19to1": (_shuffled([190, 10]), 2, 1),
    "3class-100-30-6": (_shuffled([100, 30, 6]), 3, 2),
}
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


def test_hooks_are_declared_and_honoured(name: str, label_set) -> None:
    strategy = _fit(name, label_set)
    assert strategy.hooks <= set(HOOKS) and strategy.balances <= {"sampling", "loss"}
    own = strategy.make_batch_sampler(BATCH)
    assert (own is not None) == ("sampling" in strategy.hooks)
    logits = torch.randn(4, label_set[1])
    if "posthoc" not in strategy.hooks:
        assert torch.equal(strategy.adjust_logits(logits), logits)
    if "batch" not in strategy.hooks:
        images, targets = torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
        out = strategy.transform_batch(images, targets, spacing_mm=None, generator=np.random.default_rng(0))
        assert out[0] is images and out[1] is targets


def test_hooks_need_fit(name: str) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        create_strategy(name).make_loss()


def test_batches_are_deterministic_by_seed_and_epoch(name: str, label_set) -> None:
    first = create_batch_sampler(_fit(name, label_set, seed=5), BATCH)
    again = create_batch_sampler(_fit(name, label_set, seed=5), BATCH)
    other = create_batch_sampler(_fit(name, label_set, seed=6), BATCH)
    assert _epoch(first, 0) == _epoch(again, 0) and _epoch(first, 3) == _epoch(again, 3)
    assert _epoch(first, 0) != _epoch(first, 1), "a new epoch must draw new batches"
    assert _epoch(first, 0) != _epoch(other, 0), "a different seed must draw different batches"


def test_loss_is_deterministic_finite_scalar_with_gradients(name: str, label_set) -> None:
    k = label_set[1]
    logits = torch.randn(16, k, generator=torch.Generator().manual_seed(0), requires_grad=True)
    targets = torch.arange(16) % k
    loss = _fit(name, label_set, seed=1).make_loss()(logits, targets)
    same = _fit(name, label_set, seed=1).make_loss()(logits, targets)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.item() == same.item()
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_sampler_yields_valid_indices(name: str, label_set) -> None:
    labels = label_set[0]
    sampler = create_batch_sampler(_fit(name, label_set), BATCH)
    batches = _epoch(sampler, 0)
    assert len(batches) == len(sampler) > 0
    flat = np.concatenate(batches)
    assert flat.dtype.kind == "i" and flat.min() >= 0 and flat.max() < len(labels)
    assert all(1 <= len(b) <= BATCH for b in batches)


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


def test_describe_is_json_serialisable(name: str, label_set) -> None:
    strategy = create_strategy(name)
    assert json.loads(json.dumps(strategy.describe()))["name"] == name
    strategy = _fit(name, label_set)
    create_batch_sampler(strategy, BATCH)
    strategy.on_epoch_start(0, 10)
    info = json.loads(json.dumps(strategy.describe()))
    assert info["name"] == name and set(info["hooks"]) == set(strategy.hooks)
    assert info["class_counts"] == np.bincount(label_set[0], minlength=label_set[1]).tolist()
    assert math.isclose(sum(info["expected_class_shares"]), 1.0, abs_tol=1e-5)


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
