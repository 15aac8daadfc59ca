"""Data layer: manifest, readers, adapters, validation, splits, preprocessing and cache."""

from __future__ import annotations

from medbalance.data.manifest import Manifest, load_manifest

__all__ = ["Manifest", "load_manifest"]
