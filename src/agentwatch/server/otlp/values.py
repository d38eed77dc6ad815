"""Reading attribute values: the first one given, text fit for a column, a token count."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["column_text", "count", "first"]


def first(attributes: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of ``keys`` present and not empty, else None."""
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def column_text(value: Any, limit: int) -> str | None:
    """``value`` as text for an indexed column: NUL removed (PostgreSQL refuses it),
    stripped, cut at ``limit``; None when nothing is left."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", "").strip()
    return text[:limit] or None


def count(value: Any) -> int | None:
    """A token count (a whole number, possibly as a float or digits), else None."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62:
        return value
    return None
