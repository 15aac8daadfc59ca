"""GPU training throughput: resnet18 and efficientnet_b0 at 512 and 1024 px, AMP + channels_last.

Needs nothing but the repository (random initialisation, phantoms generated
here). For each model and size it reports:

- images/s of training steps (forward, backward, AdamW) on device-resident
  random batches: the model's own speed, bf16 autocast where the GPU supports
  it, else fp16 with a gradient scaler, channels_last;
- GPU utilisation while those steps run (``nvidia-smi`` sampled every 0.2 s,
  else ``torch.cuda.utilization()``; None when neither works);
- the loader stall share with the cache warm: phantoms preprocessed once into
  a ``PreprocessCache``, then the same steps fed by medbalance's
  ``ManifestDataset`` through a ``DataLoader`` (workers, pinned memory); the
  share of the wall time spent waiting for the next batch (target < 10%);
- ``medbalance.train`` itself, end to end on the same device (Lightning,
  ``--precision auto`` = bf16-mixed on this GPU, channels_last, DataLoader
  workers, warm cache): training images/s from the second epoch, its ratio to
  the device-resident images/s above, the data-wait share of its steps, and
  the whole run's seconds (validation, checkpoints, test predictions included).

Finishes in under 5 minutes on one recent GPU with the defaults. ``--smoke``
runs the same code on CPU at tiny sizes (tested in tests/test_gpu_script.py).

    python benchmarks/gpu_training.py [--out benchmarks/results/gpu_training.json]
    python benchmarks/gpu_training.py --smoke --out /tmp/gpu_smoke.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import load_manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
from medbalance.training.dataset import ManifestDataset
from medbalance.training.models import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _loops, also when loaded by a test


class UtilisationSampler:
    """Mean GPU utilisation (%) over a ``with`` block, from nvidia-smi or torch.cuda.utilization."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and torch.cuda.is_available()
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> float | None:
        if shutil.which("nvidia-smi"):
            index = torch.cuda.current_device()
            out = subprocess.run(
                ["nvidia-smi", f"--id={index}", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=5,
            )  # fmt: skip
            if out.returncode == 0 and out.stdout.strip():
                return float(out.stdout.strip().splitlines()[0])
        try:
            return float(torch.cuda.utilization())
        except Exception:  # pynvml missing or unsupported
            return None

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            value = self._read()
            if value is not None:
                self.samples.append(value)

    def __enter__(self) -> UtilisationSampler:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def _trainer(model_name: str, device: torch.device) -> tuple[torch.nn.Module, Any]:
    """A model (channels_last) and a step function with AMP on GPU."""
    model = (
        create_model(model_name, num_classes=2, in_chans=1).to(device).to(memory_format=torch.channels_last)
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gpu = device.type == "cuda"
    dtype = torch.bfloat16 if gpu and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=gpu and dtype == torch.float16)

    def step(images: torch.Tensor, labels: torch.Tensor) -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=gpu):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()

    return model, step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def model_throughput(
    model_name: str, size: int, batch: int, steps: int, device: torch.device
) -> dict[str, Any]:
    """images/s on device-resident batches, and the GPU utilisation meanwhile."""
    _, step = _trainer(model_name, device)
    images = torch.randn(batch, 1, size, size, device=device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 2, (batch,), device=device)
    for _ in range(2):  # warm-up: cuDNN autotuning, allocations
        step(images, labels)
    _sync(device)
    with UtilisationSampler(device.type == "cuda") as sampler:
        start = time.perf_counter()
        for _ in range(steps):
            step(images, labels)
        _sync(device)
        seconds = time.perf_counter() - start
    return {
        "images_per_s": batch * steps / seconds,
        "step_s": seconds / steps,
        "gpu_utilisation_pct": sampler.mean,
    }


