"""The docstring examples are run: an example that calls a function or argument that no
longer exists fails here instead of misleading a reader."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MODULES = sorted(
    ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for path in (SRC / "medbalance").rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)



def test_examples_exist() -> None:
    assert len(MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, (
        f"{name}: {result.failed} of {result.attempted} docstring examples failed (run pytest --doctest-modules {name})"
    )
