"""Measure the ``make demo`` preset: the baseline's evidence (breast-level AUC, its interval, collapse at 0.5)
against time, on the real code path (``medbalance.demo.run_demo`` -> the benchmark engine -> the report).

Each run appends one record to the JSON: the settings changed from ``DEMO_PRESET``, the baseline's
breast-level test AUC with its 95% patient-clustered bootstrap interval and DeLong interval (from
the store), sensitivity/specificity at 0.5, the out-of-distribution AUC, the wall-clock seconds, the
CPU seconds of this process and its children, and the 1-minute load average before and after (the
machine is shared; on a loaded machine CPU seconds / 2 approximates the wall time on 2 idle cores).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/demo_preset.py --out /tmp/preset --strategies none \\
        --seeds 1 --json benchmarks/results/demo_preset.json

``--record DIR --wall S --cpu S --load A,B`` adds a finished demo folder measured elsewhere (e.g. under
``/usr/bin/time -v medbalance demo``) instead of running one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

from medbalance.benchmark.leaderboard import load_benchmark_frames
from medbalance.demo import DemoConfig, run_demo


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def evidence(bench: Path) -> dict[str, Any]:
    """The baseline's numbers from the store of a finished demo folder (mean over its seeds)."""
    units, metrics = load_benchmark_frames(bench)
    base = metrics[(metrics["strategy"] == "none") & (metrics["split"] == "test")]

    def pick(in_dist: bool, rule: str, metric: str) -> dict[str, float]:
        rows = base[
            (base["in_distribution"] == in_dist) & (base["rule"] == rule) & (base["metric"] == metric)
        ]
        return {k: round(float(rows[k].mean()), 3) for k in ("estimate", "low", "high")}

    auc = pick(True, "", "auc_roc")
    inside = units[units["in_distribution"] & (units["strategy"] == "none")]
    return {
        "baseline_auc_breast": auc,
        "baseline_auc_half_width": round((auc["high"] - auc["low"]) / 2, 3),
        "baseline_auc_delong": pick(True, "", "auc_roc_delong"),
        "baseline_sens_at_0.5": pick(True, "fixed:0.5", "sensitivity")["estimate"],
        "baseline_spec_at_0.5": pick(True, "fixed:0.5", "specificity")["estimate"],
        "baseline_auc_out_of_distribution": pick(False, "", "auc_roc"),
        "test_breasts": int(inside["n_cases"].mean()),
        "test_malignant_breasts": int(inside["n_positive"].mean()),
        "seeds": sorted(int(s) for s in units["seed"].unique()),
        "strategies": sorted(units["strategy"].unique()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="demo folder to write (replaced)")
    parser.add_argument("--n-patients", type=int)
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--strategies", help="comma-separated")
    parser.add_argument("--record", type=Path, help="record a finished demo folder instead of running one")
    parser.add_argument("--wall", type=float, help="with --record: measured wall-clock seconds")
    parser.add_argument("--cpu", type=float, help="with --record: measured CPU seconds (user + system)")
    parser.add_argument("--load", help="with --record: 1-minute load average before,after")
    parser.add_argument("--note", default="", help="free text kept with the record")
    parser.add_argument("--json", type=Path, required=True, help="append the record here")
    args = parser.parse_args()
    changed = {k: v for k, v in vars(args).items()
               if k in ("n_patients", "image_size", "epochs", "seeds", "strategies") and v is not None}  # fmt: skip
    if args.record:
        before, after = (float(x) for x in (args.load or "nan,nan").split(","))
        record = {"settings_changed": changed, "seconds": args.wall, "cpu_seconds": args.cpu,
                  "load1_before": before, "load1_after": after, **evidence(args.record)}  # fmt: skip
    else:
        load_before, cpu_before, started = os.getloadavg()[0], _cpu_seconds(), time.perf_counter()
        strategies = tuple(args.strategies.split(",")) if args.strategies else None
        run_demo(DemoConfig(out=args.out, n_patients=args.n_patients, image_size=args.image_size, epochs=args.epochs,
                            seeds=args.seeds, strategies=strategies, overwrite=True))  # fmt: skip
        record = {"settings_changed": changed, "seconds": round(time.perf_counter() - started, 1),
                  "cpu_seconds": round(_cpu_seconds() - cpu_before, 1), "load1_before": round(load_before, 2),
                  "load1_after": round(os.getloadavg()[0], 2), **evidence(args.out)}  # fmt: skip
    record["note"] = args.note
    print(json.dumps(record), flush=True)
    runs = json.loads(args.json.read_text())["runs"] if args.json.is_file() else []
    payload = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)", "runs": [*runs, record]}
    args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
