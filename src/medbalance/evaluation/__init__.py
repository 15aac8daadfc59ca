"""Evaluation a reviewer accepts: metrics, intervals, paired tests, operating points.

Pure NumPy/SciPy functions (no torch):

* :mod:`~medbalance.evaluation.metrics` - binary metrics at a threshold.
* :mod:`~medbalance.evaluation.multiclass` - multi-class metrics.
* :mod:`~medbalance.evaluation.undefined` - :class:`MetricValue`, undefined with a reason.
* :mod:`~medbalance.evaluation.bootstrap` - vectorised stratified / clustered bootstrap.
* :mod:`~medbalance.evaluation.delong` - DeLong AUC interval and paired test.
* :mod:`~medbalance.evaluation.comparison` - McNemar and Holm.
* :mod:`~medbalance.evaluation.thresholds` - operating points chosen on validation.
* :mod:`~medbalance.evaluation.logit_adjustment` - post-hoc multi-class logit adjustment.
"""

from __future__ import annotations

from medbalance.evaluation.bootstrap import (
    BootstrapMethod,
    bootstrap_ci,
    bootstrap_cis,
    compute_bootstrap_replicates,
)
from medbalance.evaluation.comparison import McNemarResult, holm_correction, mcnemar_test
from medbalance.evaluation.delong import DeLongComparison, delong_auc_ci, delong_test
from medbalance.evaluation.intervals import ConfidenceInterval
from medbalance.evaluation.logit_adjustment import LogitAdjustment, adjust_logits, select_logit_adjustment_tau
from medbalance.evaluation.metrics import (
    BINARY_METRIC_NAMES,
    BinaryMetrics,
    compute_binary_metric,
    compute_binary_metrics,
)
from medbalance.evaluation.multiclass import MulticlassReport, compute_cohen_kappa, compute_multiclass_metrics
from medbalance.evaluation.thresholds import (
    OperatingPoint,
    apply_threshold,
    list_threshold_rules,
    select_threshold,
)
from medbalance.evaluation.undefined import MetricValue, compute_macro_mean, metric_values_to_dict

__all__ = [
    "BINARY_METRIC_NAMES",
    "BinaryMetrics",
    "BootstrapMethod",
    "ConfidenceInterval",
    "DeLongComparison",
    "LogitAdjustment",
    "McNemarResult",
    "MetricValue",
    "MulticlassReport",
    "OperatingPoint",
    "adjust_logits",
    "apply_threshold",
    "bootstrap_ci",
    "bootstrap_cis",
    "compute_binary_metric",
    "compute_binary_metrics",
    "compute_bootstrap_replicates",
    "compute_cohen_kappa",
    "compute_macro_mean",
    "compute_multiclass_metrics",
    "delong_auc_ci",
    "delong_test",
    "holm_correction",
    "list_threshold_rules",
    "mcnemar_test",
    "metric_values_to_dict",
    "select_logit_adjustment_tau",
    "select_threshold",
]
