"""No code runs from a file medbalance loads (issue 13).

A source scan proves every ``torch.load`` passes ``weights_only=True``, YAML is read
with ``safe_load`` and nothing is ``eval``'d or unpickled; files that carry a pickle
with code, given where weights, a bundle or a resume checkpoint are expected, are
refused with a clear message at the CLI, and the code in them never runs.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest
import torch

from medbalance.cli import main

SRC = Path(__file__).resolve().parents[1] / "src" / "medbalance"


@pytest.fixture(autouse=True)
def _fresh_log_streams() -> None:
    """Lightning's import-time stream handler may hold an earlier test's (closed) captured stderr."""
    import logging
    import sys

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.stream = sys.stderr  # not setStream(): it flushes the closed one


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _dotted(func: ast.expr) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _scan(root: Path = SRC) -> list[tuple[str, int, str]]:
    findings = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = str(path.relative_to(root.parent))
        for call in _calls(tree):
            name = _dotted(call.func)
            keywords = {k.arg: k.value for k in call.keywords}
            weights_only = keywords.get("weights_only")
            safe = isinstance(weights_only, ast.Constant) and weights_only.value is True
            if name.endswith("torch.load") and not safe:
                findings.append((where, call.lineno, "torch.load without weights_only=True"))
            if name.endswith(".fit") and "ckpt_path" in keywords and not safe:
                findings.append((where, call.lineno, "Trainer.fit(ckpt_path=...) without weights_only=True"))
            if isinstance(call.func, ast.Name) and name in ("eval", "exec"):  # not model.eval()
                findings.append((where, call.lineno, f"builtin {name}()"))
            if name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all"):
                findings.append((where, call.lineno, f"{name} (use yaml.safe_load)"))
            if name in ("pickle.load", "pickle.loads", "dill.load", "joblib.load", "numpy.load", "np.load"):
                allow = keywords.get("allow_pickle")
                if not (name.endswith("np.load") or name.endswith("numpy.load")) or not (
                    isinstance(allow, ast.Constant) and allow.value is False
                ):
                    findings.append((where, call.lineno, f"{name} (unpickles)"))
    return findings


def test_source_never_loads_unsafely() -> None:
    assert _scan() == []


def test_the_scan_catches_what_it_looks_for(tmp_path: Path) -> None:
    """The scan is not vacuous: each forbidden call in a planted file is found."""
    fake = tmp_path / "medbalance"
    fake.mkdir()
    (fake / "bad.py").write_text(
        "import torch, yaml, pickle\n"
        "torch.load('x')\ntorch.load('x', weights_only=False)\nyaml.load('a')\npickle.loads(b'')\n"
        "eval('1')\nmodel.eval()\ntrainer.fit(task, ckpt_path='last.ckpt')\n"
    )
    found = [what for _, _, what in _scan(fake)]
    assert len(found) == 6, found


class _Payload:
    """Unpickling this runs ``touch MARKER``: the code a malicious checkpoint would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch '{self.marker}'",))


def _evil(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Payload(marker)}, path)
    return path


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], marker: Path, *words: str) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert code == 4, text  # a checkpoint error: refused, never unpickled
    assert "Traceback" not in text
    assert not marker.exists(), "the pickle's code ran"
    for word in words:
        assert word in text, text
    return text


def test_train_weights_carrying_code_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    weights = _evil(tmp_path / "weights.pt", marker)
    argv = ["train", "--data", "phantoms", "--phantom-patients", "40", "--phantom-size", "32", "--out",
            str(tmp_path / "run"), "--epochs", "1", "--image-size", "16", "--weights", str(weights), "--no-progress"]  # fmt: skip
    _refused(capsys, argv, marker, "refused to load", "weights_only=True")
    assert not (tmp_path / "run").exists()


def test_bundle_weights_carrying_code_are_refused(
    bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    bundle = tmp_path / "bundle"
    shutil.copytree(bundle_dir, bundle)
    _evil(bundle / "model.safetensors", marker)
    image = _png(tmp_path / "x.png")
    argv = ["predict", str(bundle), str(image), "--out", str(tmp_path / "preds.csv")]
    _refused(capsys, argv, marker, "model.safetensors")
    assert not (tmp_path / "preds.csv").exists()


def _png(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((32, 32), 100, np.uint8)).save(path)
    return path


def test_resume_checkpoint_carrying_code_is_refused(
    evaluated_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    shutil.copytree(evaluated_run, run)
    _evil(run / "checkpoints" / "last.ckpt", marker)
    config = run / "config.yaml"
    argv = ["train", "--config", str(config), "--out", str(run), "--resume", "--force", "--epochs", "3",
            "--no-progress"]  # fmt: skip
    code = main(argv)
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert code == 4, text
    assert "last.ckpt" in text and "refused to load" in text
    assert not marker.exists(), "the checkpoint's code ran"
    assert "Traceback" not in captured.out + captured.err
