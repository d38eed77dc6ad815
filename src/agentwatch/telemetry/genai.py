"""A recorded event as an OpenTelemetry GenAI span: name, kind, ``gen_ai.*`` attributes.

The mapping (GenAI semantic conventions, development status, as of 2026-12):

* **LLM event** → ``chat`` (``text_completion`` for a string prompt, ``embeddings`` for an
  embedding) span named ``"{operation} {model}"``, kind CLIENT: ``gen_ai.operation.name``,
  ``gen_ai.provider.name`` and ``gen_ai.system`` (for older readers) where the provider is
  known, ``gen_ai.request.model`` / ``response.model`` / ``response.id``,
  ``gen_ai.request.*`` parameters, ``gen_ai.usage.input_tokens`` / ``output_tokens`` /
  ``cache_read.input_tokens`` (a part of the input, as the conventions count it),
  ``gen_ai.response.finish_reasons``; with content capture, ``gen_ai.system_instructions``,
  ``gen_ai.input.messages`` and ``gen_ai.output.messages`` as JSON text.
* **Tool event** → ``execute_tool {name}``, INTERNAL: ``gen_ai.tool.name``,
  ``gen_ai.tool.type``, ``gen_ai.tool.call.id`` when the event names one; with content
  capture ``gen_ai.tool.call.arguments`` / ``.result`` (JSON text).
* **Agent span** (``track_agent``) and ``span(kind="agent")`` → ``invoke_agent {name}``,
  INTERNAL, with ``gen_ai.agent.name`` / ``gen_ai.agent.id``; ``kind="chain"`` →
  ``invoke_workflow {name}`` (``gen_ai.workflow.name``); ``kind="retrieval"`` →
  ``retrieval {name}``; ``kind="embedding"`` → ``embeddings``.
* **Action and any other event** → an INTERNAL span named for the action, no GenAI
  operation; with content capture its ``params`` / ``returns`` as ``input.value`` /
  ``output.value`` (JSON).
* **Error event** → the span it was raised in (its trigger) gets status ERROR,
  ``error.type`` and an ``exception`` event (type, message, stack trace); an error with
  no such span in sight is a span of its own, named for its type, carrying the same.

Every span carries ``session.id``, ``gen_ai.conversation.id`` (the session id),
``agentwatch.event.id``, ``agentwatch.event.type`` and ``agentwatch.event.kind`` (the
node's kind in the session tree, which agentwatch's receiver reads back), and ``gen_ai.agent.id`` /
``.name`` when an agent made it. Attribute values are OTLP's types only (scalars and
arrays of one scalar type); anything else is sent as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from agentwatch.telemetry import attributes as aw
from agentwatch.telemetry.genai_messages import input_messages, output_messages

__all__ = [
    "ExceptionInfo",
    "GenAISpan",
    "error_info",
    "event_span",
    "json_text",
    "otel_value",
    "request_param_attributes",
]

SESSION_ID = "session.id"
CONVERSATION_ID = "gen_ai.conversation.id"

# event_type -> kind, where the event names none (as the server derives it).
_KINDS = {"llms": "llm", "tools": "tool", "actions": "action", "errors": "error", "agents": "agent"}
# kind -> (operation, name attribute) of the spans whose kind has a GenAI operation.
_OPERATIONS = {
    "agent": ("invoke_agent", "gen_ai.agent.name"),
    "chain": ("invoke_workflow", "gen_ai.workflow.name"),
    "retrieval": ("retrieval", None),
    "embedding": ("embeddings", None),
}
_INT64 = (-(2**63), 2**63 - 1)


@dataclass
class ExceptionInfo:
    """What an error event says: ``error.type`` and the ``exception`` span event."""

    error_type: str
    message: str | None
    stacktrace: str | None
    time: str | None

    def event_attributes(self) -> dict[str, Any]:
        attrs = {"exception.type": self.error_type}
        if self.message is not None:
            attrs["exception.message"] = self.message
        if self.stacktrace is not None:
            attrs["exception.stacktrace"] = self.stacktrace
        return attrs


@dataclass
class GenAISpan:
    """One span to export, before it is built into a ``ReadableSpan``."""

    event_id: str
    parent_id: str | None
    name: str
    client: bool  # span kind CLIENT (a call out of the process) or INTERNAL
    attributes: dict[str, Any]
    start: str | None
    end: str | None
    status: str | None = None  # the event's: ok, error, or None (unset)
    errors: list[ExceptionInfo] = field(default_factory=list)

    def add_error(self, info: ExceptionInfo) -> None:
        """Mark the span failed by the exception ``info`` describes."""
        self.status = "error"
        self.errors.append(info)
        self.attributes.setdefault("error.type", info.error_type)


def event_span(
    wire: Mapping[str, Any], agent_names: Mapping[str, str], *, capture_content: bool
) -> GenAISpan:
    """The span of one event's wire mapping (what ``create_events`` carries)."""
    kind = str(wire.get("kind") or _KINDS.get(str(wire.get("event_type")), "other"))
    attrs = _common(wire, kind, agent_names)
    if kind == "llm" or (kind == "embedding" and wire.get("event_type") == "llms"):
        name, client = _llm(wire, attrs, capture_content)
    elif kind == "tool":
        name, client = _tool(wire, attrs, capture_content), False
    else:
        name, client = _other(wire, kind, attrs, capture_content), False
    span = GenAISpan(
        event_id=str(wire["id"]),
        parent_id=None if wire.get("parent_id") is None else str(wire["parent_id"]),
        name=name,
        client=client,
        attributes=attrs,
        start=wire.get("init_timestamp"),
        end=wire.get("end_timestamp"),
        status=None if wire.get("status") is None else str(wire["status"]),
    )
    if kind == "error":
        span.add_error(error_info(wire))
    return span


