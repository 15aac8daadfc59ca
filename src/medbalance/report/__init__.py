"""Figures and reports a person looks at (contact sheets, plots, HTML)."""

from __future__ import annotations

__all__: list[str] = []
