"""A fake LLM provider: a small ASGI app that answers like the OpenAI and Anthropic APIs.

Served by uvicorn on 127.0.0.1 in a thread; the real ``openai`` / ``anthropic`` clients
are pointed at it with ``base_url=``. What it answers depends on the request:

* ``model``: answered as :data:`RESPONSE_MODELS` says (a dated variant, as the real APIs
  do), ``error-<status>`` answers that HTTP status with the provider's error body,
  ``slow`` waits :data:`SLOW_SECONDS` before answering (client timeouts), and
  ``broken-stream`` streams three events then the provider's in-stream error event.
* ``tools`` given: the answer calls the first tool with ``{"city": "Rome"}``.
* ``stream: true``: server-sent events, :data:`TEXT_PIECES` one per chunk, ``delay``
  seconds apart (``x-fake-chunk-delay`` header); OpenAI chat streams end with a usage
  chunk only when ``stream_options.include_usage`` is set, as the real API does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

TEXT_PIECES = ["Hello", " from", " the", " fake", " provider."]
TEXT = "".join(TEXT_PIECES)
ARGUMENT_PIECES = ['{"city":', ' "Rome"}']
ARGUMENTS = "".join(ARGUMENT_PIECES)
RESPONSE_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "claude-3-5-haiku": "claude-3-5-haiku-20241022",
}
SLOW_SECONDS = 2.0
# What every answer reports as usage: 20 prompt tokens of which 8 cached, 7 completion.
PROMPT_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS = 20, 8, 7


@dataclass
class FakeProvider:
    url: str  # http://127.0.0.1:PORT (OpenAI clients add /v1)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"


def _model(body: dict[str, Any]) -> str:
    model = str(body.get("model"))
    return RESPONSE_MODELS.get(model, model)


def _tool_name(body: dict[str, Any]) -> str | None:
    tools = body.get("tools") or []
    if not tools:
        return None
    first = tools[0]
    return str(first.get("name") or first.get("function", {}).get("name"))


async def _prelude(
    request: Request, provider: FakeProvider, kind: str
) -> dict[str, Any] | Response:
    body: dict[str, Any] = await request.json()
    provider.requests.append(body)
    model = str(body.get("model"))
    if model == "slow":
        await asyncio.sleep(SLOW_SECONDS)
    if model.startswith("error-"):
        return _error(int(model.removeprefix("error-")), kind)
    return body


def _error(status: int, kind: str) -> Response:
    message = f"fake provider error {status}"
    if kind == "anthropic":
        payload: dict[str, Any] = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": message},
        }
    else:
        payload = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return JSONResponse(payload, status_code=status)


def _sse(events: Iterator[tuple[str | None, Any]], delay: float) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            prefix = f"event: {name}\n" if name else ""
            yield f"{prefix}data: {text}\n\n".encode()
            if delay:
                await asyncio.sleep(delay)

    return StreamingResponse(body(), media_type="text/event-stream")


def _maybe_broken(
    body: dict[str, Any], events: Iterator[tuple[str | None, Any]], kind: str
) -> Iterator[tuple[str | None, Any]]:
    if body.get("model") != "broken-stream":
        yield from events
        return
    for _, event in zip(range(3), events, strict=False):
        yield event
    if kind == "anthropic":
        yield (
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
    else:
        yield None, {"error": {"message": "stream broke", "type": "server_error"}}


def _delay(request: Request) -> float:
    return float(request.headers.get("x-fake-chunk-delay", "0"))


# -- OpenAI chat completions -----------------------------------------------------------------


def _chat_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
    }


def _chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    tool = _tool_name(body)
    message: dict[str, Any] = {"role": "assistant", "content": None if tool else TEXT}
    if tool:
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": ARGUMENTS}}
        ]
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model(body),
        "choices": [choice],
        "usage": _chat_usage(),
    }


def _chat_chunks(body: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    tool = _tool_name(body)
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1}
    base["model"] = _model(body)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**base, "choices": [choice]}

    yield None, chunk({"role": "assistant", "content": ""})
    if tool:
        call = {"index": 0, "id": "call_1", "type": "function"}
        yield None, chunk({"tool_calls": [{**call, "function": {"name": tool, "arguments": ""}}]})
        for piece in ARGUMENT_PIECES:
            yield None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    else:
        for piece in TEXT_PIECES:
            yield None, chunk({"content": piece})
    yield None, chunk({}, "tool_calls" if tool else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield None, {**base, "choices": [], "usage": _chat_usage()}
    yield None, "[DONE]"


async def chat_completions(request: Request) -> Response:
    provider: FakeProvider = request.app.state.provider
    body = await _prelude(request, provider, "openai")
    if isinstance(body, Response):
        return body
    if body.get("stream"):
        return _sse(_maybe_broken(body, _chat_chunks(body), "openai"), _delay(request))
    return JSONResponse(_chat_completion(body))


# -- OpenAI Responses API --------------------------------------------------------------------


def _response(body: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    tool = _tool_name(body)
    output: list[dict[str, Any]] = [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
        }
    ]
    if tool:
        output = [
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": tool,
                "arguments": ARGUMENTS,
                "status": "completed",
            }
        ]
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": _model(body),
        "status": status,
        "output": output if status == "completed" else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "usage": {
            "input_tokens": PROMPT_TOKENS,
            "output_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _response_events(body: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    created = _response(body, "in_progress")
    created["usage"] = None
    seq = iter(range(1000))
    yield (
        "response.created",
        {"type": "response.created", "sequence_number": next(seq), "response": created},
    )
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress"}
    added = {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {**item, "content": []},
    }
    yield "response.output_item.added", {**added, "sequence_number": next(seq)}
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    part_added = {"type": "response.content_part.added", **where, "part": part}
    yield "response.content_part.added", {**part_added, "sequence_number": next(seq)}
    for piece in TEXT_PIECES:
        event = {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
            "sequence_number": next(seq),
        }
        yield "response.output_text.delta", event
    done = {"type": "response.completed", "sequence_number": next(seq), "response": _response(body)}
    yield "response.completed", done


async def responses(request: Request) -> Response:
    provider: FakeProvider = request.app.state.provider
    body = await _prelude(request, provider, "openai")
    if isinstance(body, Response):
        return body
    if body.get("stream"):
        return _sse(_maybe_broken(body, _response_events(body), "openai"), _delay(request))
    return JSONResponse(_response(body))


# -- Anthropic messages ----------------------------------------------------------------------


def _anthropic_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": PROMPT_TOKENS - CACHED_TOKENS,
        "cache_read_input_tokens": CACHED_TOKENS,
        "cache_creation_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _message(body: dict[str, Any]) -> dict[str, Any]:
    tool = _tool_name(body)
    content: list[dict[str, Any]] = [{"type": "text", "text": TEXT}]
    if tool:
        content.append(
            {"type": "tool_use", "id": "toolu_1", "name": tool, "input": json.loads(ARGUMENTS)}
        )
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": _model(body),
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(COMPLETION_TOKENS),
    }


def _message_events(body: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    tool = _tool_name(body)
    start = {**_message(body), "content": [], "stop_reason": None, "usage": _anthropic_usage(1)}
    yield "message_start", {"type": "message_start", "message": start}
    block = {"type": "text", "text": ""}
    yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
    yield "ping", {"type": "ping"}
    for piece in TEXT_PIECES:
        delta = {"type": "text_delta", "text": piece}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    if tool:
        use = {"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": use},
        )
        for piece in ARGUMENT_PIECES:
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": 1}
    stop = {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None}
    usage = {"output_tokens": COMPLETION_TOKENS}
    yield "message_delta", {"type": "message_delta", "delta": stop, "usage": usage}
    yield "message_stop", {"type": "message_stop"}


async def messages(request: Request) -> Response:
    provider: FakeProvider = request.app.state.provider
    body = await _prelude(request, provider, "anthropic")
    if isinstance(body, Response):
        return body
    if body.get("stream"):
        return _sse(_maybe_broken(body, _message_events(body), "anthropic"), _delay(request))
    return JSONResponse(_message(body))


def create_app(provider: FakeProvider) -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
        ]
    )
    app.state.provider = provider
    return app


@contextmanager
def serve() -> Iterator[FakeProvider]:
    """The fake provider on a free 127.0.0.1 port, until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    provider = FakeProvider(f"http://127.0.0.1:{sock.getsockname()[1]}")
    config = uvicorn.Config(create_app(provider), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake provider did not start")
            time.sleep(0.01)
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


if __name__ == "__main__":  # for the benchmark: serve until stdin is closed
    import sys

    with serve() as running:
        print(running.url, flush=True)
        sys.stdin.read()
