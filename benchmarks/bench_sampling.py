"""Batch samplers for 1e6 indices: medbalance's strategies vs PyTorch and torchsampler.

Labels: 1,000,000 examples, 5% positive (19:1). Each side builds its sampler
from the labels and draws one epoch of batches of 32; the figure is indices
per second (samplers draw different epoch lengths: over-sampling draws
2 x the majority, under-sampling 2 x the minority). Sides, interleaved:

- ``medbalance:<strategy>``: ``create_strategy(name).fit(labels)`` then
  ``create_batch_sampler(strategy, 32)``, one epoch (``set_epoch(0)``);
- ``torch:WeightedRandomSampler``: weights 1/count, 1e6 draws, in a ``BatchSampler``;
- ``torchsampler:ImbalancedDatasetSampler`` (``pip install torchsampler``; skipped
  with a note when it is not installed).

    python benchmarks/bench_sampling.py [--n 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from _common import interleave, load_average, write_result
from torch.utils.data import BatchSampler, WeightedRandomSampler

from medbalance.strategies import create_strategy
from medbalance.strategies.sampling import create_batch_sampler

STRATEGIES = ("none", "oversample", "undersample", "undersample-epoch", "weighted-sampler")


def _medbalance(name: str, labels: np.ndarray) -> Callable[[], int]:
    def run() -> int:
        strategy = create_strategy(name).fit(labels, 2, seed=0, positive_index=1, class_names=("a", "b"))
        sampler = create_batch_sampler(strategy, 32)
        getattr(sampler, "set_epoch", lambda epoch: None)(0)
        return sum(len(batch) for batch in sampler)

    return run


def _torch_weighted(labels: np.ndarray) -> Callable[[], int]:
    def run() -> int:
        counts = np.bincount(labels)
        weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
        sampler = WeightedRandomSampler(weights, num_samples=len(labels), replacement=True)
        return sum(len(batch) for batch in BatchSampler(sampler, 32, drop_last=False))

    return run


def _torchsampler(labels: np.ndarray) -> Callable[[], int] | None:
    try:
        from torchsampler import ImbalancedDatasetSampler
    except ImportError:
        return None

    def run() -> int:
        sampler = ImbalancedDatasetSampler(range(len(labels)), labels=labels.tolist())
        return sum(len(batch) for batch in BatchSampler(sampler, 32, drop_last=False))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels = (rng.random(args.n) < 0.05).astype(np.int64)
    sides: dict[str, Callable[[], int]] = {
        f"medbalance:{name}": _medbalance(name, labels) for name in STRATEGIES
    }
    sides["torch:WeightedRandomSampler"] = _torch_weighted(labels)
    extra = _torchsampler(labels)
    if extra is not None:
        sides["torchsampler:ImbalancedDatasetSampler"] = extra
    drawn = {name: call() for name, call in sides.items()}  # warm-up, and the epoch lengths
    timing = interleave(sides, args.repeats)
    reference = timing["torch:WeightedRandomSampler"]["median_s"] / drawn["torch:WeightedRandomSampler"]
    for name, side in timing.items():
        side["indices"] = drawn[name]
        side["indices_per_s"] = round(drawn[name] / side["median_s"])
        side["speedup_per_index_vs_torch_weighted"] = round(reference / (side["median_s"] / drawn[name]), 2)
    result = {
        "n": args.n,
        "positives": int(labels.sum()),
        "batch_size": 32,
        "sides": timing,
        "torchsampler": "installed" if extra is not None else "not installed (pip install torchsampler)",
        "load_average": load_average(),
    }
    for name, side in timing.items():
        print(
            f"{name}: {side['indices']} indices in {side['median_s']:.3f} s, {side['indices_per_s']:,} /s, "
            f"{side['speedup_per_index_vs_torch_weighted']}x torch WeightedRandomSampler per index"
        )
    print(f"load {result['load_average']}; wrote {write_result('sampling', result)}")


if __name__ == "__main__":
    main()
