"""``mini-mias`` adapter: a fake Info.txt + films, and the real set in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.data.adapters import create_manifest
from medbalance.data.adapters._laterality import estimate_chest_wall_side
from medbalance.data.adapters.mini_mias import read_mias_info
from medbalance.errors import ConfigError, DataError

HEADER = """              MAMMOGRAPHIC IMAGE ANALYSIS SOCIETY
1st column: MIAS database reference number.
   represents the left (even filename numbers) and right mammograms
=================================================================

"""
LINES = """mdb001 G CIRC B 535 425 197
mdb002 G NORM
mdb003 D CALC M *NOTE 3*
mdb004 D SPIC M 100 900 20
mdb004 D CALC B
mdb005 F NORM \r
mdb006 F CIRC B 10 20 5
mdb006 F MISC B 30 40 6
"""


def _film(path: Path, chest_wall: str, size: int = 64) -> None:
    """A dark film with a bright half-disc against one edge (the breast)."""
    rows, cols = np.mgrid[0:size, 0:size]
    edge = size - 1 if chest_wall == "right" else 0
    breast = (rows - size / 2) ** 2 + (cols - edge) ** 2 < (size * 0.45) ** 2
    pixels = np.where(breast, 200, 10).astype(np.uint8)
    pixels[2:6, size - 8 if chest_wall == "left" else 2 :][:, :6] = 255  # a small label
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def fake_mias(tmp_path: Path) -> Path:
    (tmp_path / "Info.txt").write_text(HEADER + LINES + "\n=====\n", encoding="latin-1")
    # mdb003 is deliberately drawn as a LEFT breast: laterality must follow the pixels.
    sides = {1: "right", 2: "left", 3: "left", 4: "left", 5: "right", 6: "left"}
    for number, side in sides.items():
        extension = ".pgm" if number % 2 else ".png"
        _film(tmp_path / "images" / f"mdb{number:03d}{extension}", side)
    return tmp_path


@pytest.mark.parametrize(
    ("task", "classes", "labels"),
    [
        (
            "malignancy",
            ("non-malignant", "malignant"),
            ["non-malignant", "non-malignant", "malignant", "malignant"],
        ),
        ("abnormality", ("normal", "abnormal"), ["abnormal", "normal", "abnormal", "abnormal"]),
        ("density", ("F", "G", "D"), ["G", "G", "D", "D"]),
    ],
    ids=["malignancy", "abnormality", "density"],
)
def test_fake_mias_tasks(fake_mias: Path, task: str, classes: tuple[str, ...], labels: list[str]) -> None:
    manifest = create_manifest("mini-mias", fake_mias, task=task)
    assert manifest.classes == classes
    assert manifest.ordinal == (task == "density")
    assert manifest.table["label"].tolist()[:4] == labels
    assert manifest.positive_class == {"malignancy": "malignant", "abnormality": "abnormal"}.get(task)


def test_fake_mias_groups_metadata_and_laterality(fake_mias: Path) -> None:
    table = create_manifest("mini-mias", fake_mias).table.set_index("image_id")
    assert table["patient_id"].tolist() == ["001", "001", "002", "002", "003", "003"]
    assert table["laterality"].tolist() == ["R", "L", "L", "L", "R", "L"]
    assert table.loc["mdb001", "path"] == "images/mdb001.pgm"
    assert table.loc["mdb002", "path"] == "images/mdb002.png"
    assert set(table["view"]) == {"MLO"} and set(table["pixel_spacing_mm"]) == {"0.2"}
    assert table.loc["mdb001", "lesion_row"] == str(1024 - 425)
    assert table.loc["mdb001", "lesion_col"] == "535"
    assert table.loc["mdb004", "abnormality"] == "SPIC;CALC"
    assert table.loc["mdb004", "severity"] == "M;B"
    assert table.loc["mdb004", "lesion_y"] == "900;"
    assert table.loc["mdb006", "lesion_radius"] == "5;6"
    assert table.loc["mdb003", "lesion_x"] == ""
    assert table.loc["mdb002", "abnormality"] == "NORM"


def test_mias_header_only_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "Info.txt").write_text(HEADER)
    with pytest.raises(DataError, match="no 'mdbNNN BG CLASS"):
        create_manifest("mini-mias", tmp_path)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("mdb007 X NORM", "cannot parse"),
        ("mdb007 F LUMP B 1 2 3", "cannot parse"),
        ("mdb007 F CIRC Q 1 2 3", "without a severity"),
        ("mdb007 F CIRC B 1 2", "three integers"),
    ],
    ids=["bad-background", "bad-class", "bad-severity", "two-coordinates"],
)
def test_mias_bad_lines_name_the_line(tmp_path: Path, line: str, match: str) -> None:
    info = tmp_path / "Info.txt"
    info.write_text(HEADER + LINES + line + "\n")
    with pytest.raises(DataError, match=match) as caught:
        read_mias_info(info)
    assert f"Info.txt:{HEADER.count(chr(10)) + LINES.count(chr(10)) + 1}" in str(caught.value)


def test_mias_missing_films_are_all_listed(fake_mias: Path) -> None:
    (fake_mias / "images" / "mdb002.png").unlink()
    (fake_mias / "images" / "mdb005.pgm").unlink()
    with pytest.raises(DataError, match=r"2 film\(s\) listed in Info.txt have no .*mdb002, mdb005"):
        create_manifest("mini-mias", fake_mias)


def test_mias_unknown_task(fake_mias: Path) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'density'"):
        create_manifest("mini-mias", fake_mias, task="densty")


def test_chest_wall_estimate_on_a_frame_filling_breast() -> None:
    # The breast fills the frame except a dark skin border on the nipple side (left)
    # and the abdomen below the fold on the chest-wall side: the top rows decide.
    pixels = np.full((40, 40), 200, dtype=np.uint8)
    pixels[:, :3] = 10
    pixels[:12, :12] = 10
    pixels[28:, 22:] = 10
    assert estimate_chest_wall_side(pixels) == "right"
    assert estimate_chest_wall_side(pixels[:, ::-1]) == "left"


def test_real_mini_mias(mini_mias_dir: Path) -> None:
    manifest = create_manifest("mini-mias", mini_mias_dir, task="malignancy")
    table = manifest.table
    assert len(table) == 322
    assert table["patient_id"].nunique() == 161
    assert manifest.class_counts() == {"non-malignant": 270, "malignant": 52}
    assert table["pathology"].value_counts().to_dict() == {"normal": 207, "benign": 63, "malignant": 52}
    assert table["background"].value_counts()[["F", "G", "D"]].tolist() == [106, 104, 112]
    assert all(path.is_file() for path in manifest.paths())
    # Each patient has one left and one right film; the pixels agree with Info.txt's pairing note.
    assert (table.groupby("patient_id")["laterality"].agg("".join).map(sorted).map("".join) == "LR").all()
    odd_is_right = table["image_id"].str[3:].astype(int).map(lambda n: "R" if n % 2 else "L")
    assert (odd_is_right == table["laterality"]).sum() >= 320
    assert table.set_index("image_id").loc["mdb001", "laterality"] == "R"
