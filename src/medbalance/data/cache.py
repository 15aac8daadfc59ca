"""A disk cache of preprocessed arrays: decode and preprocess each image once.

Layout::

    cache_dir/
      <config_hash>/            one folder per PreprocessConfig (config_hash of it)
        config.yaml             the config, for people
        <kk>/<key>.npy          float32 (C, size, size) in [0, 1]
        <kk>/<key>.json         its PreprocessInfo and the source path

``key`` = sha256 of (sha256 of the source file's bytes, the config hash,
``PREPROCESS_VERSION``); ``kk`` is its first two characters. A changed file, a
changed config or a new preprocessing code version gives a new key, so stale
entries are never read. Entries are written atomically (JSON first, then the
``.npy``, whose presence marks a complete entry; each through a temporary file
renamed into place): a run killed mid-way leaves no half-written entry. Unlike
run results, entries are not fsynced: they can always be recomputed, and two
fsyncs per image cost more than preprocessing a small image (see
docs/performance.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medbalance.config import config_hash, dump_config
from medbalance.data._cache_build import build_entries, default_workers
from medbalance.data.preprocess import PreprocessConfig, PreprocessInfo, preprocess_with_info
from medbalance.errors import DataError
from medbalance.io import file_sha256
from medbalance.progress import check_progress

if TYPE_CHECKING:
    from medbalance.data.manifest import Manifest

__all__ = ["PREPROCESS_VERSION", "CacheBuildSummary", "PreprocessCache", "source_hash"]

PREPROCESS_VERSION = "4"
"""Bump when preprocessing code changes its output, so old cache entries are not reused.

3: outputs under 256 px find the breast mask on a copy of twice the output side
(``orientation.work_side_for``), not 512 px; larger outputs differ by float32 rounding only.
4: film leftovers inside the mask repaired (``data._film_letters``, ``data._film_bands``): lead
letters on the skin line inpainted, a band over the top evened out, the film's top edge and a
gap past the chest wall cropped; phantom outputs unchanged (docs/preprocessing.md).
"""

_HASHES: dict[tuple[str, int, int], str] = {}


def source_hash(path: Path) -> str:
    """sha256 of a file's bytes, remembered per (path, size, mtime) for this process.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    stat = path.stat()
    token = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if token not in _HASHES:
        _HASHES[token] = file_sha256(path)
    return _HASHES[token]


