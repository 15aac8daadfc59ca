"""Small maximum-likelihood fits shared by calibration and recalibration (private)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

__all__ = ["fit_logistic", "fit_temperature_value", "temperature_nll"]

_LOG_T_BOUNDS = (float(np.log(0.01)), float(np.log(100.0)))


def fit_logistic(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Unpenalised logistic regression of 0/1 ``y`` on one feature ``x``: (slope, intercept)."""
    from sklearn.linear_model import LogisticRegression

    # C=inf is scikit-learn's spelling of "no penalty" since penalty=None was deprecated (1.8).
    model = LogisticRegression(C=np.inf, max_iter=1000).fit(x[:, None], y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def temperature_nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``y`` under logits / temperature.

    ``logits`` is (N,) for a binary model (logit of the positive class, y in {0, 1})
    or (N, K) for a multi-class one (y class indices).
    """
    z = logits / temperature
    if z.ndim == 1:
        return float(np.mean(np.logaddexp(0.0, z) - y * z))
    return float(np.mean(logsumexp(z, axis=1) - z[np.arange(y.size), y]))


def fit_temperature_value(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.01, 100] minimising the NLL (bounded search over log T)."""
    result = minimize_scalar(
        lambda log_t: temperature_nll(logits, y, float(np.exp(log_t))),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))
