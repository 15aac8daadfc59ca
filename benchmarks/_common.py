"""Shared helpers of the benchmarks: interleaved timing, load, results files, data sets.

The machine these run on may be shared, so every comparison is a ratio taken
inside one process: the two sides run in turn (A B A B ...), each side's
median is taken, and the load average is recorded next to each figure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MINI_MIAS",
    "RESULTS",
    "interleave",
    "load_average",
    "mini_mias_manifest",
    "small_png_folder",
    "write_result",
]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MINI_MIAS = (REPO / ".." / "shared" / "data" / "mini-mias").resolve()


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (busy machines inflate absolute times)."""
    return [round(v, 2) for v in os.getloadavg()]


def interleave(
    sides: Mapping[str, Callable[[], object]], repeats: int, *, setup: Callable[[], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Run each side in turn ``repeats`` times (A B A B ...); per side the times, median and load.

    Args:
        sides: name -> a call to time.
        repeats: rounds.
        setup: called before every timed call (not timed), e.g. to clear a cache.
    """
    times: dict[str, list[float]] = {name: [] for name in sides}
    loads: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, call in sides.items():
            if setup is not None:
                setup()
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
            loads[name].append(os.getloadavg()[0])
    return {
        name: {
            "seconds": [round(t, 4) for t in times[name]],
            "median_s": statistics.median(times[name]),
            "load_1min": round(statistics.median(loads[name]), 2),
        }
        for name in sides
    }


def write_result(name: str, payload: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the machine, load and command."""
    import torch

    record = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_end": load_average(),
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        **payload,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


def mini_mias_manifest(work: Path, *, limit: int | None = None) -> Path:
    """A mini-MIAS manifest (malignancy task) in ``work``; the first ``limit`` films only when given.

    Raises:
        FileNotFoundError: the films are not at ``../shared/data/mini-mias``.
    """
    from medbalance.data.build import build_dataset
    from medbalance.data.manifest import load_manifest

    if not (MINI_MIAS / "images").is_dir():
        raise FileNotFoundError(f"mini-MIAS films not found at {MINI_MIAS}; see README for the data.")
    out = work / "mias"
    build = build_dataset("mini-mias", MINI_MIAS, out, check_images=False, overwrite=True)
    if limit is None:
        return build.manifest_path
    manifest = load_manifest(build.manifest_path)
    groups = manifest.table.sort_values("path").groupby(["split", "label"], group_keys=False)
    table = groups.head(max(2, limit // 6))
    path = out / f"manifest_{limit}.csv"
    dataclasses.replace(manifest, table=table.reset_index(drop=True)).save(path)
    return path


def small_png_folder(work: Path, *, n: int, size: int = 48, seed: int = 0) -> Path:
    """``work/pngs/<class>/p<patient>_<i>.png``: grey PNGs of two classes (10% ``b``), with a folder manifest.

    Class ``b`` images hold a bright blob, so a model has something to learn.
    Returns the manifest CSV (made by the folder adapter; the folder itself
    is also a torchvision ``ImageFolder``).
    """
    from PIL import Image

    from medbalance.data.build import build_dataset

    rng = np.random.default_rng(seed)
    root = work / "pngs"
    for index in range(n):
        label = "b" if index % 10 == 0 else "a"
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.normal(90, 25, size=(size, size))
        if label == "b":
            r, c = rng.integers(size // 4, 3 * size // 4, 2)
            rows, cols = np.ogrid[:size, :size]
            pixels += 80 * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * (size / 10) ** 2))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        image.save(folder / f"p{index // 2:05d}_{index % 2}.png")
    build = build_dataset(
        "folder", root, work / "pngs_manifest", options={"patient_regex": r"(?P<patient>p\d+)_"},
        check_images=False, overwrite=True,
    )  # fmt: skip
    return build.manifest_path
