"""A span as agentwatch shows it: kind, name, model, tokens, cost, messages, session hints.

**Kind** comes only from what the span declares, first found of: ``gen_ai.operation.name``
(GenAI conventions), ``openinference.span.kind``, ``agentops.span.kind``,
``langfuse.observation.type``, ``gen_ai.request.type`` / ``llm.request.type`` (agentops'
and OpenLLMetry's LLM calls), ``agentwatch.event.kind`` (the agentwatch SDK's own spans). The mere presence of ``llm.*`` or message attributes
declares nothing (chain spans of some frameworks carry the messages too). A span that
declares nothing known is kind ``other``, with every attribute kept and shown.

**Tokens and cost** are counted on LLM spans only; usage an agent or workflow span repeats
as an aggregate is shown there (``usage``) and not counted twice. Input tokens include
cached ones in both the GenAI and OpenInference conventions, so cached tokens are a part
of the prompt, priced at the cached rate by the same table as v2 LLM events. A cost the
client states (``llm.cost.total``, ``gen_ai.usage.total_cost``) is taken as stated; an
unknown model's cost is unknown (None), never 0.

**Errors**: a span with status ERROR, or with ``exception`` events, also gives one error
event per exception (or one from the status), a child of the span that names it as its
trigger.

**Parent**: the span's parent span, unless it carries ``agentwatch.parent_event_id``
(our SDK's captured application spans, README "The application's own spans"): then the
event it names ("" for none: a child of the session), and it is no root of its session
(its status does not end the session: the SDK's session says how it ended).

Every span keeps all of its attributes, its resource's, its events and its status
message in its stored document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from agentwatch.server.otlp import messages
from agentwatch.server.otlp.hints import SessionHints, session_hints
from agentwatch.server.otlp.spans import Span
from agentwatch.server.otlp.values import column_text, count, first
from agentwatch.server.pricing import PriceTable, usd_to_pico
from agentwatch.server.storage.ingest import counter_of
from agentwatch.server.storage.records import EventRecord

__all__ = ["AgentRef", "MappedSpan", "SessionHints", "is_pending", "map_span"]

_MAX_NAME = 200
_MAX_ID = 128
PARENT_EVENT_ID = "agentwatch.parent_event_id"

# Declared operation -> span kind, per convention (values compared lower-case).
_GENAI_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "chain",
    "plan": "agent",
    "retrieval": "retrieval",
}
_OPENINFERENCE_KINDS = {
    "llm": "llm",
    "tool": "tool",
    "agent": "agent",
    "chain": "chain",
    "retriever": "retrieval",
    "reranker": "retrieval",
    "embedding": "embedding",
    "guardrail": "action",
    "evaluator": "action",
    "prompt": "chain",
}
_AGENTOPS_KINDS = {
    "session": "chain",
    "workflow": "chain",
    "chain": "chain",
    "task": "action",
    "operation": "action",
    "agent": "agent",
    "team": "agent",
    "tool": "tool",
    "llm": "llm",
    "guardrail": "action",
    "http": "action",
    "text": "action",
}
_LANGFUSE_KINDS = {
    "generation": "llm",
    "embedding": "embedding",
    "agent": "agent",
    "tool": "tool",
    "chain": "chain",
    "retriever": "retrieval",
    "evaluator": "action",
    "guardrail": "action",
    "event": "action",
    "span": "action",
}
_REQUEST_TYPES = {"chat": "llm", "completion": "llm", "embedding": "embedding"}
# The agentwatch SDK's own spans (otlp_endpoint) name the kind of the event they carry.
_AGENTWATCH_KINDS = {
    k: k
    for k in ("llm", "tool", "action", "agent", "chain", "retrieval", "embedding", "error", "other")
}
_DECLARATIONS = (
    ("gen_ai.operation.name", _GENAI_OPERATIONS),
    ("openinference.span.kind", _OPENINFERENCE_KINDS),
    ("agentops.span.kind", _AGENTOPS_KINDS),
    ("langfuse.observation.type", _LANGFUSE_KINDS),
    ("gen_ai.request.type", _REQUEST_TYPES),
    ("llm.request.type", _REQUEST_TYPES),
    ("agentwatch.event.kind", _AGENTWATCH_KINDS),
)
# Span kind -> v2 event type (the session counter); other kinds count as "other".
_EVENT_TYPES = {"llm": "llms", "tool": "tools", "action": "actions", "error": "errors"}


@dataclass(frozen=True, slots=True)
class AgentRef:
    id: str
    name: str | None


class MappedSpan(NamedTuple):
    span: Span
    record: EventRecord
    errors: tuple[EventRecord, ...]  # error events it gives
    hints: SessionHints
    agent: AgentRef | None


def is_pending(span: Span) -> bool:
    """Logfire's zero-length copy of a span still open; the real span follows."""
    return span.attributes.get("logfire.span_type") == "pending_span"


