"""One writer per output folder: an exclusive lock claimed before any work.

Every command that writes a folder (``data``, ``synth phantoms``, ``train``,
``evaluate``, ``export``, ``explain``, ``benchmark``, ``demo``) claims its
output folder with :func:`claim_output_dir` for as long as it runs. The claim
is an ``fcntl.flock`` on ``.NAME.lock`` beside the folder, so a second
command started on the same folder is refused at once with a clear message,
instead of both reporting success and the later one silently replacing the
earlier one's results. The operating system drops the lock when the process
dies (even under SIGKILL), so a crashed command never blocks the next one.

Example:
    >>> with claim_output_dir(Path("runs/baseline")):  # doctest: +SKIP
    ...     write_results()
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medbalance.errors import MedbalanceError

try:  # POSIX; on other systems the claim degrades to an exclusive create
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["OutputBusyError", "claim_output_dir", "lock_path"]


class OutputBusyError(MedbalanceError):
    """Another command is writing the same output folder right now."""


# Claims held by this thread: lock path -> depth. A command that calls another
# library function on the same folder (report -> export) re-enters its own claim.
_held = threading.local()


def lock_path(path: str | Path) -> Path:
    """The lock file that guards output folder ``path``: ``.NAME.lock`` in its parent."""
    path = Path(os.path.abspath(path))
    return path.parent / f".{path.name}.lock"


def _holder(lock: Path) -> str:
    try:
        pid = lock.read_text(encoding="ascii").strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


def _refuse(folder: Path, lock: Path) -> OutputBusyError:
    return OutputBusyError(
        f"output folder {folder} is being written by another medbalance command{_holder(lock)}; "
        "two commands writing one folder would overwrite each other's results. Wait for it to "
        f"finish, or choose another --out. (Lock file: {lock}; it is released when that command exits.)"
    )


def _acquire(lock: Path, folder: Path) -> int:
    """Open and lock ``lock``; retry when it was unlinked by a finishing holder in between."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:  # pragma: no cover - Windows
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _refuse(folder, lock) from None
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        if current is not None and current.st_ino == os.fstat(fd).st_ino:
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            except OSError:  # a full disk: give the claim back, leave no lock file
                with contextlib.suppress(OSError):
                    lock.unlink()
                os.close(fd)
                raise
            return fd
        os.close(fd)  # we locked a file its holder had already removed; take the new one


def _remove_leftovers(folder: Path) -> None:
    """Staging and retired copies a killed writer left beside ``folder``.

    Safe only under the claim: no live writer of ``folder`` exists, so every
    ``.NAME.staging*`` / ``.NAME.old-*`` sibling belongs to a dead one.
    """
    import glob
    import shutil

    name = glob.escape(folder.name)
    leftovers = [folder.parent / f".{folder.name}.staging"]
    for pattern in (f".{name}.staging-*", f".{name}.old-*"):
        leftovers += folder.parent.glob(pattern)
    for leftover in leftovers:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def claim_output_dir(path: str | Path) -> Iterator[Path]:
    """Hold the exclusive claim on output folder ``path`` for the ``with`` block.

    Creates the parent folder if needed (not ``path`` itself). Re-entrant within
    one thread; a second process (or thread) claiming the same folder is refused.
    Staging folders a killed writer left beside ``path`` are removed once claimed.

    Raises:
        OutputBusyError: another command holds the claim.
        MedbalanceError: the parent folder cannot be created or written.
    """
    folder = Path(os.path.abspath(path))
    lock = lock_path(folder)
    depths: dict[Path, int] = getattr(_held, "depths", None) or {}
    _held.depths = depths
    if lock in depths:
        depths[lock] += 1
        try:
            yield Path(path)
        finally:
            depths[lock] -= 1
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(lock, folder)
    except OSError as exc:
        raise MedbalanceError(f"cannot write to output folder {folder}: {exc}") from exc
    depths[lock] = 1
    _remove_leftovers(folder)
    try:
        yield Path(path)
    finally:
        del depths[lock]
        # Unlink before unlocking: a waiter that opened the old file sees the inode change and retries.
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)
