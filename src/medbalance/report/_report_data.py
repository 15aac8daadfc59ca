"""The report's data section and the plain-language glossary of every metric it shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["GLOSSARY", "data_sections"]

GLOSSARY: dict[str, str] = {
    "AUC": "How well the model ranks cases: the chance a random cancer scores higher than a random "
    "non-cancer (0.5 = coin toss, 1 = perfect). It does not depend on any threshold.",
    "AUPRC": "Average precision over all sensitivities; with few cancers it shows how many alarms are real. "
    "A useless model scores about the prevalence.",
    "Sensitivity": "Share of cancers the model flags (recall). Missed cancers = 1 - sensitivity.",
    "Specificity": "Share of non-cancers the model leaves alone. False alarms = 1 - specificity.",
    "PPV": "Of the cases flagged, the share that really are cancer. It falls when cancer is rarer.",
    "NPV": "Of the cases cleared, the share that really are free of cancer.",
    "MCC": "Matthews correlation: one number from -1 to 1 that is high only when both cancers and "
    "non-cancers are classified well; 0 = no better than chance.",
    "BalAcc": "Balanced accuracy: the average of sensitivity and specificity, so the common class cannot "
    "hide a failure on the rare one.",
    "Brier": "Mean squared gap between the predicted probability and what happened (0 = perfect); "
    "rewards honest probabilities.",
    "ECE": "Expected calibration error: how far, on average, the stated probability of cancer is from the "
    "observed rate among cases given that probability.",
    "95% interval": "The range the value would plausibly take on another sample of patients like these "
    "(patients resampled 1,000 times); wide intervals mean few cancers.",
    "sd over seeds": "How much the result moves when the same model is trained again with another random "
    "start: a difference smaller than this is noise.",
}


def _crosstab(table: pd.DataFrame, rows: str) -> dict[str, Any]:
    counts = pd.crosstab(table[rows], table["split"], margins=True, margins_name="all")
    return {"header": [rows, *[str(c) for c in counts.columns]],
            "rows": [[str(i), *[int(v) for v in r]] for i, r in zip(counts.index, counts.to_numpy(), strict=True)]}  # fmt: skip


def _prevalence_rows(table: pd.DataFrame, positive: str | None) -> list[list[str]]:
    if positive is None:
        return []
    rows = []
    for split, block in table.groupby("split"):
        images = (block["label"] == positive).mean()
        text = [str(split), f"{images:.3f}"]
        if "breast_id" in block and block["breast_id"].astype(str).str.len().gt(0).all():
            breasts = block.groupby("breast_id")["label"].apply(lambda s: (s == positive).any()).mean()
            text.append(f"{breasts:.3f}")
        else:
            text.append("n/a")
        text.append(str(block["patient_id"].nunique()))
        rows.append(text)
    return rows


def _warnings(data_dir: Path, manifest_path: Path) -> list[str]:
    saved = data_dir / "validation.json"
    if saved.is_file():
        report = json.loads(saved.read_text(encoding="utf-8"))
        return [f"{p['severity']}: {p['message']}" for p in report.get("problems", [])]
    from medbalance.data.manifest import load_manifest
    from medbalance.data.validate import validate_manifest

    report_obj = validate_manifest(load_manifest(manifest_path), n_folds=2, check_images=False)
    return [f"{p.severity}: {p.message}" for p in report_obj.problems]


def data_sections(bench_dir: Path, positive: str | None) -> list[dict[str, Any]]:
    """One entry per data set under ``bench_dir/data``: counts per class/domain and split, prevalence, patients,
    and validate's warnings."""
    sections = []
    for manifest_path in sorted((bench_dir / "data").glob("*/manifest.csv")):
        table = pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
        entry: dict[str, Any] = {"name": manifest_path.parent.name, "n_images": len(table),
                                 "n_patients": int(table["patient_id"].nunique())}  # fmt: skip
        if "split" not in table or table["split"].eq("").all():
            table["split"] = "unsplit"
        entry["by_class"] = _crosstab(table, "label")
        entry["by_domain"] = _crosstab(table, "domain") if "domain" in table else None
        entry["prevalence"] = _prevalence_rows(table, positive)
        try:
            entry["warnings"] = _warnings(manifest_path.parent, manifest_path)
        except Exception as exc:  # validate is advice here; the benchmark already refused unsafe data
            entry["warnings"] = [f"validate could not run on {manifest_path.name}: {exc}"]
        sections.append(entry)
    return sections
