"""Import every adapter module once so that each registers itself in ADAPTERS."""

from __future__ import annotations

from medbalance.data.adapters import folder, mini_mias, table

__all__ = ["folder", "mini_mias", "table"]
