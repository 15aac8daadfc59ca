"""``ham10000`` and ``medmnist`` adapters on tiny fake copies of their layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.data.adapters import create_manifest
from medbalance.errors import DataError

# ---- HAM10000 ---------------------------------------------------------------------
HAM_HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset"
HAM_ROWS = (
    "HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp,vidir_modern",
    "HAM_0000118,ISIC_0025030,bkl,histo,80.0,male,scalp,vidir_modern",
    "HAM_0002730,ISIC_0026769,mel,histo,80.0,male,scalp,rosendahl",
    "HAM_0001466,ISIC_0031633,nv,follow_up,75.0,male,ear,vidir_molemax",
)


def _jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 120, dtype=np.uint8)).save(path, format="JPEG")


@pytest.fixture
def fake_ham(tmp_path: Path) -> Path:
    (tmp_path / "HAM10000_metadata.csv").write_text("\n".join([HAM_HEADER, *HAM_ROWS]) + "\n")
    for n, row in enumerate(HAM_ROWS):
        image_id = row.split(",")[1]
        _jpeg(tmp_path / f"HAM10000_images_part_{1 + n % 2}" / f"{image_id}.jpg")
    return tmp_path


@pytest.mark.parametrize(
    ("task", "labels", "classes", "positive"),
    [
        ("melanoma", ["other", "other", "melanoma", "other"], ("other", "melanoma"), "melanoma"),
        ("dx", ["bkl", "bkl", "mel", "nv"], ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"), None),
    ],
    ids=["melanoma", "dx"],
)
def test_ham_tasks(
    fake_ham: Path, task: str, labels: list[str], classes: tuple[str, ...], positive: str | None
) -> None:
    manifest = create_manifest("ham10000", fake_ham, task=task)
    assert manifest.table["label"].tolist() == labels
    assert manifest.classes == classes
    assert manifest.positive_class == positive


def test_ham_groups_by_lesion_and_keeps_domain(fake_ham: Path) -> None:
    manifest = create_manifest("ham10000", fake_ham)
    table = manifest.table
    assert table["patient_id"].tolist() == table["lesion_id"].tolist()
    assert manifest.group_ids("patient_id").nunique() == 3
    assert table["domain"].tolist() == ["vidir_modern", "vidir_modern", "rosendahl", "vidir_molemax"]
    assert table["path"].tolist()[:2] == [
        "HAM10000_images_part_1/ISIC_0027419.jpg",
        "HAM10000_images_part_2/ISIC_0025030.jpg",
    ]
    assert table["localization"].tolist()[-1] == "ear"
    assert all(p.is_file() for p in manifest.paths())


@pytest.mark.parametrize(
    ("extra_row", "delete", "match"),
    [
        ("HAM_9,ISIC_9,melanoma,histo,1,male,back,x", None, r"unknown dx: 'melanoma' \(lines 6\)"),
        (None, "ISIC_0026769", r"1 image\(s\) not found.*ISIC_0026769"),
        ("HAM_9,ISIC_0027419,nv,histo,1,male,back,x", None, r"duplicate image id.*ISIC_0027419"),
    ],
    ids=["unknown-dx", "missing-image", "duplicate-image"],
)
def test_ham_bad_inputs(fake_ham: Path, extra_row: str | None, delete: str | None, match: str) -> None:
    if extra_row:
        (fake_ham / "HAM10000_metadata.csv").write_text("\n".join([HAM_HEADER, *HAM_ROWS, extra_row]) + "\n")
    if delete:
        next(fake_ham.rglob(f"{delete}.jpg")).unlink()
    with pytest.raises(DataError, match=match):
        create_manifest("ham10000", fake_ham)


# ---- MedMNIST ---------------------------------------------------------------------
def _npz(
    path: Path, *, rgb: bool = False, labels: dict[str, np.ndarray] | None = None, drop: str = ""
) -> Path:
    rng = np.random.default_rng(0)
    sizes = {"train": 5, "val": 2, "test": 3}
    arrays: dict[str, np.ndarray] = {}
    for split, n in sizes.items():
        shape = (n, 28, 28, 3) if rgb else (n, 28, 28)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = (labels or {}).get(
            split, (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)
        )
    arrays.pop(drop, None)
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("rgb", [False, True], ids=["grey", "rgb"])
def test_medmnist_extracts_pngs_and_keeps_split(tmp_path: Path, rgb: bool) -> None:
    source = _npz(tmp_path / "breastmnist.npz", rgb=rgb)
    manifest = create_manifest(
        "medmnist", source, image_dir=tmp_path / "out" / "images", classes=("normal", "malignant")
    )
    table = manifest.table
    assert len(table) == 10 and manifest.task == "breastmnist"
    assert table["split"].value_counts().to_dict() == {"train": 5, "test": 3, "val": 2}
    assert table["label"].tolist()[:3] == ["normal", "malignant", "normal"]
    assert (table["patient_id"] == table["image_id"]).all()
    first = np.asarray(Image.open(manifest.paths()[0]))
    with np.load(source) as archive:
        np.testing.assert_array_equal(first, archive["train_images"][0])


def test_medmnist_default_class_names(tmp_path: Path) -> None:
    labels = {s: np.array([[0], [2]] * n, dtype=np.uint8) for s, n in (("train", 3), ("val", 1), ("test", 2))}
    labels = {s: v[: {"train": 5, "val": 2, "test": 3}[s]] for s, v in labels.items()}
    manifest = create_manifest(
        "medmnist", _npz(tmp_path / "x.npz", labels=labels), image_dir=tmp_path / "img"
    )
    assert manifest.classes == ("0", "1", "2")


@pytest.mark.parametrize(
    ("kwargs", "options", "match"),
    [
        ({"labels": {"train": np.zeros((5, 14), dtype=np.uint8)}}, {}, r"shape \(5, 14\).*multi-label"),
        ({"drop": "val_labels"}, {}, r"missing array\(s\) \['val_labels'\]"),
        ({}, {"classes": ("only-one",)}, r"label value\(s\) \[1\] are outside 0..0"),
        (
            {"labels": {"test": np.array([[0], [1]], dtype=np.uint8)}},
            {},
            "test has 3 images but labels of shape",
        ),
    ],
    ids=["multi-label", "missing-key", "too-few-classes", "length-mismatch"],
)
def test_medmnist_bad_inputs(
    tmp_path: Path, kwargs: dict[str, object], options: dict[str, object], match: str
) -> None:
    source = _npz(tmp_path / "x.npz", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=match):
        create_manifest("medmnist", source, image_dir=tmp_path / "img", **options)


def test_medmnist_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        create_manifest("medmnist", tmp_path / "x.npz", image_dir=tmp_path / "img")
