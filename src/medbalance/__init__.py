"""medbalance: train and evaluate medical image classifiers under class imbalance."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
