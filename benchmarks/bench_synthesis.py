"""Throughput of synthetic lesion insertion, per core, against one small-CNN training step.

Measures lesions per second for every lesion type at 256, 512 and 1024 pixels
(one thread: OMP/MKL/torch threads set to 1 before NumPy loads), on a synthetic
breast image whose field of view is 200 mm (the mini-MIAS film size), so the
pixel spacing is 0.78, 0.39 and 0.195 mm. Each measured call is a full
``insert_lesion``: geometry sampled and rendered, placement, blending. The
one-time cost of building the cached random-sphere grids is reported apart.

For comparison it times one training step (forward, backward, Adam) of a
4-layer CNN on a batch of the same images with torch on one thread.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_synthesis.py --out synthesis_benchmark.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

FIELD_OF_VIEW_MM = 200.0
SIZES = (256, 512, 1024)
KINDS = ("mass", "circumscribed-mass", "calcification", "coarse-calcification", "distortion")


def make_breast(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A half-ellipse breast against the left edge, textured, background 0."""
    rows, cols = np.mgrid[:size, :size]
    mask = ((rows - size / 2) / (0.45 * size)) ** 2 + (cols / (0.7 * size)) ** 2 < 1
    noise = ndimage.gaussian_filter(np.random.default_rng(0).random((size, size)), size / 128)
    noise = (noise - noise.min()) / np.ptp(noise)
    return np.where(mask, 0.3 + 0.4 * noise, 0.0).astype(np.float32), mask


def time_lesions(kind: str, size: int, *, min_seconds: float, max_lesions: int) -> dict[str, float]:
    """Lesions per second for one kind and image size (after a warm-up)."""
    from medbalance.synth import insert_lesion

    image, mask = make_breast(size)
    spacing = FIELD_OF_VIEW_MM / size
    for seed in range(2):  # warm-up: builds cached grids
        insert_lesion(image, mask, kind=kind, spacing_mm=spacing, rng=10_000 + seed)
    count, start = 0, time.perf_counter()
    while count < max_lesions and (time.perf_counter() - start < min_seconds or count < 5):
        insert_lesion(image, mask, kind=kind, spacing_mm=spacing, rng=count)
        count += 1
    elapsed = time.perf_counter() - start
    return {"lesions": count, "seconds": elapsed, "lesions_per_s": count / elapsed, "spacing_mm": spacing}


def time_grid_build() -> float:
    """Seconds to build the cached random-sphere grids from scratch (once per process)."""
    from medbalance.synth.lesions import _sphere

    _sphere._grid.cache_clear()
    start = time.perf_counter()
    for n in (16, 32, 48, 64):
        _sphere._grid(n)
    return time.perf_counter() - start


def time_cnn_step(size: int, batch: int, steps: int) -> float | None:
    """Seconds per training step of a 4-layer CNN on ``batch`` images of ``size`` (None without torch)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    channels = [1, 16, 32, 64, 128]
    for c_in, c_out in itertools.pairwise(channels):
        layers += [torch.nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), torch.nn.ReLU()]
    net = torch.nn.Sequential(
        *layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(128, 2)
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    images = torch.from_numpy(np.stack([make_breast(size)[0]] * batch)[:, None])
    labels = torch.zeros(batch, dtype=torch.long)
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        optimiser.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("synthesis_benchmark.json"))
    parser.add_argument("--min-seconds", type=float, default=1.5, help="time per kind and size")
    parser.add_argument("--max-lesions", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8, help="CNN batch size")
    parser.add_argument("--cnn-steps", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()

    results: dict[str, object] = {
        "field_of_view_mm": FIELD_OF_VIEW_MM,
        "threads": 1,
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
        "grid_build_s": time_grid_build(),
        "lesions_per_s": {},
        "cnn_step_s": {},
    }
    rates: dict[str, dict[str, dict[str, float]]] = {}
    cnn: dict[str, float | None] = {}
    for size in args.sizes:
        rates[str(size)] = {
            kind: time_lesions(kind, size, min_seconds=args.min_seconds, max_lesions=args.max_lesions)
            for kind in KINDS
        }
        cnn[str(size)] = time_cnn_step(size, args.batch, args.cnn_steps)
    results["lesions_per_s"] = rates
    results["cnn_step_s"] = cnn
    results["cnn_batch"] = args.batch
    results["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    # A synthetic-lesions batch of 8 holds 2 edited images with 1-3 lesions: about 0.5 lesion per image.
    results["synthesis_share_of_step"] = {
        str(size): (0.5 / min(r["lesions_per_s"] for r in rates[str(size)].values()))
        / (cnn[str(size)] / args.batch)
        for size in args.sizes
        if cnn[str(size)]
    }

    header = f"{'size':>5} {'mm/px':>6} " + " ".join(f"{k:>20}" for k in KINDS) + f" {'CNN step/img ms':>16}"
    print(f"lesions per second, one core (grid build once: {results['grid_build_s']:.2f} s)")
    print(header)
    for size in args.sizes:
        row = rates[str(size)]
        step = cnn[str(size)]
        per_image = f"{1000 * step / args.batch:16.1f}" if step is not None else f"{'n/a':>16}"
        cells = " ".join(f"{row[k]['lesions_per_s']:20.1f}" for k in KINDS)
        print(f"{size:>5} {FIELD_OF_VIEW_MM / size:6.3f} {cells} {per_image}")
    for size, share in results["synthesis_share_of_step"].items():  # type: ignore[union-attr]
        print(
            f"{size} px: slowest-kind synthesis per image / CNN step per image = {share:.2f} (must stay < 1)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
