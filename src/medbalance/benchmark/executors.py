"""Executors run cells on an existing engine; the driver alone writes the store.

- ``local``: the driver process (``workers=1``) or a pool of spawned processes
  (``concurrent.futures``), each with ``cores // workers`` torch threads;
- ``ray``: each cell a Ray task with its CPU/GPU request, on the cluster at
  ``ray_address`` or a local Ray instance (optional extra ``medbalance[ray]``).

Each executor yields :class:`CellOutcome` objects as cells finish.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

from medbalance.benchmark._cell import BenchmarkEvent, CellOutcome, CellTask, run_cell
from medbalance.errors import ConfigError

__all__ = ["run_local", "run_ray", "threads_per_worker"]

Report = Callable[[BenchmarkEvent], None]


def threads_per_worker(workers: int) -> int:
    """Torch threads per worker so ``workers`` processes do not oversubscribe the cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _run_in_worker(task: CellTask, events: Any) -> CellOutcome:
    return run_cell(task, events.put if events is not None else None)


def run_local(tasks: Sequence[CellTask], workers: int, report: Report) -> Iterator[CellOutcome]:
    """Run cells in this process (``workers == 1``) or in ``workers`` spawned processes."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_cell(task, report)
        return
    context = get_context("spawn")
    with context.Manager() as manager:
        events = manager.Queue()
        stop = threading.Event()

        def pump() -> None:
            while not stop.is_set():
                try:
                    report(events.get(timeout=0.2))
                except queue.Empty:
                    continue
                except (EOFError, OSError):
                    return

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_run_in_worker, task, events) for task in tasks]
                for future in as_completed(futures):
                    yield future.result()
        finally:
            stop.set()
            thread.join(timeout=2)


def run_ray(
    tasks: Sequence[CellTask],
    report: Report,
    *,
    address: str | None,
    num_cpus: float = 1,
    num_gpus: float = 0,
) -> Iterator[CellOutcome]:
    """Run each cell as a Ray task (results return to this driver, which alone writes the store).

    Raises:
        ConfigError: Ray is not installed (``pip install 'medbalance[ray]'``).
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray, which is not installed: pip install 'medbalance[ray]'."
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(2, math.ceil(num_cpus)), include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(run_cell)
    try:
        pending = {}
        for task in tasks:
            report(BenchmarkEvent("cell_start", task.cell.cell_id, task.index, task.total,
                                  epochs=task.train_config.optim.epochs))  # fmt: skip
            pending[remote.remote(task)] = task
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                pending.pop(ref)
                outcome: CellOutcome = ray.get(ref)
                yield outcome
    finally:
        if started_here:
            ray.shutdown()
