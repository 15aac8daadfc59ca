"""Filling a PreprocessCache: one image per task, failures collected, optional processes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medbalance.errors import DataError

if TYPE_CHECKING:
    from medbalance.data.cache import PreprocessCache

__all__ = ["build_entries"]


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
    """Cache every path; returns (number built, failure messages)."""
    failures: list[str] = []
    with _progress_bar(progress and len(paths) > 0, len(paths)) as advance:
        if workers == 1 or len(paths) <= 1:
            outcomes: Iterator[str | None] = (_build_one(cache, path) for path in paths)
            for outcome in outcomes:
                if outcome is not None:
                    failures.append(outcome)
                advance()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for outcome in pool.map(_build_one, [cache] * len(paths), paths, chunksize=4):
                    if outcome is not None:
                        failures.append(outcome)
                    advance()
    return len(paths) - len(failures), failures
