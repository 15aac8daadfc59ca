"""The calibration map of a bundle: evaluation's fitted recalibration, stored as plain numbers.

Evaluation (:func:`medbalance.evaluation.recalibration.fit_calibrator`) fits
temperature, Platt and isotonic maps on the validation predictions. A bundle
stores the chosen one as JSON numbers: the temperature; Platt's slope and
intercept; the isotonic step function's knots (scikit-learn's
``X_thresholds_`` and ``y_thresholds_``, applied with the same clipping and
linear interpolation as ``IsotonicRegression.predict``). No pickle is needed
to apply any of them.

Evaluation reports all three but does not pick one; ``choose_calibration``
picks on VALIDATION only: the method with the lowest cross-fitted Brier score
(fit on k-1 folds of validation, score the held-out fold), so the test split
never influences the bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from medbalance.errors import ConfigError, DataError
from medbalance.evaluation.calibration import logit
from medbalance.evaluation.recalibration import (
    CALIBRATION_METHODS,
    Calibrator,
    apply_temperature,
    fit_calibrator,
)
from medbalance.registry import look_up_option

__all__ = ["CalibrationMap", "choose_calibration", "fit_calibration_map"]


@dataclass(frozen=True)
class CalibrationMap:
    """A positive-class recalibration map as plain numbers.

    Attributes:
        method: "temperature", "platt", "isotonic" or "none".
        params: temperature; slope and intercept; for isotonic the knots ``x`` and ``y``.
        info: where it came from (fitted on, level, how it was chosen); informative only.
    """

    method: str
    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_calibrator(cls, calibrator: Calibrator, **info: Any) -> CalibrationMap:
        """The map of a fitted :class:`Calibrator`."""
        params: dict[str, Any] = {k: float(v) for k, v in calibrator.params.items()}
        if calibrator.method == "isotonic":
            params = {
                "x": [float(v) for v in calibrator.model.X_thresholds_],
                "y": [float(v) for v in calibrator.model.y_thresholds_],
            }
        return cls(calibrator.method, params, dict(info))

    def apply(self, score: object) -> np.ndarray:
        """Calibrated positive-class probabilities of positive-class probabilities ``score``."""
        s = np.asarray(score, dtype=np.float64)
        if self.method == "none":
            return s.copy()
        if self.method == "temperature":
            return apply_temperature(logit(s), float(self.params["temperature"]))
        if self.method == "platt":
            return np.asarray(expit(float(self.params["slope"]) * logit(s) + float(self.params["intercept"])))
        if self.method == "isotonic":
            x, y = np.asarray(self.params["x"], float), np.asarray(self.params["y"], float)
            return np.interp(np.clip(s, x[0], x[-1]), x, y)
        raise ConfigError(
            f"unknown calibration method {self.method!r}; expected one of {CALIBRATION_METHODS}."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"method": self.method, "params": self.params, **self.info}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationMap:
        """Inverse of :meth:`to_dict`; checks the parameters a method needs.

        Raises:
            ValueError: unknown method or missing/ill-formed parameters.
        """
        method = str(data.get("method"))
        params = dict(data.get("params") or {})
        need = {
            "none": (),
            "temperature": ("temperature",),
            "platt": ("slope", "intercept"),
            "isotonic": ("x", "y"),
        }
        if method not in need:
            raise ValueError(f"calibration method {method!r} is not one of {sorted(need)}.")
        missing = [k for k in need[method] if k not in params]
        if missing:
            raise ValueError(f"calibration {method!r} lacks parameter(s) {missing}.")
        if method == "isotonic" and (len(params["x"]) != len(params["y"]) or not params["x"]):
            raise ValueError("isotonic calibration needs knots x and y of the same, non-zero length.")
        info = {k: v for k, v in data.items() if k not in ("method", "params")}
        return cls(method, params, info)


def fit_calibration_map(y_val: object, score_val: object, method: str, **info: Any) -> CalibrationMap:
    """Fit one map with evaluation's own function (identical parameters to ``metrics.json``)."""
    if method == "none":
        return CalibrationMap("none", {}, dict(info))
    return CalibrationMap.from_calibrator(fit_calibrator(y_val, score_val, method), **info)  # type: ignore[arg-type]


def choose_calibration(
    y_val: object, score_val: object, *, methods: Sequence[str] = CALIBRATION_METHODS, n_folds: int = 5,
    seed: int = 0,
) -> tuple[str, dict[str, float]]:  # fmt: skip
    """The method with the lowest cross-fitted validation Brier score, and every method's score.

    Raises:
        DataError: fewer than 2 cases of a class in validation (no fold can hold both).
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y_val).astype(int)
    s = np.asarray(score_val, dtype=np.float64)
    for m in methods:
        look_up_option(m, CALIBRATION_METHODS, what="calibration method")
    smallest = int(min(np.sum(y == 0), np.sum(y == 1)))
    if smallest < 2:
        raise DataError(
            f"cannot choose a calibration on validation: it holds {smallest} case(s) of one class; "
            "pass --calibration temperature|platt|isotonic|none explicitly."
        )
    folds = StratifiedKFold(n_splits=min(n_folds, smallest), shuffle=True, random_state=seed)
    scores: dict[str, float] = {"none": float(np.mean((s - y) ** 2))}
    for method in methods:
        out = np.empty_like(s)
        for fit_idx, held_idx in folds.split(s, y):
            out[held_idx] = fit_calibrator(y[fit_idx], s[fit_idx], method).apply(s[held_idx])  # type: ignore[arg-type]
        scores[method] = float(np.mean((out - y) ** 2))
    best = min(scores, key=lambda k: (scores[k], k != "none"))
    return best, scores
