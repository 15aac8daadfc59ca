"""One writer per output folder (issue 13): the second concurrent writer is refused.

A helper process holds the claim on a folder (as a running command would); every
command that writes a folder must then refuse at once, exit non-zero, name the
folder and write nothing. Two real ``data`` processes racing on one ``--out``
leave exactly one winner and its complete output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbalance.cli import main
from medbalance.outputs import OutputBusyError, claim_output_dir, lock_path

SRC = str(Path(__file__).resolve().parents[1] / "src")
_HOLD = (
    "import sys, time\n"
    "from medbalance.outputs import claim_output_dir\n"
    "with claim_output_dir(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


class Holder:
    """A separate process holding the claim on ``folder`` until :meth:`kill`."""

    def __init__(self, folder: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True, env=_env()
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "held"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def hold() -> Iterator[type[Holder]]:
    holders: list[Holder] = []

    class _Tracked(Holder):
        def __init__(self, folder: Path) -> None:
            super().__init__(folder)
            holders.append(self)

    yield _Tracked
    for holder in holders:
        if holder.proc.poll() is None:
            holder.kill()


def _image_folder(root: Path, n: int = 12) -> Path:
    """``root/<class>/<patient>_<i>.png``: a tiny two-class folder data set."""
    for i in range(n):
        label = "malignant" if i % 3 == 0 else "benign"
        path = root / label / f"P{i:02d}_{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (16, 16), dtype=np.uint8)).save(path)
    return root


def test_claim_is_exclusive_across_processes_and_freed_by_sigkill(tmp_path: Path, hold: type[Holder]) -> None:
    out = tmp_path / "out"
    holder = hold(out)
    busy = rf"{out}.*another medbalance command \(process {holder.proc.pid}\)"
    with pytest.raises(OutputBusyError, match=busy), claim_output_dir(out):
        pass
    holder.kill()  # the OS drops a dead process's lock: a crash never blocks the next command
    with claim_output_dir(out):
        assert lock_path(out).is_file()
    assert not lock_path(out).exists()  # nothing left beside the folder afterwards
    assert not out.exists()  # claiming creates no folder


def test_claim_is_exclusive_across_threads_and_reentrant_within_one(tmp_path: Path) -> None:
    out, errors = tmp_path / "out", []
    with claim_output_dir(out), claim_output_dir(out):  # report -> export re-enters its own claim

        def other() -> None:
            try:
                with claim_output_dir(out):
                    pass
            except OutputBusyError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2  # the output location is taken: choose another --out or wait
    assert "being written by another medbalance command" in " ".join(err.split()), err
    assert "Traceback" not in err
    assert not out.exists(), "a refused command must not create or touch the folder"


def test_data_refused_while_another_writes_the_folder(
    tmp_path: Path, hold: type[Holder], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    hold(out)
    _refused(capsys, ["data", "folder", str(_image_folder(tmp_path / "src")), "--out", str(out)], out)


def test_synth_phantoms_refused_while_another_writes_the_folder(
    tmp_path: Path, hold: type[Holder], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ph"
    hold(out)
    _refused(capsys, ["synth", "phantoms", "--out", str(out), "--n-patients", "4", "--size", "32"], out)


def test_train_refused_while_another_writes_the_folder(
    tmp_path: Path, hold: type[Holder], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    hold(out)
    _refused(
        capsys, ["train", "--out", str(out), "--epochs", "1", "--image-size", "32", "--no-progress"], out
    )


def test_demo_refused_while_another_writes_the_folder(
    tmp_path: Path, hold: type[Holder], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    hold(out)
    _refused(capsys, ["demo", "--out", str(out), "--n-patients", "20", "--epochs", "1"], out)


def test_benchmark_refused_while_another_writes_the_folder(
    tmp_path: Path, hold: type[Holder], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    hold(out)
    argv = ["benchmark", "--out", str(out), "--data", "phantoms", "--strategies", "none", "--seeds", "1"]
    _refused(capsys, argv, out)


@pytest.mark.parametrize("command", ["evaluate", "export", "explain"])
def test_run_readers_refused_while_another_writes_their_folder(
    command: str, evaluated_run: Path, tmp_path: Path, hold: type[Holder], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / command
    hold(out)
    _refused(capsys, [command, str(evaluated_run), "--out", str(out)], out)


def test_two_data_processes_on_one_folder_leave_one_winner(tmp_path: Path) -> None:
    source, out = _image_folder(tmp_path / "src", n=30), tmp_path / "out"
    argv = [sys.executable, "-m", "medbalance", "data", "folder", str(source), "--out", str(out)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(err for code, err in results if code != 0)
    # refused either while the winner runs (lock) or after it finished (folder not empty)
    assert "being written by another" in " ".join(loser.split()) or "already exists" in loser, loser
    assert sorted(p.name for p in out.iterdir()) == ["manifest.csv", "manifest.meta.json", "split_counts.csv",
                                                     "validation.json"]  # fmt: skip
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging or lock left
