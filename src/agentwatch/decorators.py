"""Decorators that record a function call as an event: ``record_action``, ``record_tool``,
and ``track_agent`` for the agents that make them.

They work on sync and async functions. The call's arguments become ``params`` (by
parameter name, defaults applied, ``self``/``cls`` left out), its result ``returns``,
with timestamps around the call. If it raises, the event is recorded with an
``ErrorEvent`` linked to it, and the exception propagates unchanged.

The session is the one current in the calling context; a ``session=`` keyword that the
function itself does not declare picks one explicitly and is not passed on.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from agentwatch.events import ActionEvent, ErrorEvent, Event, ToolEvent, now_iso
from agentwatch.session.registry import registry
from agentwatch.session.session import Session

__all__ = ["record_action", "record_tool", "track_agent"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_SKIPPED_PARAMS = frozenset({"self", "cls"})


def record_action(event_name: str | None = None) -> Callable[[F], F]:
    """Record each call of the decorated function as an ``ActionEvent``."""

    def decorate(func: F) -> F:
        name = event_name or func.__name__
        return _wrap(func, lambda: ActionEvent(action_type=name))

    return decorate


def record_tool(tool_name: str | None = None) -> Callable[[F], F]:
    """Record each call of the decorated function as a ``ToolEvent``."""

    def decorate(func: F) -> F:
        name = tool_name or func.__name__
        return _wrap(func, lambda: ToolEvent(name=name))

    return decorate


def _wrap(func: F, make_event: Callable[[], Event]) -> F:
    signature = inspect.signature(func)
    takes_session = "session" in signature.parameters

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Event, Session | None]:
        session = None if takes_session else kwargs.pop("session", None)
        event = make_event()
        event.params = _params(signature, args, kwargs)
        return event, session

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            event, session = start(args, kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                _record_failure(session, event, exc)
                raise
            _record_success(session, event, result)
            return result

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        event, session = start(args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _record_failure(session, event, exc)
            raise
        _record_success(session, event, result)
        return result

    return cast(F, wrapper)


def _params(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        # The call itself is wrong; the function will raise. Keep what was passed.
        return {"args": list(args), "kwargs": dict(kwargs)}
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k not in _SKIPPED_PARAMS}


def _record_success(session: Session | None, event: Event, result: Any) -> None:
    event.returns = result
    event.end_timestamp = now_iso()
    screenshot = getattr(result, "screenshot", None)
    if isinstance(event, ActionEvent) and isinstance(screenshot, str):
        event.screenshot = screenshot
    _record(session, event)


def _record_failure(session: Session | None, event: Event, exc: BaseException) -> None:
    event.end_timestamp = now_iso()
    _record(session, event)
    _record(session, ErrorEvent(trigger_event=event, exception=exc))


def _record(session: Session | None, event: Event) -> None:
    target = session if session is not None else registry.current()
    if target is not None:
        target.record(event)


# -- agents ------------------------------------------------------------------------------


@overload
def track_agent(name: str | None = None) -> Callable[[T], T]: ...


@overload
def track_agent(name: type[T]) -> type[T]: ...


def track_agent(name: Any = None) -> Any:
    """Mark a class (or function) as an agent: events recorded while its code runs carry
    its ``agent_id``, and the agent is registered in the session that sees it first.

    On a class, each instance is an agent named ``agentwatch_name=`` (constructor
    keyword) > ``name`` > ``self.role`` > the class name. Usable bare (``@track_agent``)
    or called (``@track_agent("planner")``).
    """
    if isinstance(name, type):
        return _track_class(name, None)

    def decorate(target: Any) -> Any:
        if isinstance(target, type):
            return _track_class(target, name)
        return _track_function(target, name or target.__name__)

    return decorate


def _track_class(cls: type[T], name: str | None) -> type[T]:
    original_init = cls.__init__
    init_params = _init_params(original_init)

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        explicit = kwargs.pop("agentwatch_name", None)
        session = kwargs.pop("session", None) if "session" not in init_params else None
        original_init(self, *args, **kwargs)
        agent_name = explicit or name or getattr(self, "role", None) or cls.__name__
        self.agentwatch_agent_id = str(uuid.uuid4())
        self.agentwatch_agent_name = str(agent_name)
        registry.agent_names[self.agentwatch_agent_id] = self.agentwatch_agent_name
        target = session if isinstance(session, Session) else registry.current()
        if target is not None:
            target.create_agent(self.agentwatch_agent_name, self.agentwatch_agent_id)

    setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses assigning a method
    for attr, value in list(vars(cls).items()):
        if not attr.startswith("_") and inspect.isfunction(value):
            setattr(cls, attr, _as_agent(value, lambda self: self.agentwatch_agent_id))
    return cls


def _init_params(init: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(init).parameters)
    except (TypeError, ValueError):
        return set()


def _track_function(func: F, name: str) -> F:
    agent_id = str(uuid.uuid4())
    registry.agent_names[agent_id] = name
    wrapped = _as_agent(func, lambda *_: agent_id)
    wrapped.agentwatch_agent_id = agent_id  # type: ignore[attr-defined]
    wrapped.agentwatch_agent_name = name  # type: ignore[attr-defined]
    return wrapped


def _as_agent(func: F, agent_of: Callable[..., str | None]) -> F:
    """Run ``func`` with its agent current, so events recorded inside carry its id."""

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            token = registry.set_agent(_agent_for(agent_of, args))
            try:
                return await func(*args, **kwargs)
            finally:
                registry.reset_agent(token)

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = registry.set_agent(_agent_for(agent_of, args))
        try:
            return func(*args, **kwargs)
        finally:
            registry.reset_agent(token)

    return cast(F, wrapper)


def _agent_for(agent_of: Callable[..., str | None], args: tuple[Any, ...]) -> str | None:
    try:
        return agent_of(*args[:1])
    except AttributeError:
        return None
