"""``explain_run``: what a clinician asks to see about a model's test split.

- ``contact_sheet.png``: Grad-CAM overlays of the most confident true positives,
  the most confident false negatives (lowest positive probability among
  positives) and the most confident false positives, at the bundle's threshold,
  with lesion outlines where the manifest knows them (mini-MIAS, phantoms);
- ``overlays/<group>_<image_id>.png``: the same overlays one by one;
- ``tsne.png``: t-SNE (scikit-learn) of the test embeddings (the input of the
  final linear layer) coloured by class and, as in Walsh & Tardy (2023, Fig. 3),
  with synthetic positives: test negatives with lesions inserted by
  :func:`medbalance.synth.insertion.insert_lesions`;
- ``explain.json``: the images shown and why.

Images are streamed in chunks; only the embeddings (and the few images shown)
are kept.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medbalance.errors import DataError
from medbalance.inference._network import find_embedding_layer
from medbalance.inference.bundle import Bundle, load_bundle, resolve_device
from medbalance.inference.explain import compute_gradcam, draw_overlay, write_overlay
from medbalance.inference.lesions import lesion_circles
from medbalance.inference.predict import make_loader, score_columns
from medbalance.io import atomic_write_text, check_output_dir, replace_dir
from medbalance.outputs import claim_output_dir

__all__ = ["ExplainResult", "explain_run", "select_cases"]

GROUPS = ("true positive", "false negative", "false positive")


@dataclass(frozen=True)
class ExplainResult:
    """The files written and the cases shown."""

    out_dir: Path
    files: tuple[Path, ...]
    cases: pd.DataFrame


def _source(source: Path, rule: str, device: str) -> tuple[Bundle, pd.DataFrame]:
    from medbalance.data.manifest import read_csv_as_strings

    if (source / "summary.json").is_file():
        from medbalance.inference.export import create_bundle

        bundle, _ = create_bundle(source, rule)
        run = source
        bundle.to(resolve_device(device))
    else:
        bundle = load_bundle(source, device=device)
        run = Path(str(bundle.spec.get("source", {}).get("run_dir", "")))
    split = run / "split.csv"
    if not split.is_file():
        raise FileNotFoundError(
            f"{split} does not exist; explain needs the run folder's split.csv (the bundle records run {run})."
        )
    table = read_csv_as_strings(split)
    test = table[table["split"] == "test"].reset_index(drop=True)
    if test.empty:
        raise DataError(f"{split} has no test images; explain shows the test split.")
    test["path"] = [p if Path(p).is_absolute() else str(split.parent / p) for p in test["path"]]
    return bundle, test


def _scan(bundle: Bundle, test: pd.DataFrame, chunk: int = 64) -> tuple[pd.DataFrame, np.ndarray]:
    """Scores and embeddings of every test image (streamed)."""
    load = make_loader(bundle, None)
    captured: list[torch.Tensor] = []
    hook = find_embedding_layer(bundle.network.model).register_forward_hook(
        lambda _m, args, _o: captured.append(args[0].detach().flatten(1).cpu())
    )
    device = next(bundle.network.parameters()).device
    probs = []
    try:
        with torch.inference_mode():
            for start in range(0, len(test), chunk):
                arrays = np.stack([load(p)[0] for p in test["path"].iloc[start : start + chunk]])
                logits = bundle.network(torch.from_numpy(arrays.astype(np.float32)).to(device))
                probs.append(torch.softmax(logits, dim=1).cpu().numpy())
    finally:
        hook.remove()
    scored = test.copy()
    for name, values in score_columns(bundle, np.concatenate(probs)).items():
        scored[name] = values
    return scored, torch.cat(captured).numpy()


def select_cases(scored: pd.DataFrame, positive: str, per_group: int) -> pd.DataFrame:
    """The ``per_group`` most confident TP, FN and FP, with a ``group`` column."""
    prob = scored[f"prob_{positive}"]
    truth, said = scored["label"] == positive, scored["decision"] == positive
    picks = [
        scored[truth & said]
        .assign(group=GROUPS[0])
        .loc[lambda d: prob[d.index].sort_values(ascending=False).index],
        scored[truth & ~said].assign(group=GROUPS[1]).loc[lambda d: prob[d.index].sort_values().index],
        scored[~truth & said]
        .assign(group=GROUPS[2])
        .loc[lambda d: prob[d.index].sort_values(ascending=False).index],
    ]
    return pd.concat([p.head(per_group) for p in picks], ignore_index=True)


def _sheet(bundle: Bundle, cases: pd.DataFrame, per_group: int, staging: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    load = make_loader(bundle, None)
    loaded = [load(p) for p in cases["path"]]
    maps = compute_gradcam(bundle, np.stack([a for a, _ in loaded])) if loaded else np.zeros((0, 1, 1))
    positive = str(bundle.positive_class)
    fig, axes = plt.subplots(3, per_group, figsize=(2.2 * per_group, 7.2), squeeze=False)
    files = []
    for g, group in enumerate(GROUPS):
        rows = cases.index[cases["group"] == group].tolist()
        for j in range(per_group):
            ax = axes[g][j]
            if j >= len(rows):
                ax.set_axis_off()
                ax.text(0.5, 0.5, "none" if j == 0 else "", ha="center", va="center", transform=ax.transAxes)
                continue
            i = rows[j]
            row = cases.loc[i].to_dict()
            circles = lesion_circles(row, loaded[i][1])
            title = f"{row['image_id']}\np({positive})={row[f'prob_{positive}']:.2f}"
            draw_overlay(ax, loaded[i][0], maps[i], circles, title)
            name = f"{group.replace(' ', '_')}_{str(row['image_id']).replace('/', '__')}.png"
            files.append(write_overlay(staging / "overlays" / name, loaded[i][0], maps[i], circles, title))
        axes[g][0].text(
            -0.15, 0.5, group, rotation=90, ha="right", va="center", transform=axes[g][0].transAxes
        )
    threshold = bundle.spec["threshold"]
    fig.suptitle(f"Grad-CAM, test split, threshold {threshold['value']:.3g} ({threshold['rule']}); "
                 "green: lesion outline, +: map peak", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(staging / "contact_sheet.png", dpi=110)
    plt.close(fig)
    return [staging / "contact_sheet.png", *files]


def _synthetic_embeddings(bundle: Bundle, scored: pd.DataFrame, n: int, seed: int) -> np.ndarray:
    """Embeddings of up to ``n`` test negatives with synthetic lesions inserted.

    Inserted as the ``synthetic-lesions`` strategy does by default (its malignant
    kinds, 1-3 per image, at the image's effective pixel spacing, or a 200 mm high
    image when the manifest has none), so the points show what that strategy trains on.
    """
    from medbalance.strategies.synthetic import SyntheticLesionsParams
    from medbalance.synth.insertion import insert_lesions

    defaults = SyntheticLesionsParams()
    load = make_loader(bundle, None)
    rng = np.random.default_rng(seed)
    negatives = scored[scored["label"] != bundle.positive_class]
    edited = []
    for _, row in negatives.head(n).iterrows():
        array, info = load(row["path"])
        try:
            spacing = float(row.get("pixel_spacing_mm", "") or "nan") / info.scale
        except ValueError:
            spacing = float("nan")
        if not spacing > 0:
            spacing = defaults.fallback_height_mm / array.shape[-2]
        image = array[0]
        try:
            new, _ = insert_lesions(image, image > 0.02, kinds=defaults.kinds, n=defaults.lesions_per_image,
                                    spacing_mm=spacing, rng=rng)  # fmt: skip
        except DataError:  # a breast without room for the lesion is skipped, not fatal
            continue
        edited.append(np.repeat(new[None], array.shape[0], axis=0))
    if not edited:
        return np.zeros((0, 0))
    captured: list[torch.Tensor] = []
    hook = find_embedding_layer(bundle.network.model).register_forward_hook(
        lambda _m, args, _o: captured.append(args[0].detach().flatten(1).cpu())
    )
    try:
        with torch.inference_mode():
            device = next(bundle.network.parameters()).device
            bundle.network(torch.from_numpy(np.stack(edited).astype(np.float32)).to(device))
    finally:
        hook.remove()
    return torch.cat(captured).numpy()


def _tsne(
    bundle: Bundle, scored: pd.DataFrame, embeddings: np.ndarray, staging: Path, seed: int = 0
) -> Path | None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    synthetic = _synthetic_embeddings(bundle, scored, n=max(5, int((scored["label"] == bundle.positive_class).sum())),
                                      seed=seed)  # fmt: skip
    points = embeddings if not len(synthetic) else np.concatenate([embeddings, synthetic])
    if len(points) < 5:
        return None
    xy = TSNE(
        n_components=2, perplexity=min(30.0, (len(points) - 1) / 3), random_state=seed, init="pca"
    ).fit_transform(points)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    labels = scored["label"].to_numpy()
    for c, colour in zip(bundle.classes, ("tab:blue", "tab:red", "tab:green", "tab:purple"), strict=False):
        mask = labels == c
        name = f"real {c}" if c == bundle.positive_class else c
        ax.scatter(
            xy[: len(labels)][mask, 0],
            xy[: len(labels)][mask, 1],
            s=14,
            c=colour,
            label=f"{name} ({mask.sum()})",
        )
    if len(synthetic):
        ax.scatter(xy[len(labels) :, 0], xy[len(labels) :, 1], s=18, marker="x", c="tab:orange",
                   label=f"synthetic {bundle.positive_class} ({len(synthetic)})")  # fmt: skip
    ax.set_title("t-SNE of test embeddings (input of the final linear layer)", fontsize=9)
    ax.legend(fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(staging / "tsne.png", dpi=110)
    plt.close(fig)
    return staging / "tsne.png"


def explain_run(
    source: str | Path, out_dir: str | Path | None = None, *, rule: str = "target-sensitivity:0.9",
    per_group: int = 4, tsne: bool = True, device: str = "cpu", overwrite: bool = False,
) -> ExplainResult:  # fmt: skip
    """Write the contact sheet, overlays, t-SNE and explain.json of a run's or bundle's test split.

    Raises:
        FileNotFoundError: no run folder, split.csv or metrics.json.
        DataError: no test images, a multi-class bundle (TP/FN/FP need a positive class).
    """
    from medbalance.inference.explain import require_captum

    require_captum()  # before any model is loaded or image read
    source = Path(source)
    out = Path(out_dir) if out_dir is not None else source / "explain"
    with claim_output_dir(out):  # a second explain to the same folder is refused, not interleaved
        return _explain_into(source, out, rule, per_group, tsne, device, overwrite)


def _explain_into(
    source: Path, out: Path, rule: str, per_group: int, tsne: bool, device: str, overwrite: bool
) -> ExplainResult:
    check_output_dir(out, overwrite=overwrite)
    bundle, test = _source(source, rule, device)
    if not bundle.is_binary:
        raise DataError(
            "explain's contact sheet needs a binary bundle (true/false positives); this one is multi-class."
        )
    scored, embeddings = _scan(bundle, test)
    cases = select_cases(scored, str(bundle.positive_class), per_group)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = _sheet(bundle, cases, per_group, staging)
        if tsne:
            figure = _tsne(bundle, scored, embeddings, staging)
            files += [figure] if figure is not None else []
        shown = cases[["group", "image_id", "path", "label", "decision", f"prob_{bundle.positive_class}"]]
        record: dict[str, Any] = {"threshold": bundle.spec["threshold"], "n_test": len(scored),
                                  "shown": shown.to_dict("records")}  # fmt: skip
        atomic_write_text(staging / "explain.json", json.dumps(record, indent=2, default=str) + "\n")
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    names = [out / p.relative_to(staging) for p in files] + [out / "explain.json"]
    return ExplainResult(out, tuple(names), cases)
