"""Decorators that record a function call as an event: ``record_action``, ``record_tool``,
and ``track_agent`` for the agents that make them.

They work on sync and async functions. The call's arguments become ``params`` (by
parameter name, defaults applied, ``self``/``cls`` left out), its result ``returns``,
with timestamps around the call. While it runs, the call is the open span: events
recorded inside (other decorated calls, LLM calls) nest under it. If it raises, the
event is recorded with an ``ErrorEvent`` under it (linked as its trigger), and the
exception propagates unchanged.

The session is the one current in the calling context when the call starts; a
``session=`` keyword that the function itself does not declare picks one explicitly and
is not passed on.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from agentwatch.events import ActionEvent, ToolEvent, new_id
from agentwatch.session import Session, sessions
from agentwatch.session.registry import AgentInfo
from agentwatch.session.spans import wrap_calls

__all__ = ["record_action", "record_tool", "track_agent"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# (agent id, agent span id) of the agent a method runs for; None where unknown.
AgentOf = Callable[..., tuple[str, uuid.UUID] | None]


def record_action(event_name: str | None = None) -> Callable[[F], F]:
    """Record each call of the decorated function as an ``ActionEvent``."""

    def decorate(func: F) -> F:
        name = event_name or func.__name__
        return wrap_calls(func, lambda: ActionEvent(action_type=name), sessions)

    return decorate


def record_tool(tool_name: str | None = None) -> Callable[[F], F]:
    """Record each call of the decorated function as a ``ToolEvent``."""

    def decorate(func: F) -> F:
        name = tool_name or func.__name__
        return wrap_calls(func, lambda: ToolEvent(name=name), sessions)

    return decorate


# -- agents ------------------------------------------------------------------------------


@overload
def track_agent(name: str | None = None) -> Callable[[T], T]: ...


@overload
def track_agent(name: type[T]) -> type[T]: ...


def track_agent(name: Any = None) -> Any:
    """Mark a class (or function) as an agent: events recorded while its code runs carry
    its ``agent_id`` and nest under its span, and the agent is registered in each
    session that sees it (its span recorded there when the session ends).

    On a class, each instance is an agent named ``agentwatch_name=`` (constructor
    keyword) > ``name`` > ``self.role`` > the class name. Usable bare (``@track_agent``)
    or called (``@track_agent("planner")``). The agent span nests under the span open
    where the agent was created (an application's captured OpenTelemetry span included).
    """
    if isinstance(name, type):
        return _track_class(name, None)

    def decorate(target: Any) -> Any:
        if isinstance(target, type):
            return _track_class(target, name)
        return _track_function(target, name or target.__name__)

    return decorate


def _new_agent(name: str) -> tuple[str, uuid.UUID]:
    """A new agent id and span id, remembered (with where it was made) in the registry."""
    agent_id, span_id = str(uuid.uuid4()), new_id()
    sessions.agents[agent_id] = AgentInfo(name, span_id, sessions.origin())
    return agent_id, span_id


def _track_class(cls: type[T], name: str | None) -> type[T]:
    original_init = cls.__init__
    init_params = _init_params(original_init)

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        explicit = kwargs.pop("agentwatch_name", None)
        session = kwargs.pop("session", None) if "session" not in init_params else None
        original_init(self, *args, **kwargs)
        agent_name = str(explicit or name or getattr(self, "role", None) or cls.__name__)
        self.agentwatch_agent_id, self.agentwatch_span_id = _new_agent(agent_name)
        self.agentwatch_agent_name = agent_name
        target = session if isinstance(session, Session) else sessions.current()
        if target is not None:
            target.create_agent(agent_name, self.agentwatch_agent_id)

    setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses assigning a method
    for attr, value in list(vars(cls).items()):
        if not attr.startswith("_") and inspect.isfunction(value):
            setattr(cls, attr, _as_agent(value, _instance_agent))
    return cls


def _instance_agent(self: Any = None, *_: Any) -> tuple[str, uuid.UUID] | None:
    try:
        return self.agentwatch_agent_id, self.agentwatch_span_id
    except AttributeError:  # a method called before __init__ ran, or on the class
        return None


def _init_params(init: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(init).parameters)
    except (TypeError, ValueError):
        return set()


def _track_function(func: F, name: str) -> F:
    agent = _new_agent(name)
    wrapped = _as_agent(func, lambda *_: agent)
    wrapped.agentwatch_agent_id = agent[0]  # type: ignore[attr-defined]
    wrapped.agentwatch_span_id = agent[1]  # type: ignore[attr-defined]
    wrapped.agentwatch_agent_name = name  # type: ignore[attr-defined]
    return wrapped


def _as_agent(func: F, agent_of: AgentOf) -> F:
    """Run ``func`` inside its agent's span, so events recorded there carry the agent's
    id and nest under its span (in whichever session records them)."""

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            agent = agent_of(*args[:1])
            if agent is None:
                return await func(*args, **kwargs)
            token = sessions.open_span(agent[1], None, agent_id=agent[0])
            try:
                return await func(*args, **kwargs)
            finally:
                sessions.close_span(token)

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        agent = agent_of(*args[:1])
        if agent is None:
            return func(*args, **kwargs)
        token = sessions.open_span(agent[1], None, agent_id=agent[0])
        try:
            return func(*args, **kwargs)
        finally:
            sessions.close_span(token)

    return cast(F, wrapper)
