"""PreprocessCache: keys, hits without decoding, failures listed, kill-safe writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import medbalance.data.cache as cache_module
import medbalance.data.readers as readers
from medbalance.data.cache import PreprocessCache
from medbalance.data.manifest import Manifest
from medbalance.data.preprocess import PreprocessConfig, compute_normalisation_stats, preprocess_image
from medbalance.errors import DataError, ImageReadError

CONFIG = PreprocessConfig(kind="mammography", size=32)


def write_film(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = np.zeros((48, 40), np.uint8)
    pixels[4:44, : 20 + seed % 5] = rng.integers(80, 200, size=(40, 20 + seed % 5), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def make_manifest(root: Path, names: list[str]) -> Manifest:
    rows = [{"image_id": n, "path": n, "label": "a", "patient_id": n} for n in names]
    return Manifest(table=pd.DataFrame(rows), classes=("a", "b"), root=root)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count decodes and preprocessing runs made through the cache."""
    calls = {"read": 0, "preprocess": 0}
    real_read, real_pre = readers.read_image, cache_module.preprocess_with_info

    def read(*args: object, **kwargs: object) -> object:
        calls["read"] += 1
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    def pre(*args: object, **kwargs: object) -> object:
        calls["preprocess"] += 1
        return real_pre(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(readers, "read_image", read)
    monkeypatch.setattr(cache_module, "preprocess_with_info", pre)
    return calls


def test_hit_loads_without_decoding(tmp_path: Path, counted: dict[str, int]) -> None:
    film = write_film(tmp_path / "a.png", 1)
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    first = cache.get(film)
    assert counted == {"read": 1, "preprocess": 1}
    second = PreprocessCache(tmp_path / "cache", CONFIG).get(film)  # a new run, same folder
    assert counted == {"read": 1, "preprocess": 1}
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, preprocess_image(np.asarray(Image.open(film)), CONFIG))
    assert (cache.folder / "config.yaml").is_file() and cache.folder.name == cache.config_hash


def test_key_changes_with_config_content_and_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    film = write_film(tmp_path / "a.png", 1)
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    key = cache.key(film)
    assert key == PreprocessCache(tmp_path / "cache", PreprocessConfig(kind="mammography", size=32)).key(film)
    other = PreprocessCache(tmp_path / "cache", PreprocessConfig(kind="mammography", size=32, equalize=True))
    assert other.key(film) != key and other.folder != cache.folder
    before = cache.get(film)
    write_film(film, 2)  # new content under the same name
    os.utime(film, ns=(1_000_000_000, 1_000_000_000))
    assert cache.key(film) != key
    assert not np.array_equal(cache.get(film), before)
    monkeypatch.setattr(cache_module, "PREPROCESS_VERSION", "999")
    changed = cache.key(film)
    monkeypatch.setattr(cache_module, "PREPROCESS_VERSION", "1")
    assert cache.key(film) != changed


def test_build_lists_every_bad_file_and_caches_the_rest(tmp_path: Path) -> None:
    names = ["a.png", "empty.png", "b.png", "missing.png", "c.png"]
    for seed, name in enumerate(["a.png", "b.png", "c.png"]):
        write_film(tmp_path / name, seed)
    (tmp_path / "empty.png").write_bytes(b"")
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    with pytest.raises(DataError, match=r"2 of 5 images could not be preprocessed") as caught:
        cache.build(make_manifest(tmp_path, names))
    assert "empty.png" in str(caught.value) and "missing.png" in str(caught.value)
    assert all(cache.contains(tmp_path / n) for n in ["a.png", "b.png", "c.png"])
    summary = cache.build(make_manifest(tmp_path, ["a.png", "b.png", "c.png"]))
    assert (summary.total, summary.built, summary.already_cached) == (3, 0, 3)


def test_build_with_two_workers(tmp_path: Path) -> None:
    names = [write_film(tmp_path / f"{i}.png", i).name for i in range(4)]
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    calls: list[tuple[int, int]] = []
    summary = cache.build(make_manifest(tmp_path, names), progress=lambda *c: calls.append(c), workers=2)
    assert (summary.built, summary.already_cached) == (4, 0)
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(list(cache.folder.glob("*/*.npy"))) == 4
    with pytest.raises(ValueError, match="workers must be"):
        cache.build(make_manifest(tmp_path, names), workers=0)


@pytest.mark.parametrize("workers", [1, 2], ids=["serial", "two-workers"])
def test_build_reports_progress_over_the_images_not_cached_yet(tmp_path: Path, workers: int) -> None:
    names = [write_film(tmp_path / f"{i}.png", i).name for i in range(11)]
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    cache.build(make_manifest(tmp_path, names[:3]), workers=1)
    calls: list[tuple[int, int]] = []
    cache.build(make_manifest(tmp_path, names), progress=lambda *c: calls.append(c), workers=workers)
    assert calls == [(done, 8) for done in range(9)]  # 8 to build: a pool of 2 when asked for
    calls.clear()
    cache.build(make_manifest(tmp_path, names), progress=lambda *c: calls.append(c))
    assert calls == []  # everything cached: nothing to report, no bar


def test_build_refuses_progress_true_and_names_the_fix(tmp_path: Path) -> None:
    film = write_film(tmp_path / "a.png", 0)
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    with pytest.raises(TypeError, match=r"callback called with \(done, total\)"):
        cache.build(make_manifest(tmp_path, [film.name]), progress=True)  # type: ignore[arg-type]
    assert cache.build(make_manifest(tmp_path, [film.name]), progress=False).built == 1


def test_kill_during_save_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    film = write_film(tmp_path / "a.png", 1)
    cache = PreprocessCache(tmp_path / "cache", CONFIG)

    def dying_save(file: object, array: np.ndarray, **kwargs: object) -> None:
        Path(str(file)).write_bytes(b"\x93NUMPY half")
        raise KeyboardInterrupt  # the process is killed half way

    monkeypatch.setattr(np, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        cache.get(film)
    monkeypatch.undo()
    assert not cache.contains(film)
    assert not [p for p in cache.folder.rglob("*") if p.name.startswith(".")]  # temp files removed
    assert cache.get(film).shape == (1, 32, 32) and cache.contains(film)


def test_unreadable_entry_and_missing_source(tmp_path: Path) -> None:
    film = write_film(tmp_path / "a.png", 1)
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    cache.get(film)
    cache.entry_paths(film)[0].write_bytes(b"garbage")
    with pytest.raises(DataError, match="delete it to rebuild"):
        cache.get(film)
    with pytest.raises(ImageReadError, match="file not found"):
        cache.get(tmp_path / "nope.png")


def test_stats_from_cache(tmp_path: Path) -> None:
    names = [write_film(tmp_path / f"{i}.png", i).name for i in range(3)]
    cache = PreprocessCache(tmp_path / "cache", CONFIG)
    manifest = make_manifest(tmp_path, names)
    mean, std = compute_normalisation_stats(cache.iter_arrays(manifest))
    stacked = np.stack([cache.get(p) for p in manifest.paths()])
    assert mean[0] == pytest.approx(float(stacked.mean()), rel=1e-6)
    assert std[0] == pytest.approx(float(stacked.std()), rel=1e-5)
