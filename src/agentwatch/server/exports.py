"""Whole sessions as streamed JSON: the v2 export and ``GET /api/sessions/{id}``.

A session may hold any number of events; its answer is written a page of
:data:`PAGE_EVENTS` events at a time, each page read in its own short transaction (keyset
on start time and id, so no event is skipped or repeated), so that memory stays flat
whatever the session's size. Events committed while the answer is written may or may not
be in it, as with any read that is not one snapshot. The detail is what
:func:`views.session_detail` builds in one piece; the export groups the same event views
(without ``data``) like AgentOps' tables.

An event stored before depth was bounded (``jsonbody.MAX_DEPTH``) and too deep to encode
again is shown with its fields and ``data`` replaced by a note, so the session stays
readable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from agentwatch.server import views

__all__ = [
    "EXPORT_GROUPS",
    "GROUPED_TYPES",
    "PAGE_EVENTS",
    "STREAMED",
    "detail_chunks",
    "export_chunks",
]

#: Events read, encoded and sent at a time.
PAGE_EVENTS = 1_000
#: The v2 export's lists and the event types in each (None: every other type), as AgentOps
#: groups them.
EXPORT_GROUPS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("actions", None),
    ("llms", ("llms",)),
    ("tools", ("tools",)),
    ("errors", ("errors",)),
)
#: The types of every group but the catch-all.
GROUPED_TYPES = tuple(t for _, types in EXPORT_GROUPS for t in types or ())
#: OpenAPI of a streamed answer.
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {"description": "JSON, streamed (chunked)", "content": {"application/json": {}}}
}

Pages = Iterable[list[Any]]  # pages of event rows, in time order


def detail_chunks(session: Any, agents: list[Any], pages: Pages) -> Iterator[bytes]:
    """``views.session_detail(session, agents, <every event>)`` as JSON, page by page."""
    head = views.session_detail(session, agents, [])
    del head["events"], head["next_event_cursor"]
    yield _encode(head)[:-1] + b',"events":['
    yield from _event_list(pages, views.event_view)
    yield b'],"next_event_cursor":null}'


def export_chunks(
    session: Any, agents: list[Any], pages_of: Callable[[tuple[str, ...] | None], Pages]
) -> Iterator[bytes]:
    """The v2 export as JSON; ``pages_of(types)`` reads the events of those types (None:
    of every type not in another group)."""
    head = views.session_detail(session, agents, [])
    yield _encode({"session": head["session"], "agents": head["agents"]})[:-1]
    for name, types in EXPORT_GROUPS:
        yield f',"{name}":['.encode()
        yield from _event_list(pages_of(types), _export_view)
        yield b"]"
    yield b"}"


def _export_view(row: Any) -> dict[str, Any]:
    view = views.event_view(row)
    del view["data"]
    return view


def _event_list(pages: Pages, view: Callable[[Any], dict[str, Any]]) -> Iterator[bytes]:
    first = True
    for page in pages:
        parts = [_encode_event(row, view) for row in page]
        if parts:
            yield (b"" if first else b",") + b",".join(parts)
            first = False


def _encode_event(row: Any, view: Callable[[Any], dict[str, Any]]) -> bytes:
    try:
        return _encode(view(row))
    except (RecursionError, ValueError):  # stored before depth was bounded
        note = "this event's fields are nested too deep to show; they are kept as stored"
        return _encode({"id": row.id, "event_type": row.event_type, "unreadable": note})


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # integers past 64 bits, nesting past 255 levels
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
