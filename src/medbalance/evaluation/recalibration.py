"""Recalibration fitted on validation and applied to test: temperature, Platt, isotonic.

* Temperature scaling (Guo et al. 2017): one parameter T > 0, probabilities
  from logits / T; T is found by minimising the validation negative
  log-likelihood (SciPy bounded search over log T in [0.01, 100]). It rescales
  confidence and never changes the ranking (AUC) or the arg-max.
* Platt scaling: p' = sigmoid(a * logit(p) + b), an unpenalised scikit-learn
  logistic regression of the validation outcome on logit(p) (the same fit as
  the calibration slope and intercept). Ranking is kept when a > 0.
* Isotonic regression (scikit-learn ``IsotonicRegression``, clipped to [0, 1]
  and to the validation score range): a monotone step function; it may tie
  cases and so change AUC slightly.

:func:`compare_calibrators` fits each on validation and reports ECE and Brier
on test before and after, so the report shows whether recalibration helped on
cases it did not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.special import expit, softmax

from medbalance.errors import DataError
from medbalance.evaluation._checks import check_binary, check_multiclass
from medbalance.evaluation._fits import fit_logistic, fit_temperature_value
from medbalance.evaluation.calibration import BinStrategy, compute_ece, logit
from medbalance.evaluation.metrics import compute_binary_metric
from medbalance.evaluation.undefined import MetricValue
from medbalance.registry import look_up_option

__all__ = [
    "CALIBRATION_METHODS",
    "CalibrationMethod",
    "Calibrator",
    "RecalibrationResult",
    "apply_temperature",
    "compare_calibrators",
    "fit_calibrator",
    "fit_temperature",
]

CalibrationMethod = Literal["temperature", "platt", "isotonic"]
CALIBRATION_METHODS: tuple[str, ...] = ("temperature", "platt", "isotonic")


def fit_temperature(y_val: object, logits_val: object) -> float:
    """Temperature T minimising the validation NLL.

    Args:
        y_val: 0/1 labels with (N,) logits of the positive class, or class
            indices with (N, K) logits.
        logits_val: validation logits (not probabilities).

    Raises:
        DataError: the validation set holds one class only (T is then unbounded).
    """
    z = np.asarray(logits_val)
    if z.ndim == 1:
        y, z = check_binary(y_val, z, score_name="logits_val")
    elif z.ndim == 2:
        y, z = check_multiclass(y_val, z, z.shape[1])
    else:
        raise ValueError(f"logits_val must have shape (N,) or (N, K), got {z.shape}.")
    if np.unique(y).size < 2:
        raise DataError(
            "temperature scaling needs at least two classes in the validation set, got one; "
            "use a class-stratified validation split."
        )
    return fit_temperature_value(z, y)


def apply_temperature(logits: object, temperature: float) -> np.ndarray:
    """sigmoid(logits / T) for (N,) logits, softmax(logits / T) for (N, K)."""
    if not (isinstance(temperature, int | float) and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}.")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    if z.ndim == 1:
        return np.asarray(expit(z))
    if z.ndim == 2:
        return np.asarray(softmax(z, axis=1))
    raise ValueError(f"logits must have shape (N,) or (N, K), got {z.shape}.")


@dataclass(frozen=True)
class Calibrator:
    """A recalibration map fitted on validation; ``apply`` maps positive-class probabilities.

    Attributes:
        method: "temperature", "platt" or "isotonic".
        params: fitted parameters (temperature; slope and intercept; number of steps).
    """

    method: str
    params: dict[str, float]
    model: Any = field(default=None, compare=False, repr=False)

    def apply(self, score: object) -> np.ndarray:
        """Recalibrated probabilities for positive-class probabilities ``score``."""
        s = np.asarray(score, dtype=np.float64)
        if s.ndim != 1:
            raise ValueError(f"score must be 1-D positive-class probabilities, got shape {s.shape}.")
        if self.method == "temperature":
            return apply_temperature(logit(s), self.params["temperature"])
        if self.method == "platt":
            return np.asarray(expit(self.params["slope"] * logit(s) + self.params["intercept"]))
        return np.asarray(self.model.predict(s), dtype=np.float64)


def fit_calibrator(y_val: object, score_val: object, method: CalibrationMethod) -> Calibrator:
    """Fit one recalibration map on validation labels and positive-class probabilities.

    Temperature scaling on binary probabilities uses logit(p), which equals the
    difference of the two softmax logits, so it is the same as scaling the logits.

    Raises:
        DataError: the validation set holds one class only.
        ConfigError: unknown method (with "did you mean").
    """
    method = look_up_option(method, CALIBRATION_METHODS, what="calibration method")  # type: ignore[assignment]
    y, s = check_binary(y_val, score_val, score_name="score_val")
    if s.min() < 0.0 or s.max() > 1.0:
        raise ValueError("score_val must be probabilities in [0, 1]; pass prob_<class> values, not logits.")
    if np.unique(y).size < 2:
        raise DataError(
            f"{method} calibration needs both classes in the validation set, but it has only "
            f"{'negatives' if y.max() == 0 else 'positives'}; use a class-stratified validation split."
        )
    if method == "temperature":
        return Calibrator("temperature", {"temperature": fit_temperature_value(logit(s), y)})
    if method == "platt":
        slope, intercept = fit_logistic(y, logit(s))
        return Calibrator("platt", {"slope": slope, "intercept": intercept})
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
    return Calibrator("isotonic", {"n_thresholds": float(len(model.X_thresholds_))}, model)


@dataclass(frozen=True)
class RecalibrationResult:
    """ECE and Brier on test before and after one recalibration fitted on validation.

    Attributes:
        calibrator: the fitted map.
        ece_before, ece_after: test ECE (``n_bins`` bins, ``strategy``).
        brier_before, brier_after: test Brier score.
        test_score: recalibrated test probabilities (not written to JSON).
    """

    calibrator: Calibrator
    ece_before: MetricValue
    ece_after: MetricValue
    brier_before: MetricValue
    brier_after: MetricValue
    n_bins: int
    strategy: str
    test_score: np.ndarray = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "method": self.calibrator.method,
            "params": dict(self.calibrator.params),
            "fitted_on": "validation",
            "evaluated_on": "test",
            "ece_bins": self.n_bins,
            "ece_strategy": self.strategy,
            "ece_before": self.ece_before.to_dict(),
            "ece_after": self.ece_after.to_dict(),
            "brier_before": self.brier_before.to_dict(),
            "brier_after": self.brier_after.to_dict(),
        }


def compare_calibrators(
    y_val: object,
    score_val: object,
    y_test: object,
    score_test: object,
    *,
    methods: Sequence[str] = CALIBRATION_METHODS,
    n_bins: int = 15,
    strategy: BinStrategy = "uniform",
) -> list[RecalibrationResult]:
    """Fit every method on validation, apply it to test, report ECE and Brier before and after."""
    y_t, s_t = check_binary(y_test, score_test, score_name="score_test")
    ece_before = compute_ece(y_t, s_t, n_bins=n_bins, strategy=strategy)
    brier_before = compute_binary_metric(y_t, s_t, "brier")
    results = []
    for method in methods:
        calibrator = fit_calibrator(y_val, score_val, method)  # type: ignore[arg-type]
        after = calibrator.apply(s_t)
        results.append(
            RecalibrationResult(
                calibrator=calibrator,
                ece_before=ece_before,
                ece_after=compute_ece(y_t, after, n_bins=n_bins, strategy=strategy),
                brier_before=brier_before,
                brier_after=compute_binary_metric(y_t, after, "brier"),
                n_bins=n_bins,
                strategy=strategy,
                test_score=after,
            )
        )
    return results
