"""Shared fixtures. Tests never reach a model hub (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

MINI_MIAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mini-mias"


@pytest.fixture(scope="session")
def mini_mias_dir() -> Path:
    """The real mini-MIAS folder (../shared/data/mini-mias); skipped when absent."""
    if not (MINI_MIAS / "Info.txt").is_file():
        pytest.skip("../shared/data/mini-mias is not present")
    return MINI_MIAS
