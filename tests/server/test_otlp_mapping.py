"""What each convention's span becomes (pure: map_span on decoded spans, no server)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from agentwatch.server.otlp.mapping import map_span
from agentwatch.server.otlp.spans import Span, SpanEvent
from agentwatch.server.pricing import PriceTable

PRICES = PriceTable.load()
START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def make(
    attributes: dict[str, Any], *, parent: str | None = "00000000000000aa", **fields: Any
) -> Span:
    values: dict[str, Any] = {
        "where": "spans[0]",
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "parent_id": parent,
        "name": "span",
        "kind": "internal",
        "start": START,
        "end": START + dt.timedelta(seconds=1),
        "attributes": attributes,
        "events": [],
        "status": "unset",
        "status_message": None,
        "resource": {"service.name": "svc"},
        "scope": "scope",
        **fields,
    }
    return Span(**values)


def test_older_genai_form_as_agentops_sends_it() -> None:
    mapped = map_span(
        make(
            {
                "gen_ai.request.type": "chat",
                "gen_ai.system": "OpenAI",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.prompt_tokens": 100,
                "gen_ai.usage.completion_tokens": 10,
                "gen_ai.usage.total_tokens": 110,
                "gen_ai.prompt.0.role": "system",
                "gen_ai.prompt.0.content": "Be brief.",
                "gen_ai.prompt.1.role": "user",
                "gen_ai.prompt.1.content": "Weather?",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.finish_reason": "tool_calls",
                "gen_ai.completion.0.tool_calls.0.id": "call_1",
                "gen_ai.completion.0.tool_calls.0.name": "weather",
                "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Rome"}',
            }
        ),
        PRICES,
    )
    record = mapped.record
    assert (record.kind, record.event_type, record.counter) == ("llm", "llms", "llms")
    assert (record.prompt_tokens, record.completion_tokens, record.cached_tokens) == (100, 10, None)
    assert record.cost_pico == PRICES.cost("gpt-4o", 100, 10)
    assert record.data["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
    ]
    assert record.data["completion"] == {
        "role": "assistant",
        "finish_reason": "tool_calls",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Rome"}'},
            }
        ],
    }


def test_openinference_llm_with_cached_prompt_tokens() -> None:
    mapped = map_span(
        make(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "openai",
                "llm.token_count.prompt": 2000,
                "llm.token_count.completion": 100,
                "llm.token_count.prompt_details.cache_read": 1500,
                "llm.invocation_parameters": '{"temperature": 0.2}',
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.contents.0.message_content.type": "text",
                "llm.input_messages.0.message.contents.0.message_content.text": "Hi",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Hello",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c1",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "f",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
            }
        ),
        PRICES,
    )
    record = mapped.record
    assert record.kind == "llm"
    assert record.model == "gpt-4o-mini"
    assert (record.prompt_tokens, record.completion_tokens, record.cached_tokens) == (
        2000,
        100,
        1500,
    )
    # Cached tokens are a part of the 2000 (never added on top), priced at the cached rate.
    expected = (500 * 0.15 + 1500 * 0.075 + 100 * 0.6) / 1e6
    assert record.cost_pico == round(expected * 1e12)
    assert record.data["params"] == {"temperature": 0.2}
    assert record.data["prompt"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert record.data["completion"]["tool_calls"][0]["function"] == {
        "name": "f",
        "arguments": "{}",
    }


def test_a_chain_carrying_llm_attributes_stays_a_chain_and_counts_no_tokens() -> None:
    mapped = map_span(
        make(
            {
                "openinference.span.kind": "CHAIN",
                "llm.model_name": "gpt-4o",
                "llm.token_count.prompt": 500,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": "Hi",
                "input.value": '{"question": "Hi"}',
                "input.mime_type": "application/json",
                "output.value": "plain answer",
                "output.mime_type": "text/plain",
            }
        ),
        PRICES,
    )
    record = mapped.record
    assert record.kind == "chain"
    assert record.counter == "other"
    assert record.prompt_tokens is None
    assert record.cost_pico is None
    assert record.model is None
    assert record.data["usage"] == {
        "input_tokens": 500,
        "output_tokens": None,
        "cached_tokens": None,
    }
    assert record.data["params"] == {"question": "Hi"}
    assert record.data["returns"] == "plain answer"


def test_messages_alone_declare_nothing() -> None:
    mapped = map_span(
        make(
            {
                "gen_ai.prompt.0.content": "x",
                "llm.model_name": "gpt-4o",
                "gen_ai.usage.input_tokens": 9,
            }
        ),
        PRICES,
    )
    assert mapped.record.kind == "other"
    assert mapped.record.event_type == "other"
    assert mapped.record.prompt_tokens is None


def test_agent_aggregated_usage_is_shown_not_counted() -> None:
    mapped = map_span(
        make(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.id": "agent-7",
                "gen_ai.agent.name": "Researcher",
                "gen_ai.usage.input_tokens": 900,
                "gen_ai.usage.output_tokens": 90,
            }
        ),
        PRICES,
    )
    record = mapped.record
    assert record.kind == "agent"
    assert record.prompt_tokens is None
    assert record.cost_pico is None
    assert record.data["usage"]["input_tokens"] == 900
    assert record.name == "Researcher"
    assert record.agent_id == "agent-7"
    assert mapped.agent is not None
    assert (mapped.agent.id, mapped.agent.name) == (
        "agent-7",
        "Researcher",
    )


def test_unknown_span_is_other_with_every_attribute() -> None:
    attributes = {"http.method": "GET", "custom": [1, 2], "n": 3}
    mapped = map_span(make(attributes, name="GET /things"), PRICES)
    record = mapped.record
    assert (record.kind, record.event_type, record.counter, record.name) == (
        "other",
        "other",
        "other",
        "GET /things",
    )
    assert record.data["attributes"] == attributes
    assert record.data["resource"] == {"service.name": "svc"}


def test_genai_structured_messages_with_tools() -> None:
    system = [{"type": "text", "content": "You are terse."}]
    inputs = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "t1", "name": "weather", "arguments": {"city": "Rome"}}
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "t1", "response": "sunny"}],
        },
    ]
    outputs = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Sunny."}],
            "finish_reason": "stop",
        }
    ]
    mapped = map_span(
        make(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "no-such-model-xyz",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.system_instructions": system,
                "gen_ai.input.messages": json.dumps(inputs),
                "gen_ai.output.messages": outputs,
                "gen_ai.response.finish_reasons": '["stop"]',
            }
        ),
        PRICES,
    )
    data = mapped.record.data
    assert data["prompt"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Rome?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Rome"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "t1"},
    ]
    assert data["completion"] == {"role": "assistant", "content": "Sunny.", "finish_reason": "stop"}
    assert data["stop_reason"] == "stop"
    assert mapped.record.cost_pico is None  # unknown model: unknown cost, never 0


def test_openinference_io_values_of_an_llm_span() -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    response = {"choices": [{"message": {"role": "assistant", "content": "Yo"}}]}
    mapped = map_span(
        make(
            {
                "openinference.span.kind": "LLM",
                "input.value": json.dumps(request),
                "input.mime_type": "application/json",
                "output.value": json.dumps(response),
                "output.mime_type": "application/json",
                "llm.cost.total": 0.5,
            }
        ),
        PRICES,
    )
    assert mapped.record.data["prompt"] == [{"role": "user", "content": "Hi"}]
    assert mapped.record.data["completion"] == {"role": "assistant", "content": "Yo"}
    assert mapped.record.cost_pico == 500_000_000_000  # the client's stated cost


def test_langfuse_generation() -> None:
    mapped = map_span(
        make(
            {
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "gpt-4o",
                "langfuse.observation.usage_details": '{"input": 40, "output": 4}',
                "langfuse.observation.input": json.dumps([{"role": "user", "content": "Q"}]),
                "langfuse.observation.output": json.dumps({"role": "assistant", "content": "A"}),
                "session.id": "lf-session",
                "user.id": "u1",
                "langfuse.trace.tags": ["a", "b"],
                "langfuse.trace.metadata.team": '"core"',
            },
            parent=None,
        ),
        PRICES,
    )
    record = mapped.record
    assert record.kind == "llm"
    assert record.model == "gpt-4o"
    assert (record.prompt_tokens, record.completion_tokens) == (40, 4)
    assert record.data["prompt"] == [{"role": "user", "content": "Q"}]
    assert record.data["completion"] == {"role": "assistant", "content": "A"}
    hints = mapped.hints
    assert (hints.key, hints.user_id, hints.tags, hints.metadata) == (
        "lf-session",
        "u1",
        ("a", "b"),
        {"team": "core"},
    )


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        ({"gen_ai.operation.name": "embeddings", "openinference.span.kind": "LLM"}, "embedding"),
        ({"openinference.span.kind": "RETRIEVER"}, "retrieval"),
        ({"openinference.span.kind": "reranker"}, "retrieval"),
        ({"openinference.span.kind": "GUARDRAIL"}, "action"),
        ({"agentops.span.kind": "workflow"}, "chain"),
        ({"agentops.span.kind": "tool", "tool.name": "calc"}, "tool"),
        ({"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "etl"}, "chain"),
        ({"llm.request.type": "completion"}, "llm"),
        ({"gen_ai.operation.name": "something_new"}, "other"),
    ],
)
def test_declared_kinds(attributes: dict[str, Any], kind: str) -> None:
    assert map_span(make(attributes), PRICES).record.kind == kind


def test_error_status_without_exception_event_gives_one_error() -> None:
    mapped = map_span(
        make(
            {"gen_ai.operation.name": "chat", "error.type": "<class 'openai.BadRequestError'>"},
            status="error",
            status_message="400 bad request",
        ),
        PRICES,
    )
    [error] = mapped.errors
    assert (error.kind, error.event_type, error.parent_id, error.trigger_event_id) == (
        "error",
        "errors",
        "cd" * 8,
        "cd" * 8,
    )
    assert error.trigger_event_type == "llms"
    assert error.data == {
        "error_type": "<class 'openai.BadRequestError'>",
        "details": "400 bad request",
        "logs": None,
    }


def test_each_exception_event_gives_an_error() -> None:
    events = [
        SpanEvent(
            "exception",
            START,
            {"exception.type": "KeyError", "exception.message": "a", "exception.stacktrace": "tb1"},
        ),
        SpanEvent("log", START, {}),
        SpanEvent("exception", None, {"exception.type": "ValueError", "exception.message": "b"}),
    ]
    mapped = map_span(make({}, events=events), PRICES)
    assert [e.name for e in mapped.errors] == ["KeyError", "ValueError"]
    assert [e.id for e in mapped.errors] == [f"{'cd' * 8}.error.0", f"{'cd' * 8}.error.1"]
    assert mapped.errors[0].data["logs"] == "tb1"
    assert mapped.errors[1].init_timestamp == START + dt.timedelta(
        seconds=1
    )  # no time: the span's end


def test_agentops_session_root_hints() -> None:
    mapped = map_span(
        make(
            {
                "agentops.span.kind": "session",
                "agentops.tags": '["x", "y"]',
                "agentops.session.end_state": "ERROR",
            },
            parent=None,
            status="ok",
        ),
        PRICES,
    )
    hints = mapped.hints
    assert hints.agentops_root
    assert hints.root
    assert hints.tags == ("x", "y")
    assert hints.end_state == "Fail"


def test_root_status_gives_the_end_state_children_do_not() -> None:
    assert map_span(make({}, parent=None, status="ok"), PRICES).hints.end_state == "Success"
    assert map_span(make({}, parent=None, status="unset"), PRICES).hints.end_state is None
    assert map_span(make({}, status="error"), PRICES).hints.end_state is None
