"""``folder`` adapter: the ImageFolder layout, one subfolder per class.

```
source/
  benign/    a.png  b.dcm  sub/c.jpg
  malignant/ d.png
```
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from medbalance.data.adapters._common import ADAPTERS, IMAGE_EXTENSIONS, shown
from medbalance.data.manifest import Manifest
from medbalance.errors import ConfigError, DataError

__all__ = ["create_folder_manifest"]

log = logging.getLogger(__name__)


def _compile_patient_regex(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"patient_regex {pattern!r} is not a valid regular expression ({exc}).") from exc
    if "patient" not in compiled.groupindex:
        raise ConfigError(
            f"patient_regex {pattern!r} has no named group 'patient'; write it like "
            r"'(?P<patient>P\d+)_' so the patient id can be taken from each file name."
        )
    return compiled


def _class_folders(source: Path, classes: tuple[str, ...]) -> dict[str, Path]:
    found = {p.name: p for p in sorted(source.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    if not found:
        raise DataError(
            f"{source}: no class subfolders found; the folder adapter expects one subfolder per class "
            "(source/<class>/<image>)."
        )
    if not classes:
        return found
    undeclared = sorted(set(found) - set(classes))
    absent = [c for c in classes if c not in found]
    if undeclared or absent:
        raise DataError(
            f"{source}: class folders do not match the declared classes {list(classes)}: "
            f"folders not declared {undeclared}, declared classes without a folder {absent}. "
            "Fix --classes or the folder names; no folder is skipped silently."
        )
    return {c: found[c] for c in classes}


def _images_in(folder: Path) -> tuple[list[Path], list[Path]]:
    images: list[Path] = []
    others: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        (images if path.suffix.lower() in IMAGE_EXTENSIONS else others).append(path)
    return images, others


def _header_spacing(path: Path) -> str:
    """The DICOM header's pixel spacing (PixelSpacing, then ImagerPixelSpacing) in mm, or "" if none."""
    from medbalance.data.readers import read_pixel_spacing_mm
    from medbalance.errors import ImageReadError

    try:
        spacing = read_pixel_spacing_mm(path)
    except ImageReadError:  # an unreadable file is reported by validation, with the others
        return ""
    return "" if spacing is None else f"{spacing:.6g}"


@ADAPTERS.register("folder", description="ImageFolder layout: one subfolder per class")
def create_folder_manifest(
    source: Path,
    *,
    classes: tuple[str, ...] = (),
    positive_class: str | None = None,
    patient_regex: str | None = None,
    domain: str = "",
    task: str = "classification",
) -> Manifest:
    """Manifest of a folder with one subfolder per class (searched recursively).

    Args:
        source: the folder holding the class subfolders.
        classes: the ordered class list; default: the subfolder names sorted.
            When given, the subfolders must match it exactly.
        positive_class: the finding of a binary task (default: the second class).
        patient_regex: a regex with a named group ``patient`` searched in each
            file name; without it every image is its own patient.
        domain: the site or vendor written in every row.
        task: the task name stored in the manifest.

    Raises:
        DataError: no class folders, folders not matching ``classes``, an empty
            class folder, or file names the regex does not match.
        ConfigError: an invalid regex or one without a ``patient`` group.
    """
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"{source}: the folder adapter needs a folder of class subfolders, got a file.")
    regex = _compile_patient_regex(patient_regex) if patient_regex else None
    folders = _class_folders(source, tuple(classes))
    rows: list[dict[str, str]] = []
    empty, unmatched, skipped = [], [], []
    for label, folder in folders.items():
        images, others = _images_in(folder)
        skipped += others
        if not images:
            empty.append(label)
        for path in images:
            relative = path.relative_to(source).as_posix()
            patient = relative
            if regex is not None:
                match = regex.search(path.name)
                if match is None or not match.group("patient"):
                    unmatched.append(relative)
                    continue
                patient = match.group("patient")
            rows.append({"image_id": relative, "path": relative, "label": label, "patient_id": patient})
    if empty:
        raise DataError(
            f"{source}: class folder(s) {empty} hold no image files (recognised extensions: "
            f"{', '.join(IMAGE_EXTENSIONS)})."
        )
    if unmatched:
        raise DataError(
            f"{source}: patient_regex {patient_regex!r} does not match {len(unmatched)} file name(s): "
            f"{shown(unmatched)}. Fix the regex or rename the files."
        )
    if skipped:
        log.warning("%s: ignored %d non-image file(s): %s", source, len(skipped), shown(skipped, 5))
    if regex is None:
        log.warning("%s: no patient_regex given; every image is treated as its own patient.", source)
    table = pd.DataFrame(rows)
    table["domain"] = domain
    table["pixel_spacing_mm"] = [_header_spacing(source / path) for path in table["path"]]
    return Manifest(
        table=table,
        classes=tuple(folders),
        root=source.resolve(),
        positive_class=positive_class,
        task=task,
        source=f"folder:{source}",
    )
