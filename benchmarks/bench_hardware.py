"""Hardware utilisation on CPU: achieved training GFLOP/s over measured fp32 matmul GFLOP/s.

The machine's peak is measured, not looked up: the median GFLOP/s of a
2048 x 2048 fp32 ``torch.mm`` with the current threads. A training step
(forward, backward, AdamW) of ``small-cnn`` and ``resnet18`` at 128 px, batch
32, grey, is counted with ``torch.utils.flop_counter.FlopCounterMode`` and timed;
achieved / peak is the utilisation. Variants, interleaved per model:
``fp32`` (what medbalance runs on CPU), ``channels_last``, ``bf16`` autocast,
``1 thread``, and with ``--compile`` also ``torch.compile`` (its compile time
reported apart; it takes minutes on a small CPU, so it is off by default).

    python benchmarks/bench_hardware.py [--steps 3] [--repeats 3] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from _common import interleave, load_average, write_result
from torch.utils.flop_counter import FlopCounterMode

from medbalance.training.models import create_model


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Median fp32 GFLOP/s of ``torch.mm`` on (size, size) matrices."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def _threads(n: int) -> Callable[[], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return scope


def _step_fn(model: torch.nn.Module, batch: torch.Tensor, bf16: bool) -> Callable[[], None]:
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    target = torch.zeros(batch.shape[0], dtype=torch.long)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(batch), target)
        loss.backward()
        optimiser.step()

    return step


def step_flops(name: str, size: int, batch: int) -> float:
    """FLOPs of one forward + backward (FlopCounterMode; the optimiser's few FLOPs left out)."""
    model = create_model(name, num_classes=2, in_chans=1)
    images = torch.randn(batch, 1, size, size)
    with FlopCounterMode(display=False) as counter:
        model(images).sum().backward()
    return float(counter.get_total_flops())


def measure_model(
    name: str, *, size: int, batch: int, steps: int, repeats: int, compile_: bool
) -> dict[str, Any]:
    """Interleaved step times of the variants of one model."""
    flops = step_flops(name, size, batch)
    images = torch.randn(batch, 1, size, size)
    variants: dict[str, tuple[torch.nn.Module, torch.Tensor, bool, Callable[[], Any]]] = {}
    for variant in ("fp32", "channels_last", "bf16", "1_thread"):
        torch.manual_seed(0)
        model = create_model(name, num_classes=2, in_chans=1)
        x = images
        if variant == "channels_last":
            model, x = (
                model.to(memory_format=torch.channels_last),
                images.to(memory_format=torch.channels_last),
            )
        scope = _threads(1) if variant == "1_thread" else contextlib.nullcontext
        variants[variant] = (model, x, variant == "bf16", scope)
    compile_seconds = None
    if compile_:
        torch.manual_seed(0)
        compiled = torch.compile(create_model(name, num_classes=2, in_chans=1))
        start = time.perf_counter()
        _step_fn(compiled, images, False)()
        compile_seconds = time.perf_counter() - start
        variants["compile"] = (compiled, images, False, contextlib.nullcontext)
    calls = {}
    for variant, (model, x, bf16, scope) in variants.items():
        step = _step_fn(model, x, bf16)
        with scope():
            step()  # warm-up: allocations, first-call dispatch

        def run(step: Callable[[], None] = step, scope: Callable[[], Any] = scope) -> None:
            with scope():
                for _ in range(steps):
                    step()

        calls[variant] = run
    timing = interleave(calls, repeats)
    for side in timing.values():
        side["step_s"] = side["median_s"] / steps
        side["gflops"] = flops / side["step_s"] / 1e9
    return {
        "flops_per_step": flops,
        "size": size,
        "batch": batch,
        "variants": timing,
        "compile_s": compile_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--models", nargs="*", default=["small-cnn", "resnet18"])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes)")
    args = parser.parse_args()
    peak_before = matmul_gflops()
    with _threads(1)():
        peak_one_before = matmul_gflops()
    result: dict[str, Any] = {"threads": torch.get_num_threads(), "models": {}}
    for name in args.models:
        result["models"][name] = measure_model(
            name,
            size=args.size,
            batch=args.batch,
            steps=args.steps,
            repeats=args.repeats,
            compile_=args.compile,
        )
    peak = max(peak_before, matmul_gflops())
    with _threads(1)():
        peak_one = max(peak_one_before, matmul_gflops())
    result["matmul_gflops"] = peak
    result["matmul_gflops_1_thread"] = peak_one
    result["load_average"] = load_average()
    for name, part in result["models"].items():
        for variant, side in part["variants"].items():
            side["utilisation"] = side["gflops"] / (peak_one if variant == "1_thread" else peak)
        parts = ", ".join(
            f"{variant} {side['step_s']:.3f} s/step {side['gflops']:.1f} GFLOP/s ({side['utilisation']:.0%})"
            for variant, side in part["variants"].items()
        )
        print(f"{name} ({part['flops_per_step'] / 1e9:.1f} GFLOP/step): {parts}")
    print(
        f"fp32 matmul {peak:.1f} GFLOP/s ({result['threads']} threads), {peak_one:.1f} GFLOP/s (1 thread; "
        f"the 1_thread variant is divided by this); load {result['load_average']}"
    )
    print(f"wrote {write_result('hardware', result)}")


if __name__ == "__main__":
    main()
