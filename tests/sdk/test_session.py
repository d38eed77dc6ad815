"""The session core end to end against the real server (in-process): what was stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from agentwatch import (
    ActionEvent,
    Client,
    EndState,
    ErrorEvent,
    LLMEvent,
    SessionStateError,
    ToolEvent,
)
from agentwatch.server.testing import TestServer


def _events_by_type(stored: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    return [e for e in stored["events"] if e["event_type"] == event_type]


def test_usage_example_from_the_seed(server: TestServer, client: Client) -> None:
    session = client.start_session(tags=["test"])
    session.record(ActionEvent(action_type="plan", params={"goal": "trip"}, returns=["a", "b"]))
    session.add_tags(["new_tag"])
    cost = session.end_session(end_state="Success")

    assert cost == Decimal(0)
    stored = server.session(session.session_id)
    assert stored["session"]["end_state"] == "Success"
    assert stored["session"]["tags"] == ["test", "new_tag"]
    assert stored["session"]["end_timestamp"] is not None
    [action] = stored["events"]
    assert action["event_type"] == "actions"
    assert action["action_type"] == "plan"
    assert action["params"] == {"goal": "trip"}
    assert action["returns"] == ["a", "b"]
    assert client.dropped == {}


def test_every_event_type_and_field_is_stored(server: TestServer, client: Client) -> None:
    session = client.start_session()
    llm = LLMEvent(
        model="gpt-4o-mini",
        prompt=[{"role": "user", "content": "hi"}],
        completion={"role": "assistant", "content": "Hello!"},
        prompt_tokens=1_000_000,
        completion_tokens=1_000_000,
        params={"temperature": 0.2},
    )
    tool = ToolEvent(name="search", params={"q": "rome"}, returns={"hits": 3}, logs="ok")
    session.record(llm)
    session.record(tool)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        error = ErrorEvent(trigger_event=tool, exception=exc, code="E1")
    session.record(error)
    cost = session.end_session("Fail", "tool failed")

    stored = server.session(session.session_id)
    assert stored["session"]["end_state"] == "Fail"
    assert stored["session"]["end_state_reason"] == "tool failed"
    [s_llm] = _events_by_type(stored, "llms")
    assert s_llm["id"] == str(llm.id)
    assert s_llm["model"] == "gpt-4o-mini"
    assert s_llm["prompt"] == [{"role": "user", "content": "hi"}]
    assert s_llm["completion"] == {"role": "assistant", "content": "Hello!"}
    assert s_llm["prompt_tokens"] == 1_000_000
    assert s_llm["completion_tokens"] == 1_000_000
    assert s_llm["params"] == {"temperature": 0.2}
    # Priced by the server from its table: the returned token cost is the LLM's cost.
    assert cost is not None
    assert cost > 0
    assert Decimal(str(s_llm["cost"])) == cost
    [s_tool] = _events_by_type(stored, "tools")
    assert s_tool["name"] == "search"
    assert s_tool["returns"] == {"hits": 3}
    [s_err] = _events_by_type(stored, "errors")
    assert s_err["error_type"] == "ValueError"
    assert s_err["details"] == "boom"
    assert s_err["code"] == "E1"
    assert "Traceback" in s_err["logs"]
    assert "ValueError: boom" in s_err["logs"]
    assert s_err["trigger_event_id"] == str(tool.id)
    assert s_err["trigger_event_type"] == "tools"


class _Model(pydantic.BaseModel):
    name: str
    when: dt.datetime


@dataclasses.dataclass
class _Point:
    x: int
    y: int


class _HasToDict:
    def to_dict(self) -> dict[str, Any]:
        return {"kind": "custom"}


def test_values_that_are_not_json_are_kept_faithfully(server: TestServer, client: Client) -> None:
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    session = client.start_session()
    session.record(
        ActionEvent(
            action_type="weird",
            params={"model": _Model(name="m", when=when), "point": _Point(1, 2), "id": ident},
            returns={"obj": _HasToDict(), "set": {3}, "big": 2**80, "dec": Decimal("1.5")},
        )
    )
    session.end_session("Success")
    [event] = server.session(session.session_id)["events"]
    assert event["params"] == {
        "model": {"name": "m", "when": "2025-01-02T03:04:05Z"},
        "point": {"x": 1, "y": 2},
        "id": str(ident),
    }
    assert event["returns"] == {
        "obj": {"kind": "custom"},
        "set": [3],
        "big": str(2**80),
        "dec": "1.5",
    }


def test_set_tags_replaces_and_default_tags_are_kept(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    client = make_client(default_tags=["prod"])
    session = client.start_session(tags=["a", "prod"])
    assert session.tags == ["prod", "a"]
    session.set_tags(["x", "y", "x"])
    session.end_session(EndState.SUCCESS)
    assert server.session(session.session_id)["session"]["tags"] == ["x", "y"]


def test_ended_session_refuses_tags_and_drops_events_visibly(client: Client) -> None:
    session = client.start_session()
    assert session.end_session("Success") is not None
    with pytest.raises(SessionStateError, match="has ended"):
        session.add_tags(["late"])
    session.record(ActionEvent(action_type="late"))
    assert client.dropped == {"session_ended": 1}
    # Ending again is a no-op returning the known cost.
    assert session.end_session("Fail") == session.token_cost
    assert session.end_state == "Success"


def test_invalid_end_state_is_a_clear_error(client: Client) -> None:
    session = client.start_session()
    with pytest.raises(ValueError, match="accepted: Success, Fail, Indeterminate"):
        session.end_session("Done")
    assert session.is_running


def test_analytics_and_counts(server: TestServer, client: Client) -> None:
    session = client.start_session()
    for _ in range(3):
        session.record(ActionEvent(action_type="a"))
    session.record(ToolEvent(name="t"))
    session.record(LLMEvent(model="gpt-4o", prompt_tokens=10, completion_tokens=5))
    session.record(ErrorEvent(error_type="Oops"))
    analytics = session.get_analytics()
    assert analytics["Actions"] == 3
    assert analytics["Tool calls"] == 1
    assert analytics["LLM calls"] == 1
    assert analytics["Errors"] == 1
    assert analytics["Cost"] not in ("unknown", "0.00")
    assert session.event_counts["actions"] == 3
    session.end_session("Success")
    stats = server.session(session.session_id)
    assert len(stats["events"]) == 6


def test_inherited_session_continues_the_same_session(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    first = make_client()
    original = first.start_session(tags=["one"])
    original.record(ActionEvent(action_type="before"))
    assert first.flush(5)
    second = make_client()
    continued = second.start_session(inherited_session_id=original.session_id)
    continued.record(ActionEvent(action_type="after"))
    continued.end_session("Success")
    stored = server.session(original.session_id)
    assert sorted(e["action_type"] for e in stored["events"]) == ["after", "before"]
    assert stored["session"]["end_state"] == "Success"


def test_create_agent_is_stored_and_named_on_events(server: TestServer, client: Client) -> None:
    session = client.start_session()
    agent_id = session.create_agent("researcher")
    session.record(ActionEvent(action_type="think", agent_id=agent_id))
    session.end_session("Success")
    stored = server.session(session.session_id)
    assert [(a["id"], a["name"]) for a in stored["agents"]] == [(agent_id, "researcher")]
    assert stored["events"][0]["agent_id"] == agent_id


def test_record_refuses_what_is_not_an_event(client: Client) -> None:
    session = client.start_session()
    with pytest.raises(TypeError, match=r"record\(\) takes an Event .* not dict"):
        session.record({"event_type": "actions"})  # type: ignore[arg-type]


def test_with_block_makes_current_and_ends_by_outcome(server: TestServer, client: Client) -> None:
    with client.start_session() as ok:
        client.record(ActionEvent(action_type="inside"))
    with pytest.raises(KeyError), client.start_session() as failed:
        raise KeyError("missing")
    assert ok.end_state == "Success"
    assert failed.end_state == "Fail"
    assert failed.end_state_reason == "KeyError: 'missing'"
    assert len(server.session(ok.session_id)["events"]) == 1
    assert server.session(failed.session_id)["session"]["end_state"] == "Fail"
