"""Small helpers shared by the additive lesion models."""

from __future__ import annotations

import numpy as np

__all__ = ["OPACITY_FLOOR", "finish_opacity", "pad_to"]

# Below half an 8-bit grey level of headroom a change is invisible; zeroing it keeps
# the lesion's footprint (what placement checks against the mask) tight.
OPACITY_FLOOR = 0.002


def finish_opacity(opacity: np.ndarray) -> np.ndarray:
    """Clip to [0, 0.99], zero values under :data:`OPACITY_FLOOR`, return float32."""
    out = np.clip(opacity, 0.0, 0.99).astype(np.float32)
    out[out < OPACITY_FLOOR] = 0.0
    return out


def pad_to(grid: np.ndarray, half: int) -> np.ndarray:
    """Zero-pad a centred odd square grid to side ``2 half + 1`` (never crops)."""
    current = (grid.shape[-1] - 1) // 2
    extra = max(0, half - current)
    if not extra:
        return grid
    width = [(0, 0)] * (grid.ndim - 2) + [(extra, extra), (extra, extra)]
    return np.pad(grid, width)
