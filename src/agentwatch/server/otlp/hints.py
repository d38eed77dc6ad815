"""What a span says about its session: the name it gives it, tags, end state, user, metadata.

Tags come from ``agentops.tags``, ``tag.tags`` (OpenInference), ``langfuse.trace.tags`` and
``logfire.tags`` (string arrays or JSON text of one); the end state from agentops' session root
(``agentops.session.end_state``, in any of its spellings), else from a root span's status
(``ERROR`` → Fail, ``OK`` → Success); the user from ``user.id`` (``langfuse.user.id``,
``enduser.id``); metadata from OpenInference's ``metadata`` (JSON text) and Langfuse's
flattened ``langfuse.trace.metadata.*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentwatch.server.otlp import messages
from agentwatch.server.otlp.spans import Span
from agentwatch.server.otlp.values import column_text, first
from agentwatch.server.wire import END_STATE_ALIASES

__all__ = ["SessionHints", "session_hints"]

_MAX_NAME = 200
_MAX_KEY = 1000


@dataclass(frozen=True, slots=True)
class SessionHints:
    """What a span says about its session (None / empty: nothing)."""

    key: str | None  # session.id, else gen_ai.conversation.id
    agentops_root: bool
    root: bool  # no parent span
    tags: tuple[str, ...]
    end_state: str | None  # Success / Fail, from agentops' end state or a root's status
    user_id: str | None
    metadata: Any


# Every attribute the rules below read (``langfuse.observation.type`` gates the flattened
# metadata): a span with none of them, most spans, says nothing but whether it is a root.
_READ = frozenset(
    (
        "agentops.span.kind",
        "session.id",
        "gen_ai.conversation.id",
        "agentops.tags",
        "tag.tags",
        "langfuse.trace.tags",
        "logfire.tags",
        "agentops.session.end_state",
        "user.id",
        "langfuse.user.id",
        "enduser.id",
        "metadata",
        "langfuse.observation.type",
    )
)
_ROOT_STATES = {"error": "Fail", "ok": "Success"}
_SILENT = {
    (root, status): SessionHints(
        key=None,
        agentops_root=False,
        root=root,
        tags=(),
        end_state=_ROOT_STATES.get(status) if root else None,
        user_id=None,
        metadata=None,
    )
    for root in (True, False)
    for status in ("unset", "ok", "error")
}


def session_hints(span: Span) -> SessionHints:
    """What ``span`` says about its session (the rules: ``sessions.py``)."""
    attributes = span.attributes
    if _READ.isdisjoint(attributes) and "session.id" not in span.resource:
        silent = _SILENT.get((span.parent_id is None, span.status))
        if silent is not None:
            return silent
    agentops_root = attributes.get("agentops.span.kind") == "session"
    key = first(attributes, "session.id", "gen_ai.conversation.id") or first(
        span.resource, "session.id"
    )
    tags: list[str] = []
    for name in ("agentops.tags", "tag.tags", "langfuse.trace.tags", "logfire.tags"):
        value = messages.maybe_json(attributes.get(name))
        if isinstance(value, list):
            tags.extend(str(t) for t in value if t is not None)
        elif isinstance(value, str):
            tags.extend(value.split(","))
    return SessionHints(
        key=column_text(key, _MAX_KEY),
        agentops_root=agentops_root,
        root=span.parent_id is None,
        tags=tuple(dict.fromkeys(t.strip()[:200] for t in tags if t.strip())),
        end_state=_end_state(span, agentops_root),
        user_id=column_text(
            first(attributes, "user.id", "langfuse.user.id", "enduser.id"), _MAX_NAME
        ),
        metadata=_metadata(attributes),
    )


def _end_state(span: Span, agentops_root: bool) -> str | None:
    stated = span.attributes.get("agentops.session.end_state")
    if agentops_root and isinstance(stated, str):
        state = END_STATE_ALIASES.get(stated.strip().lower())
        if state is not None and state != "Indeterminate":  # UNSET: the span's status says
            return state
    if span.parent_id is not None:
        return None
    return _ROOT_STATES.get(span.status)


def _metadata(attributes: Mapping[str, Any]) -> Any:
    value = messages.maybe_json(attributes.get("metadata"))
    if "langfuse.observation.type" not in attributes:  # only Langfuse flattens it
        return value
    flattened = {
        # Langfuse 5 writes every value as JSON, strings too.
        k[len("langfuse.trace.metadata.") :]: messages.json_or_text(v)
        for k, v in attributes.items()
        if k.startswith("langfuse.trace.metadata.")
    }
    if flattened:
        return {**value, **flattened} if isinstance(value, dict) else flattened
    return value
