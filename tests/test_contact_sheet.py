"""Contact sheets and the ``preview`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medbalance.data.manifest import Manifest
from medbalance.data.preprocess import PreprocessConfig
from medbalance.report.contact_sheet import (
    make_contact_sheet,
    select_preview_rows,
    write_preprocessing_preview,
)


def test_contact_sheet_writes_png(tmp_path: Path) -> None:
    images = [
        np.zeros((1, 16, 16)),
        np.ones((16, 24)),
        np.full((16, 16, 3), 0.5),
        np.arange(64.0).reshape(8, 8),
    ]
    out = make_contact_sheet(images, ["a", "b", "c", "d"], tmp_path / "sub" / "sheet.png", columns=2)
    with Image.open(out) as sheet:
        assert sheet.format == "PNG" and sheet.size[0] > 100
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left


@pytest.mark.parametrize(
    ("images", "titles", "match"),
    [
        ([], None, "no images"),
        ([np.zeros((4, 4))], ["a", "b"], "titles"),
        ([np.zeros((2, 4, 4))], None, "expected"),
    ],
    ids=["empty", "titles", "shape"],
)
def test_contact_sheet_errors(
    tmp_path: Path, images: list[np.ndarray], titles: list[str] | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        make_contact_sheet(images, titles, tmp_path / "x.png")


def _manifest(tmp_path: Path, labels: list[str]) -> Manifest:
    rows = []
    for index, label in enumerate(labels):
        pixels = np.zeros((40, 30), np.uint8)
        pixels[5:35, : 10 + index] = 120
        Image.fromarray(pixels).save(tmp_path / f"img{index}.png")
        rows.append(
            {"image_id": f"img{index}", "path": f"img{index}.png", "label": label, "patient_id": str(index)}
        )
    return Manifest(table=pd.DataFrame(rows), classes=("normal", "malignant"), root=tmp_path)


def test_preview_mixes_classes_and_writes(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, ["normal"] * 5 + ["malignant"] * 2)
    assert select_preview_rows(manifest, 4) == [0, 1, 5, 6]
    seeded = select_preview_rows(manifest, 4, seed=3)
    assert seeded == select_preview_rows(manifest, 4, seed=3) and {5, 6} <= set(seeded)
    out = write_preprocessing_preview(manifest, tmp_path / "p.png", PreprocessConfig(size=32), n=2)
    assert out.is_file()


def test_preview_cli(tmp_path: Path) -> None:
    from medbalance.cli import main

    _manifest(tmp_path, ["normal", "malignant"]).save(tmp_path / "m.csv")
    code = main(
        [
            "preview",
            "--data",
            str(tmp_path / "m.csv"),
            "--out",
            str(tmp_path / "s.png"),
            "--n",
            "2",
            "--image-size",
            "32",
        ]
    )
    assert code == 0 and (tmp_path / "s.png").is_file()
    assert (
        main(
            [
                "preview",
                "--data",
                str(tmp_path / "m.csv"),
                "--out",
                str(tmp_path / "t.png"),
                "--channels",
                "2",
            ]
        )
        == 2
    )
