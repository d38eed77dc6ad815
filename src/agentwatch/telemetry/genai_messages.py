"""An LLM event's prompt and completion as the GenAI conventions' messages.

``gen_ai.system_instructions`` (a list of parts), ``gen_ai.input.messages`` and
``gen_ai.output.messages`` (lists of ``{"role", "parts": [...], "finish_reason"?}``), each
part ``{"type": "text", "content"}``, ``{"type": "tool_call", "id", "name", "arguments"}``,
``{"type": "tool_call_response", "id", "response"}``, or another typed part kept as it is.

Read from the chat shapes the SDK records: OpenAI messages (``content`` text or blocks,
``tool_calls``, ``role: tool`` answers) and Anthropic's (``text`` / ``tool_use`` /
``tool_result`` blocks), a prompt given as one string, a completion given as a string, a
message, or a list of choices. Pure functions of JSON values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["input_messages", "output_messages"]

Part = dict[str, Any]
Message = dict[str, Any]

_SYSTEM_ROLES = frozenset({"system", "developer"})


def input_messages(prompt: Any) -> tuple[list[Part] | None, list[Message] | None]:
    """(system instructions, input messages) of a prompt; None where there are none."""
    if prompt is None:
        return None, None
    if not isinstance(prompt, list):
        prompt = [prompt]
    system: list[Part] = []
    messages: list[Message] = []
    for message in prompt:
        if isinstance(message, Mapping) and message.get("role") in _SYSTEM_ROLES:
            system.extend(_parts(message))
        else:
            messages.append(_message(message, "user"))
    return system or None, messages or None


def output_messages(completion: Any, finish_reason: Any = None) -> list[Message] | None:
    """The output messages of a completion (one per choice), or None."""
    if completion is None:
        return None
    choices = completion if isinstance(completion, list) else [completion]
    out = []
    for choice in choices:
        message = _message(choice, "assistant")
        reason = choice.get("finish_reason") if isinstance(choice, Mapping) else None
        reason = reason if reason is not None else finish_reason
        if isinstance(reason, str):
            message["finish_reason"] = reason
        out.append(message)
    return out


def _message(message: Any, default_role: str) -> Message:
    if not isinstance(message, Mapping):
        return {"role": default_role, "parts": [_text(message)]}
    role = message.get("role")
    out: Message = {
        "role": role if isinstance(role, str) else default_role,
        "parts": _parts(message),
    }
    name = message.get("name")
    if isinstance(name, str):
        out["name"] = name
    return out


def _parts(message: Mapping[str, Any]) -> list[Part]:
    content = message.get("content")
    call_id = message.get("tool_call_id")
    if message.get("role") == "tool" and call_id is not None:  # OpenAI's answer to a tool call
        parts: list[Part] = [{"type": "tool_call_response", "id": call_id, "response": content}]
    elif isinstance(content, list):
        parts = [_block(block) for block in content]
    elif content is None:
        parts = []
    else:
        parts = [_text(content)]
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        parts.extend(_openai_call(call) for call in calls if isinstance(call, Mapping))
    return parts


def _block(block: Any) -> Part:
    if not isinstance(block, Mapping):
        return _text(block)
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text"):
        return _text(block.get("text", block.get("content")))
    if kind == "tool_use":  # Anthropic
        return _call(block.get("id"), block.get("name"), block.get("input"))
    if kind == "tool_result":
        return {
            "type": "tool_call_response",
            "id": block.get("tool_use_id"),
            "response": block.get("content"),
        }
    return dict(block) if isinstance(kind, str) else {"type": "unknown", "value": dict(block)}


def _openai_call(call: Mapping[str, Any]) -> Part:
    function = call.get("function")
    function = function if isinstance(function, Mapping) else {}
    return _call(call.get("id"), function.get("name"), _arguments(function.get("arguments")))


def _call(call_id: Any, name: Any, arguments: Any) -> Part:
    part: Part = {"type": "tool_call", "id": call_id, "name": name}
    if arguments is not None:
        part["arguments"] = arguments
    return part


def _arguments(arguments: Any) -> Any:
    """OpenAI sends arguments as JSON text; the conventions carry the object."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _text(content: Any) -> Part:
    return {
        "type": "text",
        "content": content if isinstance(content, str) else json.dumps(content, default=str),
    }
