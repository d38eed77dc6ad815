"""The ``anthropic`` library (≥ 0.32): messages, sync and async, whole and streamed
(``create(stream=True)`` and the ``messages.stream()`` helper).

Patched: ``create`` and ``stream`` of ``anthropic.resources.messages.(Async)Messages``
and of their ``beta`` twins.
The helper sends its request without going through ``create``, so nothing is counted
twice. Tool use blocks become OpenAI-style ``tool_calls`` in the completion, so every
provider's completion reads the same. Anthropic counts cached prompt tokens apart from
``input_tokens``; they are added back, as ``prompt_tokens`` includes them by convention.
"""

from __future__ import annotations

import functools
import importlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from agentwatch.events import now_iso
from agentwatch.instrumentation import _patching
from agentwatch.instrumentation._call import (
    ORIGINAL,
    Endpoint,
    LLMCall,
    begin,
    messages_list,
)
from agentwatch.instrumentation._stream import AsyncStreamProxy, StreamProxy

__all__ = ["instrument"]

SYSTEM = "anthropic"


def instrument() -> None:
    """Patch the installed ``anthropic`` (imports it: call only when the user has)."""
    import anthropic

    endpoint = Endpoint(
        SYSTEM, _prompt, _response, _Events, (anthropic.Stream,), (anthropic.AsyncStream,)
    )
    for module_name in ("anthropic.resources.messages", "anthropic.resources.beta.messages"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        sync_messages = getattr(module, "Messages", None)
        async_messages = getattr(module, "AsyncMessages", None)
        _patching.patch_method(sync_messages, "create", endpoint)
        _patching.patch_method(async_messages, "create", endpoint, True)
        _patching.patch(sync_messages, "stream", lambda f: _helper(f, endpoint, _Manager))
        _patching.patch(async_messages, "stream", lambda f: _helper(f, endpoint, _AsyncManager))


def _prompt(kwargs: dict[str, Any]) -> list[Any] | None:
    messages = messages_list(kwargs, "messages") or []
    system = kwargs.get("system")
    if isinstance(system, str | list):
        messages.insert(0, {"role": "system", "content": system})
    return messages or None


def _response(call: LLMCall, message: Any) -> None:
    model, message_id = getattr(message, "model", None), getattr(message, "id", None)
    if isinstance(model, str) and model:
        call.event.model = model
    call.response_id = message_id if isinstance(message_id, str) else None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in getattr(message, "content", None) or ():
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(block.text)
        elif kind == "tool_use":
            calls.append(_tool_call(block.id, block.name, _dumps(getattr(block, "input", None))))
    if texts or calls:
        call.set_completion("".join(texts) or None, calls)
    stop = getattr(message, "stop_reason", None)
    call.finish_reasons = [stop] if stop else []
    usage = getattr(message, "usage", None)
    if usage is not None:
        _set_usage(call, usage, getattr(usage, "output_tokens", None))


def _set_usage(call: LLMCall, usage: Any, output_tokens: int | None) -> None:
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    fresh = getattr(usage, "input_tokens", None)
    prompt = None if fresh is None else fresh + read + written
    call.set_usage(prompt, output_tokens, read if fresh is not None else None)


def _tool_call(call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


class _Events:
    """Message stream events gathered (raw ones, and the helper's, which include them)."""

    def __init__(self) -> None:
        self.start: Any = None
        self.text: list[str] = []
        self.tools: dict[int, tuple[str | None, str | None, list[str]]] = {}
        self.stop_reason: str | None = None
        self.final_usage: Any = None

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                self.text.append(delta.text)
                return True
            if delta.type == "input_json_delta" and event.index in self.tools:
                self.tools[event.index][2].append(delta.partial_json)
                return True
        elif kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                self.tools[event.index] = (block.id, block.name, [])
                return True
        elif kind == "message_start":
            self.start = event.message
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None) or self.stop_reason
            self.final_usage = getattr(event, "usage", None)
        return False

    def apply(self, call: LLMCall) -> None:
        if self.start is not None:
            _response(call, self.start)  # model, id and prompt usage; no content yet
        calls = [_tool_call(i, n, "".join(parts)) for i, n, parts in self.tools.values()]
        if self.text or calls:
            call.set_completion("".join(self.text) or None, calls)
        call.finish_reasons = [self.stop_reason] if self.stop_reason else []
        final = self.final_usage
        if final is None:
            call.event.completion_tokens = None  # message_start's count is a placeholder
            return
        if getattr(final, "input_tokens", None) is not None:  # newer API versions resend it
            _set_usage(call, final, final.output_tokens)
        else:
            call.event.completion_tokens = final.output_tokens


# -- the messages.stream() helper ----------------------------------------------------------


def _helper(original: Callable[..., Any], endpoint: Endpoint, manager: type) -> Any:
    @functools.wraps(original)
    def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = begin(endpoint, kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        try:
            made = original(self, *args, **kwargs)  # builds the request; sent on entering
        except BaseException as exc:
            call.finish(exc)
            raise
        return manager(made, call)

    setattr(stream, ORIGINAL, original)
    return stream


class _ManagerBase:
    def __init__(self, manager: Any, call: LLMCall) -> None:
        self._aw_manager = manager
        self._aw_call = call
        self._aw_stream: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_aw_"):
            raise AttributeError(name)
        return getattr(self._aw_manager, name)

    def _aw_sending(self) -> None:
        self._aw_call.started = time.perf_counter()
        self._aw_call.event.init_timestamp = now_iso()


class _Manager(_ManagerBase):
    """``MessageStreamManager``: entering sends the request and gives the stream."""

    def __enter__(self) -> Any:
        self._aw_sending()
        span = self._aw_call.open_span()  # the request is sent now: the call is running
        try:
            stream = self._aw_manager.__enter__()
        except BaseException as exc:
            self._aw_call.finish(exc)
            raise
        finally:
            self._aw_call.close_span(span)
        self._aw_stream = _HelperStream(stream, self._aw_call, _Events())
        return self._aw_stream

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._aw_manager.__exit__(*exc_info)
        finally:
            if self._aw_stream is not None:
                self._aw_stream._aw_end(None)


class _AsyncManager(_ManagerBase):
    """``AsyncMessageStreamManager``."""

    async def __aenter__(self) -> Any:
        self._aw_sending()
        span = self._aw_call.open_span()
        try:
            stream = await self._aw_manager.__aenter__()
        except BaseException as exc:
            self._aw_call.finish(exc)
            raise
        finally:
            self._aw_call.close_span(span)
        self._aw_stream = _AsyncHelperStream(stream, self._aw_call, _Events())
        return self._aw_stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._aw_manager.__aexit__(*exc_info)
        finally:
            if self._aw_stream is not None:
                self._aw_stream._aw_end(None)


class _HelperStream(StreamProxy):
    """``MessageStream``: its text and final-message helpers read through the proxy, so
    the chunks they consume are seen too."""

    @functools.cached_property
    def text_stream(self) -> Iterator[str]:
        return (
            event.delta.text
            for event in self
            if event.type == "content_block_delta" and event.delta.type == "text_delta"
        )

    def until_done(self) -> None:
        for _ in self:
            pass

    def get_final_message(self) -> Any:
        self.until_done()
        return self._aw_wrapped.get_final_message()

    def get_final_text(self) -> str:
        self.until_done()
        text: str = self._aw_wrapped.get_final_text()
        return text


class _AsyncHelperStream(AsyncStreamProxy):
    """``AsyncMessageStream``."""

    @functools.cached_property
    def text_stream(self) -> AsyncIterator[str]:
        return self._aw_text()

    async def _aw_text(self) -> AsyncIterator[str]:
        async for event in self:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text

    async def until_done(self) -> None:
        async for _ in self:
            pass

    async def get_final_message(self) -> Any:
        await self.until_done()
        return await self._aw_wrapped.get_final_message()

    async def get_final_text(self) -> str:
        await self.until_done()
        text: str = await self._aw_wrapped.get_final_text()
        return text
