"""Import every adapter module once so that each registers itself in ADAPTERS."""

from __future__ import annotations

from medbalance.data.adapters import (
    cbis_ddsm,
    cmmd,
    folder,
    ham10000,
    medmnist,
    mini_mias,
    table,
    vindr_mammo,
)

__all__ = ["cbis_ddsm", "cmmd", "folder", "ham10000", "medmnist", "mini_mias", "table", "vindr_mammo"]
