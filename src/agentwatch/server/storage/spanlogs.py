"""Log records kept by span, and their merge into the span when it is read.

Stored by (project, trace, span), never by session, so that the order of arrival does not
matter: a record that came before its span, or whose span's trace later moved to another
session, still shows with it. Reading a session's events looks up the records of its
spans' traces (one query per page of events) and merges them into each span's document:

* ``log_events``: every record, as sent, in time order.
* ``prompt``: when the span carries none, the messages of its per-message events
  (``gen_ai.*.message``), or the conversation of an ``operation.details`` event.
* ``completion``: likewise from ``gen_ai.choice`` events (one: a message; several: a list
  by index) or the ``operation.details`` event.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage import search
from agentwatch.server.storage.ingest import dump_json
from agentwatch.server.storage.records import SpanLog
from agentwatch.server.storage.schema import events, span_logs, traces

__all__ = ["EventWithLogs", "insert_span_logs", "merge_logs", "with_logs"]

_CHUNK = 500


def insert_span_logs(
    conn: sa.Connection, project_id: str, logs: Sequence[SpanLog], now: dt.datetime
) -> int:
    """Keep the records not kept yet; returns how many were new."""
    rows = [
        {
            "project_id": project_id,
            "trace_id": log.trace_id,
            "span_id": log.span_id,
            "id": log.id,
            "time": log.time,
            "ordinal": log.ordinal,
            "event_name": log.event_name,
            "data": log.data,
            "received_at": now,
        }
        for log in sorted(logs, key=lambda log: (log.trace_id, log.span_id, log.id))
    ]
    if not rows:
        return 0
    keys = ["project_id", "trace_id", "span_id", "id"]
    stmt = dialects.insert(conn.dialect.name, span_logs).on_conflict_do_nothing(index_elements=keys)
    new = int(conn.execute(stmt, rows).rowcount or 0)
    if new:
        search.index(conn, log_traces=(project_id, {log.trace_id for log in logs}))
        _touch_spans(conn, project_id, {(log.trace_id, log.span_id) for log in logs}, now)
    return new


def _touch_spans(
    conn: sa.Connection, project_id: str, spans: set[tuple[str, str]], now: dt.datetime
) -> None:
    """The stored spans that records came for count as written now: their detail changed
    (it merges the records in) though their row did not, and ``/changes`` reports what was
    written since its cursor. A span not stored yet matches nothing (its records show
    when it comes); only the project's own trace is looked in."""
    params = [
        {"w_project": project_id, "w_trace": trace_id, "w_id": span_id, "now": now}
        for trace_id, span_id in sorted(spans)
    ]
    conn.execute(_touch(), params)


@functools.cache
def _touch() -> sa.Update:
    e, t = events.c, traces.c
    trace: sa.BindParameter[str] = sa.bindparam("w_trace")
    session_of_trace = (
        sa.select(t.session_id)
        .where(t.project_id == sa.bindparam("w_project"), t.trace_id == trace)
        .scalar_subquery()
    )
    return (
        events.update()
        .where(e.session_id == session_of_trace, e.id == sa.bindparam("w_id"), e.trace_id == trace)
        .values(received_at=sa.bindparam("now", type_=e.received_at.type))
    )


class EventWithLogs:
    """An events row whose ``data`` has its span's log records merged in (see the module
    docstring); every other attribute is the row's."""

    def __init__(self, row: Any, data: str) -> None:
        self._row = row
        self.data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def with_logs(conn: sa.Connection, project_id: str, rows: Sequence[Any]) -> list[Any]:
    """``rows`` (events of one session) with the log records of each span merged in."""
    traces = {row.trace_id for row in rows if row.trace_id is not None}
    if not traces:
        return list(rows)
    found: dict[tuple[str, str], list[tuple[Any, int, str]]] = {}
    ordered = sorted(traces)
    for i in range(0, len(ordered), _CHUNK):
        query = sa.select(
            span_logs.c.trace_id,
            span_logs.c.span_id,
            span_logs.c.time,
            span_logs.c.ordinal,
            span_logs.c.data,
        ).where(
            span_logs.c.project_id == project_id, span_logs.c.trace_id.in_(ordered[i : i + _CHUNK])
        )
        for trace_id, span_id, time, ordinal, data in conn.execute(query):
            found.setdefault((trace_id, span_id), []).append((time, ordinal, data))
    if not found:
        return list(rows)
    merged: list[Any] = []
    for row in rows:
        logs = found.get((row.trace_id, row.id))
        if logs is None:
            merged.append(row)
            continue
        logs.sort(key=lambda log: (log[0] is None, log[0] or dt.datetime.min, log[1]))
        documents = [json.loads(data) for _, _, data in logs]
        merged.append(EventWithLogs(row, dump_json(merge_logs(json.loads(row.data), documents))))
    return merged


def merge_logs(data: dict[str, Any], documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A span's document with its log records' ``documents`` (in time order) merged in."""
    out = {**data, "log_events": [d.get("record") for d in documents]}
    conversation = next((d["conversation"] for d in documents if d.get("conversation")), None)
    prompt = [d["prompt_message"] for d in documents if d.get("prompt_message")]
    choices = sorted((d for d in documents if d.get("completion_message")), key=_choice_index)
    if out.get("prompt") is None:
        if conversation and conversation.get("prompt") is not None:
            out["prompt"] = conversation["prompt"]
        elif prompt:
            out["prompt"] = prompt
    if out.get("completion") is None:
        if conversation and conversation.get("completion") is not None:
            out["completion"] = conversation["completion"]
        elif choices:
            messages = [d["completion_message"] for d in choices]
            out["completion"] = messages[0] if len(messages) == 1 else messages
    return out


def _choice_index(document: dict[str, Any]) -> int:
    index = document.get("index")
    return index if isinstance(index, int) else 0
