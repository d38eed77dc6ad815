"""The events a session records, with the field names of the v2 wire protocol.

``Event`` and its subclasses are plain dataclasses: building one does no I/O and no
stack inspection. ``to_wire`` turns one into the JSON object that ``create_events``
carries (PROTOCOL.md, "Events"), including the aliases older servers read
(``name`` beside ``action_type``, ``tool_name`` beside ``name``).
"""

from __future__ import annotations

import enum
import os
import random
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "ActionEvent",
    "AgentEvent",
    "EndState",
    "ErrorEvent",
    "Event",
    "EventKind",
    "EventType",
    "LLMEvent",
    "Parent",
    "ToolEvent",
    "new_id",
    "now_iso",
    "parent_id_of",
]


class EventType(str, enum.Enum):
    """The ``event_type`` values of the protocol."""

    LLM = "llms"
    ACTION = "actions"
    API = "apis"
    TOOL = "tools"
    ERROR = "errors"
    AGENT = "agents"  # the span of a tracked agent, which its methods' events nest under


class EventKind(str, enum.Enum):
    """What a node of the session tree is (``kind`` on the wire).

    Without one, the server derives it from ``event_type`` (llms → llm, tools → tool,
    actions → action, errors → error, anything else → other).
    """

    LLM = "llm"
    TOOL = "tool"
    ACTION = "action"
    AGENT = "agent"
    CHAIN = "chain"
    RETRIEVAL = "retrieval"
    EMBEDDING = "embedding"
    ERROR = "error"
    OTHER = "other"

    @classmethod
    def parse(cls, value: str | EventKind) -> EventKind:
        """The member for ``value``; raises ``ValueError`` naming the accepted values."""
        if isinstance(value, EventKind):
            return value
        if isinstance(value, str):
            for member in cls:
                if value.lower() == member.value:
                    return member
        accepted = ", ".join(m.value for m in cls)
        raise ValueError(f"kind={value!r} is not valid; accepted: {accepted}")


