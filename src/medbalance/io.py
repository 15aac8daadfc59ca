"""Atomic file writes: temp file in the same folder, fsync, ``os.replace``.

An interrupted run never leaves a truncated file where a complete one is expected.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from medbalance.errors import MedbalanceError, OutputWriteError

__all__ = [
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "check_output_dir",
    "check_writable",
    "file_sha256",
    "no_space_named",
    "prepare_output_dir",
    "replace_dir",
]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_readable(path: str) -> None:
    # mkstemp creates 0600 files; a finished result gets the permissions open() would give.
    os.chmod(path, 0o666 & ~_current_umask())


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_PROBE_BYTES = 64 * 1024  # a full disk refuses it; an almost full one is caught at its first write


@contextmanager
def no_space_named(path: Path) -> Iterator[None]:
    """Turn "no space left" / "quota exceeded" inside the block into :class:`OutputWriteError` naming ``path``."""
    # A full disk is the user's to fix: name the file and the fix instead of a traceback.
    try:
        yield
    except OSError as exc:
        if exc.errno not in _NO_SPACE or isinstance(exc, OutputWriteError):
            raise
        raise OutputWriteError(
            f"cannot write {path}: {exc.strerror or exc} (the disk or quota is full); "
            "free some space or choose another output location."
        ) from exc


def check_writable(folder: Path, *, shown: Path | None = None) -> None:
    """Refuse a folder that cannot take a small file (read-only, full disk), before any work.

    Args:
        folder: where the probe is written.
        shown: the folder the message names (the output a staging folder stands in for).

    Raises:
        MedbalanceError: the probe file cannot be written and synced.
    """
    probe = Path(folder) / ".write-test"
    try:
        with open(probe, "wb") as handle:
            handle.write(bytes(_PROBE_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise MedbalanceError(f"cannot write to output folder {shown or folder}: {exc}") from exc
    finally:
        probe.unlink(missing_ok=True)


@contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a temp file beside ``path``; on success fsync and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with no_space_named(path), os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _make_readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save(path: Path, save: Callable[[Path], None]) -> None:
    """Call ``save(tmp_path)`` then rename; for libraries that only write to a path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        with no_space_named(path):  # a full disk may show only when the data is synced
            save(Path(tmp))
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        _make_readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Content hash of a file (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_output_dir(path: Path, *, overwrite: bool = False) -> Path:
    """Refuse an output folder that holds old results, without touching it.

    Raises:
        MedbalanceError: ``path`` is a file, or a non-empty folder without ``overwrite``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MedbalanceError(f"output path {path} is a file, not a folder; choose a folder path.")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise MedbalanceError(
            f"output folder {path} already exists and is not empty; "
            "choose another folder or pass --overwrite to replace it."
        )
    return path


def replace_dir(staging: Path, target: Path) -> None:
    """Move a finished ``staging`` folder to ``target``, replacing what was there.

    The old folder is only removed once the new one is complete, so a failed run
    never loses earlier results.
    """
    staging, target = Path(staging), Path(target)
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


def prepare_output_dir(path: Path, *, overwrite: bool = False) -> Path:
    """Create ``path`` for new results, refusing to mix with old ones.

    Raises:
        MedbalanceError: the folder exists and is not empty (without ``overwrite``),
            or it cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MedbalanceError(f"output path {path} is a file, not a folder; choose a folder path.")
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise MedbalanceError(
                f"output folder {path} already exists and is not empty; "
                "choose another folder or pass --overwrite to replace it."
            )
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MedbalanceError(f"cannot write to output folder {path}: {exc}") from exc
    check_writable(path)
    return path
