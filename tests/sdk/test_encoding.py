"""Event encoding: faithful for foreign types, lossless for JSON, never raising."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agentwatch.encoding import dumps
from agentwatch.events import ActionEvent, ErrorEvent, ToolEvent, to_wire

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_json_values_round_trip(value: Any) -> None:
    assert orjson.loads(dumps(value)) == value


@given(st.integers())
def test_any_integer_encodes(value: int) -> None:
    decoded = orjson.loads(dumps({"n": value}))["n"]
    assert decoded == value or decoded == str(value)


def test_cycles_and_unrepresentable_objects_do_not_raise() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)

    class Opaque:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    decoded = orjson.loads(dumps({"cycle": cyclic, "opaque": Opaque(), "bytes": b"\xff\x00"}))
    assert decoded["cycle"] == [1, "<cycle>"]
    assert decoded["opaque"] == "<unrepresentable Opaque>"
    assert decoded["bytes"] == {"base64": "/wA="}


def test_wire_form_carries_protocol_aliases() -> None:
    session_id = str(uuid.uuid4())
    action = to_wire(ActionEvent(action_type="plan"), session_id)
    assert action["name"] == "plan"
    assert action["action_type"] == "plan"
    assert action["session_id"] == session_id
    tool = to_wire(ToolEvent(name="search"), session_id)
    assert tool["tool_name"] == "search"
    error = to_wire(ErrorEvent(trigger_event=ActionEvent(action_type="x"), details="d"), session_id)
    assert "trigger_event" not in error
    assert "exception" not in error
    assert error["trigger_event_type"] == "actions"
    assert error["timestamp"] == error["init_timestamp"]
