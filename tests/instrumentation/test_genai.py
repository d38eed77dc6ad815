"""The provider-neutral pieces: request parameters, GenAI attributes, redaction, estimates."""

from __future__ import annotations

import openai
from hypothesis import given
from hypothesis import strategies as st

from agentwatch.instrumentation import _genai, _tokens


def test_request_params_drop_content_transport_and_not_given() -> None:
    kwargs = {
        "model": "m",
        "messages": [{"role": "user", "content": "secret"}],
        "temperature": openai.NOT_GIVEN,
        "top_p": openai.omit,
        "extra_headers": {"Authorization": "Bearer sk-secret"},
        "max_tokens": 5,
    }
    assert _genai.request_params(kwargs) == {"model": "m", "max_tokens": 5}


def test_request_attributes_follow_the_semantic_conventions() -> None:
    attributes = _genai.request_attributes("openai", {"model": "m", "stop": "END", "n": 2})
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m",
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.request.choice.count": 2,
    }


def test_redact_keeps_structure_of_anthropic_blocks() -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "secret"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "secret"},
                {"type": "tool_use", "id": "t1", "name": "search", "input": {"q": "secret"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "secret"}],
        },
    ]
    assert _genai.redact(messages) == [
        {"role": "system", "content": [{"type": "text"}]},
        {
            "role": "assistant",
            "content": [{"type": "text"}, {"type": "tool_use", "id": "t1", "name": "search"}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
    ]


_KEYS = ["role", "content", "text", "tool_calls", "function", "arguments", "name", "input"]
_MESSAGES = st.recursive(
    st.text() | st.none(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)
    ),
    max_leaves=20,
)


def _walk(value: object, under: str = "") -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            assert key not in ("text", "arguments", "input")
            assert key != "content" or isinstance(inner, list)
            _walk(inner, key)
    elif isinstance(value, list):
        for inner in value:
            _walk(inner, under)
    else:  # a kept scalar is structural (a role, a name), never content text
        assert under in ("role", "name", "") or value is None


@given(_MESSAGES)
def test_redact_never_keeps_text(value: object) -> None:
    _walk(_genai.redact(value))


@given(st.text())
def test_estimates_are_never_negative(text: str) -> None:
    assert _tokens.estimate_text(text) >= 0
    assert _tokens.estimate_messages([{"role": "user", "content": text}]) >= 6
    assert _tokens.estimate_completion({"role": "assistant", "content": text}) >= 1
