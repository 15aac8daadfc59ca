"""Grad-CAM (captum) finds an easy synthetic lesion; overlays, contact sheet and t-SNE open."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from medbalance.cli import main
from medbalance.data.preprocess import PreprocessConfig, preprocess_with_info
from medbalance.errors import DataError
from medbalance.inference._network import find_embedding_layer, find_last_conv
from medbalance.inference.explain import compute_gradcam_maps, peak_in_circles, write_overlay
from medbalance.inference.lesions import lesion_circles


def _easy_phantoms(seed: int = 1) -> tuple[np.ndarray, np.ndarray, list[list[tuple[float, float, float]]]]:
    """64 px CC phantoms, fatty breasts, half with one bright 10 mm mass (no spicules) and its circle."""
    from medbalance.synth.insertion import insert_lesions
    from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

    phantoms = generate_phantoms(PhantomConfig(
        n_patients=80, prevalence=0.01, size=64, seed=seed, benign_finding_rate=0.0, density_mix=(1, 0, 0, 0),
        domains=("vendor-a",),
    ))  # fmt: skip
    rng = np.random.default_rng(0)
    images, labels, circles = [], [], []
    for image_id in phantoms.manifest.table["image_id"]:
        if not image_id.endswith("_CC"):  # no pectoral muscle: the mass is the only bright blob
            continue
        image, found, label = phantoms.images[image_id], [], int(rng.random() < 0.5)
        if label:
            try:
                image, records = insert_lesions(image, image > 0.02, kinds=["mass"], n=1, spacing_mm=1.0, rng=rng,
                                                size_mm=10.0, n_spicules=0, contrast=0.9)  # fmt: skip
            except DataError:  # a small breast without room for the mass: left out
                continue
            found = [(float(r.center[0]), float(r.center[1]), r.size_mm / 2.0) for r in records]
        images.append(image[None])
        labels.append(label)
        circles.append(found)
    return np.stack(images).astype(np.float32), np.array(labels), circles


def _tiny_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(16, 2),
    )  # fmt: skip


needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="captum (the explain extra) is not installed"
)


@needs_captum
def test_gradcam_peak_falls_inside_the_lesion_on_most_positives(tmp_path: Path) -> None:
    images, labels, circles = _easy_phantoms()
    train = np.arange(len(images)) < int(0.7 * len(images))
    torch.manual_seed(0)
    model = _tiny_cnn()
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    x, y = torch.from_numpy(images[train]), torch.from_numpy(labels[train])
    generator = torch.Generator().manual_seed(0)
    for _ in range(12):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 32):
            batch = order[start : start + 32]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    positives = np.where(~train & (labels == 1))[0]
    maps = compute_gradcam_maps(model, find_last_conv(model), images[positives], 1)
    assert maps.shape == (len(positives), 64, 64) and np.isclose(maps.max(), 1.0)
    hits = [peak_in_circles(m, circles[i]) for m, i in zip(maps, positives, strict=True)]
    assert len(hits) >= 15 and np.mean(hits) > 0.5, f"peak inside the lesion on {sum(hits)} of {len(hits)}"
    path = write_overlay(tmp_path / "o.png", images[positives[0]], maps[0], circles[positives[0]], "mass")
    with Image.open(path) as image:
        assert image.size[0] > 100


@needs_captum
@pytest.mark.parametrize("name", ["small-cnn", "resnet22", "resnet18"])
def test_gradcam_layer_is_found_for_medbalance_and_timm_models(name: str) -> None:
    from medbalance.training.models import create_model

    model = create_model(name, num_classes=2, in_chans=1).eval()
    assert isinstance(find_last_conv(model), nn.Conv2d)
    assert find_embedding_layer(model).out_features == 2
    maps = compute_gradcam_maps(
        model, find_last_conv(model), np.random.default_rng(0).random((2, 1, 64, 64)), 1
    )
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all() and maps.min() >= 0


def test_lesion_circles_follow_preprocessing() -> None:
    image = np.zeros((100, 80), np.float32)
    image[:, :50] = 0.5  # breast on the left, so no flip
    _, info = preprocess_with_info(image, PreprocessConfig(kind="mammography", size=50))
    mias = lesion_circles({"lesion_row": "40;60", "lesion_col": "20;30", "lesion_radius": "10;"}, info)
    assert mias[0] == pytest.approx((*info.map_point(40, 20), 10 * info.scale))
    assert mias[1][2] == pytest.approx(5.0 * info.scale)  # radius unknown: a small marker
    phantom = lesion_circles({"lesions": json.dumps([{"center": [40, 20], "size_mm": 8.0}]),
                              "pixel_spacing_mm": "2"}, info)  # fmt: skip
    assert phantom == [pytest.approx((*info.map_point(40, 20), 2.0 * info.scale))]
    assert lesion_circles({"lesions": "[]"}, info) == []


@needs_captum
def test_explain_writes_a_contact_sheet_and_tsne(
    evaluated_run: Path, bundle_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "explain"
    assert main(["explain", str(bundle_dir), "--out", str(out), "--per-group", "3", "--device", "cpu"]) == 0
    record = json.loads((out / "explain.json").read_text())
    assert record["n_test"] > 0 and {r["group"] for r in record["shown"]} <= {
        "true positive",
        "false negative",
        "false positive",
    }
    for shown in record["shown"]:
        truth, said = shown["label"] == "malignant", shown["decision"] == "malignant"
        assert {"true positive": truth and said, "false negative": truth and not said,
                "false positive": not truth and said}[shown["group"]]  # fmt: skip
    for name in ("contact_sheet.png", "tsne.png"):
        with Image.open(out / name) as image:
            assert image.size[0] > 300
    assert len(list((out / "overlays").glob("*.png"))) == len(record["shown"])
    assert main(["explain", str(evaluated_run), "--out", str(out)]) == 2  # exists: refused


@needs_captum
def test_predict_explain_writes_overlays(bundle_dir: Path, evaluated_run: Path, tmp_path: Path) -> None:
    import pandas as pd

    paths = pd.read_csv(evaluated_run / "split.csv", dtype=str)["path"][:3].tolist()
    out = tmp_path / "p.csv"
    assert main(["predict", str(bundle_dir), *paths, "--out", str(out), "--explain", "--no-progress"]) == 0
    overlays = sorted((tmp_path / "p_overlays").glob("*.png"))
    assert len(overlays) == 3
    with Image.open(overlays[0]) as image:
        assert image.size[0] > 100


def test_mini_mias_circle_lands_on_the_mass(mini_mias_dir: Path) -> None:
    """mdb001's Info.txt circle (a large circumscribed mass) maps onto bright breast tissue after flip/crop/resize."""
    from medbalance.data.adapters.mini_mias import _image_rows, read_mias_info
    from medbalance.data.readers import read_image

    info_txt = mini_mias_dir / "Info.txt"
    table = _image_rows(read_mias_info(info_txt), info_txt)  # the adapter's own manifest columns
    row = table.set_index("image_id").loc["mdb001"]
    image = next(mini_mias_dir.rglob("mdb001.*"))
    array, info = preprocess_with_info(read_image(image), PreprocessConfig(kind="mammography", size=128))
    (r, c, radius), *_ = lesion_circles(row.to_dict(), info)
    rows, cols = np.mgrid[:128, :128]
    inside = (rows - r) ** 2 + (cols - c) ** 2 <= radius**2
    breast = array[0] > 0.05
    assert info.flipped and radius == pytest.approx(197 * info.scale)
    assert breast[int(r), int(c)] and array[0][inside].mean() > array[0][breast & ~inside].mean()
