"""Which class is positive, said out loud, and a warning when it looks backwards.

For a binary task sensitivity, specificity, PPV and AUPRC are all about the
positive class. Without ``--positive-class`` it is the second class in order
(for a folder data set: the second folder name in sorted order), so
``malignant`` / ``normal`` makes ``normal`` positive. Every command that trains
or evaluates prints the positive class, and warns when it is the majority or
its name reads like the absence of a finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["NEGATIVE_LOOKING", "describe_positive_class", "positive_class_warnings"]

#: Words that name the absence of a finding; such a class is rarely the one to detect.
NEGATIVE_LOOKING: frozenset[str] = frozenset(
    {"normal", "benign", "negative", "healthy", "control", "controls", "absent", "none", "no", "nofinding"}
)


def _looks_negative(name: str) -> bool:
    words = re.split(r"[^a-z0-9]+", name.casefold())
    return bool(NEGATIVE_LOOKING & set(words)) or name.casefold().replace(" ", "").replace("_", "") in {
        "nofinding", "nodisease", "notumour", "notumor", "nonmalignant", "noncancer",
    }  # fmt: skip


def positive_class_warnings(positive: str, counts: Mapping[str, int], *, declared: bool = True) -> list[str]:
    """Warnings about a binary task's positive class, given the class counts.

    Args:
        positive: the positive class.
        counts: images per class (the whole data set, or the split at hand).
        declared: whether the user chose it (else it is the default second class).
    """
    warnings: list[str] = []
    how = (
        "choose it with --positive-class (data, train, benchmark: data[].positive_class)"
        if not declared
        else "check --positive-class"
    )
    if _looks_negative(positive):
        warnings.append(
            f"the positive class is {positive!r}, a name that reads like the absence of a finding; sensitivity, "
            f"specificity, PPV and AUPRC are reported for detecting {positive!r}. If the finding of interest is the "
            f"other class, {how}."
        )
    total = sum(int(n) for n in counts.values())
    share = int(counts.get(positive, 0)) / total if total else 0.0
    if total and share > 0.5:
        warnings.append(
            f"the positive class {positive!r} is the majority ({share:.0%} of {total} images); the rare finding is "
            f"usually the positive one. If the finding of interest is the other class, {how}."
        )
    return warnings


def describe_positive_class(
    positive: str, classes: tuple[str, ...] | list[str], *, declared: bool = True
) -> str:
    """One line such as ``positive class: 'malignant' (of 'benign', 'malignant'; declared)``."""
    source = "declared" if declared else "default: the second class; set it with --positive-class"
    return f"positive class: {positive!r} (of {', '.join(repr(c) for c in classes)}; {source})"
