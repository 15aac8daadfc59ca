"""``mini-mias`` adapter: the MIAS MiniMammographic Database (Info.txt + mdbNNN.pgm/png).

``Info.txt`` has one line per abnormality, ``REFNUM BG CLASS SEVERITY X Y RADIUS``
(severity absent for NORM, coordinates absent for widely spread
calcifications, origin at the BOTTOM-LEFT corner); its free-text header is
skipped. Films come in pairs (mdb001+mdb002 = patient 001).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from medbalance.data.adapters._common import ADAPTERS, find_image, shown
from medbalance.data.adapters._laterality import laterality_from_image
from medbalance.data.manifest import Manifest
from medbalance.errors import DataError
from medbalance.registry import look_up_option

__all__ = ["MIAS_SIZE", "MiasLine", "create_mini_mias_manifest", "read_mias_info"]

log = logging.getLogger(__name__)

#: Every mini-MIAS film is MIAS_SIZE x MIAS_SIZE pixels of 0.2 mm.
MIAS_SIZE = 1024
_BACKGROUNDS = ("F", "G", "D")
_CLASSES = ("CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM", "NORM")
_SEVERITIES = ("B", "M")
_REFNUM = re.compile(r"^(mdb\d{3})\b", re.IGNORECASE)
_TASKS = {
    "malignancy": (("non-malignant", "malignant"), "malignant", False),
    "abnormality": (("normal", "abnormal"), "abnormal", False),
    "density": (_BACKGROUNDS, None, True),
}


@dataclass(frozen=True)
class MiasLine:
    """One abnormality line of Info.txt (coordinates as given: origin bottom-left)."""

    refnum: str
    background: str
    abnormality: str
    severity: str = ""
    x: int | None = None
    y: int | None = None
    radius: int | None = None


def _parse_line(line: str, number: int, path: Path) -> MiasLine:
    tokens = [t for t in line.split() if not t.startswith("*") and not t.endswith("*") and t != "NOTE"]
    where = f"{path}:{number}"
    if len(tokens) < 3 or tokens[1] not in _BACKGROUNDS or tokens[2] not in _CLASSES:
        raise DataError(
            f"{where}: cannot parse {line.strip()!r}; expected 'mdbNNN BG CLASS [SEVERITY X Y RADIUS]' "
            f"with BG in {_BACKGROUNDS} and CLASS in {_CLASSES}."
        )
    refnum, background, abnormality, rest = tokens[0].lower(), tokens[1], tokens[2], tokens[3:]
    severity = ""
    if abnormality != "NORM":
        if not rest or rest[0] not in _SEVERITIES:
            raise DataError(
                f"{where}: {abnormality} line without a severity in {_SEVERITIES}: {line.strip()!r}."
            )
        severity, rest = rest[0], rest[1:]
    if rest and (len(rest) != 3 or not all(t.isdigit() for t in rest)):
        raise DataError(f"{where}: expected 'X Y RADIUS' (three integers) or nothing, got {rest}.")
    x, y, radius = (int(t) for t in rest) if rest else (None, None, None)
    return MiasLine(refnum, background, abnormality, severity, x, y, radius)


def read_mias_info(path: Path) -> list[MiasLine]:
    """Every abnormality line of an Info.txt; header and comment lines are skipped.

    Raises:
        DataError: a line that starts with a reference number but does not parse,
            or a file without any such line.
    """
    lines = [
        _parse_line(text, number, path)
        for number, text in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1)
        if _REFNUM.match(text.strip())
    ]
    if not lines:
        raise DataError(f"{path}: no 'mdbNNN BG CLASS ...' lines found; is this the mini-MIAS Info.txt?")
    return lines


def _image_rows(lines: list[MiasLine], info: Path) -> pd.DataFrame:
    by_image: dict[str, list[MiasLine]] = {}
    for line in lines:
        by_image.setdefault(line.refnum, []).append(line)
    rows = []
    for refnum, group in by_image.items():
        backgrounds = sorted({g.background for g in group})
        if len(backgrounds) > 1:
            raise DataError(f"{info}: {refnum} has conflicting background tissue {backgrounds}.")
        lesions = [g for g in group if g.abnormality != "NORM"]

        def joined(values: list[object]) -> str:
            return ";".join("" if v is None else str(v) for v in values)

        rows.append(
            {
                "image_id": refnum,
                "patient_id": f"{(int(refnum[3:]) + 1) // 2:03d}",
                "breast_id": refnum,
                "background": backgrounds[0],
                "abnormality": joined([g.abnormality for g in lesions]) or "NORM",
                "severity": joined([g.severity for g in lesions]),
                "pathology": "malignant"
                if any(g.severity == "M" for g in lesions)
                else ("benign" if lesions else "normal"),
                "lesion_x": joined([g.x for g in lesions]),
                "lesion_y": joined([g.y for g in lesions]),
                "lesion_row": joined([None if g.y is None else MIAS_SIZE - g.y for g in lesions]),
                "lesion_col": joined([g.x for g in lesions]),
                "lesion_radius": joined([g.radius for g in lesions]),
            }
        )
    return pd.DataFrame(rows)


def _locate(source: Path) -> tuple[Path, list[Path]]:
    folder = source.parent if source.is_file() else source
    info = source if source.is_file() else folder / "Info.txt"
    if not info.is_file():
        raise DataError(f"{folder}: no Info.txt; point the mini-mias adapter at the folder holding it.")
    return info, [folder / "images", folder]


@ADAPTERS.register("mini-mias", description="MIAS MiniMammographic Database (Info.txt + mdbNNN.pgm/png)")
def create_mini_mias_manifest(
    source: Path,
    *,
    task: Literal["malignancy", "abnormality", "density"] = "malignancy",
    detect_laterality: bool = True,
    domain: str = "mini-mias",
) -> Manifest:
    """Manifest of mini-MIAS: one row per film, labelled for ``task``.

    Args:
        source: the folder with ``Info.txt`` and ``images/mdbNNN.pgm|png`` (or
            the images beside Info.txt), or the Info.txt file itself.
        task: ``malignancy`` (any malignant line -> malignant), ``abnormality``
            (any non-NORM line -> abnormal) or ``density`` (background tissue
            F < G < D, ordinal).
        detect_laterality: find L/R from the chest-wall side in the pixels (a
            chest wall on the right edge is a right breast); off leaves it empty.
        domain: the domain written in every row.

    Raises:
        DataError: unparsable Info.txt lines, or images listed but missing.
        ConfigError: an unknown task.
    """
    look_up_option(task, _TASKS, what="mini-mias task")
    classes, positive, ordinal = _TASKS[task]
    info, folders = _locate(Path(source))
    table = _image_rows(read_mias_info(info), info)
    paths = [find_image(folders, refnum, (".pgm", ".png", ".PGM", ".PNG")) for refnum in table["image_id"]]
    missing = [r for r, p in zip(table["image_id"], paths, strict=True) if p is None]
    if missing:
        raise DataError(
            f"{info.parent}: {len(missing)} film(s) listed in Info.txt have no .pgm/.png image in "
            f"{folders[0]} or {folders[1]}: {shown(missing)}."
        )
    found = [p for p in paths if p is not None]
    root = info.parent.resolve()
    table["path"] = [p.resolve().relative_to(root).as_posix() for p in found]
    label_of = {
        "malignancy": lambda r: "malignant" if r["pathology"] == "malignant" else "non-malignant",
        "abnormality": lambda r: "normal" if r["pathology"] == "normal" else "abnormal",
        "density": lambda r: r["background"],
    }[task]
    table["label"] = table.apply(label_of, axis=1)
    table["laterality"] = [laterality_from_image(p) for p in found] if detect_laterality else ""
    table["view"] = "MLO"
    table["domain"] = domain
    table["pixel_spacing_mm"] = "0.2"
    return Manifest(
        table=table,
        classes=classes,
        root=root,
        positive_class=positive,
        task=task,
        ordinal=ordinal,
        source=f"mini-mias:{info.parent}",
    )