def declared_kind(attributes: Mapping[str, Any]) -> tuple[str, str | None]:
    """(span kind, the declaring attribute) from the first declaration we know."""
    for key, kinds in _DECLARATIONS:
        value = attributes.get(key)
        if isinstance(value, str) and value.strip().lower() in kinds:
            return kinds[value.strip().lower()], key
    return "other", None


def map_span(span: Span, prices: PriceTable) -> MappedSpan:
    """Everything agentwatch stores about ``span``; pure (no database)."""
    attributes = span.attributes
    kind, declared_by = declared_kind(attributes)
    event_type = _EVENT_TYPES.get(kind, kind)
    fields: dict[str, Any] = {}
    model = prompt_tokens = completion_tokens = cached_tokens = cost = None
    usage = _usage(attributes)
    if kind == "llm":
        model = _model(attributes)
        prompt_tokens, completion_tokens, cached_tokens = usage
        cost = _stated_cost(attributes)
        if cost is None:
            cost = prices.cost(model, prompt_tokens, completion_tokens, cached_tokens)
        prompt, completion = messages.conversation(attributes)
        fields.update(prompt=prompt, completion=completion, params=_params(attributes))
        reasons = messages.maybe_json(attributes.get("gen_ai.response.finish_reasons"))
        if reasons is not None:
            fields["stop_reason"] = reasons[0] if isinstance(reasons, list) and reasons else reasons
    else:
        if any(n is not None for n in usage):
            fields["usage"] = dict(
                zip(("input_tokens", "output_tokens", "cached_tokens"), usage, strict=True)
            )
        fields.update(params=_io(attributes, "input"), returns=_io(attributes, "output"))
    name = _display_name(span, kind, model)
    agent = _agent(span, kind)
    placed = attributes.get(PARENT_EVENT_ID)
    if not isinstance(placed, str) or len(placed) > _MAX_ID or placed.strip() == span.span_id:
        placed = None  # not an id, or the span itself: its OpenTelemetry parent stands
    fields.update(
        name=name,
        span={
            "name": span.name,
            "kind": span.kind,
            "declared_kind": attributes.get(declared_by) if declared_by else None,
            "status_message": span.status_message,
            "scope": span.scope,
        },
        attributes=attributes,
        resource=span.resource,
        events=[
            {
                "name": e.name,
                "time": e.time.isoformat() if e.time else None,
                "attributes": e.attributes,
            }
            for e in span.events
        ],
    )
    if kind == "tool":
        fields["tool_name"] = name
    elif kind == "error":
        fields.update(_error_fields(span))
    record = EventRecord(
        id=span.span_id,
        event_type=event_type,
        counter=counter_of(event_type),
        init_timestamp=span.start,
        end_timestamp=span.end,
        agent_id=agent.id if agent else None,
        thread_id=None,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        cost_pico=cost,
        trigger_event_id=None,
        trigger_event_type=None,
        data=fields,
        kind=kind,
        parent_id=span.parent_id if placed is None else placed.strip() or None,
        trace_id=span.trace_id,
        name=name,
        status=span.status,
    )
    hints = session_hints(span)
    if placed is not None:
        hints = replace(hints, root=False, end_state=None)
    return MappedSpan(span, record, _error_events(span, record), hints, agent)


# -- fields ----------------------------------------------------------------------------------


def _model(attributes: Mapping[str, Any]) -> str | None:
    return column_text(
        first(
            attributes,
            "gen_ai.response.model",
            "gen_ai.request.model",
            "llm.model_name",
            "langfuse.observation.model.name",
        ),
        _MAX_NAME,
    )


