"""Run ``python -m medbalance ARGS`` and SIGKILL the process at an exact point of a file write.

Usage: ``python tests/sigkill_hook.py NAME:N -- medbalance-args...``

The process kills itself (``SIGKILL``, nothing runs after it) just before the ``N``-th
``os.replace`` whose target file is called ``NAME``: the temp file is fully written, the
rename that publishes it has not happened. Every earlier write has happened, so walking
``NAME:N`` along the write sequence of a checkpoint lands a kill between each pair of its
steps, deterministically. Only this test helper patches ``os.replace``; ``src`` has no hook.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _install(name: str, nth: int) -> None:
    real_replace = os.replace
    seen = 0

    def replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal seen
        if Path(os.fsdecode(dst)).name == name:
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace  # type: ignore[assignment]


if __name__ == "__main__":
    point, sep, *argv = sys.argv[1:]
    assert sep == "--", "usage: sigkill_hook.py NAME:N -- medbalance-args..."
    target, _, count = point.rpartition(":")
    _install(target, int(count))
    sys.argv = ["medbalance", *argv]
    from medbalance.cli import main

    sys.exit(main())
