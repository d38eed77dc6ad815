"""The ``openai`` library (≥ 1.0): chat completions and the Responses API, sync and async,
whole and streamed.

Patched: ``create`` and ``parse`` of ``openai.resources.chat.completions.(Async)Completions``
and of ``openai.resources.responses.(Async)Responses`` (where the installed version has
them). The ``stream()`` helpers are built on ``create`` and so are recorded through it.
Responses are read through their public fields only, each with ``getattr`` defaults, so a
field the installed version lacks leaves a blank, never an error.
"""

from __future__ import annotations

import importlib
from typing import Any

from agentwatch.instrumentation import _patching
from agentwatch.instrumentation._call import Endpoint, LLMCall, messages_list

__all__ = ["instrument"]

SYSTEM = "openai"


def instrument() -> None:
    """Patch the installed ``openai`` (imports it: call only when the user has)."""
    import openai

    streams = (openai.Stream,), (openai.AsyncStream,)
    chat = Endpoint(SYSTEM, _chat_prompt, _chat_response, _ChatStream, *streams)
    responses = Endpoint(SYSTEM, _responses_prompt, _responses_response, _ResponsesStream, *streams)
    for module_name, sync_name, async_name, endpoint in (
        ("openai.resources.chat.completions", "Completions", "AsyncCompletions", chat),
        ("openai.resources.responses", "Responses", "AsyncResponses", responses),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # e.g. the Responses API arrived in 1.66
            continue
        for method in ("create", "parse"):  # parse: structured outputs, same response
            _patching.patch_method(getattr(module, sync_name, None), method, endpoint)
            _patching.patch_method(getattr(module, async_name, None), method, endpoint, True)


# -- chat completions ----------------------------------------------------------------------


def _chat_prompt(kwargs: dict[str, Any]) -> list[Any] | None:
    return messages_list(kwargs, "messages")


def _chat_response(call: LLMCall, response: Any) -> None:
    _read_header(call, response)
    choices = getattr(response, "choices", None) or []
    call.finish_reasons = [c.finish_reason for c in choices if getattr(c, "finish_reason", None)]
    message = getattr(choices[0], "message", None) if choices else None
    if message is not None:
        calls = [_tool_call(tc) for tc in getattr(message, "tool_calls", None) or []]
        function_call = getattr(message, "function_call", None)
        if function_call is not None:  # the deprecated single "functions" call
            calls.append(_function(None, function_call))
        text = getattr(message, "content", None) or getattr(message, "refusal", None)
        call.set_completion(text, calls, getattr(message, "role", None) or "assistant")
    _chat_usage(call, getattr(response, "usage", None))


def _read_header(call: LLMCall, response: Any) -> None:
    model = getattr(response, "model", None)
    if isinstance(model, str) and model:
        call.event.model = model
    response_id = getattr(response, "id", None)
    if isinstance(response_id, str):
        call.response_id = response_id


def _chat_usage(call: LLMCall, usage: Any) -> None:
    if usage is None:
        return
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    call.set_usage(
        getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None), cached
    )


def _tool_call(tool_call: Any) -> dict[str, Any]:
    function = getattr(tool_call, "function", None)
    if function is None:  # a "custom" tool call: free-form input instead of JSON arguments
        custom = getattr(tool_call, "custom", None)
        return {
            "id": getattr(tool_call, "id", None),
            "type": getattr(tool_call, "type", "custom"),
            "function": {
                "name": getattr(custom, "name", None),
                "arguments": getattr(custom, "input", None),
            },
        }
    return _function(getattr(tool_call, "id", None), function)


def _function(call_id: str | None, function: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {
            "name": getattr(function, "name", None),
            "arguments": getattr(function, "arguments", None),
        },
    }


