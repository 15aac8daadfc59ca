"""Registry, strict config, atomic writes and the manifest data model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import pytest

from medbalance.config import config_hash, load_config, parse_config
from medbalance.data.manifest import Manifest, load_manifest
from medbalance.errors import ConfigError, DataError, MedbalanceError
from medbalance.io import atomic_write_text, prepare_output_dir
from medbalance.registry import Registry


def test_registry_registers_lists_and_suggests() -> None:
    reg: Registry[object] = Registry("strategy")

    @reg.register("class-weight", description="inverse-frequency loss weights")
    def _cw() -> None: ...

    reg.add("oversample", object(), description="balanced batches")
    assert reg.names() == ["class-weight", "oversample"]
    assert reg.entry("class-weight").description == "inverse-frequency loss weights"
    with pytest.raises(ConfigError, match=r"(?i)did you mean 'class-weight'"):
        reg.get("class-weigth")
    with pytest.raises(ConfigError, match="already registered"):
        reg.add("oversample", object())


@dataclass(frozen=True)
class _Inner:
    size: int = 64


@dataclass(frozen=True)
class _Cfg:
    learning_rate: float = 1e-3
    optimizer: Literal["adamw", "sgd"] = "adamw"
    inner: _Inner = field(default_factory=_Inner)
    classes: tuple[str, ...] = ()


def test_config_rejects_unknown_key_with_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("lerning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"(?i)did you mean 'learning_rate'"):
        load_config(_Cfg, path)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"learning_rate": "fast"}, "expected a number"),
        ({"optimizer": "adam"}, "(?i)did you mean 'adamw'"),
        ({"inner": {"size": 1.5}}, "expected an integer"),
        ({"inner": {"sise": 3}}, "(?i)did you mean 'size'"),
    ],
    ids=["wrong-type", "bad-literal", "nested-type", "nested-key"],
)
def test_config_type_errors(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(_Cfg, data)


def test_config_parses_nested_and_hash_is_stable() -> None:
    cfg = parse_config(_Cfg, {"inner": {"size": 32}, "classes": ["a", "b"], "learning_rate": 1})
    assert cfg.inner.size == 32 and cfg.classes == ("a", "b") and cfg.learning_rate == 1.0
    assert config_hash(cfg) == config_hash(
        parse_config(_Cfg, {"inner": {"size": 32}, "classes": ["a", "b"], "learning_rate": 1.0})
    )
    assert config_hash(cfg) != config_hash(_Cfg())


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "complete")

    class Boom(Exception):
        pass

    from medbalance.io import atomic_writer

    with pytest.raises(Boom), atomic_writer(target, "w") as handle:
        handle.write("half")
        raise Boom
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_prepare_output_dir_refuses_old_results(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.json").write_text("{}")
    with pytest.raises(MedbalanceError, match="--overwrite"):
        prepare_output_dir(out)
    prepare_output_dir(out, overwrite=True)
    assert list(out.iterdir()) == []


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ["a", "b", "c"],
            "path": ["img/a.png", "img/b.png", "img/c.png"],
            "label": ["benign", "malignant", "benign"],
            "patient_id": ["00123", "0123", "1e3"],
            "site": ["NA", "None", ""],
        }
    )


def test_manifest_roundtrip_keeps_ids_and_na_strings(tmp_path: Path) -> None:
    m = Manifest(_table(), classes=("benign", "malignant"), root=tmp_path, task="malignancy")
    path = m.save(tmp_path / "manifest.csv")
    back = load_manifest(path)
    assert list(back.table["patient_id"]) == ["00123", "0123", "1e3"]
    assert list(back.table["site"]) == ["NA", "None", ""]
    assert back.classes == ("benign", "malignant") and back.positive == "malignant"
    assert back.task == "malignancy"
    assert back.paths()[0] == (tmp_path / "img/a.png").resolve()
    assert list(back.label_indices()) == [0, 1, 0]


def test_manifest_resolves_relative_paths_against_its_folder(tmp_path: Path) -> None:
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    (sub / "m.csv").write_text("image_id,path,label,patient_id\nx,../x.png,a,p1\n")
    m = load_manifest(sub / "m.csv")
    assert m.paths()[0].resolve() == (tmp_path / "deep" / "x.png").resolve()
    assert m.classes == ("a",)


def test_manifest_unknown_labels_reported_with_lines() -> None:
    t = _table()
    t.loc[1, "label"] = "Benign "
    t.loc[2, "label"] = "NA"
    m = Manifest(t, classes=("benign", "malignant"))
    assert m.unknown_label_rows() == [1, 2]
    with pytest.raises(DataError, match=r"line 3 \('Benign '\).*line 4 \('NA'\)"):
        m.label_indices()


def test_manifest_requires_columns() -> None:
    with pytest.raises(DataError, match="missing required column"):
        Manifest(pd.DataFrame({"path": ["x"]}), classes=("a",))


def test_atomic_write_gives_normal_permissions(tmp_path: Path) -> None:
    import os
    import stat

    target = tmp_path / "result.json"
    atomic_write_text(target, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_flags_deep_merge_into_a_yaml_section(tmp_path: Path) -> None:
    """--phantom-prevalence (a phantoms override) keeps the file's other phantoms keys."""
    from medbalance.training.config import load_train_config

    path = tmp_path / "train.yaml"
    path.write_text("out: run\ndata: phantoms\nphantoms: {n_patients: 7, size: 48, prevalence: 0.05}\n")
    config = load_train_config(path, {"phantoms": {"prevalence": 0.2}, "phantoms.size": 32, "epochs": None})
    assert (config.phantoms.n_patients, config.phantoms.size, config.phantoms.prevalence) == (7, 32, 0.2)
    with pytest.raises(ConfigError, match="Did you mean 'size'"):
        load_train_config(path, {"phantoms.sise": 32})


def test_monitor_rename_keeps_old_runs_resumable() -> None:
    """monitor 'auc' (before training adopted evaluation's names) is read as auc_roc, same hash."""
    from medbalance.training.config import TrainConfig, compute_train_config_hash
    from medbalance.training.sections import CheckpointSettings

    old, new = TrainConfig(out=Path("r"), checkpoints=CheckpointSettings(monitor="auc")), TrainConfig(out=Path("r"))
    assert old.checkpoints.monitor == new.checkpoints.monitor == "auc_roc"
    assert compute_train_config_hash(old) == compute_train_config_hash(new)
    mcc = TrainConfig(out=Path("r"), checkpoints=CheckpointSettings(monitor="mcc"))
    assert compute_train_config_hash(mcc) != compute_train_config_hash(new)