def _write_replacing(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a hidden temporary file beside ``path``, then rename it into place (no fsync)."""
    if not path.parent.is_dir():  # a stat costs less than mkdir(exist_ok=True) on slow file systems
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class CacheBuildSummary:
    """What :meth:`PreprocessCache.build` did."""

    folder: Path
    total: int
    built: int
    already_cached: int


class PreprocessCache:
    """Preprocessed arrays on disk, keyed by file content, config and code version.

    Args:
        cache_dir: the cache's root folder (created when needed).
        config: the preprocessing whose outputs this cache holds.

    Example:
        >>> cache = PreprocessCache(Path("cache"), PreprocessConfig(size=512))  # doctest: +SKIP
        >>> cache.build(manifest)  # doctest: +SKIP
        >>> array = cache.get(manifest.paths()[0])  # np.load only, no decoding  # doctest: +SKIP
    """

    def __init__(self, cache_dir: Path, config: PreprocessConfig) -> None:
        if not isinstance(config, PreprocessConfig):
            raise TypeError(f"config must be a PreprocessConfig, got {type(config).__name__}.")
        self.cache_dir = Path(cache_dir)
        self.config = config
        self.config_hash = config_hash(config)
        self.folder = self.cache_dir / self.config_hash

    def key(self, path: Path) -> str:
        """The cache key of one source file (see the module docstring)."""
        text = f"{source_hash(Path(path))}|{self.config_hash}|{PREPROCESS_VERSION}"
        return hashlib.sha256(text.encode()).hexdigest()

    def entry_paths(self, path: Path) -> tuple[Path, Path]:
        """The (.npy, .json) files of one source file's entry."""
        key = self.key(path)
        base = self.folder / key[:2] / key
        return base.with_suffix(".npy"), base.with_suffix(".json")

    def contains(self, path: Path) -> bool:
        """Whether a complete entry exists for ``path``."""
        return self.entry_paths(path)[0].is_file()

    def get(self, path: Path) -> np.ndarray:
        """The preprocessed array of ``path``: loaded when cached, else computed and stored.

        Raises:
            ImageReadError: the file is missing or cannot be decoded (cache miss only).
        """
        return self.get_with_info(path)[0]

    def get_with_info(self, path: Path) -> tuple[np.ndarray, PreprocessInfo]:
        """The array and its :class:`PreprocessInfo` (see :meth:`get`)."""
        path = Path(path)
        try:
            array_file, info_file = self.entry_paths(path)
        except FileNotFoundError as exc:
            from medbalance.errors import ImageReadError

            raise ImageReadError(path, "file not found; check the manifest's paths") from exc
        if array_file.is_file():
            try:
                info = PreprocessInfo.from_dict(json.loads(info_file.read_text(encoding="utf-8"))["info"])
                return np.load(array_file, allow_pickle=False), info
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise DataError(
                    f"cache entry {array_file} for {path} is unreadable ({exc}); delete it to rebuild."
                ) from exc
        return self._compute(path, array_file, info_file)

    def _compute(self, path: Path, array_file: Path, info_file: Path) -> tuple[np.ndarray, PreprocessInfo]:
        from medbalance.data.readers import read_image

        array, info = preprocess_with_info(read_image(path), self.config)
        if not (self.folder / "config.yaml").is_file():
            dump_config(self.config, self.folder / "config.yaml")
        record = {"source": str(path), "version": PREPROCESS_VERSION, "info": info.to_dict()}
        text = json.dumps(record, indent=1)
        _write_replacing(info_file, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        _write_replacing(array_file, lambda tmp: np.save(tmp, array, allow_pickle=False))
        return array, info

    def iter_arrays(self, manifest: Manifest) -> Iterator[np.ndarray]:
        """The arrays of every image of ``manifest``, in row order (computed on a miss)."""
        for path in manifest.paths():
            yield self.get(path)

    def build(
        self,
        manifest: Manifest,
        *,
        progress: Callable[[int, int], None] | None = None,
        workers: int | None = None,
    ) -> CacheBuildSummary:
        """Preprocess every image of ``manifest`` not cached yet.

        Unreadable images do not stop the build: all others are cached, then one
        error lists every failure.

        Args:
            manifest: the images.
            progress: called with (done, total) over the images not cached yet: with 0
                before the first, then after each (never when all are cached), e.g.
                to draw a progress bar (the CLI does). False is read as None.
            workers: processes preprocessing in parallel; None (default): one per
                CPU core this process may use; 1: in this process. Builds of fewer
                than 4 images per worker use fewer workers. The cache's content
                does not depend on it.

        Raises:
            DataError: one or more images could not be read or preprocessed
                (all of them listed).
            ValueError: ``workers`` < 1.
            TypeError: ``progress`` is neither a callable nor None (``True`` from
                before the bar moved to the CLI).
        """
        progress = check_progress(progress)
        if workers is None:
            workers = default_workers()
        if isinstance(workers, bool) or int(workers) < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}.")
        paths = manifest.paths()
        todo, failures = [], []
        for path in paths:
            try:
                if not self.contains(path):
                    todo.append(path)
            except OSError as exc:
                failures.append(f"{path}: {exc.strerror or exc} (file missing or unreadable)")
        built, more_failures = build_entries(self, todo, progress=progress, workers=int(workers))
        failures += more_failures
        if failures:
            listing = "\n  ".join(failures)
            raise DataError(
                f"{len(failures)} of {len(paths)} images could not be preprocessed "
                f"({built} others were cached); fix or remove them, e.g. with `medbalance validate`:\n  {listing}"
            )
        return CacheBuildSummary(self.folder, len(paths), built, len(paths) - len(todo))
