"""One line per cell: which cell (i/N), epoch, elapsed, estimated time left.

On a terminal the cell's line is rewritten in place at each epoch and ends when
the cell ends; elsewhere (logs, CI) only the finished cells' lines are written.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from medbalance.benchmark._cell import BenchmarkEvent

__all__ = ["ProgressPrinter", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``3725`` -> ``1:02:05``; ``65`` -> ``1:05``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressPrinter:
    """A ``BenchmarkEvent`` callback that prints progress lines.

    Args:
        stream: where to print (default: the stdout of now, kept even when a cell redirects it).
        workers: cells run at once, for the benchmark's time left.
    """

    def __init__(self, stream: TextIO | None = None, *, workers: int = 1) -> None:
        self.stream = stream or sys.stdout
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.workers = max(1, workers)
        self.durations: list[float] = []
        self.started = time.time()
        self._open_line = False

    def _eta(self, event: BenchmarkEvent) -> str:
        if not self.durations or not event.total:
            return ""
        left = (
            (event.total - len(self.durations)) * (sum(self.durations) / len(self.durations)) / self.workers
        )
        return f", benchmark ETA {format_seconds(left)}"

    def _write(self, text: str, *, final: bool) -> None:
        if self.live:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, event: BenchmarkEvent) -> None:
        head = f"[{event.index}/{event.total}] {event.cell_id}"
        if event.kind == "data":
            self._write(event.message, final=True)
        elif event.kind == "cell_start":
            self._write(f"{head}: training (0/{event.epochs} epochs)", final=False)
        elif event.kind == "epoch":
            per_epoch = event.elapsed / max(1, event.epoch)
            left = per_epoch * (event.epochs - event.epoch)
            self._write(f"{head}: epoch {event.epoch}/{event.epochs}, {format_seconds(event.elapsed)} elapsed, "
                        f"cell ETA {format_seconds(left)}{self._eta(event)}", final=False)  # fmt: skip
        elif event.kind == "cell_end":
            self.durations.append(event.elapsed)
            tail = "" if event.status == "completed" else f" -- {event.message}"
            self._write(f"{head}: {event.status} in {format_seconds(event.elapsed)}{self._eta(event)}{tail}",
                        final=True)  # fmt: skip
        elif event.kind == "unit":
            self._write(f"pooled folds evaluated: {event.cell_id}", final=True)
        elif event.kind == "done":
            self._write(f"{event.total} cell(s) in {format_seconds(event.elapsed)}", final=True)
