"""Run ``medbalance train ...`` (the CLI, in this process) and record when its first and last steps ran.

    python benchmarks/_timed_cli.py OUT.json train --data ... --out ...

Writes OUT.json with the process start (from /proc), the first-step and
last-step-end times and the exit time, all as ``time.time()`` seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _process_start() -> float:
    """When this process was created (Linux /proc; else now)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def main() -> int:
    started = _process_start()
    out, args = Path(sys.argv[1]), sys.argv[2:]
    from _loops import Stamps  # imports torch and Lightning, as the train command will

    import medbalance.training.run as run

    stamps = Stamps()
    real_train = run.train
    clock = time.time() - time.perf_counter()  # perf_counter -> epoch seconds

    def timed_train(config, *, callbacks=(), **options):  # type: ignore[no-untyped-def]
        return real_train(config, callbacks=[*callbacks, stamps], **options)

    run.train = timed_train  # type: ignore[assignment]
    from medbalance.cli import main as cli_main

    code = cli_main(args)
    ended = time.time()
    record = {
        "process_start": started,
        "first_step": None if stamps.first_step is None else stamps.first_step + clock,
        "last_step_end": None if stamps.last_step_end is None else stamps.last_step_end + clock,
        "end": ended,
        "exit_code": code,
    }
    out.write_text(json.dumps(record))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
