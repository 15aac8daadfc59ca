"""Filling a PreprocessCache: one image per task, failures collected, a process per core.

Entries are keyed by content, so the order in which workers finish changes
nothing on disk: a parallel build writes the same files as a serial one
(tested). Small builds stay in this process, where a pool would cost more to
start than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("preprocessing", total=total)
        yield lambda: bar.advance(task)


def build_entries(
    cache: PreprocessCache, paths: Sequence[Path], *, progress: bool, workers: int
) -> tuple[int, list[str]]:
    """Cache every path; returns (number built, failure messages), failures in ``paths`` order."""
    failures: list[str] = []
    workers = min(workers, len(paths) // _MIN_IMAGES_PER_WORKER)
    with _progress_bar(progress and len(paths) > 0, len(paths)) as advance:
        if workers <= 1:
            outcomes: Iterator[str | None] = (_build_one(cache, path) for path in paths)
            for outcome in outcomes:
                if outcome is not None:
                    failures.append(outcome)
                advance()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                chunk = max(1, min(8, len(paths) // (workers * 4)))
                for outcome in pool.map(_build_one, [cache] * len(paths), paths, chunksize=chunk):
                    if outcome is not None:
                        failures.append(outcome)
                    advance()
    return len(paths) - len(failures), failures
