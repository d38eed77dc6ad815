"""Which session a span names, as the storage layer needs it (no database here).

The rules, in order (``storage/traces.py`` applies them, per trace, in the database):

* ``session.id`` on the span (OpenInference, Langfuse), else ``gen_ai.conversation.id``
  (GenAI conventions), else ``session.id`` on its resource: the span names that session.
* Otherwise the trace is its own session: an AgentOps 0.4 trace is one session whose root
  has ``agentops.span.kind = session``, and any other trace is one too.
* A name that is a UUID is the session id itself (so an agentwatch v2 session and the
  spans of the same run can meet); any other name becomes a UUID derived from the project
  and the name (uuid5), and the name is kept as the session's ``external_id``. A trace's own
  session is likewise derived from the project and the trace id, so two projects never
  share one by accident.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from agentwatch.server.otlp.mapping import MappedSpan
from agentwatch.server.storage.ingest import dump_json
from agentwatch.server.storage.records import SpanWrite

__all__ = ["named_session", "span_writes", "trace_session"]

_NAMESPACE = uuid.UUID("0b7c3f1e-6a52-4f0e-9d7b-8c1a2e4f5d60")


def named_session(project_id: str, key: str) -> tuple[str, str | None]:
    """(session id, external id) of the session called ``key`` in the project."""
    try:
        return str(uuid.UUID(key)), None
    except ValueError:
        return str(uuid.uuid5(_NAMESPACE, f"{project_id}\x00{key}")), key


def trace_session(project_id: str, trace_id: str) -> str:
    """The id of the session a trace is when none of its spans names one."""
    return str(uuid.uuid5(_NAMESPACE, f"{project_id}\x00trace\x00{trace_id}"))


def span_writes(project_id: str, mapped: Iterable[MappedSpan]) -> list[SpanWrite]:
    """What storage needs to place and store each mapped span."""
    writes = []
    # uuid5 per span was a tenth of the mapping's time: spans of a request share traces.
    named: dict[str, tuple[str, str | None]] = {}
    derived: dict[str, str] = {}
    for m in mapped:
        hints = m.hints
        session, external = (None, None)
        if hints.key is not None:
            if hints.key not in named:
                named[hints.key] = named_session(project_id, hints.key)
            session, external = named[hints.key]
        trace_id = m.span.trace_id
        if trace_id not in derived:
            derived[trace_id] = trace_session(project_id, trace_id)
        writes.append(
            SpanWrite(
                where=m.span.where,
                trace_id=trace_id,
                trace_session=derived[trace_id],
                named_session=session,
                external_id=external,
                records=(m.record, *m.errors),
                root=hints.root,
                tags=hints.tags,
                end_state=hints.end_state,
                user_id=hints.user_id,
                metadata=None if hints.metadata is None else dump_json(hints.metadata),
                agent_id=m.agent.id if m.agent else None,
                agent_name=m.agent.name if m.agent else None,
            )
        )
    return writes
