"""Which process of a distributed launch this is, and waiting for the primary one.

Lightning's DDP launcher starts ranks > 0 by running the whole command again
(with ``LOCAL_RANK``/``NODE_RANK`` set), after rank 0 has prepared the run
folder; ``torchrun`` and SLURM start every rank at once (``RANK`` /
``SLURM_PROCID``). Only the primary process (global rank 0) prepares the
folder, writes files and logs to ``train.log``; the others wait until it has
prepared the folder, then train.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from medbalance.errors import TrainingError
from medbalance.io import atomic_write_text

__all__ = ["is_launch_primary", "mark_prepared", "wait_for_primary"]

_MARKER = ".prepared"


def _int_env(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    return int(text) if text.isdigit() else None


def is_launch_primary() -> bool:
    """True unless a launcher says this process is not global rank 0."""
    for name in ("RANK", "SLURM_PROCID"):
        rank = _int_env(name)
        if rank is not None:
            return rank == 0
    return (_int_env("LOCAL_RANK") or 0) == 0 and (_int_env("NODE_RANK") or _int_env("GROUP_RANK") or 0) == 0


def _launch_token() -> str:
    """Identifies one launch, the same in every rank (empty for Lightning's own launcher)."""
    return ":".join(os.environ.get(n, "") for n in ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "SLURM_STEP_ID"))


def mark_prepared(out: Path) -> None:
    """Primary: the run folder and data are ready for the other ranks."""
    atomic_write_text(Path(out) / _MARKER, _launch_token() + "\n")


def wait_for_primary(out: Path, *, timeout_s: float = 1800.0, poll_s: float = 1.0) -> None:
    """Other ranks: wait until the primary has prepared ``out`` for this launch.

    Ranks started by Lightning's launcher start after rank 0 prepared the folder
    and find the marker at once; torchrun/SLURM ranks wait for the marker of
    their own launch (a marker left by an earlier launch does not count).

    Raises:
        TrainingError: the primary did not prepare the folder within ``timeout_s``.
    """
    token = _launch_token()
    marker = Path(out) / _MARKER
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if marker.read_text(encoding="utf-8").strip() == token:
                return
        except OSError:
            pass
        time.sleep(poll_s)
    raise TrainingError(
        f"this rank waited {timeout_s:.0f} s for rank 0 to prepare {out} ({marker} for launch {token!r}); "
        "check rank 0's log. All ranks must get the same --out on a shared file system."
    )
