"""What an LLM event records about a request, provider-neutral.

* :func:`request_params` — the call's keyword arguments minus the content (prompt) and
  the transport ones (``extra_headers`` may carry credentials).
* :func:`request_attributes` / :func:`response_attributes` — the attributes that
  OpenTelemetry's GenAI semantic conventions name for a model call (``gen_ai.*``), kept
  on the event so it can later be exported as a standard span.
* :func:`redact` — a prompt or completion without its text (``capture_content=False``):
  roles, tool names and ids stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentwatch.telemetry.genai import request_param_attributes

__all__ = [
    "CONTENT_PARAMS",
    "as_plain",
    "given",
    "redact",
    "request_attributes",
    "request_params",
    "response_attributes",
]

# Request arguments that are prompt text: recorded as ``prompt`` (or not at all).
CONTENT_PARAMS = frozenset({"messages", "input", "system", "instructions", "prompt"})
# Transport arguments: headers and query may carry credentials; none describe the call.
_TRANSPORT_PARAMS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})

# Keys of a message or content block that are not text (kept when content is not captured).
_STRUCTURAL_KEYS = frozenset(
    {"role", "type", "name", "id", "call_id", "tool_call_id", "tool_use_id", "status"}
)


def given(value: Any) -> bool:
    """False for the libraries' "argument not given" sentinels (``NOT_GIVEN``, ``omit``)."""
    return type(value).__name__ not in ("NotGiven", "Omit")


def request_params(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request parameters worth recording: everything but content and transport."""
    return {
        k: v
        for k, v in kwargs.items()
        if k not in CONTENT_PARAMS and k not in _TRANSPORT_PARAMS and given(v)
    }


def request_attributes(system: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.*`` attributes known before the call is made."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": system,
        "gen_ai.provider.name": system,
        **request_param_attributes(params),
    }


def response_attributes(
    attributes: dict[str, Any],
    *,
    model: str | None,
    response_id: str | None,
    finish_reasons: list[str],
    input_tokens: int | None,
    output_tokens: int | None,
) -> None:
    """Add the ``gen_ai.response.*`` and ``gen_ai.usage.*`` attributes of a finished call."""
    for key, value in (
        ("gen_ai.response.model", model),
        ("gen_ai.response.id", response_id),
        ("gen_ai.usage.input_tokens", input_tokens),
        ("gen_ai.usage.output_tokens", output_tokens),
    ):
        if value is not None:
            attributes[key] = value
    if finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = finish_reasons


def as_plain(value: Any) -> Any:
    """A message or block as a plain dict when it is a pydantic model (the libraries'
    own types, e.g. a previous response's message passed back); anything else as is."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, Mapping):
        try:
            return dump(exclude_none=True)
        except Exception:  # an unusual model: the encoder will still record it
            return value
    return value


def redact(value: Any) -> Any:
    """``value`` (messages, a message, content blocks) without text, arguments or inputs."""
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, list | tuple):
        return [redact(as_plain(item)) for item in value]
    return None


def _redact_mapping(message: Mapping[str, Any]) -> dict[str, Any]:
    kept = _structural(message)
    content = message.get("content")
    if isinstance(content, list | tuple):
        kept["content"] = [redact(as_plain(block)) for block in content]
    calls = message.get("tool_calls")
    if isinstance(calls, Iterable) and not isinstance(calls, str | bytes | Mapping):
        kept["tool_calls"] = [_redact_tool_call(as_plain(c)) for c in calls]
    function = message.get("function")
    if isinstance(function, Mapping) and "name" in function:
        kept["function"] = _structural({"name": function["name"]})
    return kept


def _redact_tool_call(call: Any) -> Any:
    if not isinstance(call, Mapping):
        return None
    kept = _structural(call)
    function = call.get("function")
    if isinstance(function, Mapping):
        kept["function"] = _structural({"name": function.get("name")})
    return kept


def _structural(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The structural keys of ``mapping`` whose values are plain scalars (a role, a name)."""
    return {
        k: v
        for k, v in mapping.items()
        if k in _STRUCTURAL_KEYS and (v is None or isinstance(v, str | int | float))
    }
