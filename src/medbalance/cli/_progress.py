"""Progress bars: the library reports ``(done, total)`` through a plain callback; the CLI draws it.

Example:
    >>> with progress_bar("preprocessing") as update:  # doctest: +SKIP
    ...     cache.build(manifest, progress=update)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["cache_progress_bar", "epoch_progress_callbacks", "progress_bar"]


@contextmanager
def progress_bar(
    description: str, *, columns: tuple[Any, ...] = (), transient: bool = True, enabled: bool = True
) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich bar behind a ``(done, total)`` callback; None when not ``enabled``.

    The bar appears on the first call, so work that reports nothing (everything
    already cached) prints nothing, and it stops when ``done`` reaches ``total``, so
    another live display (Lightning's epoch bar) can follow inside the same block.
    """
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = Progress(*columns, transient=transient)
            state["bar"].start()
            state["task"] = state["bar"].add_task(description, total=total)
        state["bar"].update(state["task"], completed=done, total=total)
        if done >= total:
            state.pop("bar").stop()

    try:
        yield update
    finally:
        if "bar" in state:
            state.pop("bar").stop()


def cache_progress_bar(*, enabled: bool = True) -> Any:
    """The bar of a preprocessing-cache build (it stays on screen when done)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    return progress_bar("preprocessing", columns=columns, transient=False, enabled=enabled)


def epoch_progress_callbacks(*, enabled: bool = True) -> list[Any]:
    """Lightning's Rich epoch bar for ``medbalance train`` (the library alone draws tqdm's)."""
    if not enabled:
        return []
    from lightning.pytorch.callbacks import RichProgressBar

    return [RichProgressBar(leave=True)]
