"""Class maps: binary tasks ("melanoma vs rest") from multi-class data, on `data`, the library and `benchmark`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medbalance.benchmark.config import load_benchmark_config
from medbalance.cli import main
from medbalance.data.class_map import apply_class_map, parse_class_map
from medbalance.data.manifest import Manifest, load_manifest
from medbalance.errors import ConfigError, DataError

LABELS = ["nevus"] * 6 + ["melanoma"] * 3 + ["keratosis"] * 3


def _manifest() -> Manifest:
    table = pd.DataFrame({
        "image_id": [f"i{i}" for i in range(len(LABELS))], "path": [f"i{i}.png" for i in range(len(LABELS))],
        "label": LABELS, "patient_id": [f"p{i}" for i in range(len(LABELS))],
    })  # fmt: skip
    return Manifest(table, ("keratosis", "melanoma", "nevus"))


def test_x_vs_rest_makes_x_the_positive_class() -> None:
    mapped = apply_class_map(_manifest(), "melanoma=melanoma,*=rest")
    assert mapped.classes == ("rest", "melanoma") and mapped.positive == "melanoma"
    assert list(mapped.table["label"]) == ["rest"] * 6 + ["melanoma"] * 3 + ["rest"] * 3
    assert list(mapped.table["source_label"]) == LABELS  # the original label is kept beside
    np.testing.assert_array_equal(mapped.labels_as_indices() if hasattr(mapped, "labels_as_indices") else
                                  np.array([mapped.classes.index(x) for x in mapped.table["label"]]),
                                  [0] * 6 + [1] * 3 + [0] * 3)  # fmt: skip


def test_explicit_map_and_positive_class() -> None:
    mapped = apply_class_map(
        _manifest(), {"melanoma": "malignant", "keratosis": "malignant", "nevus": "benign"}, positive_class="malignant"
    )
    assert set(mapped.classes) == {"benign", "malignant"} and mapped.positive == "malignant"
    assert (mapped.table["label"] == "malignant").sum() == 6


@pytest.mark.parametrize(
    ("class_map", "error", "match"),
    [
        ("melanoma=melanoma", DataError, r"does not cover label\(s\) \['keratosis', 'nevus'\]"),
        ("melanom=melanoma,*=rest", ConfigError, "do not occur in the manifest"),
        ("melanoma", ConfigError, "has no '='"),
        ("melanoma=a,melanoma=b", ConfigError, "twice"),
        ("*=rest", DataError, "leaves one class"),
    ],
    ids=["uncovered", "misspelt", "no-equals", "twice", "one-class"],
)
def test_bad_maps_are_refused(class_map: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        apply_class_map(_manifest(), class_map)


def test_positive_class_must_exist_after_the_map() -> None:
    with pytest.raises(ConfigError, match="not a class of the map"):
        apply_class_map(_manifest(), "melanoma=melanoma,*=rest", positive_class="nevus")


def test_parse_class_map_strips_spaces() -> None:
    assert parse_class_map(" a = x , *=rest ") == {"a": "x", "*": "rest"}


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for cls, n in (("nevus", 8), ("melanoma", 4), ("keratosis", 4)):
        for i in range(n):
            path = root / cls / f"{cls}{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(path)
    return root


def test_data_cli_builds_a_binary_manifest_from_a_multiclass_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _folder(tmp_path / "derm")
    out = tmp_path / "out"
    code = main(["data", "folder", str(root), "--out", str(out), "--class-map", "melanoma=melanoma,*=rest",
                 "--fractions", "0.5,0.25,0.25", "--group-by", "image"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    manifest = load_manifest(out / "manifest.csv")
    assert manifest.classes == ("rest", "melanoma") and manifest.positive == "melanoma"
    assert (manifest.table["label"] == "melanoma").sum() == 4
    assert set(manifest.table.loc[manifest.table["label"] == "rest", "source_label"]) == {"nevus", "keratosis"}


def test_benchmark_config_takes_a_class_map(tmp_path: Path) -> None:
    config = load_benchmark_config(None, {
        "data": [{"name": "derm", "source": str(tmp_path / "m.csv"), "class_map": {"melanoma": "melanoma", "*": "rest"}}],
        "out": str(tmp_path / "b"),
    })  # fmt: skip
    assert config.data[0].class_map == {"melanoma": "melanoma", "*": "rest"}
    with pytest.raises(ConfigError, match="not to phantoms"):
        load_benchmark_config(None, {"data": [{"name": "p", "source": "phantoms", "class_map": {"a": "b", "*": "c"}}],
                                     "out": str(tmp_path / "c")})  # fmt: skip


def test_benchmark_cli_class_map_needs_data_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--out", str(tmp_path / "b"), "--class-map", "a=b,*=c"]) == 2
    assert "--data" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
