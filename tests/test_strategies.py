"""Targeted tests of the imbalance strategies: losses against references, samplers,
composition rules, parameter and fit checks, synthetic-lesion batches, CLI."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from medbalance.cli import main
from medbalance.errors import ConfigError, DataError, TrainingError
from medbalance.strategies import STRATEGIES, ComposedStrategy, create_batch_sampler, create_strategy
from medbalance.strategies.losses import FocalLoss, compute_ldam_margins
from medbalance.strategies.weighting import compute_class_weights

BINARY = np.random.default_rng(0).permutation(np.repeat([0, 1], [190, 10]))
THREE = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [100, 30, 6]))


def _logits(n: int, k: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed)) * 3


# -- losses --------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 5], ids=["binary", "5-class"])
def test_focal_equals_cross_entropy_at_gamma_zero(k: int) -> None:
    z, y = _logits(32, k), torch.arange(32) % k
    loss = create_strategy("focal", gamma=0.0).fit(np.arange(40) % k, k, seed=0).make_loss()
    torch.testing.assert_close(loss(z, y), F.cross_entropy(z, y))


@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0], ids=["g0.5", "g2", "g5"])
def test_binary_focal_equals_torchvision_sigmoid_focal_loss(gamma: float) -> None:
    z, y = _logits(64, 2), torch.arange(64) % 2
    ours = FocalLoss(gamma, alpha=(0.75, 0.25))(z, y)
    reference = sigmoid_focal_loss(z[:, 1] - z[:, 0], y.float(), alpha=0.25, gamma=gamma, reduction="mean")
    torch.testing.assert_close(ours, reference)


def test_focal_down_weights_easy_examples() -> None:
    easy, hard = torch.tensor([[4.0, -4.0]]), torch.tensor([[0.2, -0.2]])
    target = torch.tensor([0])
    focal = FocalLoss(2.0)
    ratio_easy = focal(easy, target) / F.cross_entropy(easy, target)
    ratio_hard = focal(hard, target) / F.cross_entropy(hard, target)
    assert ratio_easy < 1e-3 < ratio_hard < 1
    assert FocalLoss(5.0)(hard, target) < FocalLoss(2.0)(hard, target)


def test_focal_alpha_must_match_the_class_count() -> None:
    with pytest.raises(ConfigError, match="alpha has 2 values but the task has 3 classes"):
        create_strategy("focal", alpha=(1.0, 2.0)).fit(THREE, 3, seed=0)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0], ids=["t0.5", "t1", "t2"])
def test_logit_adjusted_loss_is_cross_entropy_on_shifted_logits(tau: float) -> None:
    z, y = _logits(30, 3), torch.arange(30) % 3
    prior = torch.tensor([100, 30, 6]) / 136
    loss = create_strategy("logit-adjust", tau=tau).fit(THREE, 3, seed=0).make_loss()
    torch.testing.assert_close(loss(z, y), F.cross_entropy(z + tau * prior.log(), y))


def test_logit_adjusted_loss_equals_balanced_softmax_at_tau_one() -> None:
    z, y = _logits(30, 3), torch.arange(30) % 3
    n = torch.tensor([100.0, 30.0, 6.0])
    balanced_softmax = -torch.log(n[y] * z.exp().gather(1, y[:, None]).squeeze(1) / (n * z.exp()).sum(1))
    loss = create_strategy("logit-adjust").fit(THREE, 3, seed=0).make_loss()
    torch.testing.assert_close(loss(z, y), balanced_softmax.mean())


def test_posthoc_logit_adjustment_trains_with_ce_and_shifts_at_inference() -> None:
    z, y = _logits(10, 3), torch.arange(10) % 3
    strategy = create_strategy("logit-adjust", mode="posthoc", tau=0.5).fit(THREE, 3, seed=0)
    assert strategy.hooks == {"posthoc"} and strategy.balances == {"loss"}
    torch.testing.assert_close(strategy.make_loss()(z, y), F.cross_entropy(z, y))
    log_prior = (torch.tensor([100, 30, 6]) / 136).log()
    torch.testing.assert_close(strategy.adjust_logits(z), z - 0.5 * log_prior)
    in_loss = create_strategy("logit-adjust").fit(THREE, 3, seed=0)
    assert in_loss.hooks == {"loss"} and torch.equal(in_loss.adjust_logits(z), z)


def test_ldam_margins_follow_n_to_the_minus_quarter_with_max_half() -> None:
    strategy = create_strategy("ldam-drw").fit(THREE, 3, seed=0)
    margins = np.array(strategy.describe()["margins"])
    np.testing.assert_allclose(margins * np.array([100, 30, 6]) ** 0.25, margins[2] * 6**0.25)
    assert margins.max() == pytest.approx(0.5) and margins.argmax() == 2
    np.testing.assert_allclose(compute_ldam_margins(np.array([16, 1]), 0.5), [0.25, 0.5])


def test_drw_switches_on_at_the_configured_epoch() -> None:
    strategy = create_strategy("ldam-drw").fit(THREE, 3, seed=0)
    loss = strategy.make_loss()
    z, y = _logits(12, 3), torch.arange(12) % 3
    margins = torch.tensor(strategy.describe()["margins"], dtype=torch.float32)
    per_example = F.cross_entropy(30 * (z - F.one_hot(y, 3) * margins[y][:, None]), y, reduction="none")
    drw = torch.as_tensor(
        compute_class_weights(np.array([100, 30, 6]), "effective-number"), dtype=torch.float32
    )
    active = []
    for epoch in range(10):
        strategy.on_epoch_start(epoch, 10)
        active.append(strategy.describe()["drw_active"])
        expected = (drw[y] * per_example).mean() if epoch >= 8 else per_example.mean()
        torch.testing.assert_close(loss(z, y), expected)
    assert active == [False] * 8 + [True] * 2 and strategy.describe()["drw_start_epoch"] == 8
    late = strategy.make_loss()  # a loss made after the switch starts re-weighted
    torch.testing.assert_close(late(z, y), (drw[y] * per_example).mean())
    never = create_strategy("ldam-drw", drw_start=1.0).fit(THREE, 3, seed=0)
    never.on_epoch_start(9, 10)
    assert not never.describe()["drw_active"]
    torch.testing.assert_close(strategy.adjust_logits(z), 30 * z)
    with pytest.raises(ConfigError, match="max_epochs must be an integer >= 1"):
        strategy.on_epoch_start(0, 0)


# -- class weights -------------------------------------------------------------


def test_class_weight_schemes_against_their_formulas() -> None:
    n = np.array([190.0, 10.0])
    np.testing.assert_allclose(compute_class_weights(n, "inverse"), [1.0, 19.0])
    np.testing.assert_allclose(compute_class_weights(n, "inverse-sqrt"), [1.0, np.sqrt(19.0)])
    beta = 0.99
    raw = (1 - beta) / (1 - beta**n)
    np.testing.assert_allclose(compute_class_weights(n, "effective-number", beta=beta), raw / raw.sum() * 2)
    three = np.array([100.0, 30.0, 6.0])
    np.testing.assert_allclose(compute_class_weights(three, "inverse"), 100 / three)
    strategy = create_strategy("class-weight", scheme="explicit", weights=(1.0, 4.0)).fit(BINARY, 2, seed=0)
    assert strategy.describe()["class_weights"] == [1.0, 4.0]


def test_class_weight_uses_global_counts_exactly() -> None:
    loss = create_strategy("class-weight").fit(BINARY, 2, seed=0).make_loss()
    z = torch.zeros(1, 2)
    ratio = loss(z, torch.tensor([1])) / loss(z, torch.tensor([0]))
    assert ratio.item() == pytest.approx(190 / 10)


def test_absent_class_gets_finite_weights() -> None:
    labels = np.repeat([0, 1], [50, 5])
    for name in ("class-weight", "logit-adjust", "ldam-drw", "weighted-sampler"):
        info = create_strategy(name).fit(labels, 3, seed=0).describe()
        values = [
            v
            for key in ("class_weights", "log_prior", "margins", "example_weight_per_class")
            for v in info.get(key, [])
        ]
        assert values and np.isfinite(values).all(), name


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"scheme": "inverze"}, "did you mean 'inverse'"),
        ({"scheme": "explicit"}, "needs weights"),
        ({"weights": (1.0, 2.0)}, "only used with scheme='explicit'"),
        ({"beta": 1.0}, r"beta must be in \(0, 1\), got 1.0"),
        ({"betta": 0.9}, "did you mean 'beta'"),
    ],
    ids=["scheme-typo", "explicit-no-weights", "weights-wrong-scheme", "beta-range", "param-typo"],
)
def test_class_weight_parameter_errors(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=f"(?i){match}"):
        create_strategy("class-weight", **params)


def test_explicit_weights_must_match_the_class_count() -> None:
    strategy = create_strategy("class-weight", scheme="explicit", weights=(1.0, 2.0))
    with pytest.raises(ConfigError, match=r"one weight per class \(3\), got 2"):
        strategy.fit(THREE, 3, seed=0)


def test_parameters_typed_as_text_are_parsed() -> None:
    strategy = create_strategy("focal", gamma="1.5", alpha="1,3")
    assert strategy.params.gamma == 1.5 and strategy.params.alpha == (1.0, 3.0)
    with pytest.raises(ConfigError, match="expected a number"):
        create_strategy("focal", gamma="strong")
    with pytest.raises(ConfigError, match="gamma must be >= 0"):
        create_strategy("focal", gamma=-1)
    with pytest.raises(ConfigError, match="takes no parameters"):
        create_strategy("oversample", ratio=2)


# -- samplers ------------------------------------------------------------------


def test_oversample_follows_walsh_and_tardy() -> None:
    sampler = create_strategy("oversample").fit(BINARY, 2, seed=0).make_batch_sampler(8)
    batches = list(sampler)
    assert len(batches) == 48 == len(sampler), "the epoch ends when the 190 majority examples are used"
    assert all((BINARY[b] == 0).sum() * 2 == len(b) for b in batches), "half of each batch is majority"
    assert [len(b) for b in batches] == [8] * 47 + [4]
    majority = np.concatenate([np.array(b)[BINARY[b] == 0] for b in batches])
    assert sorted(majority) == sorted(np.flatnonzero(BINARY == 0)), "each majority example once per epoch"


def test_undersample_ratio_sets_the_minority_share() -> None:
    strategy = create_strategy("undersample", ratio=2.0).fit(BINARY, 2, seed=0)
    drawn = BINARY[np.concatenate(list(create_batch_sampler(strategy, 8)))]
    assert np.bincount(drawn).tolist() == [20, 10]


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0], ids=["a0", "a0.5", "a1"])
def test_weighted_sampler_draws_in_proportion_to_count_power(alpha: float) -> None:
    strategy = create_strategy("weighted-sampler", alpha=alpha, num_samples=2000).fit(THREE, 3, seed=0)
    sampler = strategy.make_batch_sampler(50)
    drawn = np.concatenate([THREE[np.concatenate(list(sampler))] for _ in range(1)])
    counts = np.array([100.0, 30.0, 6.0])
    expected = counts ** (1 - alpha) / (counts ** (1 - alpha)).sum()
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / len(drawn), expected, atol=0.035)


def test_weighted_sampler_without_replacement_checks_num_samples() -> None:
    with pytest.raises(ConfigError, match="exceeds the 136 training examples"):
        create_strategy("weighted-sampler", num_samples=500, replacement=False).fit(THREE, 3, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"rank": 2, "num_replicas": 2}, "rank must be in"), ({"num_replicas": 0}, "num_replicas must be")],
    ids=["rank", "replicas"],
)
def test_sampler_argument_errors(kwargs: dict, match: str) -> None:
    strategy = create_strategy("oversample").fit(BINARY, 2, seed=0)
    with pytest.raises(ConfigError, match=match):
        strategy.make_batch_sampler(8, **kwargs)
    sampler = strategy.make_batch_sampler(8)
    with pytest.raises(ConfigError, match="epoch must be an integer >= 0"):
        sampler.set_epoch(-1)


def test_padding_gives_every_rank_the_same_batch_count() -> None:
    strategy = create_strategy("none").fit(np.repeat([0, 1], [20, 5]), 2, seed=0)
    ranks = [create_batch_sampler(strategy, 8, num_replicas=3, rank=r) for r in range(3)]
    assert [len(list(s)) for s in ranks] == [2, 2, 2] == [len(s) for s in ranks]
    dropped = [create_batch_sampler(strategy, 8, num_replicas=3, rank=r, drop_last=True) for r in range(3)]
    assert [len(list(s)) for s in dropped] == [1, 1, 1]


# -- synthetic lesions ---------------------------------------------------------


def test_synthetic_lesion_batches_are_half_benign_then_real_then_copies() -> None:
    strategy = create_strategy("synthetic-lesions").fit(BINARY, 2, seed=0, positive_index=1)
    batches = list(strategy.make_batch_sampler(8))
    assert len(batches) == 48, "the epoch ends when the 190 benign images are used, 4 per batch"
    for batch in batches[:-1]:
        assert BINARY[batch].tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
        assert set(batch[6:]) <= set(batch[:4]), "synthetic places copy benign images of the batch"
    assert BINARY[batches[-1]].tolist() == [0, 0, 1, 0], "the 2 benign left make a batch of 4"
    benign = np.concatenate([b[:4] for b in batches[:-1]] + [batches[-1][:2]])
    assert sorted(benign) == sorted(np.flatnonzero(BINARY == 0))
    quarter = create_strategy("synthetic-lesions", real_fraction=0.25).fit(
        BINARY, 2, seed=0, positive_index=1
    )
    assert quarter.batch_layout().__dict__ == {"benign": 4, "real": 1, "synthetic": 3}


def test_synthetic_lesions_needs_the_positive_class() -> None:
    with pytest.raises(ConfigError, match="needs positive_index"):
        create_strategy("synthetic-lesions").fit(BINARY, 2, seed=0)
    with pytest.raises(ConfigError, match="Did you mean 'mass'"):
        create_strategy("synthetic-lesions", kinds=("masss",))


def _breast_batch(batch: list[int], size: int = 48, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.zeros(len(batch), channels, size, size)
    images[:, :, 2:-2, : size * 2 // 3] = 0.35 + 0.1 * torch.rand(
        len(batch), channels, size - 4, size * 2 // 3
    )
    return images, torch.as_tensor(BINARY[batch])


def test_transform_batch_relabels_exactly_the_synthetic_places(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_insert_lesions(image, breast_mask, *, kinds, n, spacing_mm, rng):
        calls.append((breast_mask.copy(), image.copy(), kinds, n, spacing_mm))
        out = image.copy()
        out[10, 10] = 1.0
        return out, ["record"]

    fake = types.ModuleType("medbalance.synth.insertion")
    fake.insert_lesions = fake_insert_lesions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "medbalance.synth.insertion", fake)
    strategy = create_strategy("synthetic-lesions").fit(BINARY, 2, seed=0, positive_index=1)
    batch = next(iter(strategy.make_batch_sampler(8)))
    images, targets = _breast_batch(batch)
    out, new = strategy.transform_batch(
        images, targets, spacing_mm=torch.full((8,), 0.7), generator=np.random.default_rng(0)
    )
    assert new.tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and targets.tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
    changed = (out != images).flatten(1).any(1).tolist()
    assert changed == [False] * 6 + [True] * 2
    mask, grey, kinds, n, spacing = calls[0]
    assert np.array_equal(mask, grey > 0) and kinds == ("mass", "calcification", "distortion")
    assert n == (1, 3) and spacing == pytest.approx(0.7)
    strategy.transform_batch(images, targets, spacing_mm=None, generator=np.random.default_rng(0))
    assert calls[-1][4] == pytest.approx(200.0 / 48)
    with pytest.raises(TrainingError, match="make_batch_sampler"):
        strategy.transform_batch(
            images, torch.ones(8, dtype=torch.long), spacing_mm=None, generator=np.random.default_rng(0)
        )


def test_transform_batch_inserts_real_lesions_into_tiny_images() -> None:
    pytest.importorskip("medbalance.synth.insertion")
    strategy = create_strategy("synthetic-lesions", kinds=("mass",)).fit(BINARY, 2, seed=0, positive_index=1)
    batch = next(iter(strategy.make_batch_sampler(4)))
    images, targets = _breast_batch(batch, size=64, channels=3)
    out, new = strategy.transform_batch(images, targets, spacing_mm=None, generator=np.random.default_rng(1))
    assert new.tolist() == [0, 0, 1, 1]
    assert (out[3] != images[3]).any() and torch.equal(out[:3], images[:3])
    delta = out[3] - images[3]
    torch.testing.assert_close(delta[0], delta[1], msg="the lesion is added to every channel")
    assert out.min() >= 0 and out.max() <= 1
    again, _ = strategy.transform_batch(images, targets, spacing_mm=None, generator=np.random.default_rng(1))
    assert torch.equal(out, again), "same generator, same lesions"
    assert strategy.describe()["synthetic_images"] == 2


# -- composition ---------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "oversample+class-weight",
        "weighted-sampler+logit-adjust",
        "synthetic-lesions+ldam-drw",
        "undersample+focal",
    ],
    ids=["over+cw", "weighted+la", "synth+ldam", "under+focal-alpha"],
)
def test_double_balancing_is_refused_with_an_explanation(spec: str) -> None:
    params = {"alpha": (1.0, 19.0)} if spec.endswith("focal") else {}
    with pytest.raises(ConfigError, match="double balancing") as info:
        create_strategy(spec, **params)
    assert "--allow-double-balancing" in str(info.value) and "over-predicts" in str(info.value)
    composed = create_strategy(spec, allow_double_balancing=True, **params)
    assert isinstance(composed, ComposedStrategy) and composed.balances == {"sampling", "loss"}


def test_two_balancing_losses_are_double_balancing_too() -> None:
    with pytest.raises(ConfigError, match="double balancing"):
        create_strategy("class-weight+logit-adjust", mode="posthoc")


def test_allowed_composition_uses_each_part_for_its_hook() -> None:
    composed = create_strategy("oversample+focal+threshold", gamma=1.0).fit(
        BINARY, 2, seed=3, positive_index=1
    )
    assert composed.hooks == {"sampling", "loss", "posthoc"} and composed.name == "oversample+focal+threshold"
    alone = create_strategy("oversample").fit(BINARY, 2, seed=3)
    assert list(composed.make_batch_sampler(8)) == list(alone.make_batch_sampler(8))
    z, y = _logits(8, 2), torch.arange(8) % 2
    torch.testing.assert_close(composed.make_loss()(z, y), FocalLoss(1.0)(z, y))
    info = composed.describe()
    assert info["params"]["focal"]["gamma"] == 1.0 and info["parts"][0]["name"] == "oversample"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("oversample+undersample", "at most one strategy may define the sampling"),
        ("focal+ldam-drw", "at most one strategy may define the loss"),
        ("none+focal", "'none' means no imbalance handling"),
        ("focal+focal", "names a strategy twice"),
        ("oversample+", "empty name"),
        ("oversampel", "did you mean 'oversample'"),
    ],
    ids=["two-samplers", "two-losses", "none", "duplicate", "empty", "typo"],
)
def test_composition_errors(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=f"(?i){match}"):
        create_strategy(spec)


def test_parameters_are_routed_to_their_part() -> None:
    composed = create_strategy("weighted-sampler+focal", **{"weighted-sampler.alpha": 0.5, "gamma": 3.0})
    assert isinstance(composed, ComposedStrategy)
    assert composed.parts[0].params.alpha == 0.5 and composed.parts[1].params.gamma == 3.0
    with pytest.raises(ConfigError, match="belongs to weighted-sampler, focal"):
        create_strategy("weighted-sampler+focal", alpha=0.5)
    with pytest.raises(ConfigError, match="Did you mean 'gamma'"):
        create_strategy("oversample+focal", gama=1.0)


# -- fit checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "kwargs", "error", "match"),
    [
        (np.array([0.0, 1.0, 1.0]), {}, DataError, "integer class indices"),
        (np.array([[0, 1], [1, 0]]), {}, DataError, "1-D array"),
        (np.array([0, 1, 2]), {}, DataError, r"labels must lie in \[0, 2\)"),
        (np.array([], dtype=int), {}, DataError, "empty"),
        (np.array([0, 1]), {"seed": -1}, ConfigError, "seed must be an integer >= 0"),
        (np.array([0, 1]), {"seed": True}, ConfigError, "seed must be an integer"),
        (
            np.array([0, 1]),
            {"positive_index": 2},
            ConfigError,
            "positive_index must be None or a class index",
        ),
        (np.array([0, 1]), {"class_names": ("a",)}, ConfigError, "class_names has 1 names"),
    ],
    ids=["float", "2d", "range", "empty", "seed-negative", "seed-bool", "positive", "names"],
)
def test_fit_rejects_bad_inputs(labels, kwargs: dict, error: type, match: str) -> None:
    kwargs = {"seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        create_strategy("oversample").fit(labels, 2, **kwargs)


# -- CLI -----------------------------------------------------------------------


def test_cli_lists_every_strategy_with_hooks_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in STRATEGIES.names():
        assert name in out
    for text in (
        "gamma=2.0",
        "drw_start=0.8",
        "beta=0.9999",
        "real_fraction=0.5",
        "posthoc",
        "double balancing",
    ):
        assert text in out
