"""``jsonbody.problem`` (the one check every v2 body's items go through) against a plain
recursive reading of what it promises: a value has a problem exactly when some string or
key in it holds a lone surrogate, or it nests deeper than ``MAX_DEPTH``. The check skips
ASCII text and plain scalars without looking twice; this holds the skip to the promise."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentwatch.server.jsonbody import MAX_DEPTH, TOO_DEEP, NonFinite, problem


def _bad_text(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _reference(value: Any, level: int = 0) -> bool:
    """True when ``value`` (``level`` deep) has a problem."""
    if value is TOO_DEEP:
        return True
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, dict | list):
        if level >= MAX_DEPTH:
            return True
        entries = value.items() if isinstance(value, dict) else enumerate(value)
        return any(
            (isinstance(k, str) and _bad_text(k)) or _reference(v, level + 1) for k, v in entries
        )
    return False


_TEXT = st.sampled_from(["plain", "Σίσυφος", "\ud800 lone", "", "pair \U0001f600", "x\udfff"])
_LEAF = st.one_of(
    _TEXT,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.just(NonFinite("nan")),
    st.just(TOO_DEEP),
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=20,
)


def _nest(value: Any, levels: int) -> Any:
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


@settings(max_examples=400, deadline=None)
@given(_VALUE, st.sampled_from([0, MAX_DEPTH - 3, MAX_DEPTH + 1]))
def test_a_value_has_a_problem_exactly_when_the_plain_reading_finds_one(
    value: Any, levels: int
) -> None:
    nested = _nest(value, levels)
    found = problem(nested)
    assert (found is not None) == _reference(nested), found