def _usage(attributes: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(input, output, cached input) tokens; cached tokens are a part of the input."""
    details = _NO_DETAILS
    if "langfuse.observation.usage_details" in attributes:
        parsed = messages.maybe_json(attributes["langfuse.observation.usage_details"])
        details = parsed if isinstance(parsed, Mapping) else _NO_DETAILS
    return (
        _tokens(attributes, _INPUT_TOKENS, details, ("input", "prompt_tokens", "input_tokens")),
        _tokens(
            attributes, _OUTPUT_TOKENS, details, ("output", "completion_tokens", "output_tokens")
        ),
        _tokens(
            attributes,
            _CACHED_TOKENS,
            details,
            ("cache_read_input_tokens", "input_cached_tokens", "cached_tokens"),
        ),
    )


_NO_DETAILS: Mapping[str, Any] = {}
_INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
_OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_CACHED_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",  # agentops 0.4
    "llm.token_count.prompt_details.cache_read",
)


def _tokens(
    attributes: Mapping[str, Any],
    keys: tuple[str, ...],
    details: Mapping[str, Any],
    detail_keys: tuple[str, ...],
) -> int | None:
    """The first count found (0 is a count), from the attributes, else Langfuse's details."""
    for source, names in ((attributes, keys), (details, detail_keys)):
        for name in names:
            if name in source:
                tokens = count(source[name])
                if tokens is not None:
                    return tokens
    return None


def _stated_cost(attributes: Mapping[str, Any]) -> int | None:
    value = first(attributes, "llm.cost.total", "gen_ai.usage.total_cost", "gen_ai.usage.cost")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and math.isfinite(value) and 0 <= value < 1e6:
        return usd_to_pico(value)
    return None


def _params(attributes: Mapping[str, Any]) -> Any:
    invocation = messages.maybe_json(attributes.get("llm.invocation_parameters"))
    if invocation is not None:
        return invocation
    request = {
        k[len("gen_ai.request.") :]: v
        for k, v in attributes.items()
        if k.startswith("gen_ai.request.")
    }
    return request or messages.maybe_json(attributes.get("langfuse.observation.model.parameters"))


def _io(attributes: Mapping[str, Any], direction: str) -> Any:
    """What a non-LLM span took (``direction`` input) or gave (output), first found."""
    keys = (
        "gen_ai.tool.call.arguments" if direction == "input" else "gen_ai.tool.call.result",
        f"agentops.{attributes.get('agentops.span.kind')}.{direction}",
        f"agentops.entity.{direction}",
        f"langfuse.observation.{direction}",
    )
    for key in keys:
        if key in attributes:
            return messages.json_or_text(attributes[key])
    return messages.io_value(attributes, direction)


def _display_name(span: Span, kind: str, model: str | None) -> str | None:
    attributes = span.attributes
    named = None
    if kind == "tool":
        named = first(attributes, "gen_ai.tool.name", "tool.name")
    elif kind == "agent":
        named = first(attributes, "gen_ai.agent.name", "agent.name", "agentops.entity.name")
    elif kind == "chain" and "gen_ai.workflow.name" in attributes:
        named = attributes["gen_ai.workflow.name"]
    named = named or _agentops_name(attributes) or attributes.get("logfire.msg")
    return column_text(named or span.name or model, _MAX_NAME)


def _agentops_name(attributes: Mapping[str, Any]) -> Any:
    """What an agentops 0.4 span was called: its span name is that plus ``.<kind>``."""
    return attributes.get("operation.name") if "agentops.span.kind" in attributes else None


def _agent(span: Span, kind: str) -> AgentRef | None:
    attributes = span.attributes
    agent_id = first(attributes, "gen_ai.agent.id", "agent.id")
    name = first(attributes, "gen_ai.agent.name", "agent.name")
    if kind == "agent":
        name = (
            name
            or first(attributes, "agentops.entity.name")
            or _agentops_name(attributes)
            or span.name
        )
        agent_id = agent_id or name or span.span_id
    if agent_id is None:
        return None
    ident = column_text(agent_id, _MAX_ID)
    return AgentRef(ident, column_text(name, _MAX_NAME)) if ident else None


# -- errors ----------------------------------------------------------------------------------


def _error_fields(span: Span) -> dict[str, Any]:
    """What a span that is an error event itself says about its exception (its first
    ``exception`` event, else ``error.type`` and the status message)."""
    for event in span.events:
        if event.name == "exception":
            found = event.attributes
            return {
                "error_type": column_text(found.get("exception.type"), _MAX_NAME) or "Exception",
                "details": found.get("exception.message") or span.status_message,
                "logs": found.get("exception.stacktrace"),
            }
    error_type = column_text(span.attributes.get("error.type"), _MAX_NAME) or "Error"
    return {"error_type": error_type, "details": span.status_message, "logs": None}


def _error_events(span: Span, record: EventRecord) -> tuple[EventRecord, ...]:
    if record.kind == "error":
        return ()  # the span is the error event itself (agentwatch.event.kind = error)
    exceptions = [e for e in span.events if e.name == "exception"]
    if not exceptions and span.status != "error":
        return ()
    if not exceptions:
        error_type = column_text(span.attributes.get("error.type"), _MAX_NAME) or "Error"
        return (
            _error(
                record,
                f"{span.span_id}.error",
                span.end or span.start,
                error_type,
                span.status_message,
                None,
            ),
        )
    return tuple(
        _error(
            record,
            f"{span.span_id}.error.{i}",
            event.time or span.end or span.start,
            column_text(event.attributes.get("exception.type"), _MAX_NAME) or "Exception",
            event.attributes.get("exception.message") or span.status_message,
            event.attributes.get("exception.stacktrace"),
        )
        for i, event in enumerate(exceptions)
    )


def _error(
    span: EventRecord, error_id: str, when: Any, error_type: str, details: Any, logs: Any
) -> EventRecord:
    return EventRecord(
        id=error_id,
        event_type="errors",
        counter="errors",
        init_timestamp=when,
        end_timestamp=None,
        agent_id=span.agent_id,
        thread_id=None,
        model=None,
        prompt_tokens=None,
        completion_tokens=None,
        cached_tokens=None,
        cost_pico=None,
        trigger_event_id=span.id,
        trigger_event_type=span.event_type,
        data={"error_type": error_type, "details": details, "logs": logs},
        kind="error",
        parent_id=span.id,
        trace_id=span.trace_id,
        name=error_type,
        status="error",
    )
