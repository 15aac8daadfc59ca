"""Lesion insertion: determinism, placement inside the breast, speck sizes, errors, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import measure

from medbalance.cli import main
from medbalance.errors import ConfigError, DataError
from medbalance.synth import LesionRecord, insert_lesion, insert_lesions

KINDS = ["mass", "circumscribed-mass", "calcification", "coarse-calcification", "distortion"]
SPACING = 0.5  # mm per pixel: a 128-pixel image is a 64 mm breast


def _breast(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A half-disc breast on the left edge with smooth random texture; background 0."""
    rows, cols = np.mgrid[:size, :size]
    mask = (rows - size / 2) ** 2 + cols**2 < (0.48 * size) ** 2 * 2
    mask &= (rows > 4) & (rows < size - 5)
    texture = ndimage.gaussian_filter(np.random.default_rng(0).random((size, size)), 2.0)
    texture = (texture - texture.min()) / np.ptp(texture)
    image = np.where(mask, 0.3 + 0.3 * texture, 0.0).astype(np.float32)
    return image, mask


@pytest.mark.parametrize("kind", KINDS, ids=KINDS)
def test_same_seed_same_image_bit_for_bit(kind: str) -> None:
    image, mask = _breast()
    a, ra = insert_lesion(image, mask, kind=kind, spacing_mm=SPACING, rng=np.random.default_rng(11))
    b, rb = insert_lesion(image, mask, kind=kind, spacing_mm=SPACING, rng=np.random.default_rng(11))
    c, _ = insert_lesion(image, mask, kind=kind, spacing_mm=SPACING, rng=12)
    assert a.tobytes() == b.tobytes()
    assert ra == rb
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", KINDS, ids=KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_lesion_stays_inside_the_breast(kind: str, seed: int) -> None:
    image, mask = _breast()
    original = image.copy()
    out, record = insert_lesion(image, mask, kind=kind, spacing_mm=SPACING, rng=seed)
    assert np.array_equal(image, original), "the input array was modified"
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    changed = out != image
    assert changed.any()
    assert not changed[~mask].any()
    radius_px = record.params["support_radius_mm"] / SPACING
    rows, cols = np.nonzero(changed)
    assert np.hypot(rows - record.center[0], cols - record.center[1]).max() <= radius_px + 1e-6
    # the centre lies in the mask eroded by the lesion's radius
    inside_distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    assert inside_distance[record.center] > radius_px


def test_distortion_changes_only_pixels_within_its_radius() -> None:
    image, mask = _breast()
    out, record = insert_lesion(image, mask, kind="distortion", spacing_mm=SPACING, rng=4, size_mm=30.0)
    rows, cols = np.nonzero(out != image)
    assert rows.size > 50
    assert np.hypot(rows - record.center[0], cols - record.center[1]).max() < 15.0 / SPACING
    assert mask[rows, cols].all()


def test_exclude_mask_is_never_touched() -> None:
    image, mask = _breast()
    exclude = np.zeros_like(mask)
    exclude[:, :40] = True  # e.g. a pectoral muscle along the chest wall
    for seed in range(4):
        out, _ = insert_lesion(
            image, mask, kind="mass", spacing_mm=SPACING, rng=seed, exclude_mask=exclude, size_mm=8.0
        )
        assert not (out != image)[exclude].any()


def test_calcification_speck_diameters_are_within_a_quarter_to_one_mm() -> None:
    size, spacing = 200, 0.03  # 6 mm field, specks 8-33 px across
    image = np.full((size, size), 0.3, dtype=np.float32)
    mask = np.ones((size, size), dtype=bool)
    diameters = []
    for seed in range(3):
        out, record = insert_lesion(
            image, mask, kind="calcification", spacing_mm=spacing, rng=seed, size_mm=4.0, n_specks=6
        )
        diff = out - image
        labels = measure.label(diff > 0)
        regions = measure.regionprops(labels, intensity_image=diff)
        assert len(regions) == record.params["n_specks"]
        for region in regions:
            # integrated brightness over the plateau = covered area, robust to partial-volume edges
            area_px = region.image_intensity.sum() / region.image_intensity.max()
            diameters.append(2 * math.sqrt(area_px / math.pi) * spacing)
    assert len(diameters) >= 12
    assert min(diameters) >= 0.25 - 0.03
    assert max(diameters) <= 1.0 + 0.03


def test_coarse_specks_are_larger_than_fine_ones() -> None:
    image = np.full((160, 160), 0.3, dtype=np.float32)
    mask = np.ones_like(image, dtype=bool)

    def mean_area(kind: str) -> float:
        areas = [
            region.area
            for seed in range(3)
            for region in measure.regionprops(
                measure.label(
                    insert_lesion(image, mask, kind=kind, spacing_mm=0.2, rng=seed, size_mm=12.0)[0] > image
                )
            )
        ]
        return float(np.mean(areas))

    assert mean_area("coarse-calcification") > 3 * mean_area("calcification")


