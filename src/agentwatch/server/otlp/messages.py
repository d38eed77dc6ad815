"""The conversation of an LLM span, whichever convention wrote it, in the v2 event's shape.

v2 LLM events carry ``prompt`` (a list of chat messages ``{"role", "content",
"tool_calls"?, "tool_call_id"?, "name"?}``) and ``completion`` (one such message, or a
list when the model returned several choices); the dashboard shows both. Spans bring the
same conversation in one of these forms, read in this order (the first found wins):

1. GenAI semantic conventions: ``gen_ai.system_instructions``, ``gen_ai.input.messages``,
   ``gen_ai.output.messages`` — JSON strings or structured values, each message
   ``{"role", "parts": [{"type": "text", "content"} | {"type": "tool_call", ...} | ...]}``.
2. The older GenAI form: ``gen_ai.prompt.N.{role,content,...}``,
   ``gen_ai.completion.N.{role,content,finish_reason,tool_calls.J.*}``.
3. OpenInference: ``llm.input_messages.N.message.*``, ``llm.output_messages.N.message.*``.
4. Langfuse: ``langfuse.observation.input`` / ``.output`` (JSON text).
5. ``input.value`` / ``output.value`` (OpenInference, with their mime types): an OpenAI
   request body's ``messages`` and a response's ``choices``, or the text as it is.

The per-message log events (``gen_ai.user.message`` ...) reach the span through
:mod:`agentwatch.server.storage.spanlogs` at read time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["conversation", "from_parts", "io_value", "json_or_text", "maybe_json"]

Attributes = Mapping[str, Any]
Message = dict[str, Any]


def maybe_json(value: Any) -> Any:
    """``value`` parsed when it is JSON text of an object or array; otherwise as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)  # 5-10x the stdlib's speed: every LLM span has two
        except orjson.JSONDecodeError:
            return value
    return value


def json_or_text(value: Any) -> Any:
    """``value`` parsed when it is any JSON text (agentops serialises every input and
    output, strings too); otherwise as it is."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def conversation(attributes: Attributes) -> tuple[list[Message] | None, Any]:
    """(prompt, completion) of an LLM span; either is None when the span does not carry it."""
    for read in (_genai, _genai_indexed, _openinference, _langfuse, _io_values):
        prompt, completion = read(attributes)
        if prompt is not None or completion is not None:
            return prompt, completion
    return None, None


def io_value(attributes: Attributes, name: str) -> Any:
    """``input.value`` / ``output.value`` (``name``: input or output), JSON parsed when its
    mime type says JSON (or it looks like it and no mime type is given)."""
    value = attributes.get(f"{name}.value")
    if value is None:
        return None
    mime = attributes.get(f"{name}.mime_type")
    if mime is None or (isinstance(mime, str) and "json" in mime):
        return maybe_json(value)
    return value


# -- 1. GenAI semantic conventions ---------------------------------------------------------


def _genai(attributes: Attributes) -> tuple[list[Message] | None, Any]:
    system = maybe_json(attributes.get("gen_ai.system_instructions"))
    inputs = maybe_json(attributes.get("gen_ai.input.messages"))
    outputs = maybe_json(attributes.get("gen_ai.output.messages"))
    prompt: list[Message] | None = None
    if isinstance(inputs, list) or system is not None:
        prompt = []
        if system is not None:
            prompt.append(_system_message(system))
        if isinstance(inputs, list):
            prompt.extend(from_parts(m) for m in inputs)
    completion: Any = None
    if isinstance(outputs, list):
        choices = [from_parts(m) for m in outputs]
        completion = choices[0] if len(choices) == 1 else choices
    return prompt, completion


def _system_message(system: Any) -> Message:
    if isinstance(system, list):
        return from_parts({"role": "system", "parts": system})
    return {"role": "system", "content": system}


def from_parts(message: Any) -> Message:
    """A GenAI ``{"role", "parts": [...]}`` message as a chat message."""
    if not isinstance(message, Mapping):
        return {"role": "user", "content": message}
    parts = message.get("parts")
    out: Message = {"role": message.get("role") or "user"}
    if not isinstance(parts, list):
        out["content"] = message.get("content")
        return out
    texts: list[str] = []
    others: list[Any] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part, Mapping):
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call" and isinstance(part, Mapping):
            calls.append(_tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response" and isinstance(part, Mapping):
            out["tool_call_id"] = part.get("id")
            others.append(part.get("response"))
        else:
            others.append(part)
    text = "\n".join(texts)
    if not others:
        out["content"] = text
    elif not texts and len(others) == 1:
        out["content"] = others[0]
    else:
        out["content"] = ([{"type": "text", "text": text}] if texts else []) + others
    if calls:
        out["tool_calls"] = calls
    for key in ("finish_reason", "name"):
        if message.get(key) is not None:
            out[key] = message[key]
    return out


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str) and arguments is not None:
        arguments = json.dumps(arguments, default=str)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# -- 2. and 3. flattened messages ----------------------------------------------------------

_INDEXED = re.compile(r"(\d+)\.(.+)")


def _indexed(attributes: Attributes, prefix: str) -> dict[int, dict[str, Any]]:
    """``{N: {"rest.of.key": value}}`` of the attributes named ``<prefix>N.<rest>``."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if key.startswith(prefix):
            match = _INDEXED.fullmatch(key, len(prefix))
            if match:
                found.setdefault(int(match[1]), {})[match[2]] = value
    return found


