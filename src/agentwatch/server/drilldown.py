"""Views of the session drilldown: the span tree as compact rows, one event in full, and
what changed since a cursor. The JSON API (``/api/sessions/{id}/...``) and the dashboard's
session page (``/sessions/{id}/...``) answer these same dicts.

A tree row is a list in the order of :data:`TREE_COLUMNS` (a 50,000-event tree is then a
few MB, not a dict per event); times are milliseconds since the session's start (``t0``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from agentwatch.server import views
from agentwatch.server.errors import BadRequest
from agentwatch.server.pricing import PICO
from agentwatch.server.spantree import tree_order
from agentwatch.server.storage import spanreads
from agentwatch.server.wire import display_name

__all__ = [
    "CHANGES_LIMIT",
    "GRACE",
    "TREE_COLUMNS",
    "TREE_LIMIT",
    "Changes",
    "Tagger",
    "changes",
    "decode_changes_cursor",
    "encode_changes_cursor",
    "event_detail",
    "session_tree",
    "tree_chunks",
]

TREE_COLUMNS = (
    "id",
    "parent",  # the parent id as stored (None: a root); ``depth`` tells where it is drawn
    "depth",  # in the tree order of the answer (None in changes: the reader places them)
    "kind",
    "type",  # the v2 event type
    "label",
    "status",
    "start",
    "end",
    "agent",
    "model",
    "tokens",
    "cost",  # USD; None when unpriced or not an LLM call
    "error",  # 1 when the event failed (an error event, or a span with status error)
)
# A tree answers at most this many events (the first in time); past it ``truncated`` is set.
TREE_LIMIT = 100_000
# A changes answer holds at most this many rows; ``more`` says to ask again at once.
CHANGES_LIMIT = 2_000
# Writes commit up to this long after they take their time: each changes answer looks back
# this far, so a batch committed late is still seen (readers merge rows by id).
GRACE = dt.timedelta(seconds=10)
_PURPOSE = "changes-cursor"


class Tagger(Protocol):
    def tag(self, purpose: str, data: str) -> str: ...


def session_tree(
    session: Any, agents: Sequence[Any], rows: Sequence[tuple[Any, ...]], cursor: str
) -> dict[str, Any]:
    """The tree as a dict whose ``rows`` are in tree order (see :mod:`.spantree`);
    ``rows`` are tuples of :data:`spanreads.TREE_FIELDS`."""
    t0 = _epoch_us(session.init_timestamp)
    placed = tree_order([_Link(r[_ID], r[_PARENT], (r[_START],)) for r in rows])
    ordered = [_tree_row(rows[p.index], t0, p.depth) for p in placed]
    return {
        **_head(session, agents),
        "columns": list(TREE_COLUMNS),
        "truncated": int(session.event_count) > len(rows),
        "cursor": cursor,
        "rows": ordered,
    }


def tree_chunks(tree: dict[str, Any], size: int = 2_000) -> Iterator[bytes]:
    """``tree`` as JSON, a few thousand rows per chunk (for a streamed answer)."""
    rows = tree["rows"]
    head = orjson.dumps({k: v for k, v in tree.items() if k != "rows"})
    yield head[:-1] + b',"rows":['
    for i in range(0, len(rows), size):
        chunk = orjson.dumps(rows[i : i + size])[1:-1]
        yield (b"," if i else b"") + chunk
    yield b"]}"


@dataclass(frozen=True)
class Changes:
    """What ``/changes`` answers: rows changed, the session when anything changed."""

    session: Any
    agents: Sequence[Any]
    rows: Sequence[Any]
    full: bool  # the page was full: more may follow at once


def changes(found: Changes, since: dt.datetime, now: dt.datetime, signer: Tagger) -> dict[str, Any]:
    """The rows written since the cursor's time, and the next cursor.

    ``session`` (and ``agents``) are given when any row changed or the session itself was
    updated since; otherwise None (nothing new)."""
    session = found.session
    t0 = _epoch_us(session.init_timestamp)
    rows = [_tree_row(r, t0, None) for r in found.rows]
    touched = bool(rows) or session.updated_at >= since
    # A full page goes on after its last row; otherwise the next answer looks back GRACE.
    last = found.rows[-1] if found.full else None
    position = (last[_RECEIVED], last[_ID]) if last is not None else (now - GRACE, "")
    return {
        "session": views.session_summary(session) if touched else None,
        "agents": [_agent(a) for a in found.agents] if touched else None,
        "t0": t0 / 1000,
        "columns": list(TREE_COLUMNS),
        "rows": rows,
        "more": found.full,
        "cursor": encode_changes_cursor(signer, session.id, position),
    }


def event_detail(session: Any, event: Any) -> dict[str, Any]:
    """One event with every field it was sent with (:func:`views.event_view`)."""
    return {"session_id": session.id, "event": views.event_view(event)}


def encode_changes_cursor(
    signer: Tagger, session_id: str, position: tuple[dt.datetime, str]
) -> str:
    """An opaque, URL-safe cursor for ``/changes`` of ``session_id``: a position, signed."""
    written, event_id = position
    body = base64.urlsafe_b64encode(f"{written.isoformat()}|{event_id}".encode()).decode()
    body = body.rstrip("=")
    return f"{body}.{signer.tag(_PURPOSE, session_id + '|' + body)}"


def decode_changes_cursor(signer: Tagger, session_id: str, cursor: str) -> tuple[dt.datetime, str]:
    """The position in a cursor this server gave for ``session_id``; 400 for any other."""
    body, _, mac = cursor.rpartition(".")
    expected = signer.tag(_PURPOSE, session_id + "|" + body)
    if not body or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise BadRequest(
            "cursor: not a cursor this server gave for this session "
            "(use the cursor of the session's tree or of its last changes answer)"
        )
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        written, _, event_id = raw.partition("|")
        return dt.datetime.fromisoformat(written), event_id
    except (binascii.Error, UnicodeDecodeError, ValueError):  # signed, in another format
        raise BadRequest("cursor: no longer understood by this server") from None


@dataclass(frozen=True, slots=True)
class _Link:
    id: str
    parent_id: str | None
    order: tuple[int]


def _head(session: Any, agents: Sequence[Any]) -> dict[str, Any]:
    return {
        "session": views.session_summary(session),
        "agents": [_agent(a) for a in agents],
        "t0": _ms_epoch(session.init_timestamp),
    }


def _agent(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name}


# Positions in a row of spanreads.TREE_FIELDS (changes rows add received_at at the end).
(
    _ID,
    _PARENT,
    _KIND,
    _TYPE,
    _NAME,
    _STATUS,
    _START,
    _END,
    _AGENT,
    _MODEL,
    _PROMPT,
    _COMPLETION,
    _COST,
    _DATA,
    _RECEIVED,
) = range(len(spanreads.TREE_FIELDS) + 1)


def _tree_row(row: tuple[Any, ...], t0_us: int, depth: int | None) -> list[Any]:
    prompt, completion = row[_PROMPT], row[_COMPLETION]
    tokens = None if prompt is None and completion is None else (prompt or 0) + (completion or 0)
    name = row[_NAME]
    if name is None and row[_DATA] is not None:  # stored before names were kept
        name = display_name(json.loads(row[_DATA]), row[_TYPE], row[_MODEL])
    end = row[_END]
    return [
        row[_ID],
        row[_PARENT],
        depth,
        row[_KIND],
        row[_TYPE],
        name or row[_TYPE],
        row[_STATUS],
        (row[_START] - t0_us) / 1000,
        None if end is None else (end - t0_us) / 1000,
        row[_AGENT],
        row[_MODEL],
        tokens,
        None if row[_COST] is None else row[_COST] / PICO,
        1 if row[_STATUS] == "error" or row[_KIND] == "error" else 0,
    ]


def _epoch_us(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def _ms_epoch(value: dt.datetime) -> float:
    return _epoch_us(value) / 1000


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
