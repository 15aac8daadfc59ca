"""Tiny benchmark settings shared by the benchmark tests (phantoms at 32 px, 1 epoch, small-cnn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PHANTOMS = {"n_patients": 40, "prevalence": 0.3, "size": 32, "domains": ["vendor-a", "vendor-b", "vendor-c"]}


def tiny_settings(out: Path, **changes: Any) -> dict[str, Any]:
    """Overrides for ``load_benchmark_config``: vendors a+b trained on, vendor c test only."""
    settings: dict[str, Any] = {
        "data": [
            {"name": "ab", "source": "phantoms", "phantoms": PHANTOMS, "domains": ["vendor-a", "vendor-b"]},
            {
                "name": "c",
                "source": "phantoms",
                "phantoms": PHANTOMS,
                "domains": ["vendor-c"],
                "role": "test",
            },
        ],
        "strategies": ["none", "oversample"],
        "seeds": 1,
        "train": {"epochs": 1, "image_size": 32, "batch_size": 8, "top_k": 1},
        "evaluation": {"n_bootstrap": 20, "figures": False},
        "out": str(out),
        "progress": False,
    }
    settings.update(changes)
    return settings
