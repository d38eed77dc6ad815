"""The web dashboard: Jinja2 pages over the same view dicts the JSON read API returns."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"

__all__ = ["STATIC_DIR", "TEMPLATE_DIR"]
