"""Re-label a manifest's classes: binary tasks from multi-class data ("melanoma vs rest").

A class map sends each source label to a new class; ``*`` catches every label not
named. ``"melanoma=melanoma,*=rest"`` turns HAM10000's seven classes into melanoma
vs rest; ``"malignant=malignant,benign=rest,normal=rest"`` does the same by name.
A label that no entry maps (and no ``*``) is an error, never silently dropped.

Class order: the catch-all's class first, then the named targets in the order they
first appear in the map. So in "X vs rest" the rest is class 0 and X is the positive
class of the binary task, unless ``positive_class`` says otherwise.

Example:
    >>> parse_class_map("melanoma=melanoma, *=rest")
    {'melanoma': 'melanoma', '*': 'rest'}
"""

from __future__ import annotations

from collections.abc import Mapping

from medbalance.data.manifest import Manifest
from medbalance.errors import ConfigError, DataError

__all__ = ["CATCH_ALL", "apply_class_map", "parse_class_map"]

CATCH_ALL = "*"


def parse_class_map(text: str | Mapping[str, str]) -> dict[str, str]:
    """``"a=x,b=x,*=rest"`` (or a mapping, as YAML gives it) -> ``{"a": "x", "b": "x", "*": "rest"}``.

    Raises:
        ConfigError: an entry without ``=``, an empty name, or one source mapped twice.
    """
    if isinstance(text, Mapping):
        pairs = [(str(k), str(v)) for k, v in text.items()]
    else:
        pairs = []
        for entry in str(text).split(","):
            if not entry.strip():
                continue
            source, sep, target = entry.partition("=")
            if not sep:
                raise ConfigError(
                    f"class map entry {entry.strip()!r} has no '='; write SOURCE=CLASS pairs, "
                    "e.g. --class-map 'melanoma=melanoma,*=rest'."
                )
            pairs.append((source, target))
    mapping: dict[str, str] = {}
    for source, target in pairs:
        source, target = source.strip(), target.strip()
        if not source or not target:
            raise ConfigError(f"class map entry {source!r}={target!r}: both sides must be non-empty.")
        if source in mapping:
            raise ConfigError(f"class map maps {source!r} twice ({mapping[source]!r} and {target!r}); keep one.")
        mapping[source] = target
    if not mapping:
        raise ConfigError("the class map is empty; write e.g. --class-map 'melanoma=melanoma,*=rest'.")
    return mapping


def apply_class_map(
    manifest: Manifest, class_map: str | Mapping[str, str], *, positive_class: str | None = None
) -> Manifest:
    """The manifest with every label replaced through ``class_map``; classes and positive class re-declared.

    Args:
        manifest: the source manifest (any number of classes).
        class_map: ``SOURCE=CLASS`` pairs (a string or mapping); ``*`` maps every other label.
        positive_class: the finding of interest after mapping (default: the last named class
            when the result is binary, e.g. ``melanoma`` in "melanoma=melanoma,*=rest").

    Raises:
        ConfigError: an unreadable map, a source label that does not occur, or a positive
            class the map does not produce.
        DataError: a label the map does not cover (no ``*``), or a map that leaves one class.
    """
    mapping = parse_class_map(class_map)
    labels = manifest.table["label"]
    present = set(labels)
    unknown = sorted(s for s in mapping if s != CATCH_ALL and s not in present)
    if unknown:
        raise ConfigError(
            f"class map names label(s) {unknown} that do not occur in the manifest (labels: {sorted(present)}); "
            "check the spelling (labels are case-sensitive)."
        )
    uncovered = sorted(present - set(mapping))
    if uncovered and CATCH_ALL not in mapping:
        raise DataError(
            f"class map does not cover label(s) {uncovered}; map them or add '*=CLASS' for every other label."
        )
    named = [t for s, t in mapping.items() if s != CATCH_ALL]
    rest = [mapping[CATCH_ALL]] if CATCH_ALL in mapping and uncovered else []
    classes = tuple(dict.fromkeys([*rest, *named]))
    if len(classes) < 2:
        raise DataError(f"class map leaves one class ({classes[0]!r}); a task needs at least two.")
    if positive_class is None and len(classes) == 2:
        positive_class = named[-1] if named[-1] != classes[0] else classes[1]
    if positive_class is not None and positive_class not in classes:
        raise ConfigError(f"positive class {positive_class!r} is not a class of the map {list(classes)}.")
    table = manifest.table.copy()
    table["source_label"] = labels
    table["label"] = [mapping.get(lab, mapping.get(CATCH_ALL, lab)) for lab in labels]
    return Manifest(
        table, classes, root=manifest.root, positive_class=positive_class if len(classes) == 2 else None,
        task=manifest.task, ordinal=False, source=manifest.source,
    )  # fmt: skip
