"""Peak memory of ``predict`` on 2,000 and 10,000 tiny phantom images: it must stay flat.

Each size runs in a fresh subprocess (so ``ru_maxrss`` is that run's peak):
images are 48 px phantoms (each made unique by a little noise), the bundle a
random-weight ``small-cnn`` (32 px input, the pipeline's cost does not depend on
the weights), predicted through ``predict_to_files`` with and without the
preprocessing cache. Writes ``benchmarks/results/predict_memory.json``.

Usage (niced; a few minutes on 2 busy cores)::

    nice -n 10 python benchmarks/bench_predict_memory.py --sizes 2000 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _bundle():  # type: ignore[no-untyped-def]
    import torch

    from medbalance.inference.bundle import build_bundle
    from medbalance.training.models import create_model

    torch.manual_seed(0)
    state = create_model("small-cnn", num_classes=2, in_chans=1).state_dict()
    spec = {
        "format_version": 1, "classes": ["benign", "malignant"], "positive_class": "malignant",
        "model": {"name": "small-cnn", "in_chans": 1, "num_classes": 2, "input_size": 32},
        "preprocessing": {"kind": "mammography", "size": 32, "channels": 1},
        "normalisation": {"mean": [0.3], "std": [0.3]}, "calibration": {"method": "none", "params": {}},
        "threshold": {"rule": "fixed", "value": 0.5, "aggregate": "mean"},
        "prevalence": {"training": 0.1, "validation": 0.1},
    }  # fmt: skip
    return build_bundle(spec, state, where="benchmark")


def _make_images(folder: Path, n: int) -> None:
    from PIL import Image

    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    bases = list(generate_phantoms(PhantomConfig(n_patients=25, size=48, seed=0)).images.values())
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(n):
        image = np.clip(bases[i % len(bases)] + rng.normal(0, 0.01, (48, 48)), 0, 1)
        Image.fromarray((image * 65535).astype(np.uint16)).save(folder / f"img{i:05d}.png")


def _child(n: int, cache: bool) -> dict[str, float]:
    from medbalance.inference.predict_files import predict_to_files

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _make_images(root / "images", n)
        bundle = _bundle()
        before = _rss_mib()
        start = time.perf_counter()
        summary = predict_to_files(bundle, [root / "images"], root / "preds.csv", batch_size=64,
                                   cache_dir=root / "cache" if cache else None)  # fmt: skip
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert summary.n_predicted == n, summary
    return {"images": n, "cache": cache, "rss_before_mib": round(before, 1), "peak_rss_mib": round(peak, 1),
            "seconds": round(seconds, 1), "images_per_second": round(n / seconds, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/predict_memory.json"))
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.child, args.cache)))
        return
    rows = []
    for n in args.sizes:
        for cache in (False, True):
            cmd = [sys.executable, __file__, "--child", str(n)] + (["--cache"] if cache else [])
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