def error_info(wire: Mapping[str, Any]) -> ExceptionInfo:
    """What the error event ``wire`` says about its exception."""
    details, logs = wire.get("details"), wire.get("logs")
    return ExceptionInfo(
        error_type=str(wire.get("error_type") or "Error"),
        message=None if details is None else _text(details),
        stacktrace=None if logs is None else _text(logs),
        time=wire.get("init_timestamp"),
    )


# -- per kind ---------------------------------------------------------------------------------


def _common(wire: Mapping[str, Any], kind: str, agent_names: Mapping[str, str]) -> dict[str, Any]:
    session_id = str(wire["session_id"])
    attrs: dict[str, Any] = {
        SESSION_ID: session_id,
        CONVERSATION_ID: session_id,
        aw.EVENT_ID: str(wire["id"]),
        aw.EVENT_TYPE: str(wire.get("event_type")),
    }
    attrs[aw.EVENT_KIND] = kind
    agent_id = wire.get("agent_id")
    if agent_id is not None:
        attrs["gen_ai.agent.id"] = str(agent_id)
        if str(agent_id) in agent_names:
            attrs["gen_ai.agent.name"] = agent_names[str(agent_id)]
    return attrs


def _llm(wire: Mapping[str, Any], attrs: dict[str, Any], capture: bool) -> tuple[str, bool]:
    stated = wire.get("gen_ai")
    if isinstance(stated, Mapping):  # never over the session and event ids set above
        attrs.update(
            (k, v)
            for k, v in stated.items()
            if isinstance(k, str) and v is not None and k not in attrs
        )
    model = wire.get("model")
    if isinstance(model, str):
        attrs.setdefault("gen_ai.request.model", model)
        attrs.setdefault("gen_ai.response.model", model)
    params = wire.get("params")
    if isinstance(params, Mapping):
        attrs.update((k, v) for k, v in request_param_attributes(params).items() if k not in attrs)
    prompt = wire.get("prompt")
    operation = attrs.get("gen_ai.operation.name")
    if not isinstance(operation, str):
        if wire.get("kind") == "embedding":
            operation = "embeddings"
        else:
            operation = "text_completion" if isinstance(prompt, str) else "chat"
        attrs["gen_ai.operation.name"] = operation
    for key, value in (
        ("gen_ai.usage.input_tokens", wire.get("prompt_tokens")),
        ("gen_ai.usage.output_tokens", wire.get("completion_tokens")),
        ("gen_ai.usage.cache_read.input_tokens", wire.get("cached_tokens")),
    ):
        if isinstance(value, int) and not isinstance(value, bool):
            attrs.setdefault(key, value)
    stop = wire.get("stop_reason")
    if isinstance(stop, str):
        attrs.setdefault("gen_ai.response.finish_reasons", [stop])
    if capture:
        _messages(attrs, prompt, wire.get("completion"), stop)
    name_model = attrs.get("gen_ai.request.model") or wire.get("name")
    return (f"{operation} {name_model}" if name_model else operation), True


