"""record_action / record_tool / track_agent on sync and async code, against the real server."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentwatch import Client, Session, record_action, record_tool, track_agent
from agentwatch.server.testing import TestServer
from agentwatch.session.spans import CallParams


@record_action()
def plan(city: str, days: int = 3) -> tuple[str, int]:
    return city, days


@record_tool("search")
async def search(query: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"query": query, "hits": 2}


@record_tool()
def flaky(x: int) -> int:
    raise RuntimeError(f"flaky failed on {x}")


@record_action("explicit")
def explicit_target(value: int) -> int:
    return value + 1


def test_sync_and_async_calls_are_recorded(server: TestServer, client: Client) -> None:
    session = client.start_session()
    assert plan("Rome") == ("Rome", 3)
    assert asyncio.run(search("flights")) == {"query": "flights", "hits": 2}
    session.end_session("Success")

    events = {e["event_type"]: e for e in server.session(session.session_id)["events"]}
    action, tool = events["actions"], events["tools"]
    assert action["action_type"] == "plan"
    assert action["params"] == {"city": "Rome", "days": 3}
    assert action["returns"] == ["Rome", 3]
    assert action["init_timestamp"] <= action["end_timestamp"]
    assert tool["name"] == "search"
    assert tool["params"] == {"query": "flights"}
    assert tool["returns"] == {"query": "flights", "hits": 2}


def test_failure_records_a_linked_error_and_reraises(server: TestServer, client: Client) -> None:
    session = client.start_session()
    with pytest.raises(RuntimeError, match="flaky failed on 7"):
        flaky(7)
    session.end_session("Fail")

    stored = server.session(session.session_id)
    [tool] = [e for e in stored["events"] if e["event_type"] == "tools"]
    [error] = [e for e in stored["events"] if e["event_type"] == "errors"]
    assert tool["name"] == "flaky"
    assert tool["params"] == {"x": 7}
    assert error["trigger_event_id"] == tool["id"]
    assert error["trigger_event_type"] == "tools"
    assert error["error_type"] == "RuntimeError"
    assert "flaky failed on 7" in error["logs"]


def test_session_keyword_picks_the_session(server: TestServer, client: Client) -> None:
    first = client.start_session(tags=["first"])
    second = client.start_session(tags=["second"])  # now current in this context
    assert explicit_target(1, session=first) == 2  # type: ignore[call-arg]
    first.end_session("Success")
    second.end_session("Success")
    assert len(server.session(first.session_id)["events"]) == 1
    assert server.session(second.session_id)["events"] == []


@track_agent("planner")
class Planner:
    def __init__(self, goal: str) -> None:
        self.goal = goal

    def run(self) -> tuple[str, int]:
        return plan(self.goal, days=2)


@track_agent
class Researcher:
    role = "researcher"

    async def research(self) -> dict[str, Any]:
        return await search("papers")


def test_track_agent_names_events_and_registers_agents(server: TestServer, client: Client) -> None:
    session: Session = client.start_session()
    planner = Planner("Oslo")
    researcher = Researcher()
    planner.run()
    asyncio.run(researcher.research())
    plan("outside any agent")
    session.end_session("Success")

    stored = server.session(session.session_id)
    agents = {a["id"]: a["name"] for a in stored["agents"]}
    assert agents == {
        planner.agentwatch_agent_id: "planner",  # type: ignore[attr-defined]
        researcher.agentwatch_agent_id: "researcher",  # type: ignore[attr-defined]
    }
    by_agent = {(e["agent_id"], e["event_type"]) for e in stored["events"]}
    assert by_agent == {
        (planner.agentwatch_agent_id, "actions"),  # type: ignore[attr-defined]
        (planner.agentwatch_agent_id, "agents"),  # type: ignore[attr-defined]
        (researcher.agentwatch_agent_id, "tools"),  # type: ignore[attr-defined]
        (researcher.agentwatch_agent_id, "agents"),  # type: ignore[attr-defined]
        (None, "actions"),
    }


def test_agent_names_are_bounded() -> None:
    from agentwatch.session import sessions

    limit = 10_000  # _Bounded.limit
    for _ in range(limit + 50):
        Planner("x")
    assert len(sessions.agents) <= limit


# -- the arguments as params: the fast path gives what Signature.bind gives -------------------


def _plain(a: int, b: str = "b", *, c: float = 1.5, d: Any = None) -> None: ...


def _method(self: Any, x: int, y: int = 2) -> None: ...


def _star(a: int, *rest: int, key: str = "k", **extra: Any) -> None: ...


def _required_kw(a: int, *, must: str) -> None: ...


def _by_bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    signature = inspect.signature(func)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": dict(kwargs)}
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k not in {"self", "cls"}}


_NAMES = st.sampled_from(["a", "b", "c", "d", "x", "y", "self", "key", "must", "zz"])


@given(
    func=st.sampled_from([_plain, _method, _star, _required_kw]),
    args=st.lists(st.integers(), max_size=5).map(tuple),
    kwargs=st.dictionaries(_NAMES, st.integers(), max_size=4),
)
def test_params_are_what_signature_bind_gives(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    fast = CallParams(inspect.signature(func)).of(args, dict(kwargs))
    slow = _by_bind(func, args, kwargs)
    assert list(fast.items()) == list(slow.items())  # the same, in the same order
