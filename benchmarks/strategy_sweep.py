"""Every imbalance strategy on the phantom default at 19:1, one seed: the majority bias and its cures.

Generates one phantom set (prevalence 0.05 = 19:1 malignant breasts), trains the
same small CNN once per registered strategy with ``medbalance.training.train``
(same split, same seed, same epochs), and reads each run's
``predictions_test.csv``: sensitivity and specificity at the 0.5 threshold, AUC,
and (for comparison with the ``threshold`` strategy) sensitivity and specificity
at the threshold maximising Youden's J on the validation split. Image level and
breast level (mean of CC and MLO, as Walsh & Tardy 2023) are both reported.

Run on one core (the machine is shared):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/strategy_sweep.py --out /tmp/sweep \\
        --table benchmarks/results/strategy_sweep.csv --docs docs/training.md

The same on a real manifest (e.g. mini-MIAS malignancy from ``medbalance data mini-mias``):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/strategy_sweep.py --out /tmp/sweep_mias \\
        --data /tmp/mias/manifest.csv --section mini-mias --image-size 128 --augment mammography

The markdown table replaces the part of ``--docs`` between the markers
``<!-- SECTION:start -->`` and ``<!-- SECTION:end -->`` (``--section``, default
``strategy-sweep``; appended with a heading when the markers are absent).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from medbalance.evaluation import compute_binary_metrics, select_threshold
from medbalance.strategies import list_strategies
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms
from medbalance.training.config import load_train_config
from medbalance.training.run import train


def _scores(frame: pd.DataFrame, positive: str, level: str) -> tuple[np.ndarray, np.ndarray]:
    """(0/1 labels, positive-class probability), per image or per breast (mean of its views)."""
    data = frame[["breast_id", "label", f"prob_{positive}"]].copy()
    if level == "breast":
        data = data.groupby("breast_id", sort=True).agg(
            label=("label", "first"), score=(f"prob_{positive}", "mean")
        )
    else:
        data = data.rename(columns={f"prob_{positive}": "score"})
    return (data["label"] == positive).to_numpy(int), data["score"].to_numpy(float)


def evaluate_run(run: Path, positive: str, level: str) -> dict[str, float]:
    """Test-set numbers of one run folder at 0.5 and at the validation Youden threshold."""
    y_val, s_val = _scores(pd.read_csv(run / "predictions_val.csv", dtype={"label": str}), positive, level)
    y, s = _scores(pd.read_csv(run / "predictions_test.csv", dtype={"label": str}), positive, level)
    at_half = compute_binary_metrics(y, s, threshold=0.5)
    auc = float(at_half["auc_roc"].value)
    if abs(auc - roc_auc_score(y, s)) > 1e-9:  # the evaluation core agrees with scikit-learn
        raise RuntimeError(f"{run}: AUC {auc} differs from scikit-learn {roc_auc_score(y, s)}")
    youden = select_threshold(y_val, s_val, "youden")
    at_youden = compute_binary_metrics(y, s, threshold=youden.threshold)

    def value(metrics: dict, name: str) -> float:
        return float(metrics[name].value) if metrics[name].defined else float("nan")

    return {
        "auc": auc,
        "sens@0.5": value(at_half, "sensitivity"),
        "spec@0.5": value(at_half, "specificity"),
        "mcc@0.5": value(at_half, "mcc"),
        "youden_thr(val)": float(youden.threshold),
        "sens@youden": value(at_youden, "sensitivity"),
        "spec@youden": value(at_youden, "specificity"),
        "mean_score_pos": float(s[y == 1].mean()),
        "mean_score_neg": float(s[y == 0].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, required=True, help="work folder: data/, cache/, runs/<strategy>/"
    )
    parser.add_argument("--data", type=Path, help="an existing manifest CSV instead of generated phantoms")
    parser.add_argument("--augment", default="none", help="augmentation preset of every run")
    parser.add_argument("--section", default="strategy-sweep", help="name of the docs section (markers)")
    parser.add_argument("--n-patients", type=int, default=300)
    parser.add_argument("--prevalence", type=float, default=0.05)
    parser.add_argument("--phantom-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--strategies", default="", help="comma-separated names (default: every registered one)"
    )
    parser.add_argument("--table", type=Path, help="CSV of the results")
    parser.add_argument("--docs", type=Path, help="markdown file whose sweep section is replaced")
    args = parser.parse_args()

    data_dir = args.out / "data"
    manifest = args.data or data_dir / "manifest.csv"
    if args.data is None and not manifest.is_file():
        started = time.perf_counter()
        phantom = PhantomConfig(
            n_patients=args.n_patients, prevalence=args.prevalence, size=args.phantom_size, seed=args.seed
        )
        generate_phantoms(phantom, out_dir=data_dir, overwrite=True)
        (args.out / "phantom_config.txt").write_text(repr(phantom) + "\n", encoding="utf-8")
        print(f"phantoms: {args.n_patients} patients in {time.perf_counter() - started:.1f} s")
    names = [n for n in args.strategies.split(",") if n] or [s.name for s in list_strategies()]
    rows = []
    for name in names:
        run = args.out / "runs" / name
        started = time.perf_counter()
        config = load_train_config(
            None,
            {
                "out": str(run),
                "data": str(manifest),
                "augmentation": args.augment,
                "strategy": name,
                "model": args.model,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "lr": args.lr,
                "image_size": args.image_size,
                "seed": args.seed,
                "cache_dir": str(args.out / "cache"),
                "progress": False,
                "overwrite": True,
            },
        )
        result = train(config)
        seconds = time.perf_counter() - started
        summary = result.summary
        positive = summary["positive_class"]
        for level in ("image", "breast"):
            row = {
                "strategy": name,
                "level": level,
                "best_epoch": result.best_epoch,
                "seconds": round(seconds, 1),
            }
            row |= evaluate_run(run, positive, level)
            rows.append(row)
        print(json.dumps(rows[-2]), flush=True)
    table = pd.DataFrame(rows)
    counts = summary.get("split_class_counts", {})
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.table, index=False, float_format="%.4f")
    if args.docs:
        write_docs_section(args.docs, table, args, counts)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def write_docs_section(path: Path, table: pd.DataFrame, args: argparse.Namespace, counts: dict) -> None:
    """Replace (or append) the sweep section of a markdown file."""
    start, end = f"<!-- {args.section}:start -->", f"<!-- {args.section}:end -->"
    columns = [
        "strategy",
        "auc",
        "sens@0.5",
        "spec@0.5",
        "mcc@0.5",
        "sens@youden",
        "spec@youden",
        "best_epoch",
        "seconds",
    ]
    described = args.out / "phantom_config.txt"
    source = (
        f"Data: {args.data}"
        if args.data
        else f"Phantoms: {args.n_patients} patients ({4 * args.n_patients} images), prevalence {args.prevalence} "
        f"(19:1 at 0.05), generated at {args.phantom_size} px"
        + (f" (`{described.read_text().strip()}`)" if described.is_file() else "")
    )
    lines = [
        start,
        f"{source}; trained at {args.image_size} px, augmentation {args.augment}; "
        f"`{args.model}`, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, seed {args.seed}; "
        f"best epoch by validation AUC. Split images per class: {json.dumps(counts)}. "
        f"Machine: {platform.processor() or platform.machine()}, 1 thread.",
        "",
    ]
    for level in ("image", "breast"):
        part = table[table["level"] == level][columns]
        lines += [f"**{level} level** (test split)", "", "| " + " | ".join(columns) + " |"]
        lines.append("|" + "---|" * len(columns))
        for _, r in part.iterrows():
            cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.tolist()]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(end)
    block = "\n".join(lines)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = (
            text.rstrip("\n")
            + ("\n\n" if text else "")
            + f"## Strategy sweep: {args.section}\n\n"
            + block
            + "\n"
        )
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
