"""OTLP log records of a span, as what they add to its view.

GenAI instrumentations may send a call's messages as log events instead of (or as well
as) span attributes: the deprecated per-message events ``gen_ai.system.message``,
``gen_ai.user.message``, ``gen_ai.assistant.message``, ``gen_ai.tool.message`` (the
prompt, one message each, body ``{"content", "tool_calls"?, "id"?}``) and ``gen_ai.choice``
(a completion, body ``{"index", "finish_reason", "message"}``), and the current
``gen_ai.client.inference.operation.details`` (the whole conversation, structured, as in
``gen_ai.input.messages`` / ``gen_ai.output.messages``). Each record becomes a
:class:`SpanLog` whose document says which part of the span's ``prompt`` or
``completion`` it is; ``storage/spanlogs.py`` merges them into the span when it is read,
whichever arrived first. Any other record with a span context is kept and shown with the
span; records without one are refused (there is nothing to show them with).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from agentwatch.server.otlp import messages
from agentwatch.server.otlp.spans import LogRecord
from agentwatch.server.storage.ingest import dump_json
from agentwatch.server.storage.records import SpanLog

__all__ = ["span_logs"]

_PROMPT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_DETAILS = "gen_ai.client.inference.operation.details"


def span_logs(records: Sequence[LogRecord]) -> tuple[list[SpanLog], list[str]]:
    """(the records to keep, refusals naming the others)."""
    kept: list[SpanLog] = []
    refused: list[str] = []
    for ordinal, record in enumerate(records):
        if record.trace_id is None or record.span_id is None:
            refused.append(
                f"{record.where}: no traceId/spanId (only log records of a span are kept)"
            )
            continue
        kept.append(_span_log(record, ordinal))
    return kept, refused


def _span_log(record: LogRecord, ordinal: int) -> SpanLog:
    assert record.trace_id is not None
    assert record.span_id is not None
    shown = {
        "event_name": record.event_name,
        "time": record.time.isoformat() if record.time else None,
        "severity": record.severity,
        "body": record.body,
        "attributes": record.attributes,
    }
    document: dict[str, Any] = {"record": shown, **_contribution(record)}
    text = dump_json(document)
    digest = hashlib.sha256(
        f"{record.trace_id}{record.span_id}{shown['time']}".encode() + text.encode()
    ).hexdigest()[:32]
    name = record.event_name[:200] if record.event_name else None
    return SpanLog(record.trace_id, record.span_id, digest, record.time, ordinal, name, text)


def _contribution(record: LogRecord) -> dict[str, Any]:
    """``{"prompt_message": m}``, ``{"completion_message": m}``, ``{"conversation": ...}``,
    or nothing, for what the record adds to its span's prompt and completion."""
    name = record.event_name
    body = record.body if isinstance(record.body, Mapping) else {"content": record.body}
    if name in _PROMPT_ROLES:
        message = {"role": body.get("role") or _PROMPT_ROLES[name], "content": body.get("content")}
        if body.get("tool_calls"):
            message["tool_calls"] = body["tool_calls"]
        if name == "gen_ai.tool.message" and body.get("id") is not None:
            message["tool_call_id"] = body["id"]
        return {"prompt_message": message}
    if name == "gen_ai.choice":
        given = body.get("message")
        message = dict(given) if isinstance(given, Mapping) else {"content": given}
        message.setdefault("role", "assistant")
        if body.get("finish_reason") is not None:
            message["finish_reason"] = body["finish_reason"]
        return {"completion_message": message, "index": body.get("index", 0)}
    if name == _DETAILS:
        merged = {**record.attributes, **(body if isinstance(record.body, Mapping) else {})}
        prompt, completion = messages.conversation(merged)
        return {"conversation": {"prompt": prompt, "completion": completion}}
    return {}
