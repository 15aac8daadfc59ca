"""``predict_to_files``: inputs -> predictions CSV (streamed), errors CSV, breast/patient CSVs, summary.

Files written next to ``out`` (``preds.csv``):

- ``preds.csv``            one row per predicted image (see :mod:`medbalance.inference.predict`);
- ``preds_errors.csv``     ``image_id``, ``path``, ``reason`` of every image that failed (always written);
- ``preds_breast.csv`` / ``preds_patient.csv``  when the inputs carry ``breast_id`` / ``patient_id``;
- ``preds_summary.json``   counts, the bundle's threshold, PPV/NPV at ``--prevalence``;
- ``overlays/*.png``       Grad-CAM overlays with ``explain_dir``.

Rows are appended chunk by chunk to a temporary file that is renamed at the
end, so memory stays flat and an interrupted run leaves no half-written CSV.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from medbalance.errors import MedbalanceError
from medbalance.inference.bundle import Bundle
from medbalance.inference.inputs import collect_inputs
from medbalance.inference.levels import aggregate_levels, metrics_at_prevalence
from medbalance.inference.predict import ChunkResult, check_prevalence, iter_prediction_chunks
from medbalance.io import atomic_write_text
from medbalance.progress import check_progress

__all__ = ["PredictSummary", "predict_to_files"]

_SLIM = ("image_id", "patient_id", "breast_id", "label")


@dataclass(frozen=True)
class PredictSummary:
    """What ``predict_to_files`` did: counts and the files written."""

    n_images: int
    n_predicted: int
    n_failed: int
    files: tuple[Path, ...]
    at_prevalence: dict[str, Any] | None


def _companion(out: Path, suffix: str) -> Path:
    return out.with_name(f"{out.stem}_{suffix}")


def _write_overlays(bundle: Bundle, chunk: ChunkResult, folder: Path) -> None:
    from medbalance.inference.explain import compute_gradcam, write_overlay
    from medbalance.inference.lesions import lesion_circles

    if not len(chunk.arrays):
        return
    maps = compute_gradcam(bundle, chunk.arrays)
    prob = f"prob_{bundle.positive_class}" if bundle.is_binary else None
    for i, row in enumerate(chunk.rows.to_dict("records")):
        name = str(row["image_id"]).replace("/", "__")
        title = f"{row['image_id']}: {row['decision']}"
        if prob:
            title += f"\nscore {row['score_uncalibrated']:.2f} (t={bundle.threshold:.2f}), calibrated p {row[prob]:.2f}"
        write_overlay(
            folder / f"{name}.png", chunk.arrays[i], maps[i], lesion_circles(row, chunk.infos[i]), title
        )


def predict_to_files(
    bundle: Bundle, inputs: Sequence[str | Path], out: str | Path, *, batch_size: int = 32, chunk_size: int = 256,
    cache_dir: str | Path | None = None, prevalence: float | None = None, explain_dir: str | Path | None = None,
    overwrite: bool = False, progress: Callable[[int, int], None] | None = None,
) -> PredictSummary:  # fmt: skip
    """Predict every image named by ``inputs`` (folders, manifest CSVs, files) into ``out`` and companions.

    Args:
        progress: called with (images done, images in all): with 0 once the inputs are
            collected, then after each batch, e.g. to draw a progress bar (the CLI does).

    Raises:
        TypeError: ``progress`` is neither a callable nor None.
        FileNotFoundError: an input does not exist.
        DataError: an empty folder or a CSV without ``path``.
        MedbalanceError: ``out`` exists without ``overwrite``.
        ConfigError: bad sizes or prevalence; ``explain_dir`` without captum installed.
    """
    out = Path(out)
    report = check_progress(progress)
    check_prevalence(prevalence)
    if explain_dir is not None:
        from medbalance.inference.explain import require_captum

        require_captum()
    if out.exists() and not overwrite:
        raise MedbalanceError(
            f"{out} already exists; pass --overwrite to replace it, or choose another --out."
        )
    table = collect_inputs(inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    slim, errors = [], []
    header = True
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if report is not None:
            report(done, len(table))

    advance(0)
    try:
        chunks = iter_prediction_chunks(
            bundle, table, table["path"].tolist(), batch_size=batch_size, chunk_size=chunk_size,
            cache_dir=None if cache_dir is None else Path(cache_dir), prevalence=prevalence,
            on_progress=advance,
        )  # fmt: skip
        for chunk in chunks:
            raw = [c for c in chunk.rows.columns if c.startswith("raw_prob_")]
            keep = [c for c in _SLIM if c in chunk.rows.columns] + raw
            slim.append(chunk.rows[keep])
            chunk.rows.drop(columns=raw).to_csv(tmp, mode="w" if header else "a", header=header,
                                                index=False, float_format="%.8g")  # fmt: skip
            header = False
            errors.append(chunk.errors)
            if explain_dir is not None:
                _write_overlays(bundle, chunk, Path(explain_dir))
        if header:  # nothing could be predicted: an empty table with the columns
            pd.DataFrame(columns=["image_id", "path", "decision"]).to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    files = [out]
    error_table = (
        pd.concat(errors, ignore_index=True)
        if errors
        else pd.DataFrame(columns=["image_id", "path", "reason"])
    )
    atomic_write_text(_companion(out, "errors.csv"), error_table.to_csv(index=False))
    files.append(_companion(out, "errors.csv"))
    images = pd.concat(slim, ignore_index=True) if slim else pd.DataFrame()
    for level, rows in zip(("breast", "patient"), aggregate_levels(bundle, images, prevalence), strict=True):
        if rows is not None:
            atomic_write_text(_companion(out, f"{level}.csv"), rows.to_csv(index=False, float_format="%.8g"))
            files.append(_companion(out, f"{level}.csv"))
    at_prev = (
        metrics_at_prevalence(bundle, prevalence) if prevalence is not None and bundle.is_binary else None
    )
    summary = {
        "n_images": len(table), "n_predicted": len(images), "n_failed": len(error_table),
        "bundle": str(bundle.folder), "threshold": bundle.spec.get("threshold"),
        "calibration": (bundle.spec.get("calibration") or {}).get("method"), "at_prevalence": at_prev,
        "files": [p.name for p in files],
    }  # fmt: skip
    atomic_write_text(_companion(out, "summary.json"), json.dumps(summary, indent=2, default=str) + "\n")
    files.append(_companion(out, "summary.json"))
    return PredictSummary(len(table), len(images), len(error_table), tuple(files), at_prev)