class _ChatStream:
    """Chat completion chunks gathered: the first choice's text and tool calls, every
    choice's finish reason, and the usage chunk if one was asked for."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reasons: dict[int, str] = {}
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: Any = None

    def add(self, chunk: Any) -> bool:
        if self.model is None:
            self.model = getattr(chunk, "model", None)
            self.response_id = getattr(chunk, "id", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        output = False
        for choice in getattr(chunk, "choices", None) or ():
            index = getattr(choice, "index", 0)
            if choice.finish_reason:
                self.finish_reasons[index] = choice.finish_reason
            delta = getattr(choice, "delta", None)
            if index == 0 and delta is not None:
                output = self._add_delta(delta) or output
        return output

    def _add_delta(self, delta: Any) -> bool:
        output = False
        content = getattr(delta, "content", None)
        if content:
            self.text.append(content)
            output = True
        for tool_call in getattr(delta, "tool_calls", None) or ():
            self._add_tool_call(getattr(tool_call, "index", 0), tool_call)
            output = True
        function_call = getattr(delta, "function_call", None)
        if function_call is not None:
            self._add_tool_call(-1, function_call)
            output = True
        return output

    def _add_tool_call(self, index: int, part: Any) -> None:
        slot = self.tool_calls.get(index)
        if slot is None:
            slot = self.tool_calls[index] = _function(None, None)
            slot["function"] = {"name": "", "arguments": ""}
        if getattr(part, "id", None):
            slot["id"] = part.id
        function = getattr(part, "function", part)  # function_call deltas have no wrapper
        name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
        if name:
            slot["function"]["name"] += name
        if arguments:
            slot["function"]["arguments"] += arguments

    def apply(self, call: LLMCall) -> None:
        if self.model:
            call.event.model = self.model
        call.response_id = self.response_id
        call.finish_reasons = [self.finish_reasons[i] for i in sorted(self.finish_reasons)]
        if self.text or self.tool_calls:
            calls = [self.tool_calls[i] for i in sorted(self.tool_calls)]
            call.set_completion("".join(self.text) or None, calls)
        _chat_usage(call, self.usage)


# -- the Responses API ---------------------------------------------------------------------


def _responses_prompt(kwargs: dict[str, Any]) -> list[Any] | None:
    items = messages_list(kwargs, "input") or []
    messages = [{"role": "user", "content": i} if isinstance(i, str) else i for i in items]
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        messages.insert(0, {"role": "system", "content": instructions})
    return messages or None


def _responses_response(call: LLMCall, response: Any) -> None:
    _read_header(call, response)
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in getattr(response, "output", None) or ():
        kind = getattr(item, "type", None)
        if kind == "message":
            for part in getattr(item, "content", None) or ():
                text = getattr(part, "text", None) or getattr(part, "refusal", None)
                if isinstance(text, str):
                    texts.append(text)
        elif kind == "function_call":
            calls.append(_function(getattr(item, "call_id", None), item))
    if texts or calls:
        call.set_completion("".join(texts) or None, calls)
    call.finish_reasons = [_responses_stop_reason(response)]
    usage = getattr(response, "usage", None)
    if usage is not None:
        details = getattr(usage, "input_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) if details is not None else None
        call.set_usage(
            getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None), cached
        )


def _responses_stop_reason(response: Any) -> str:
    details = getattr(response, "incomplete_details", None)
    reason = getattr(details, "reason", None) if details is not None else None
    return str(reason or getattr(response, "status", None) or "unknown")


class _ResponsesStream:
    """Responses API stream events: the final ``response.completed`` (or ``incomplete`` /
    ``failed``) event carries the whole response; deltas cover a stream cut short."""

    _FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self) -> None:
        self.started: Any = None
        self.final: Any = None
        self.text: list[str] = []

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            self.text.append(getattr(event, "delta", ""))
            return True
        if kind == "response.function_call_arguments.delta":
            return True
        if kind == "response.created":
            self.started = getattr(event, "response", None)
        elif kind in self._FINAL:
            self.final = getattr(event, "response", None)
        return False

    def apply(self, call: LLMCall) -> None:
        if self.final is not None:
            _responses_response(call, self.final)
            return
        if self.started is not None:
            _read_header(call, self.started)
        if self.text:
            call.set_completion("".join(self.text), [])