def loader_stall(model_name: str, cache: PreprocessCache, manifest_path: Path, *, batch: int, steps: int,
                 workers: int, device: torch.device, warmup: int = 3) -> dict[str, Any]:  # fmt: skip
    """Share of wall time spent waiting for batches from the warm cache, within one epoch.

    The data set holds at least ``warmup + steps`` batches, so no epoch restarts
    inside the timed steps (each restart waits for the workers' first batches,
    which a real epoch of thousands of images pays once); the first ``warmup``
    batches (worker start-up, cuDNN autotuning) are not timed. Each step is
    synchronised before the next batch is asked for: without it the wait would
    include the previous step's kernels (a CUDA step returns before its work is
    done). The first run of this script on an H200 had neither and reported
    45-87% "stall" on 96 images (docs/performance.md).
    """
    dataset = ManifestDataset(load_manifest(manifest_path), cache)
    if len(dataset) < batch * (warmup + steps):
        raise ValueError(f"{len(dataset)} images are fewer than {warmup + steps} batches of {batch}")
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda",
        drop_last=True,
    )  # fmt: skip
    _, step = _trainer(model_name, device)
    waited = 0.0
    iterator = iter(loader)
    for index in range(warmup + steps):
        if index == warmup:
            start, waited = time.perf_counter(), 0.0
        fetch = time.perf_counter()
        images, labels, _, _ = next(iterator)
        images = images.to(device, non_blocking=True).to(memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        _sync(device)
        waited += time.perf_counter() - fetch
        step(images, labels)
        _sync(device)
    total = time.perf_counter() - start
    del iterator
    return {"stall_share": waited / total, "loader_images_per_s": batch * steps / total, "workers": workers}


def medbalance_train(manifest_path: Path, work: Path, *, model_name: str, size: int, batch: int,
                     epochs: int, workers: int, device: torch.device) -> dict[str, Any]:  # fmt: skip
    """``medbalance.train`` end to end: images/s of its training steps from the 2nd epoch, data-wait share."""
    from _loops import run_medbalance

    overrides = {
        "data": str(manifest_path), "out": str(work / f"run_{model_name}_{size}"), "cache_dir": str(work / "cache"),
        "model": model_name, "image_size": size, "preprocess": "generic", "channels": 1, "batch_size": batch,
        "epochs": epochs, "num_workers": workers, "accelerator": "gpu" if device.type == "cuda" else "cpu",
    }  # fmt: skip
    timed = run_medbalance(overrides)
    steps_per_epoch = len(timed["step_s"]) // epochs
    later_steps = timed["step_s"][steps_per_epoch:] or timed["step_s"]
    later_waits = timed["wait_s"][max(0, len(timed["wait_s"]) - len(later_steps)):]
    busy = sum(later_steps) + sum(later_waits)
    return {
        "model": model_name, "size": size, "batch": batch, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
        "train_images_per_s": batch * len(later_steps) / busy, "data_wait_share": sum(later_waits) / busy,
        "epoch_s": timed["epoch_s"], "whole_s": timed["whole_s"],
        "start_to_first_step_s": timed["start_to_first_step_s"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["resnet18", "efficientnet_b0"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[512, 1024])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-train", action="store_true", help="skip the medbalance.train run")
    parser.add_argument("--train-epochs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: check that the script runs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_training.json"))
    args = parser.parse_args(argv)
    device = torch.device("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    sizes, steps = ([32], 2) if args.smoke else (args.sizes, args.steps)
    train_epochs = 2 if args.smoke else args.train_epochs
    batches = {size: 2 if args.smoke else (64 if size <= 512 else 16) for size in sizes}
    # enough images for warm-up + timed steps at every size (4 per patient), and >= 24 patients for a split
    patients = max(24, max(-(-batches[size] * (steps + 3) // 4) for size in sizes))
    workers = (
        0 if args.smoke else min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 4)
    )
    torch.backends.cudnn.benchmark = True
    if args.smoke:  # one thread: on a busy small CPU, more threads only wait for each other
        torch.set_num_threads(1)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu (smoke)" if args.smoke else "cpu",
        "torch": torch.__version__, "smoke": args.smoke, "loader_workers": workers, "runs": [],
    }  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_bench_") as tmp:
        work = Path(tmp)
        # small phantoms, upsampled by the cache: image content does not change the step or loader time
        generate_phantoms(PhantomConfig(n_patients=patients, prevalence=0.3, size=128, seed=0),
                          out_dir=work / "phantoms")  # fmt: skip
        manifest_path = work / "phantoms" / "manifest.csv"
        for size in sizes:
            # only the images the loader test needs: 4 MB each at 1024 px
            needed = work / f"loader_{size}.csv"
            table = pd.read_csv(manifest_path)
            table["path"] = [str(manifest_path.parent / p) for p in table["path"]]
            table.head(batches[size] * (steps + 3)).to_csv(needed, index=False)
            cache = PreprocessCache(work / "cache", PreprocessConfig(kind="generic", size=size))
            cache.build(load_manifest(needed))  # the warm cache
            for model_name in args.models:
                run = {"model": model_name, "size": size, "batch": batches[size]}
                run.update(model_throughput(model_name, size, batches[size], steps, device))
                run.update(loader_stall(model_name, cache, needed, batch=batches[size], steps=steps,
                                        workers=workers, device=device))  # fmt: skip
                result["runs"].append(run)
                util = run["gpu_utilisation_pct"]
                print(
                    f"{model_name} {size} px batch {run['batch']}: {run['images_per_s']:.1f} images/s, GPU "
                    f"utilisation {'n/a' if util is None else f'{util:.0f}%'}, loader stall share "
                    f"{run['stall_share']:.1%} (target < 10%) with {workers} workers"
                )
        if not args.no_train:
            size = min(sizes)
            model_name = args.models[0]
            run = medbalance_train(manifest_path, work, model_name=model_name, size=size,
                                   batch=batches[size], epochs=train_epochs, workers=workers, device=device)  # fmt: skip
            resident = next(r for r in result["runs"] if r["model"] == model_name and r["size"] == size)
            run["ratio_to_device_resident"] = run["train_images_per_s"] / resident["images_per_s"]
            result["medbalance_train"] = run
            print(
                f"medbalance.train {model_name} {size} px batch {run['batch']}: {run['train_images_per_s']:.1f} "
                f"training images/s from the 2nd epoch ({run['ratio_to_device_resident']:.2f}x the device-resident "
                f"loop), data-wait share {run['data_wait_share']:.1%} (target < 10%), whole run {run['whole_s']:.1f} s"
            )
    result["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['device']}: {result['seconds']:.0f} s; wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
