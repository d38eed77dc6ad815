"""One instrumented LLM call, from the request to its recorded ``LLMEvent``.

The wrappers made here replace a library's ``create`` method. Around the original they
only build and record an event: no I/O, no change to the arguments the library sees
(bar ``session=``, which is ours), and the original's result or exception reaches the
caller unchanged. Failures of our own code are logged once and swallowed: the user's
call never fails because of agentwatch.

In the session tree, the call's event nests under the span open when the call was made
(taken then: a stream may end elsewhere), and while the library runs the call it is the
open span itself, so what is recorded meanwhile nests under it.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentwatch.events import ErrorEvent, LLMEvent, now_iso
from agentwatch.instrumentation import _genai, _tokens
from agentwatch.instrumentation._errors import internal_error
from agentwatch.instrumentation._stream import Accumulator, AsyncStreamProxy, StreamProxy
from agentwatch.session import Session, sessions

if TYPE_CHECKING:
    from agentwatch.session.registry import Scope

__all__ = ["Endpoint", "LLMCall", "async_wrapper", "begin", "messages_list", "sync_wrapper"]

logger = logging.getLogger("agentwatch")

ORIGINAL = "__agentwatch_original__"


@dataclass(frozen=True)
class Endpoint:
    """What the shared wrappers need to know about one library method."""

    system: str  # gen_ai.system: "openai", "anthropic"
    prompt: Callable[[dict[str, Any]], list[Any] | None]  # chat messages from the kwargs
    on_response: Callable[[LLMCall, Any], None]  # fill the event from a whole response
    accumulator: Callable[[], Accumulator]  # a fresh one per stream
    stream_types: tuple[type, ...] = ()  # the library's sync stream classes
    async_stream_types: tuple[type, ...] = ()


class LLMCall:
    """The event of one call under construction, and the session it goes to."""

    def __init__(self, endpoint: Endpoint, session: Session, kwargs: dict[str, Any]) -> None:
        self.endpoint = endpoint
        self.session = session
        self.capture_content = session.manager.config.capture_content
        self.registry = registry = session.manager.registry
        params = _genai.request_params(kwargs)
        self.prompt = endpoint.prompt(kwargs)
        self.event = LLMEvent(
            model=params.get("model"),
            params=params,
            # Taken now: a stream may end in another context (or the finalizer thread).
            agent_id=registry.current_agent(),
            parent_id=registry.parent_for(session.session_id),
            gen_ai=_genai.request_attributes(endpoint.system, params),
        )
        if registry.otel is not None:
            # An application's instrumentor traced this call already (its LLM span is
            # open here): that span is this event, so the event takes the span's place.
            adopted, parent_id = registry.otel.adopt_llm_span(
                str(self.event.id), session.session_id
            )
            if adopted:
                self.event.parent_id = parent_id
        self.completion: dict[str, Any] | None = None
        self.finish_reasons: list[str] = []
        self.response_id: str | None = None
        self.started = time.perf_counter()
        self.first_output: float | None = None
        self._done = False

    # -- filled by the provider modules ----------------------------------------------------

    def set_completion(
        self, text: str | None, tool_calls: list[dict[str, Any]], role: str = "assistant"
    ) -> None:
        completion: dict[str, Any] = {"role": role, "content": text}
        if tool_calls:
            completion["tool_calls"] = tool_calls
        self.completion = completion

    def set_usage(
        self, prompt_tokens: int | None, completion_tokens: int | None, cached: int | None
    ) -> None:
        event = self.event
        event.prompt_tokens = prompt_tokens
        event.completion_tokens = completion_tokens
        event.cached_tokens = cached

    # -- the end -----------------------------------------------------------------------------

    def returned(self, result: Any) -> Any:
        """Record a whole response, or wrap a stream so its end records the event."""
        endpoint = self.endpoint
        try:
            if isinstance(result, endpoint.stream_types):
                return StreamProxy(result, self, endpoint.accumulator())
            if isinstance(result, endpoint.async_stream_types):
                return AsyncStreamProxy(result, self, endpoint.accumulator())
            endpoint.on_response(self, result)
            self.finish()
        except Exception:
            internal_error("recording an LLM response")
        return result

    def open_span(self) -> contextvars.Token[Scope | None]:
        """Make the call the open span while the library runs it (see :meth:`close_span`)."""
        event = self.event
        return self.registry.open_span(
            event.id, self.session.session_id, agent_id=event.agent_id, llm=True
        )

    def close_span(self, token: contextvars.Token[Scope | None]) -> None:
        self.registry.close_span(token)

    def finish(self, exc: BaseException | None = None) -> None:
        """Record the event (and, given ``exc``, an ErrorEvent under it). Once only."""
        if self._done:
            return
        self._done = True
        try:
            event = self._complete_event(exc)
            self.session.record(event)
            if exc is not None:
                error = ErrorEvent(trigger_event=event, exception=exc, code=_status_code(exc))
                error.agent_id = event.agent_id
                self.session.record(error, parent=event)
        except Exception:
            internal_error("recording an LLM event")

    def _complete_event(self, exc: BaseException | None) -> LLMEvent:
        event = self.event
        now = time.perf_counter()
        event.end_timestamp = now_iso()
        event.latency = now - self.started
        if self.first_output is not None:
            event.time_to_first_token = self.first_output - self.started
        if self.finish_reasons:
            event.stop_reason = self.finish_reasons[0]
        if exc is None or self.first_output is not None:
            self._estimate_missing_tokens()
        prompt, completion = self.prompt, self.completion
        if not self.capture_content:
            prompt, completion = _genai.redact(prompt), _genai.redact(completion)
        event.prompt, event.completion = prompt, completion
        attributes = event.gen_ai if event.gen_ai is not None else {}
        _genai.response_attributes(
            attributes,
            model=event.model,
            response_id=self.response_id,
            finish_reasons=self.finish_reasons,
            input_tokens=event.prompt_tokens,
            output_tokens=event.completion_tokens,
        )
        if exc is not None:
            attributes["error.type"] = type(exc).__name__
            event.status = "error"
        return event

    def _estimate_missing_tokens(self) -> None:
        event = self.event
        if event.prompt_tokens is None and self.prompt is not None:
            event.prompt_tokens = _tokens.estimate_messages(self.prompt)
            event.tokens_estimated = True
        if event.completion_tokens is None and self.completion is not None:
            event.completion_tokens = _tokens.estimate_completion(self.completion)
            event.tokens_estimated = True


def _status_code(exc: BaseException) -> str | None:
    status = getattr(exc, "status_code", None)
    return str(status) if isinstance(status, int) else None


# -- wrappers --------------------------------------------------------------------------------

_no_session_logged = False
# Set while a recorded call runs: a library method calling another patched one (a helper
# built on ``create``, say) must not record the call twice.
_recording: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "agentwatch_recording_llm_call", default=False
)


def begin(endpoint: Endpoint, kwargs: dict[str, Any]) -> LLMCall | None:
    """The call to record, or None when there is no running session to record it in.

    Pops our ``session=`` keyword (never passed to the provider) from ``kwargs``.
    """
    global _no_session_logged
    explicit = kwargs.pop("session", None)
    if _recording.get():
        return None
    try:
        session = explicit if isinstance(explicit, Session) else sessions.current()
        if session is None:
            if not _no_session_logged:
                _no_session_logged = True
                logger.debug("LLM call made with no current session: not recorded")
            return None
        if not session.is_running or not session.manager.config.instrument_llm_calls:
            return None
        return LLMCall(endpoint, session, kwargs)
    except Exception:
        internal_error("starting to record an LLM call")
        return None


def sync_wrapper(original: Callable[..., Any], endpoint: Endpoint) -> Callable[..., Any]:
    """``original`` (a library method) recording each call in the current session."""

    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = begin(endpoint, kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        token, span = _recording.set(True), call.open_span()
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            call.finish(exc)
            raise
        finally:
            call.close_span(span)
            _recording.reset(token)
        return call.returned(result)

    setattr(create, ORIGINAL, original)
    return create


def async_wrapper(original: Callable[..., Any], endpoint: Endpoint) -> Callable[..., Any]:
    """As :func:`sync_wrapper`, for a coroutine method."""

    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = begin(endpoint, kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        token, span = _recording.set(True), call.open_span()
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            call.finish(exc)
            raise
        finally:
            call.close_span(span)
            _recording.reset(token)
        return call.returned(result)

    setattr(create, ORIGINAL, original)
    return create


def messages_list(kwargs: dict[str, Any], key: str) -> list[Any] | None:
    """``kwargs[key]`` as a list of plain messages; a one-shot iterable given by the user is
    turned into a list first (and passed on as that list) so that reading it here does not
    empty it for the library."""
    value = kwargs.get(key)
    if value is None or not _genai.given(value):
        return None
    if isinstance(value, str | Mapping):
        return [value]
    if not isinstance(value, list | tuple):
        value = kwargs[key] = list(value)
    return [_genai.as_plain(m) for m in value]
