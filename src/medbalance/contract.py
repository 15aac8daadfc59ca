"""The run contract: the files, columns and keys that training writes and every later stage reads.

Training writes a run folder; evaluation, the benchmark, export and predict read it.
They all take the names from here, so a column or a file is named in one place:

    RUN_DIR/summary.json           SUMMARY_FILE: the keys in SUMMARY_KEYS
    RUN_DIR/history.csv            HISTORY_FILE: one row per epoch, val_<metric> columns
    RUN_DIR/predictions_val.csv    predictions_file("val"): PREDICTION_COLUMNS + prob_<class>, logit_<class>
    RUN_DIR/predictions_test.csv   predictions_file("test")
    RUN_DIR/evaluation/metrics.json  METRICS_FILE, written by ``medbalance evaluate``

Metric names are evaluation's names; training's validation metrics use the same names
and definitions (``auc_roc``, unadjusted ``balanced_accuracy``), so ``history.csv`` and
``metrics.json`` can be read side by side.

>>> predictions_file("test")
'predictions_test.csv'
>>> prob_column("malignant"), logit_column("malignant")
('prob_malignant', 'logit_malignant')
>>> LEVEL_COLUMNS["breast"]
'breast_id'
>>> METRIC_DEFINITIONS["balanced_accuracy"]
'mean per-class recall (unadjusted: 1/K is chance)'
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "EVALUATION_DIR",
    "HISTORY_FILE",
    "ID_COLUMNS",
    "LEVEL_COLUMNS",
    "LOGIT_PREFIX",
    "METRICS_FILE",
    "METRIC_DEFINITIONS",
    "PREDICTION_COLUMNS",
    "PROB_PREFIX",
    "SUMMARY_FILE",
    "SUMMARY_KEYS",
    "Split",
    "logit_column",
    "predictions_file",
    "prob_column",
    "score_columns",
]

Split = Literal["val", "test"]

SUMMARY_FILE = "summary.json"
HISTORY_FILE = "history.csv"
EVALUATION_DIR = "evaluation"
METRICS_FILE = "metrics.json"

PROB_PREFIX = "prob_"
LOGIT_PREFIX = "logit_"

# The identifier columns of a manifest row, finest last.
ID_COLUMNS: tuple[str, ...] = ("image_id", "patient_id", "study_id", "breast_id", "lesion_id")
# The columns before the scores in predictions_<split>.csv, in file order.
PREDICTION_COLUMNS: tuple[str, ...] = (*ID_COLUMNS, "domain", "split", "label")

# Unit of analysis -> the manifest column that identifies one unit. Splitting groups by
# patient, study or image; evaluation aggregates to image, breast, lesion or patient.
LEVEL_COLUMNS: dict[str, str] = {
    "image": "image_id",
    "breast": "breast_id",
    "lesion": "lesion_id",
    "study": "study_id",
    "patient": "patient_id",
}

# What summary.json records (training writes them; later stages read the ones they need).
SUMMARY_KEYS: dict[str, str] = {
    "classes": "class names in model output order",
    "positive_class": "the finding of interest of a binary task (null otherwise)",
    "ordinal": "whether the classes are ordered",
    "strategy": "the imbalance strategy's registered name",
    "rebalances": "whether the strategy changed the training class prior (sampling or loss weights)",
    "training_class_counts": "images per class in the training split",
    "best_epoch": "the epoch of the best checkpoint",
    "best_checkpoint": "its file, relative to the run folder",
    "monitor": "the validation metric that ranked checkpoints",
    "val_metrics": "validation metrics of the best checkpoint (names as METRIC_DEFINITIONS)",
    "test_metrics": "test metrics of the best checkpoint, reported once, never used to choose",
    "split_hash": "hash of the split assignment, so runs on different splits are not compared",
    "seconds": "wall time of the run",
}

# The metric names every stage uses, with the definition each computes.
METRIC_DEFINITIONS: dict[str, str] = {
    "auc_roc": "area under the ROC curve (one-vs-rest macro average for K > 2)",
    "auc_pr": "area under the precision-recall curve (average precision) of the positive class",
    "balanced_accuracy": "mean per-class recall (unadjusted: 1/K is chance)",
    "macro_f1": "unweighted mean of per-class F1",
    "mcc": "Matthews correlation coefficient",
    "kappa": "quadratic-weighted Cohen's kappa (ordinal tasks)",
    "sensitivity": "recall of the positive class",
    "specificity": "recall of the negative class",
    "loss": "the training objective on the validation split",
}


def predictions_file(split: str) -> str:
    """``predictions_<split>.csv``, the file name of one split's predictions."""
    return f"predictions_{split}.csv"


def prob_column(class_name: str) -> str:
    """The probability column of one class."""
    return f"{PROB_PREFIX}{class_name}"


def logit_column(class_name: str) -> str:
    """The raw-logit column of one class."""
    return f"{LOGIT_PREFIX}{class_name}"


def score_columns(columns: object) -> list[str]:
    """The ``prob_`` and ``logit_`` columns among ``columns``, in order.

    >>> score_columns(["image_id", "prob_a", "logit_a", "label"])
    ['prob_a', 'logit_a']
    """
    return [c for c in columns if isinstance(c, str) and c.startswith((PROB_PREFIX, LOGIT_PREFIX))]  # type: ignore[attr-defined]
