"""Token counts estimated from text, for streams that end without a usage block.

An approximation, not a tokenizer: words and punctuation are counted as byte-pair
encoders roughly split them (a long word costs about one token per four characters),
plus OpenAI's documented per-message overhead. tiktoken is not used even when installed:
it downloads its encoding files on first use, and instrumentation must make no network
call. Events whose counts come from here carry ``tokens_estimated=True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["estimate_completion", "estimate_messages", "estimate_text"]

_PIECES = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_PER_MESSAGE = 3  # OpenAI's cookbook: each message costs 3 tokens of framing
_REPLY_PRIMING = 3


def estimate_text(text: str) -> int:
    """Approximate token count of ``text``."""
    return sum((len(piece) + 3) // 4 for piece in _PIECES.findall(text))


def estimate_messages(messages: Iterable[Any]) -> int:
    """Approximate prompt tokens of chat ``messages`` (dicts with string or block content)."""
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE + estimate_text(_text_of(message))
    return total


def estimate_completion(message: Mapping[str, Any]) -> int:
    """Approximate output tokens of a completion message (its text and tool calls)."""
    return max(1, estimate_text(_text_of(message)))


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return " ".join(
            _text_of(value[key])
            for key in ("content", "text", "input", "arguments", "name", "tool_calls", "function")
            if key in value
        )
    if isinstance(value, list | tuple):
        return " ".join(_text_of(item) for item in value)
    return ""