def test_insert_lesions_places_one_to_three_without_overlap() -> None:
    image, mask = _breast(128)
    counts = set()
    for seed in range(6):
        out, records = insert_lesions(
            image,
            mask,
            kinds=["calcification", "circumscribed-mass"],
            spacing_mm=SPACING,
            rng=seed,
            size_mm=6.0,
        )
        counts.add(len(records))
        assert 1 <= len(records) <= 3
        assert not (out != image)[~mask].any()
        for i, a in enumerate(records):
            for b in records[i + 1 :]:
                gap = math.dist(a.center, b.center) * SPACING
                assert gap > 0.5 * (a.params["support_radius_mm"] + b.params["support_radius_mm"]) * 0.99
    assert len(counts) > 1


def test_record_round_trips_through_json() -> None:
    image, mask = _breast()
    _, record = insert_lesion(image, mask, kind="mass", spacing_mm=SPACING, rng=0)
    data = json.loads(json.dumps(record.to_dict()))
    assert data["kind"] == "mass" and data["malignant"] is True
    assert tuple(data["center"]) == record.center
    assert data["size_mm"] == pytest.approx(record.size_mm, abs=1e-3)
    assert isinstance(record, LesionRecord)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "mass", "spacing_mm": None}, ConfigError, "spacing is missing"),
        ({"kind": "mass", "spacing_mm": 0.0}, ConfigError, "positive"),
        ({"kind": "mass", "spacing_mm": SPACING, "size_mm": -5.0}, ConfigError, "size_mm must be > 0"),
        ({"kind": "tumour", "spacing_mm": SPACING}, ConfigError, "unknown lesion type"),
        ({"kind": "mass", "spacing_mm": SPACING, "size_mm": 200.0}, DataError, "no room"),
        ({"kind": "mass", "spacing_mm": SPACING, "center": (1, 1)}, DataError, "does not fit"),
        ({"kind": "mass", "spacing_mm": SPACING, "rng": "seed"}, ConfigError, "rng must be"),
    ],
    ids=[
        "spacing-missing",
        "spacing-zero",
        "negative-size",
        "unknown-kind",
        "too-big",
        "centre-outside",
        "bad-rng",
    ],
)
def test_insert_lesion_rejects_bad_input(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    image, mask = _breast()
    options: dict[str, object] = {"rng": 0, **kwargs}
    with pytest.raises(error, match=match):
        insert_lesion(image, mask, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("image", "mask", "match"),
    [
        (np.zeros((32, 32), np.float32), np.zeros((32, 32), bool), "mask is empty"),
        (np.full((32, 32), 1.5, np.float32), np.ones((32, 32), bool), r"must lie in \[0, 1\]"),
        (np.zeros((32, 32), np.uint8), np.ones((32, 32), bool), "2-D float array"),
        (np.zeros((32, 32), np.float32), np.ones((16, 16), bool), "differs from image shape"),
    ],
    ids=["empty-mask", "out-of-range", "integer-image", "mask-shape"],
)
def test_bad_image_or_mask_raise(image: np.ndarray, mask: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        insert_lesion(image, mask, kind="calcification", spacing_mm=SPACING, rng=0)


@pytest.mark.parametrize(
    "n", [0, (2, 1), (1, 99), -1, 1.5], ids=["zero", "reversed", "too-many", "negative", "float"]
)
def test_insert_lesions_rejects_bad_counts(n: object) -> None:
    image, mask = _breast()
    with pytest.raises(ConfigError, match="lesion count"):
        insert_lesions(image, mask, kinds="mass", n=n, spacing_mm=SPACING, rng=0)  # type: ignore[arg-type]


def test_cli_insert_writes_png16_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, _ = _breast(128)
    source = tmp_path / "in.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(source)
    out = tmp_path / "out.png"
    args = ["synth", "insert", "--image", str(source), "--out", str(out), "--lesion", "calcification"]
    code = main([*args, "--spacing-mm", "0.5", "--seed", "3", "--n", "2", "--size-mm", "8"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(out.with_suffix(".json").read_text())
    assert printed == saved["lesions"] and len(printed) == 2
    with Image.open(out) as written:
        assert written.mode.startswith("I;16") and written.size == (128, 128)
        pixels = np.asarray(written)
    assert pixels.dtype == np.uint16 and pixels.max() > 255


def test_cli_insert_reports_unknown_lesion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, _ = _breast(64)
    source = tmp_path / "in.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(source)
    code = main(
        ["synth", "insert", "--image", str(source), "--out", str(tmp_path / "o.png"), "--lesion", "calc"]
    )
    assert code == 2
    assert "unknown lesion type" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
