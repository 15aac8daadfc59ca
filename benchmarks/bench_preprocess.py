"""Films per second of the preprocessing cache build against plain Pillow decode + resize.

Three sides on the same files, interleaved (A B C A B C ...), medians:

- ``plain``: ``Image.open(f).convert("L").resize((size, size))`` to float32, what a
  torchvision ``ImageFolder`` + ``Resize`` + ``ToTensor`` does per image;
- ``cache_1proc``: ``PreprocessCache.build(workers=1)`` into a new folder (decode,
  mammography or generic pipeline, hash, write);
- ``cache_default``: the same with the default (one process per core).

Data: the mini-MIAS films (1024 px, mammography pipeline) and a folder of small
PNGs (generic pipeline). A cProfile of the single-process pipeline says where
the time goes.

    python benchmarks/bench_preprocess.py [--films 322] [--pngs 600] [--repeats 3]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _common import interleave, load_average, mini_mias_manifest, small_png_folder, write_result
from PIL import Image

from medbalance.data._cache_build import default_workers
from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import load_manifest
from medbalance.data.preprocess import PreprocessConfig

_STAGES = {
    "decode (read_image)": "readers.py:.*\\(read_image\\)",
    "scale to [0, 1] (to_unit_float)": "_pixels.py:.*\\(to_unit_float\\)",
    "breast mask (threshold, components, fill)": "orientation.py:.*\\(breast_mask\\)",
    "resize + pad (fit_into_square)": "_pixels.py:.*\\(fit_(plane_)?into_square\\)",
    "content hash (file_sha256)": "io.py:.*\\(file_sha256\\)",
    "write entry (npy + json)": "io.py:.*\\(atomic_",
}


def _plain(paths: list[Path], size: int) -> None:
    for path in paths:
        with Image.open(path) as image:
            small = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        np.asarray(small, dtype=np.float32) / 255.0


def _profile(manifest_path: Path, config: PreprocessConfig, work: Path, n: int) -> dict[str, float]:
    """Share of single-process build time per stage (cumulative cProfile times)."""
    manifest = load_manifest(manifest_path)
    manifest = dataclasses.replace(manifest, table=manifest.table.head(n))
    profiler = cProfile.Profile()
    profiler.enable()
    PreprocessCache(work / "profile", config).build(manifest, workers=1)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(
        v[3]
        for (file, _, func), v in stats.stats.items()  # type: ignore[attr-defined]
        if file.endswith("cache.py") and func == "build"
    )
    shares = {}
    for stage, pattern in _STAGES.items():
        seconds = sum(
            v[3]
            for (file, line, func), v in stats.stats.items()  # type: ignore[attr-defined]
            if re.search(pattern, f"{Path(file).name}:{line}({func})")
        )
        shares[stage] = round(seconds / total, 3)
    shutil.rmtree(work / "profile", ignore_errors=True)
    return shares


def measure(manifest_path: Path, config: PreprocessConfig, repeats: int, work: Path) -> dict[str, Any]:
    """Interleaved timing of plain decode+resize and the cache build (1 process, default)."""
    manifest = load_manifest(manifest_path)
    paths = manifest.paths()
    folder = work / "cache"

    def clear() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    sides = {
        "plain": lambda: _plain(paths, config.size),
        "cache_1proc": lambda: PreprocessCache(folder, config).build(manifest, workers=1),
        "cache_default": lambda: PreprocessCache(folder, config).build(manifest),
    }
    timing = interleave(sides, repeats, setup=clear)
    n = len(paths)
    for side in timing.values():
        side["images_per_s"] = round(n / side["median_s"], 1)
    plain = timing["plain"]["median_s"]
    return {
        "images": n,
        "size": config.size,
        "kind": config.kind,
        "workers_default": default_workers(),
        "sides": timing,
        "ratio_cache_1proc_vs_plain": round(timing["cache_1proc"]["median_s"] / plain, 2),
        "ratio_cache_default_vs_plain": round(timing["cache_default"]["median_s"] / plain, 2),
        "profile_share_1proc": _profile(manifest_path, config, work, min(n, 30)),
        "load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=96, help="mini-MIAS films (322: all)")
    parser.add_argument("--pngs", type=int, default=600, help="small PNGs in the folder data set")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_pre_") as tmp:
        work = Path(tmp)
        mias = mini_mias_manifest(work, limit=None if args.films >= 322 else args.films)
        pngs = small_png_folder(work, n=args.pngs)
        result = {
            "mini_mias": measure(
                mias, PreprocessConfig(kind="mammography", size=args.size), args.repeats, work
            ),
            "small_pngs": measure(pngs, PreprocessConfig(kind="generic", size=32), args.repeats, work),
        }
    for name, part in result.items():
        sides = part["sides"]
        print(
            f"{name}: {part['images']} images -> {part['size']} px; images/s plain {sides['plain']['images_per_s']}, "
            f"cache 1 process {sides['cache_1proc']['images_per_s']}, cache default ({part['workers_default']} "
            f"workers) {sides['cache_default']['images_per_s']}; ratio (time) default/plain "
            f"{part['ratio_cache_default_vs_plain']}x (target <= 2x), 1 process/plain "
            f"{part['ratio_cache_1proc_vs_plain']}x; load {part['load_average']}"
        )
        print(f"  where the time goes (1 process): {part['profile_share_1proc']}")
    print(f"wrote {write_result('preprocess', result)}")


if __name__ == "__main__":
    main()
