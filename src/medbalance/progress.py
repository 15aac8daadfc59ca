"""Progress callbacks: long library calls report ``(done, total)``; whoever called them draws.

The library prints nothing; the CLI turns these callbacks into Rich bars
(``medbalance.cli._progress``), a notebook can pass its own.

Example:
    >>> seen = []
    >>> report = check_progress(lambda done, total: seen.append((done, total)))
    >>> report(1, 3); seen
    [(1, 3)]
    >>> check_progress(False) is None
    True
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressCallback", "check_progress"]

ProgressCallback = Callable[[int, int], None]
"""Called with (items done, items in all)."""


def check_progress(progress: object) -> ProgressCallback | None:
    """``progress`` as a callback or None; False reads as None.

    Raises:
        TypeError: ``True`` or anything else that is not callable.
    """
    if progress is None or progress is False:
        return None
    if not callable(progress):
        raise TypeError(
            f"progress takes a callback called with (done, total), or None; got {progress!r}. "
            "The library draws no bar itself: pass e.g. progress=lambda done, total: print(done, total)."
        )
    return progress
