"""The bundle's calibration map equals evaluation's fitted one; the logit map equals the strategy's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medbalance.evaluation.recalibration import fit_calibrator
from medbalance.inference._network import compute_logit_map
from medbalance.inference.calibration import CalibrationMap, choose_calibration, fit_calibration_map


def _val(seed: int = 0, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    s = np.clip(1 / (1 + np.exp(-(2.5 * y - 1.2 + rng.normal(0, 1, n)) * 2)), 1e-4, 1 - 1e-4)  # overconfident
    return y, s


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_map_reproduces_evaluations_calibrator_through_json(method: str) -> None:
    y, s = _val()
    reference = fit_calibrator(y, s, method)  # type: ignore[arg-type]
    stored = CalibrationMap.from_dict(fit_calibration_map(y, s, method).to_dict())
    grid = np.concatenate([np.linspace(0, 1, 101), [1e-9, 1 - 1e-9], s])
    np.testing.assert_allclose(stored.apply(grid), reference.apply(grid), atol=1e-12)


def test_choice_is_made_on_validation_and_prefers_a_map_for_overconfident_scores() -> None:
    y, s = _val()
    method, scores = choose_calibration(y, s)
    assert method in ("temperature", "platt", "isotonic") and scores[method] < scores["none"]
    assert scores[method] == min(scores.values())


def test_choice_needs_two_cases_of_each_class() -> None:
    from medbalance.errors import DataError

    with pytest.raises(DataError, match="pass --calibration"):
        choose_calibration(np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.9]))


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ValueError, match="lacks parameter"):
        CalibrationMap.from_dict({"method": "platt", "params": {"slope": 1.0}})
    with pytest.raises(ValueError, match="not one of"):
        CalibrationMap.from_dict({"method": "beta", "params": {}})


def test_logit_map_equals_the_strategys_posthoc_adjustment() -> None:
    from medbalance.strategies import create_strategy

    classes, counts = ("benign", "malignant"), {"benign": 90, "malignant": 10}
    config = {"strategy": "logit-adjust", "balancing": {"strategy_params": {"mode": "posthoc", "tau": 1.0}}, "seed": 0}
    scale, offset = compute_logit_map(config, classes, counts, "malignant")
    strategy = create_strategy("logit-adjust", mode="posthoc", tau=1.0).fit(
        np.array([0] * 90 + [1] * 10), 2, seed=0, positive_index=1, class_names=list(classes)
    )
    logits = torch.randn(8, 2)
    np.testing.assert_allclose((logits * torch.tensor(scale) + torch.tensor(offset)).numpy(),
                               strategy.adjust_logits(logits).numpy(), atol=1e-6)  # fmt: skip
    assert offset[1] > offset[0]  # the rare class is pushed up
    assert compute_logit_map({"strategy": "none"}, classes, counts, "malignant") == ([1.0, 1.0], [0.0, 0.0])
