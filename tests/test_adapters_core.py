"""Adapter registry, option coercion, and the ``folder`` and ``csv`` adapters."""

from __future__ import annotations

import inspect
import logging
import typing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.data.adapters import ADAPTERS, create_manifest, describe_adapter, list_adapters
from medbalance.errors import ConfigError, DataError


def _png(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)
    return path


# ---- registry and options -------------------------------------------------
def test_registry_lists_core_adapters() -> None:
    assert {"folder", "csv", "mini-mias"} <= set(list_adapters())
    assert list_adapters() == sorted(list_adapters())


def test_unknown_adapter_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'folder'"):
        create_manifest("foldr", Path("."))


SIMPLE_TYPES = {str, int, float, bool, Path, str | None, Path | None, tuple[str, ...]}


def test_every_adapter_takes_keyword_only_simple_options() -> None:
    for name in list_adapters():
        parameters = inspect.signature(ADAPTERS.get(name)).parameters
        positional = [p for p in parameters.values() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        assert [p.name for p in positional] == ["source"], name
        for option, (hint, _default) in describe_adapter(name).items():
            simple = hint in SIMPLE_TYPES or typing.get_origin(hint) is typing.Literal
            assert simple, (name, option, hint)
        assert ADAPTERS.entry(name).description


def test_required_option_missing_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"needs option.*--image-dir"):
        create_manifest("medmnist", tmp_path / "x.npz")


@pytest.mark.parametrize(
    ("options", "match"),
    [({"detect_laterality": "maybe"}, "expected bool"), ({"task": "densty"}, "Did you mean 'density'")],
    ids=["bad-bool", "bad-literal"],
)
def test_bad_option_values(mini_mias_like: Path, options: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_manifest("mini-mias", mini_mias_like, **options)


@pytest.fixture
def mini_mias_like(tmp_path: Path) -> Path:
    (tmp_path / "Info.txt").write_text("mdb001 G NORM\n")
    _png(tmp_path / "mdb001.png")
    return tmp_path


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_manifest("folder", tmp_path / "nowhere")


def test_unknown_option_is_refused_with_suggestion(tmp_path: Path) -> None:
    _png(tmp_path / "a" / "x.png")
    with pytest.raises(ConfigError, match=r"unknown option of adapter .* 'clases'.*Did you mean 'classes'"):
        create_manifest("folder", tmp_path, clases="a")


def test_string_options_are_coerced(tmp_path: Path) -> None:
    _png(tmp_path / "b" / "x.png")
    _png(tmp_path / "a" / "y.png")
    manifest = create_manifest("folder", tmp_path, classes="b,a")
    assert manifest.classes == ("b", "a")


# ---- folder -----------------------------------------------------------------
def _folder_tree(root: Path) -> Path:
    for name in ("P001_L_CC.png", "P001_R_CC.dcm", "P002_L_CC.JPG"):
        _png(root / "benign" / name) if name.endswith(".png") else (root / "benign" / name).write_bytes(b"x")
    _png(root / "malignant" / "sub" / "P003_L_MLO.png")
    (root / "malignant" / "notes.txt").write_text("not an image")
    (root / "malignant" / ".hidden.png").write_bytes(b"x")
    return root


def test_folder_labels_patients_and_paths(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _folder_tree(tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        manifest = create_manifest("folder", root, patient_regex=r"^(?P<patient>P\d+)_", domain="siteA")
    table = manifest.table.set_index("image_id")
    assert manifest.classes == ("benign", "malignant")
    assert manifest.positive == "malignant"
    assert sorted(table.index) == [
        "benign/P001_L_CC.png",
        "benign/P001_R_CC.dcm",
        "benign/P002_L_CC.JPG",
        "malignant/sub/P003_L_MLO.png",
    ]
    assert table.loc["malignant/sub/P003_L_MLO.png", "label"] == "malignant"
    assert table["patient_id"].tolist().count("P001") == 2
    assert set(table["domain"]) == {"siteA"}
    assert all(p.is_file() for p in manifest.paths())
    assert "notes.txt" in caplog.text


def test_folder_declared_class_order(tmp_path: Path) -> None:
    root = _folder_tree(tmp_path / "data")
    manifest = create_manifest("folder", root, classes=("malignant", "benign"), positive_class="malignant")
    assert manifest.classes == ("malignant", "benign")
    assert manifest.positive_index == 0


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"patient_regex": r"^(?P<patient>Q\d+)_"}, DataError, "does not match 4 file name"),
        ({"patient_regex": r"^(P\d+)_"}, ConfigError, "no named group 'patient'"),
        ({"patient_regex": r"^(?P<patient>P\d+"}, ConfigError, "not a valid regular expression"),
        ({"classes": ("benign", "malignant", "normal")}, DataError, r"without a folder \['normal'\]"),
        ({"classes": ("benign",)}, DataError, r"folders not declared \['malignant'\]"),
    ],
    ids=["regex-no-match", "regex-no-group", "regex-invalid", "class-without-folder", "undeclared-folder"],
)
def test_folder_bad_inputs(tmp_path: Path, options: dict[str, object], error: type, match: str) -> None:
    root = _folder_tree(tmp_path / "data")
    with pytest.raises(error, match=match):
        create_manifest("folder", root, **options)


