"""Model price lookup and cost arithmetic (pure logic)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentwatch.server.pricing import PICO, PriceTable, format_usd, model_family, usd_to_pico

TABLE = PriceTable.load()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4-0613", "gpt-4"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("anthropic/claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("claude-3-5-haiku@20241022", "claude-3-5-haiku"),
        ("models/gemini-1.5-flash", "gemini-1.5-flash"),
        ("gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("mistral/mistral-large-latest", "mistral-large"),
        ("mistral-large-2411", "mistral-large"),
    ],
)
def test_model_names_match_sensibly(name: str, expected: str) -> None:
    assert TABLE.lookup(name) == TABLE.models[expected]


@pytest.mark.parametrize(
    "name", ["my-local-llama", "gpt-4o-mini-audio-unknown", "", "ollama/llama3"]
)
def test_unknown_models_have_no_price(name: str) -> None:
    assert TABLE.cost(name, 10, 10) is None


def test_cost_arithmetic_is_exact() -> None:
    # gpt-4o: 1000 in ($2.50/1M), 200 of them cached ($1.25/1M), 100 out ($10/1M).
    expected = 800 * Decimal("2.5") + 200 * Decimal("1.25") + 100 * Decimal("10")
    assert TABLE.cost("gpt-4o", 1000, 100, cached_tokens=200) == expected * PICO / 10**6
    assert TABLE.cost("gpt-4o", None, None) is None
    assert TABLE.cost("gpt-4o", 10, None) == 10 * 2_500_000
    assert TABLE.cost(None, 10, 10) is None


def test_prices_file_overrides_and_adds(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(
        json.dumps(
            {
                "taken": "2030-01-01",
                "models": {
                    "gpt-4o": {"input": 1, "output": 2},
                    "house-model": {"input": 0.5, "output": 0.5},
                },
                "aliases": {"hm": "house-model"},
            }
        )
    )
    table = PriceTable.load(override)
    assert table.taken == "2030-01-01"
    assert table.cost("gpt-4o", 1_000_000, 0) == PICO
    assert table.cost("hm", 2_000_000, 0) == PICO
    assert table.cost("gpt-4o-mini", 1_000_000, 0) == PICO * 15 // 100  # built-in kept
    override.write_text('{"models": {"x": {"input": "cheap"}}}')
    with pytest.raises(ValueError, match=r"prices\.json"):
        PriceTable.load(override)


def test_builtin_table_is_dated_and_covers_the_providers() -> None:
    assert TABLE.taken[:4].isdigit()
    for prefix in ("gpt-", "claude-", "gemini-", "mistral-"):
        assert any(name.startswith(prefix) for name in TABLE.models), prefix


@given(st.integers(min_value=0, max_value=10**15))
def test_format_usd_round_trips(pico: int) -> None:
    assert usd_to_pico(format_usd(pico)) == pico


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-07-18", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4-32k-0613", "gpt-4-32k"),
        ("gpt-4-1106-preview", "gpt-4"),
        ("o1-2024-12-17", "o1"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku"),
        ("gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-2.0-flash-exp", "gemini-2.0-flash"),
        ("mistral-large-2411", "mistral-large"),
        # Names, not versions: kept whole.
        ("deepseek-v3", "deepseek-v3"),
        ("gpt-3.5-turbo-16k", "gpt-3.5-turbo-16k"),
        ("llama-3.1-70b", "llama-3.1-70b"),
        ("text-embedding-3-large", "text-embedding-3-large"),
        ("GPT-4o-2024-05-13", "GPT-4o"),  # as the agent wrote it
        ("2024-07-18", "2024-07-18"),  # nothing would be left
    ],
)
def test_model_family_strips_trailing_dates_and_versions(name: str, family: str) -> None:
    assert model_family(name) == family
