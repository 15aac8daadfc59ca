"""The report's "what the recommended model looks at" section: its bundle, Grad-CAM sheet and t-SNE.

The recommended model is exported (``BENCH/model``, a bundle ``medbalance predict``
applies to new images) and explained on its test split (``BENCH/explain``): the
contact sheet of confident true positives, false negatives and false positives, and
the t-SNE of test embeddings with real and synthetic positives (Walsh & Tardy 2023,
Fig. 3). A recommendation that has no single model (cross-validation: one model per
fold) or whose files are gone gets a sentence that says why, not a broken section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medbalance.errors import MedbalanceError

__all__ = ["EXPLAIN_DIR", "MODEL_DIR", "latent_view"]

MODEL_DIR = "model"
EXPLAIN_DIR = "explain"

_FIGURES = {
    "contact_sheet.png": "Grad-CAM on the test split: confident true positives, false negatives and false "
    "positives at the recommended threshold (green: the lesion's outline; +: the map's peak)",
    "tsne.png": "t-SNE of test embeddings: real positives, negatives and synthetic positives "
    "(test negatives with inserted lesions)",
}


def latent_view(bench: Path, recommendation: dict[str, Any], *, to_src: Any) -> dict[str, Any]:
    """Export and explain the recommended model; the template's ``latent`` context.

    Args:
        bench: the benchmark folder.
        recommendation: ``Recommendation.to_dict()`` (its ``model`` entry names the cell).
        to_src: turns a PNG path into an ``<img src>`` (a data URI).

    Returns:
        ``{"available": bool, "reason": str, "figures": [...], "bundle": str}``.
    """
    from medbalance.inference.explain_run import explain_run
    from medbalance.inference.export import export_recommended

    cells = recommendation.get("model", {}).get("cell_ids") or []
    if len(cells) != 1:
        reason = (
            "the recommended strategy was cross-validated: one model per fold, so there is no single model to "
            "export or explain; retrain it on all the data with `medbalance train` and run `medbalance explain`."
            if len(cells) > 1 else "the recommendation names no model."
        )  # fmt: skip
        return {"available": False, "reason": reason, "figures": [], "bundle": ""}
    try:
        export_recommended(bench, bench / MODEL_DIR, overwrite=True)
        result = explain_run(bench / MODEL_DIR, bench / EXPLAIN_DIR, overwrite=True)
    except (MedbalanceError, FileNotFoundError) as exc:
        return {"available": False, "reason": f"the recommended model could not be explained: {exc}",
                "figures": [], "bundle": ""}  # fmt: skip
    figures = [{"src": to_src(result.out_dir / name), "title": title}
               for name, title in _FIGURES.items() if (result.out_dir / name).is_file()]  # fmt: skip
    return {"available": True, "reason": "", "figures": figures, "bundle": MODEL_DIR}
