"""Streams stay streams: proxies that watch a library's stream as the user reads it.

A proxy hands out the wrapped stream's own chunks as they arrive (no buffering, no
read-ahead) and feeds each to an :class:`Accumulator`.
The event is recorded once, when the stream ends, fails, is closed (``close()``, leaving
``with``) or is garbage-collected unfinished. Every other attribute (``response``,
helpers) is the wrapped stream's, and ``isinstance(proxy, openai.Stream)`` still holds.

A proxy collected unfinished does not record from ``__del__``: a finalizer may run
while this very thread holds a lock that recording needs. It hands the work to one
daemon thread instead, started with the first stream.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from agentwatch.instrumentation._errors import internal_error

__all__ = ["Accumulator", "AsyncStreamProxy", "StreamProxy", "StreamedCall", "flush_finalizer"]


class StreamedCall(Protocol):
    """The call a stream belongs to (an ``LLMCall``): when output first came, and its end."""

    first_output: float | None

    def finish(self, exc: BaseException | None = None) -> None: ...


class Accumulator(Protocol):
    """Gathers a stream's chunks into the call's event (one per library, per stream)."""

    def add(self, item: Any) -> bool:
        """Take one chunk; True when it carries output (text or a tool call)."""

    def apply(self, call: Any) -> None:
        """Write what was gathered (model, completion, usage, stop reason) to ``call``."""


def finish_stream(call: StreamedCall, accumulator: Accumulator, exc: BaseException | None) -> None:
    try:
        accumulator.apply(call)
    except Exception:
        internal_error("reading the end of a stream")
    call.finish(exc)


class _ProxyBase:
    def __init__(self, wrapped: Any, call: StreamedCall, accumulator: Accumulator) -> None:
        self._aw_wrapped = wrapped
        self._aw_call = call
        self._aw_accumulator = accumulator
        self._aw_ended = False
        _finalizer.start()

    # So that isinstance(proxy, openai.Stream) holds, as for the object it stands for.
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._aw_wrapped)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_aw_"):  # not set yet (a failed __init__): no recursion
            raise AttributeError(name)
        return getattr(self._aw_wrapped, name)

    def __repr__(self) -> str:
        return repr(self._aw_wrapped)

    def _aw_observe(self, item: Any) -> None:
        try:
            call = self._aw_call
            if self._aw_accumulator.add(item) and call.first_output is None:
                call.first_output = time.perf_counter()
        except Exception:
            internal_error("reading a stream chunk")

    def _aw_end(self, exc: BaseException | None) -> None:
        if not self._aw_ended:
            self._aw_ended = True
            finish_stream(self._aw_call, self._aw_accumulator, exc)

    def __del__(self) -> None:
        if not getattr(self, "_aw_ended", True):
            self._aw_ended = True
            call, accumulator = self._aw_call, self._aw_accumulator
            _finalizer.defer(lambda: finish_stream(call, accumulator, None))


class StreamProxy(_ProxyBase):
    """A synchronous stream (``openai.Stream``, ``anthropic.Stream``, ``MessageStream``)."""

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            item = self._aw_wrapped.__next__()
        except StopIteration:
            self._aw_end(None)
            raise
        except BaseException as exc:
            self._aw_end(exc)
            raise
        self._aw_observe(item)
        return item

    def close(self) -> None:
        try:
            self._aw_wrapped.close()
        finally:
            self._aw_end(None)

    def __enter__(self) -> StreamProxy:
        self._aw_wrapped.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._aw_wrapped.__exit__(*exc_info)
        finally:
            self._aw_end(None)


class AsyncStreamProxy(_ProxyBase):
    """An asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``, ...)."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._aw_wrapped.__anext__()
        except StopAsyncIteration:
            self._aw_end(None)
            raise
        except BaseException as exc:
            self._aw_end(exc)
            raise
        self._aw_observe(item)
        return item

    async def close(self) -> None:
        try:
            await self._aw_wrapped.close()
        finally:
            self._aw_end(None)

    async def __aenter__(self) -> AsyncStreamProxy:
        await self._aw_wrapped.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._aw_wrapped.__aexit__(*exc_info)
        finally:
            self._aw_end(None)


class _Finalizer:
    """One daemon thread that records the events of streams collected unfinished."""

    def __init__(self) -> None:
        # SimpleQueue.put is safe to call from __del__ (documented as reentrant).
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name="agentwatch-stream-finalizer", daemon=True
                )
                thread.start()
                self._thread = thread

    def defer(self, work: Callable[[], None]) -> None:
        self._queue.put(work)

    def flush(self, timeout: float) -> bool:
        """Wait until the work deferred so far is done; False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                work()
            except Exception:
                internal_error("recording a stream collected unfinished")

    def _after_fork(self) -> None:
        self._thread = None
        self._lock = threading.Lock()


_finalizer = _Finalizer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_finalizer._after_fork)


def flush_finalizer(timeout: float = 5.0) -> bool:
    """Wait until streams collected unfinished so far have been recorded."""
    return _finalizer.flush(timeout)
