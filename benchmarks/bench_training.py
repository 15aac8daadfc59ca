"""Training side by side: ``medbalance.train`` vs a plain PyTorch loop; fixed cost; data-wait share.

For each data set (the mini-MIAS films, mammography pipeline; a folder of
small PNGs, generic pipeline) and each round, in this order:

1. ``plain``: the loop of ``_loops.run_plain_loop`` (ImageFolder, timm, AdamW);
2. ``mb_cold``: ``medbalance.train`` with a new, empty preprocessing cache
   (the whole first run: preprocessing, normalisation stats, training,
   validation, predictions, summary);
3. ``mb_warm``: the same config into a new run folder with the cache of 2.

Same timm model, batch, image size, grey, no augmentation, threads and
epochs. Ratios are speed-ups (plain time / medbalance time; > 1: medbalance
is faster). Per-epoch times are start-to-start, so from the second epoch.

Fixed cost (``--tiny``): ``medbalance train`` as a command (process start to
first step, last step to exit) on 100 small PNGs, small-cnn, 1 epoch.

Data-wait share: time between the end of one step and the start of the next
(the loader fetching and collating a batch) over the step interval, warm cache.

    python benchmarks/bench_training.py [--epochs 3] [--rounds 1] [--pngs 600]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import interleave, load_average, mini_mias_manifest, small_png_folder, write_result
from _loops import image_folders, run_medbalance, run_plain_loop

HERE = Path(__file__).resolve().parent


def _median_from_second(epochs: list[float]) -> float | None:
    return statistics.median(epochs[1:]) if len(epochs) > 1 else None


def compare(
    manifest: Path, work: Path, *, kind: str, size: int, model: str, epochs: int, rounds: int
) -> dict:
    """Interleaved plain / medbalance cold / medbalance warm runs on one data set."""
    folders = image_folders(manifest, work / "folders")
    base = {
        "data": str(manifest),
        "model": model,
        "batch_size": 32,
        "image_size": size,
        "channels": 1,
        "preprocess": kind,
        "epochs": epochs,
        "accelerator": "cpu",
    }
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "mb_cold": [], "mb_warm": []}
    loads: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        cache = work / f"cache{index}"
        shutil.rmtree(cache, ignore_errors=True)
        runs["plain"].append(
            run_plain_loop(folders, model=model, size=size, batch=32, epochs=epochs, out=work / "plain")
        )
        loads["plain"].append(load_average()[0])
        for name in ("mb_cold", "mb_warm"):
            runs[name].append(run_medbalance({**base, "out": str(work / name), "cache_dir": str(cache)}))
            loads[name].append(load_average()[0])
    summary: dict[str, Any] = {"config": base, "rounds": rounds}
    for name, results in runs.items():
        waits = [w for r in results for w in r["wait_s"]]
        steps = [s for r in results for s in r["step_s"]]
        summary[name] = {
            "whole_s": statistics.median(r["whole_s"] for r in results),
            "epoch_from_second_s": _median_from_second([e for r in results for e in r["epoch_s"][:]]),
            "epoch_s": [r["epoch_s"] for r in results],
            "start_to_first_step_s": statistics.median(r["start_to_first_step_s"] for r in results),
            "last_step_to_end_s": statistics.median(r.get("last_step_to_end_s", 0.0) for r in results),
            "step_median_s": statistics.median(steps),
            "data_wait_share": sum(waits) / (sum(waits) + sum(steps)),
            "load_1min": statistics.median(loads[name]),
        }
    plain = summary["plain"]
    summary["speedup_first_run_whole"] = plain["whole_s"] / summary["mb_cold"]["whole_s"]
    summary["speedup_warm_run_whole"] = plain["whole_s"] / summary["mb_warm"]["whole_s"]
    summary["speedup_per_epoch_from_second"] = (
        plain["epoch_from_second_s"] / summary["mb_warm"]["epoch_from_second_s"]
        if plain["epoch_from_second_s"] and summary["mb_warm"]["epoch_from_second_s"]
        else None
    )
    return summary


_IMPORTS = {
    "plain_loop_stack": "import torch, torchvision, timm",
    "medbalance_train_stack": "import medbalance.training.run, medbalance.cli._train",
    "torch_only": "import torch",
    "lightning_pytorch": "import lightning.pytorch",
}


def import_times(rounds: int) -> dict[str, Any]:
    """Fresh-interpreter import time of what each side must load, interleaved, medians."""
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], check=True, env=env)

    return interleave({name: (lambda c=code: run(c)) for name, code in _IMPORTS.items()}, rounds)


def fixed_cost(manifest: Path, work: Path, rounds: int) -> dict[str, Any]:
    """``medbalance train`` as a command on a tiny run: start-up and wind-down seconds."""
    records = []
    for index in range(rounds):
        stamp_file = work / f"stamps{index}.json"
        command = [
            sys.executable, str(HERE / "_timed_cli.py"), str(stamp_file), "train", "--data", str(manifest),
            "--out", str(work / f"tiny{index}"), "--model", "small-cnn", "--epochs", "1", "--image-size", "32",
            "--preprocess", "generic", "--cache-dir", str(work / "tiny_cache"), "--no-progress", "--overwrite",
        ]  # fmt: skip
        subprocess.run(command, check=True, cwd=HERE, capture_output=True)
        record = json.loads(stamp_file.read_text())
        records.append(
            {
                "start_to_first_step_s": record["first_step"] - record["process_start"],
                "last_step_to_exit_s": record["end"] - record["last_step_end"],
                "whole_s": record["end"] - record["process_start"],
                "cache": "cold" if index == 0 else "warm",
            }
        )
    warm = records[1:] or records
    return {
        "runs": records,
        "imports": import_times(rounds),
        "warm_start_to_first_step_s": statistics.median(r["start_to_first_step_s"] for r in warm),
        "warm_last_step_to_exit_s": statistics.median(r["last_step_to_exit_s"] for r in warm),
        "warm_overhead_s": statistics.median(
            r["start_to_first_step_s"] + r["last_step_to_exit_s"] for r in warm
        ),
        "load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pngs", type=int, default=600)
    parser.add_argument("--films", type=int, default=322, help="mini-MIAS films (322: all)")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--skip", nargs="*", default=[], choices=["mini_mias", "small_pngs", "fixed_cost"])
    parser.add_argument("--name", default="training", help="results/<name>.json")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        work = Path(tmp)
        if "fixed_cost" not in args.skip:
            tiny = small_png_folder(work / "tiny", n=100, size=32)
            result["fixed_cost"] = fixed_cost(tiny, work / "tiny", rounds=3)
            fc = result["fixed_cost"]
            print(
                f"fixed cost (tiny CLI run, warm cache): start -> first step {fc['warm_start_to_first_step_s']:.2f} s, "
                f"last step -> exit {fc['warm_last_step_to_exit_s']:.2f} s, overhead {fc['warm_overhead_s']:.2f} s "
                f"(target < 5 s); load {fc['load_average']}"
            )
            imports = {name: round(v["median_s"], 2) for name, v in fc["imports"].items()}
            print(f"  fresh-interpreter import seconds (medians): {imports}")
        sets = {
            "mini_mias": lambda: (mini_mias_manifest(work, limit=None if args.films >= 322 else args.films),
                                  "mammography", 128),
            "small_pngs": lambda: (small_png_folder(work, n=args.pngs), "generic", 64),
        }  # fmt: skip
        for name, make in sets.items():
            if name in args.skip:
                continue
            manifest, kind, size = make()
            part = compare(
                manifest,
                work / name,
                kind=kind,
                size=size,
                model=args.model,
                epochs=args.epochs,
                rounds=args.rounds,
            )
            result[name] = part
            per_epoch = part["speedup_per_epoch_from_second"]
            print(
                f"{name} ({args.model}, {size} px, batch 32, {args.epochs} epochs): speed-up vs plain loop - whole first "
                f"run {part['speedup_first_run_whole']:.2f}x (target >= 1), per epoch from the 2nd "
                f"{per_epoch if per_epoch is None else round(per_epoch, 2)}x (target >= 1.5), warm second run "
                f"{part['speedup_warm_run_whole']:.2f}x (target >= 1.5); data-wait share (warm) "
                f"{part['mb_warm']['data_wait_share']:.3f} vs plain {part['plain']['data_wait_share']:.3f} "
                f"(target < 0.10); load {part['mb_warm']['load_1min']}"
            )
    print(f"wrote {write_result(args.name, result)}")


if __name__ == "__main__":
    main()
