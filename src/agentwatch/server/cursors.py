"""Keyset cursors: the one codec of every paged read (session lists, a session's events).

A cursor is opaque to clients: URL-safe base64 of the JSON ``[kind, value, id]``, where
``kind`` names the order it was made for ("time", "cost-asc" ...), ``value`` is the sort
key of the last row of the page (a time as ISO text, a number) and ``id`` that row's id.
Decoding checks everything a forged cursor could get wrong (not base64, not JSON, made
for another order, a time outside what the databases store, an integer past 64 bits) and
refuses it with :class:`BadRequest` naming the parameter: never an error further down.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import Any

from agentwatch.server.errors import BadRequest

__all__ = ["decode", "encode"]

_MAX_ID = 128
_INT64 = 2**63 - 1
_MAX_CURSOR = 1024
_TIMED = ("time", "events")


def encode(kind: str, value: Any, row_id: str) -> str:
    """The cursor after the row ``row_id`` whose sort key (for ``kind``) is ``value``."""
    shown = value.isoformat() if isinstance(value, dt.datetime) else value
    raw = json.dumps([kind, shown, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: str, name: str = "cursor") -> tuple[Any, str]:
    """(sort key, id) of a cursor :func:`encode` made for ``kind``.

    Kinds "time", "time-asc" and "events" give an aware UTC datetime, any other a
    finite number. Raises :class:`BadRequest` naming ``name`` for anything else.
    """
    made_for, value, row_id = _unpack(cursor, name)
    if made_for != kind:
        raise BadRequest(
            f"{name}: made for another order ({_order(made_for)}), not {_order(kind)}; "
            "start again from the first page"
        )
    if not isinstance(row_id, str) or not 0 < len(row_id) <= _MAX_ID or "\x00" in row_id:
        raise _refused(name)
    if kind.partition("-")[0] in _TIMED:
        return _time(value, name), row_id
    return _number(value, name), row_id


def _unpack(cursor: str, name: str) -> list[Any]:
    if len(cursor) > _MAX_CURSOR:
        raise _refused(name)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise _refused(name) from None
    if not isinstance(parts, list) or len(parts) != 3 or not isinstance(parts[0], str):
        raise _refused(name)
    return parts


def _time(value: Any, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        if parsed is None or not 2 <= parsed.year <= 9998:
            raise ValueError
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        raise _refused(name) from None


def _number(value: Any, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refused(name)
    if isinstance(value, int) and abs(value) > _INT64:
        raise _refused(name)
    if isinstance(value, float) and not math.isfinite(value):
        raise _refused(name)
    return value


def _order(kind: str) -> str:
    sort, _, direction = kind.partition("-")
    return f"sort={sort}" + (f", order={direction}" if direction else "")


def _refused(name: str) -> BadRequest:
    return BadRequest(
        f"{name}: not a cursor returned by this API (pass the one the previous page gave, unchanged)"
    )
