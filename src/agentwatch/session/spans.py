"""Spans of the session tree while their code runs: ``session.span()`` blocks and
decorated calls.

Opening a span builds its event, gives it its parent (the span open around it, unless
one is given) and makes it the open span of the running context; closing it pops it,
sets its end time and records it. Events recorded in between nest under it. If the
block raises, the event is recorded with an ``ErrorEvent`` under it (linked as its
trigger) and the exception propagates unchanged.

A span is recorded when it ends, so after its children: the server does not mind.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

from agentwatch.events import (
    ActionEvent,
    ErrorEvent,
    Event,
    EventKind,
    LLMEvent,
    Parent,
    ToolEvent,
    now_iso,
    parent_id_of,
)
from agentwatch.session.registry import Registry, Scope

__all__ = [
    "CallParams",
    "OpenSpan",
    "Recorder",
    "SpanBlock",
    "event_for_kind",
    "span_of_kind",
    "wrap_calls",
]

F = TypeVar("F", bound=Callable[..., Any])

_SKIPPED_PARAMS = frozenset({"self", "cls"})


class Recorder(Protocol):
    """What a span records into (a :class:`~agentwatch.Session`)."""

    @property
    def session_id(self) -> str: ...

    def record(self, event: Event, *, parent: Parent | None = None) -> None: ...


def event_for_kind(name: str, kind: str | EventKind) -> Event:
    """The event a ``span(name, kind=...)`` block records: an LLM or tool event when the
    kind says so, else an action (its kind kept). Raises ``ValueError`` for a bad kind."""
    member = EventKind.parse(kind)
    if member is EventKind.LLM:
        return LLMEvent(name=name, kind=member.value)
    if member is EventKind.TOOL:
        return ToolEvent(name=name, kind=member.value)
    return ActionEvent(action_type=name, kind=member.value)


def span_of_kind(
    name: str,
    kind: str | EventKind,
    registry: Registry[Any],
    session: Recorder | None = None,
    parent: Parent | None = None,
) -> SpanBlock:
    """The block of a ``span(name, kind=...)`` call; the kind is checked now, at the call."""
    EventKind.parse(kind)
    return SpanBlock(lambda: event_for_kind(name, kind), registry, session, parent)


class OpenSpan:
    """One span between its opening and its closing. Not reusable."""

    __slots__ = ("event", "registry", "session", "token")

    def __init__(
        self,
        event: Event,
        registry: Registry[Any],
        session: Recorder | None,
        parent: Parent | None = None,
    ) -> None:
        """Open the span of ``event`` in ``session`` (None: the one current now, if any)."""
        if session is None:
            session = registry.current()
        self.event = event
        self.registry = registry
        self.session: Recorder | None = session
        session_id = None if session is None else session.session_id
        if parent is not None:
            event.parent_id = parent_id_of(parent)
        elif event.parent_id is None and session_id is not None:
            event.parent_id = registry.parent_for(session_id)
        if event.agent_id is None:
            event.agent_id = registry.current_agent()
        self.token: contextvars.Token[Scope | None] = registry.open_span(
            event.id, session_id, agent_id=event.agent_id
        )

    def close(self, exc: BaseException | None = None) -> None:
        """Pop the span and record it (with an ``ErrorEvent`` under it, given ``exc``).

        Must run in the context that opened it (the same thread or task).
        """
        self.registry.close_span(self.token)
        event = self.event
        event.end_timestamp = now_iso()
        session = self.session if self.session is not None else self.registry.current()
        if session is None:
            return
        if exc is not None:
            event.status = "error"
        session.record(event)
        if exc is not None:
            error = ErrorEvent(trigger_event=event, exception=exc, agent_id=event.agent_id)
            session.record(error, parent=event)


class SpanBlock:
    """``with`` / ``async with`` block, or decorator, recorded as one span.

    As a context manager it yields the event under construction (set its ``returns``,
    tokens, ...); as a decorator each call is one span, with its arguments as
    ``params`` and its result as ``returns``. The session is the one given, else the
    one current when the block is entered. One block object may be entered again once
    left, or nested in itself, but not by two threads or tasks at once (make one each).
    """

    __slots__ = ("_make_event", "_open", "_parent", "_registry", "_session")

    def __init__(
        self,
        make_event: Callable[[], Event],
        registry: Registry[Any],
        session: Recorder | None = None,
        parent: Parent | None = None,
    ) -> None:
        self._make_event = make_event
        self._registry = registry
        self._session = session
        self._parent = parent
        self._open: list[OpenSpan] = []  # a stack: the same block may be entered nested

    def __enter__(self) -> Event:
        span = OpenSpan(self._make_event(), self._registry, self._session, self._parent)
        self._open.append(span)
        return span.event

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open.pop().close(exc)

    async def __aenter__(self) -> Event:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        return wrap_calls(func, self._make_event, self._registry, self._session)


def wrap_calls(
    func: F,
    make_event: Callable[[], Event],
    registry: Registry[Any],
    session: Recorder | None = None,
) -> F:
    """``func`` (sync or async) with each call recorded as the span of a fresh event.

    A ``session=`` keyword that ``func`` does not declare picks the session for that call
    and is not passed on.
    """
    signature = inspect.signature(func)
    takes_session = "session" in signature.parameters
    params = CallParams(signature)

    def open_for(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpenSpan:
        explicit = None if takes_session else kwargs.pop("session", None)
        event = make_event()
        event.params = params.of(args, kwargs)
        return OpenSpan(event, registry, explicit if explicit is not None else session)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_for(args, kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                span.close(exc)
                raise
            _returned(span, result)
            return result

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = open_for(args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            span.close(exc)
            raise
        _returned(span, result)
        return result

    return cast(F, wrapper)


def _returned(span: OpenSpan, result: Any) -> None:
    event = span.event
    event.returns = result
    screenshot = getattr(result, "screenshot", None)
    if isinstance(event, ActionEvent) and isinstance(screenshot, str):
        event.screenshot = screenshot
    span.close()


class CallParams:
    """A call's arguments by parameter name, defaults applied, ``self``/``cls`` left out.

    ``Signature.bind`` is a third of a decorated call's cost; for the usual signature
    (named parameters only, no ``*args``/``**kwargs``) a precomputed mapping gives the
    same result, and any call it does not cover takes ``bind``.
    """

    __slots__ = ("_defaults", "_fast", "_known", "_names", "_positional", "_signature")

    def __init__(self, signature: inspect.Signature) -> None:
        self._signature = signature
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        values = list(signature.parameters.values())
        self._fast = all(p.kind in named for p in values)
        self._names = [p.name for p in values]
        self._known = frozenset(self._names)
        self._positional = [
            p.name for p in values if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        self._defaults = {p.name: p.default for p in values if p.default is not p.empty}

    def of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._fast and len(args) <= len(self._positional):
            given = dict(zip(self._positional, args, strict=False))  # fewer args than names
            given.update(kwargs)
            # Shorter: a keyword repeats a positional argument; unknown names: bind() says.
            if len(given) == len(args) + len(kwargs) and given.keys() <= self._known:
                found = self._fill(given)
                if found is not None:
                    return found
        return self._bound(args, kwargs)

    def _fill(self, given: dict[str, Any]) -> dict[str, Any] | None:
        """In signature order, with defaults; None if a required argument is missing."""
        params: dict[str, Any] = {}
        for name in self._names:
            if name in given:
                value = given[name]
            elif name in self._defaults:
                value = self._defaults[name]
            else:
                return None  # the call is wrong: bind() says how
            if name not in _SKIPPED_PARAMS:
                params[name] = value
        return params

    def _bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError:
            # The call itself is wrong; the function will raise. Keep what was passed.
            return {"args": list(args), "kwargs": dict(kwargs)}
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in _SKIPPED_PARAMS}
