"""Filling a PreprocessCache: one image per task, failures collected, a process per core.

Entries are keyed by content, so the order in which workers finish changes
nothing on disk: a parallel build writes the same files as a serial one
(tested). Small builds stay in this process, where a pool would cost more to
start than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from medbalance.errors import DataError

if TYPE_CHECKING:
    from medbalance.data.cache import PreprocessCache

__all__ = ["build_entries", "default_workers"]

_MIN_IMAGES_PER_WORKER = 4
"""A pool is used only when each worker gets at least this many images."""


def default_workers() -> int:
    """The CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - macOS/Windows


def _build_one(cache: PreprocessCache, path: Path) -> str | None:
    """Cache one image; the failure as text (path: reason) instead of an exception."""
    try:
        cache.get(path)
    except (DataError, ValueError, OSError) as exc:  # ImageReadError is a DataError
        text = str(exc)
        return text if text.startswith(str(path)) else f"{path}: {text}"
    return None


def build_entries(
    cache: PreprocessCache,
    paths: Sequence[Path],
    *,
    progress: Callable[[int, int], None] | None,
    workers: int,
) -> tuple[int, list[str]]:
    """Cache every path; returns (number built, failure messages), failures in ``paths`` order.

    ``progress`` is called with (done, len(paths)): once with 0 before the first image
    (never when ``paths`` is empty), then after each image.
    """
    failures: list[str] = []
    workers = min(workers, len(paths) // _MIN_IMAGES_PER_WORKER)
    total = len(paths)

    def record(done: int, outcome: str | None) -> None:
        if outcome is not None:
            failures.append(outcome)
        if progress is not None:
            progress(done, total)

    if progress is not None and total:
        progress(0, total)
    if workers <= 1:
        for done, path in enumerate(paths, start=1):
            record(done, _build_one(cache, path))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            chunk = max(1, min(8, total // (workers * 4)))
            outcomes = pool.map(_build_one, [cache] * total, paths, chunksize=chunk)
            for done, outcome in enumerate(outcomes, start=1):
                record(done, outcome)
    return total - len(failures), failures