def _messages(attrs: dict[str, Any], prompt: Any, completion: Any, stop: Any) -> None:
    system, inputs = input_messages(prompt)
    outputs = output_messages(completion, stop)
    for key, value in (
        ("gen_ai.system_instructions", system),
        ("gen_ai.input.messages", inputs),
        ("gen_ai.output.messages", outputs),
    ):
        if value is not None:
            attrs[key] = json_text(value)


def _tool(wire: Mapping[str, Any], attrs: dict[str, Any], capture: bool) -> str:
    name = str(wire.get("tool_name") or wire.get("name") or "tool")
    attrs.update(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
        }
    )
    call_id = wire.get("tool_call_id")
    if call_id is not None:
        attrs["gen_ai.tool.call.id"] = str(call_id)
    if capture:
        for key, value in (
            ("gen_ai.tool.call.arguments", wire.get("params")),
            ("gen_ai.tool.call.result", wire.get("returns")),
        ):
            if value is not None:
                attrs[key] = json_text(value)
    return f"execute_tool {name}"


def _other(wire: Mapping[str, Any], kind: str, attrs: dict[str, Any], capture: bool) -> str:
    name = str(wire.get("name") or wire.get("action_type") or wire.get("event_type") or kind)
    declared = _OPERATIONS.get(kind)
    if kind == "error":
        name = str(wire.get("error_type") or "Error")
    elif declared is not None:
        operation, name_key = declared
        attrs["gen_ai.operation.name"] = operation
        if name_key is not None:
            attrs[name_key] = name
        if kind == "agent" and wire.get("agent_id") is not None:
            attrs["gen_ai.agent.name"] = name
        name = f"{operation} {name}"
    if capture:
        for key, value in (("input", wire.get("params")), ("output", wire.get("returns"))):
            if value is not None:
                attrs[f"{key}.value"] = json_text(value)
                attrs[f"{key}.mime_type"] = "application/json"
    return name


# Request argument -> GenAI attribute (semantic conventions, "gen_ai.request.*"): the
# instrumentation names them when it records a call, the exporter for events made by hand.
_REQUEST_ATTRIBUTES = (
    ("model", "gen_ai.request.model"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("max_output_tokens", "gen_ai.request.max_tokens"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
    ("seed", "gen_ai.request.seed"),
    ("n", "gen_ai.request.choice.count"),
    ("stop", "gen_ai.request.stop_sequences"),
    ("stop_sequences", "gen_ai.request.stop_sequences"),
)


def request_param_attributes(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``gen_ai.request.*`` attributes of a call's parameters."""
    found: dict[str, Any] = {}
    for name, key in _REQUEST_ATTRIBUTES:
        value = params.get(name)
        if value is not None:
            found[key] = (
                [value] if key.endswith("stop_sequences") and isinstance(value, str) else value
            )
    return found


# -- values -----------------------------------------------------------------------------------


def otel_value(value: Any) -> Any:
    """``value`` as an OTLP attribute value: a scalar, an array of one scalar type, or JSON text."""
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, list | tuple) and value:
        kinds = {type(v) for v in value}
        fits = kinds != {int} or all(_INT64[0] <= v <= _INT64[1] for v in value)
        if len(kinds) == 1 and kinds <= {str, bool, float, int} and fits:
            return list(value)
    return json_text(value)


def json_text(value: Any) -> str:
    """``value`` as JSON text; what JSON cannot hold is written as its ``str()``."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson refuses integers beyond 64 bits, and cycles
        return json.dumps(value, default=str, ensure_ascii=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json_text(value)
