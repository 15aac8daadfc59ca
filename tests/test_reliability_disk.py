"""Unwritable and full output locations fail before any work (issue 13).

Two real conditions, both reachable as root (which ignores folder permissions):

- an ``--out`` whose parent is a regular file: no folder can ever be made there;
- a full disk: a 256 KiB ``tmpfs`` filled to the last block (mounted by the test;
  skipped where mounting is not allowed, e.g. without root).

``data`` and ``train`` refuse at once with one ``error:`` line naming the folder
(exit 2), before images are validated, phantoms drawn or the cache built, and
leave nothing behind. A write that runs out of space later (``OutputWriteError``)
names the file and the fix instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.cli import main
from medbalance.errors import OutputWriteError
from medbalance.io import atomic_write_text


def _source(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for i in range(40):
        path = root / ("malignant" if i % 2 else "benign") / f"P{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    return root


def _argv(command: str, tmp_path: Path, out: Path) -> list[str]:
    if command == "data":
        return ["data", "folder", str(_source(tmp_path / "src")), "--out", str(out)]
    tiny = [
        "--phantom-patients",
        "40",
        "--phantom-size",
        "64",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--no-progress",
    ]
    return ["train", "--data", "phantoms", *tiny, "--out", str(out), "--cache-dir", str(tmp_path / "cache")]


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("command", ["data", "train"])
def test_output_under_a_regular_file_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder\n")
    out = blocker / "out"
    line = _refused(capsys, _argv(command, tmp_path, out))
    assert f"cannot write to output folder {out}" in line
    assert blocker.read_text() == "not a folder\n"
    expected = {"results.txt", "src"} if command == "data" else {"results.txt"}
    assert {p.name for p in tmp_path.iterdir()} == expected  # no cache, no phantoms, no staging


@pytest.fixture()
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs with every block taken by ``filler``."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        with open(mount / "filler", "wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("command", ["data", "train"])
def test_a_full_disk_fails_before_any_work(
    tmp_path: Path, full_disk: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    out = full_disk / "out"
    line = _refused(capsys, _argv(command, tmp_path, out))
    assert f"cannot write to output folder {out}" in line and "No space left on device" in line
    assert [p.name for p in full_disk.iterdir()] == ["filler"]  # no folder, no staging, no lock file
    assert not (tmp_path / "cache").exists()  # nothing preprocessed


def test_a_write_that_runs_out_of_space_names_the_file(full_disk: Path) -> None:
    target = full_disk / "summary.json"
    with pytest.raises(OutputWriteError, match=r"cannot write .*summary\.json.*free some space") as caught:
        atomic_write_text(target, "x" * 65536)
    assert isinstance(caught.value, OSError)  # callers that handle OSError still do
    assert [p.name for p in full_disk.iterdir()] == ["filler"]  # the temp file is gone too
