"""The pure half of GenAI spans out: events to span fields, chat shapes to message parts,
any value to an attribute value OTLP can carry."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agentwatch import ActionEvent, LLMEvent, ToolEvent
from agentwatch.events import to_wire
from agentwatch.telemetry.genai import event_span, otel_value
from agentwatch.telemetry.genai_messages import input_messages, output_messages

SESSION = "2b1f7c1e-0d5e-4c3e-8b21-6f1c2b4e9a7d"


def span_of(event: Any, capture: bool = True, agents: dict[str, str] | None = None) -> Any:
    return event_span(to_wire(event, SESSION), agents or {}, capture_content=capture)


def test_a_string_prompt_is_a_text_completion_and_kinds_pick_operations() -> None:
    assert span_of(LLMEvent(model="m", prompt="hi")).name == "text_completion m"
    assert span_of(LLMEvent(model="m", prompt=[])).name == "chat m"
    assert span_of(LLMEvent(name="embed", kind="embedding")).name == "embeddings embed"
    chain = span_of(ActionEvent(action_type="pipeline", kind="chain"))
    assert chain.name == "invoke_workflow pipeline"
    assert chain.attributes["gen_ai.workflow.name"] == "pipeline"
    retrieval = span_of(ActionEvent(action_type="docs", kind="retrieval"))
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    plain = span_of(ActionEvent(action_type="step", agent_id="a1"), agents={"a1": "planner"})
    assert plain.name == "step"
    assert "gen_ai.operation.name" not in plain.attributes
    assert plain.attributes["gen_ai.agent.name"] == "planner"
    assert span_of(ToolEvent(name=None)).name == "execute_tool tool"


def test_content_is_left_out_without_capture() -> None:
    tool = span_of(ToolEvent(name="t", params={"q": "secret"}, returns="secret"), capture=False)
    assert "gen_ai.tool.call.arguments" not in tool.attributes
    llm = span_of(LLMEvent(model="m", prompt="secret", completion="secret"), capture=False)
    assert "secret" not in repr(llm.attributes)


def test_openai_and_anthropic_shapes_become_parts() -> None:
    system, inputs = input_messages(
        [
            {"role": "system", "content": [{"type": "text", "text": "rules"}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {
                "role": "assistant",
                "content": None,
                "name": "bot",
                "tool_calls": [{"id": "c2", "function": {"name": "f", "arguments": "not json"}}],
            },
            "bare text",
        ]
    )
    assert system == [{"type": "text", "content": "rules"}]
    assert inputs == [
        {"role": "user", "parts": [{"type": "image_url", "image_url": {"url": "u"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "42"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c2", "name": "f", "arguments": "not json"}],
            "name": "bot",
        },
        {"role": "user", "parts": [{"type": "text", "content": "bare text"}]},
    ]
    assert input_messages(None) == (None, None)
    choices = output_messages(
        [{"role": "assistant", "content": "a", "finish_reason": "length"}, "b"], "stop"
    )
    assert [c["finish_reason"] for c in choices or []] == ["length", "stop"]
    assert output_messages(None) is None


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
)


@given(values)
def test_every_value_becomes_one_otlp_can_carry(value: Any) -> None:
    out = otel_value(value)
    one = (str, bool, int, float)
    if isinstance(out, list):
        assert out
        assert len({type(v) for v in out}) == 1
        assert all(isinstance(v, one) for v in out)
    else:
        assert isinstance(out, one)
    for item in out if isinstance(out, list) else [out]:
        if isinstance(item, int) and not isinstance(item, bool):
            assert -(2**63) <= item < 2**63


def test_stated_gen_ai_attributes_never_replace_the_session_or_event_ids() -> None:
    event = LLMEvent(model="m", gen_ai={"session.id": "other", "agentwatch.event.id": "x"})
    attrs = span_of(event).attributes
    assert attrs["session.id"] == SESSION
    assert attrs["agentwatch.event.id"] == str(event.id)


def test_an_llm_event_of_kind_embedding_is_an_embeddings_call() -> None:
    event = LLMEvent(model="text-embedding-3-small", kind="embedding", prompt="a", prompt_tokens=8)
    span = span_of(event)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.client
    assert span.attributes["gen_ai.usage.input_tokens"] == 8