def _flat_message(
    fields: dict[str, Any], call_prefix: str, call_fields: tuple[str, ...]
) -> Message:
    message: Message = {"role": fields.get("role") or "user"}
    contents = _indexed(fields, "contents.")
    if "content" in fields:
        message["content"] = fields["content"]
    elif contents:
        message["content"] = [
            {k.removeprefix("message_content."): v for k, v in contents[i].items()}
            for i in sorted(contents)
        ]
    for key in ("name", "tool_call_id", "finish_reason"):
        if fields.get(key) is not None:
            message[key] = fields[key]
    calls = _indexed(fields, "tool_calls.")
    if calls:
        id_key, name_key, args_key = (call_prefix + f for f in call_fields)
        message["tool_calls"] = [
            _tool_call(calls[j].get(id_key), calls[j].get(name_key), calls[j].get(args_key))
            for j in sorted(calls)
        ]
    return message


def _messages(
    attributes: Attributes, prefix: str, strip: str, call_prefix: str, call_fields: tuple[str, ...]
) -> list[Message] | None:
    found = _indexed(attributes, prefix)
    if not found:
        return None
    return [
        _flat_message(
            {k.removeprefix(strip): v for k, v in found[i].items()}, call_prefix, call_fields
        )
        for i in sorted(found)
    ]


_GENAI_CALL = ("id", "name", "arguments")
_OPENINFERENCE_CALL = ("id", "function.name", "function.arguments")


def _genai_indexed(attributes: Attributes) -> tuple[list[Message] | None, Any]:
    prompt = _messages(attributes, "gen_ai.prompt.", "", "", _GENAI_CALL)
    choices = _messages(attributes, "gen_ai.completion.", "", "", _GENAI_CALL)
    return prompt, _one_or_all(choices)


def _openinference(attributes: Attributes) -> tuple[list[Message] | None, Any]:
    prompt = _messages(
        attributes, "llm.input_messages.", "message.", "tool_call.", _OPENINFERENCE_CALL
    )
    choices = _messages(
        attributes, "llm.output_messages.", "message.", "tool_call.", _OPENINFERENCE_CALL
    )
    return prompt, _one_or_all(choices)


def _one_or_all(choices: list[Message] | None) -> Any:
    if choices is None:
        return None
    for choice in choices:
        if choice.get("role") == "user":
            choice["role"] = "assistant"  # a completion without a role is the model's
    return choices[0] if len(choices) == 1 else choices


# -- 4. and 5. whole bodies ------------------------------------------------------------------


def _langfuse(attributes: Attributes) -> tuple[list[Message] | None, Any]:
    given = (
        "langfuse.observation.input" in attributes or "langfuse.observation.output" in attributes
    )
    if not given:
        return None, None
    return _as_prompt(maybe_json(attributes.get("langfuse.observation.input"))), _as_completion(
        maybe_json(attributes.get("langfuse.observation.output"))
    )


def _io_values(attributes: Attributes) -> tuple[list[Message] | None, Any]:
    return _as_prompt(io_value(attributes, "input")), _as_completion(io_value(attributes, "output"))


def _as_prompt(value: Any) -> list[Message] | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and all(isinstance(m, Mapping) and "role" in m for m in value):
        return [dict(m) for m in value]
    return [{"role": "user", "content": value}]


def _as_completion(value: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("choices"), list):
        messages = [c.get("message", c) for c in value["choices"] if isinstance(c, Mapping)]
        return messages[0] if len(messages) == 1 else messages
    if isinstance(value, Mapping) and "role" in value:
        return dict(value)
    if value is None:
        return None
    return {"role": "assistant", "content": value}