class EndState(str, enum.Enum):
    """How a session ended."""

    SUCCESS = "Success"
    FAIL = "Fail"
    INDETERMINATE = "Indeterminate"

    @classmethod
    def parse(cls, value: str | EndState) -> EndState:
        """The member for ``value``; raises ``ValueError`` naming the accepted values."""
        if isinstance(value, EndState):
            return value
        for member in cls:
            if isinstance(value, str) and value.lower() == member.value.lower():
                return member
        accepted = ", ".join(m.value for m in cls)
        raise ValueError(f"end_state={value!r} is not valid; accepted: {accepted}")


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with offset."""
    return datetime.now(timezone.utc).isoformat()


# A private generator: an application calling random.seed() must not make our ids repeat
# (the server keeps the first event of an id and ignores the rest). Reseeded in a forked
# child so parent and child do not produce the same sequence.
_id_random = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_id_random.seed)
_RAND_B_BITS = 62
_RAND_B_MASK = (1 << _RAND_B_BITS) - 1


def new_id() -> uuid.UUID:
    """A new event id: a time-ordered UUID, version 7 (RFC 9562).

    48 bits of Unix milliseconds, then 74 random bits. Ordered by time, ids land at the
    end of the server's primary-key index instead of anywhere in it. And unlike
    ``uuid4``, which reads ``os.urandom`` (a system call that releases the GIL, so every
    event built let the export thread or another recording thread cut in), it stays in
    the interpreter.
    """
    millis = time.time_ns() // 1_000_000
    rand = _id_random.getrandbits(74)
    return uuid.UUID(
        int=(millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (rand >> _RAND_B_BITS) << 64
        | 0b10 << 62
        | (rand & _RAND_B_MASK)
    )


@dataclass
class Event:
    """Base of every event.

    ``params`` and ``returns`` take any value; values that are not JSON are encoded
    faithfully (see :mod:`agentwatch.encoding`). ``end_timestamp`` is set when the
    event is recorded if left ``None``. ``agent_id`` defaults to the agent whose
    method is running (:func:`agentwatch.track_agent`) when recorded.
    """

    event_type: str
    params: Any = None
    returns: Any = None
    init_timestamp: str = field(default_factory=now_iso)
    end_timestamp: str | None = None
    agent_id: str | None = None
    id: uuid.UUID = field(default_factory=new_id)
    session_id: str | None = None
    # The tree (wire extension): keyword-only, so positional construction is unchanged.
    parent_id: str | uuid.UUID | None = field(default=None, kw_only=True)
    kind: str | None = field(default=None, kw_only=True)
    name: str | None = field(default=None, kw_only=True)
    status: str | None = field(default=None, kw_only=True)

    def _wire_extra(self, wire: dict[str, Any]) -> None:
        """Adjust the wire mapping for this event type (aliases, derived fields)."""


@dataclass
class ActionEvent(Event):
    """Something the agent did: a step, a plan, a function call."""

    event_type: str = EventType.ACTION.value
    action_type: str | None = None
    logs: Any = None
    screenshot: str | None = None

    def _wire_extra(self, wire: dict[str, Any]) -> None:
        if self.name is None:
            wire["name"] = self.action_type


@dataclass
class ToolEvent(Event):
    """A tool the agent called (search, code execution, an API).

    ``tool_call_id`` is the id of the model's tool call it answers, where there is one
    (exported as ``gen_ai.tool.call.id``).
    """

    event_type: str = EventType.TOOL.value
    name: str | None = None
    logs: Any = None
    tool_call_id: str | None = None

    def _wire_extra(self, wire: dict[str, Any]) -> None:
        wire["tool_name"] = self.name


@dataclass
class LLMEvent(Event):
    """One call to a language model.

    ``prompt`` is a string or a list of chat messages; ``completion`` a string or a
    message dict. ``cached_tokens`` counts the prompt tokens served from the provider's
    cache (included in ``prompt_tokens``). Leave ``cost`` as ``None`` to let the server
    price the call from its model price table.

    Set by the automatic instrumentation (and free for hand-made events): ``stop_reason``
    (the provider's finish/stop reason), ``latency`` and ``time_to_first_token`` (seconds
    from sending the request to its end / to the first output chunk of a stream),
    ``tokens_estimated`` (token counts were approximated because the provider sent none)
    and ``gen_ai`` (OpenTelemetry GenAI semantic-convention attributes of the call,
    e.g. ``gen_ai.system``, ``gen_ai.usage.input_tokens``).
    """

    event_type: str = EventType.LLM.value
    thread_id: str | None = None
    prompt: Any = None
    prompt_tokens: int | None = None
    completion: Any = None
    completion_tokens: int | None = None
    cost: float | None = None
    model: str | None = None
    cached_tokens: int | None = None
    stop_reason: str | None = None
    latency: float | None = None
    time_to_first_token: float | None = None
    tokens_estimated: bool = False
    gen_ai: dict[str, Any] | None = None


@dataclass
class ErrorEvent(Event):
    """An error, usually raised while another event ran.

    Given ``exception``, the type, message and traceback are taken from it. Given
    ``trigger_event``, its id and type are kept (``trigger_event_id``,
    ``trigger_event_type``) so the server links the error to what caused it.
    """

    event_type: str = EventType.ERROR.value
    status: str | None = field(default="error", kw_only=True)
    trigger_event: Event | None = None
    exception: BaseException | None = None
    error_type: str | None = None
    code: str | None = None
    details: Any = None
    logs: str | None = None
    trigger_event_id: str | None = None
    trigger_event_type: str | None = None

    def __post_init__(self) -> None:
        exc = self.exception
        if exc is not None:
            self.error_type = self.error_type or type(exc).__name__
            self.details = self.details if self.details is not None else str(exc)
            if self.logs is None:
                self.logs = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        trigger = self.trigger_event
        if trigger is not None:
            self.trigger_event_id = str(trigger.id)
            self.trigger_event_type = trigger.event_type

    def _wire_extra(self, wire: dict[str, Any]) -> None:
        del wire["trigger_event"], wire["exception"]
        wire["error_type"] = self.error_type or "Error"
        # Servers before 0.3.24-era SDKs read ``timestamp`` for errors.
        wire["timestamp"] = self.init_timestamp


@dataclass
class AgentEvent(Event):
    """The span of one agent (:func:`agentwatch.track_agent`) in one session.

    Its id is the agent's span id, which the events recorded while the agent's methods
    run name as their parent; ``agent_id`` is the agent's id. Recorded when the
    session ends, after its children: the server does not mind the order.
    """

    event_type: str = EventType.AGENT.value
    kind: str | None = field(default=EventKind.AGENT.value, kw_only=True)


# Tree fields sent only when set: the server reads an absent one as null.
_OPTIONAL = ("parent_id", "kind", "name", "status")


def to_wire(event: Event, session_id: str) -> dict[str, Any]:
    """The JSON object ``create_events`` carries for ``event`` in ``session_id``."""
    wire = event.__dict__.copy()
    wire["id"] = str(event.id)
    wire["session_id"] = session_id
    for key in _OPTIONAL:
        if wire[key] is None:
            del wire[key]
    event._wire_extra(wire)
    return wire


Parent = Event | str | uuid.UUID
"""What ``parent=`` accepts: the parent event itself, or its id."""


def parent_id_of(parent: Parent) -> str | uuid.UUID:
    """The id ``parent`` names; raises ``TypeError`` for anything else."""
    if isinstance(parent, Event):
        return parent.id
    if isinstance(parent, str | uuid.UUID):
        return parent
    raise TypeError(
        f"parent={parent!r} is not valid; accepted: an Event, or an event id (str or UUID)"
    )