def test_folder_empty_class_folder_is_an_error(tmp_path: Path) -> None:
    _png(tmp_path / "a" / "x.png")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("-")
    with pytest.raises(DataError, match=r"\['b'\] hold no image files"):
        create_manifest("folder", tmp_path)


# ---- csv ------------------------------------------------------------------------
def _csv(path: Path, header: str, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_maps_columns_and_keeps_strings(tmp_path: Path) -> None:
    source = _csv(
        tmp_path / "meta" / "list.csv",
        "file,dx,pid,img,side,site,fold,age",
        "imgs/a.png,benign,00123,0001,LEFT,A,training,41",
        "imgs/b.png,malignant,0123,0002,r,B,test,NA",
        "/abs/c.png,benign,00123,1e3,L,A,,55",
    )
    manifest = create_manifest(
        "csv",
        source,
        path_col="file",
        label_col="dx",
        patient_col="pid",
        image_id_col="img",
        laterality_col="side",
        domain_col="site",
        split_col="fold",
        keep_columns=("age",),
        classes=("benign", "malignant"),
    )
    table = manifest.table
    assert table["patient_id"].tolist() == ["00123", "0123", "00123"]
    assert table["image_id"].tolist() == ["0001", "0002", "1e3"]
    assert table["laterality"].tolist() == ["L", "R", "L"]
    assert table["split"].tolist() == ["train", "test", ""]
    assert table["age"].tolist() == ["41", "NA", "55"]
    assert manifest.root == source.parent.resolve()
    assert manifest.resolve_path("imgs/a.png") == source.parent.resolve() / "imgs" / "a.png"
    assert manifest.paths()[2] == Path("/abs/c.png")


def test_csv_without_patient_column_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = _csv(tmp_path / "x.csv", "path,label", "a.png,0", "b.png,1")
    with caplog.at_level(logging.WARNING):
        manifest = create_manifest("csv", source)
    assert manifest.table["patient_id"].tolist() == ["a.png", "b.png"]
    assert manifest.classes == ("0", "1")
    assert "own patient" in caplog.text


@pytest.mark.parametrize(
    ("rows", "options", "match"),
    [
        (
            ["a.png,Benign ", "b.png,Malignant"],
            {"classes": ("Benign", "Malignant")},
            r"'Benign ' \(lines 2\)",
        ),
        (["a.png,Benign", "b.png,NA"], {}, r"missing-looking label.*line 3 \('NA'\)"),
        (["a.png,Benign", "b.png,benign"], {}, "differ only by spaces or case"),
        (["a.png,Benign", "a.png,Benign"], {}, r"duplicate image id.*'a.png' x2"),
        (["a.png,Benign"], {"patient_col": "subject"}, r"missing column\(s\) 'subject'"),
        (["a.png,Benign"], {"keep_columns": ("age",)}, r"missing column\(s\) 'age'"),
        ([",Benign"], {}, "empty path"),
    ],
    ids=[
        "trailing-space",
        "NA-label",
        "case-clash",
        "duplicate-id",
        "named-column-absent",
        "keep-absent",
        "empty-path",
    ],
)
def test_csv_bad_inputs(tmp_path: Path, rows: list[str], options: dict[str, object], match: str) -> None:
    source = _csv(tmp_path / "x.csv", "path,label", *rows)
    with pytest.raises(DataError, match=match):
        create_manifest("csv", source, **options)


def test_csv_missing_label_column_names_the_columns(tmp_path: Path) -> None:
    source = _csv(tmp_path / "x.csv", "path,class", "a.png,1")
    with pytest.raises(DataError, match=r"missing column\(s\) 'label'; it has 'path', 'class'"):
        create_manifest("csv", source)


def test_csv_unknown_split_and_laterality_listed(tmp_path: Path) -> None:
    source = _csv(tmp_path / "x.csv", "path,label,split", "a.png,1,train", "b.png,0,holdout")
    with pytest.raises(DataError, match=r"unknown split: 'holdout' \(lines 3\)"):
        create_manifest("csv", source)
    source = _csv(tmp_path / "y.csv", "path,label,laterality", "a.png,1,L", "b.png,0,both")
    with pytest.raises(DataError, match=r"unknown laterality: 'BOTH'"):
        create_manifest("csv", source)


def test_csv_keep_column_clashing_with_standard_is_refused(tmp_path: Path) -> None:
    source = _csv(tmp_path / "x.csv", "path,label,view", "a.png,1,CC")
    with pytest.raises(ConfigError, match="standard manifest columns"):
        create_manifest("csv", source, keep_columns=("view",))


def test_folder_and_csv_accept_unicode_and_spaces(tmp_path: Path) -> None:
    root = tmp_path / "données brutes"
    _png(root / "bénin" / "patiënt 01_é.png")
    _png(root / "malin" / "患者 02.png")
    manifest = create_manifest("folder", root, patient_regex=r"(?P<patient>\d+)")
    assert sorted(manifest.table["patient_id"]) == ["01", "02"]
    assert all(p.is_file() for p in manifest.paths())
    source = tmp_path / "liste.csv"
    source.write_text("path,label\ndonnées brutes/malin/患者 02.png,malin\n", encoding="utf-8")
    assert create_manifest("csv", source).paths()[0].is_file()
