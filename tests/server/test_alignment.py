"""Step alignment of two sessions: exact Needleman-Wunsch scores against a brute force,
every step once and in order, and equal ends always paired."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from agentwatch.server import alignment
from agentwatch.server.alignment import Key, align, pair_score, score

keys = st.tuples(
    st.sampled_from(["llm", "tool"]), st.sampled_from(["a", "b"]), st.sampled_from(["m1", "m2"])
)


def best_score(a: Sequence[Key], b: Sequence[Key]) -> int:
    """The optimal score, by plain recursion (independent of the table the module fills)."""

    @functools.cache
    def go(i: int, j: int) -> int:
        if i == len(a) or j == len(b):
            return 0
        options = [go(i + 1, j), go(i, j + 1)]
        paired = pair_score(a[i], b[j])
        if paired is not None:
            options.append(go(i + 1, j + 1) + paired)
        return max(options)

    return go(0, 0)


def check_shape(a: Sequence[Key], b: Sequence[Key], pairs: Sequence[alignment.Pair]) -> None:
    assert [i for i, _ in pairs if i is not None] == list(range(len(a)))
    assert [j for _, j in pairs if j is not None] == list(range(len(b)))
    for i, j in pairs:
        assert i is not None or j is not None
        if i is not None and j is not None:
            assert a[i][:2] == b[j][:2]


def test_a_step_inserted_in_b_is_only_in_b() -> None:
    a: list[Key] = [
        ("llm", "plan", "gpt-4o"),
        ("tool", "search", None),
        ("llm", "answer", "gpt-4o"),
    ]
    b: list[Key] = [a[0], ("tool", "fetch", None), a[1], ("llm", "answer", "gpt-4o-mini")]
    assert align(a, b) == [(0, 0), (None, 1), (1, 2), (2, 3)]
    assert score(a, b, align(a, b)) == 3 + 3 + 1


def test_identical_sessions_pair_everything() -> None:
    a: list[Key] = [("llm", "x", "m")] * 5
    assert align(a, a) == [(i, i) for i in range(5)]


@given(st.lists(keys, max_size=9), st.lists(keys, max_size=9))
def test_alignment_is_optimal_and_keeps_every_step_in_order(a: list[Key], b: list[Key]) -> None:
    pairs = align(a, b)
    check_shape(a, b, pairs)
    assert score(a, b, pairs) == best_score(a, b)


@given(st.lists(keys, max_size=30), st.lists(keys, max_size=30))
def test_cut_middles_still_keep_every_step(a: list[Key], b: list[Key]) -> None:
    """With a tiny table limit the difflib cut runs: still a valid alignment."""
    original = alignment.MAX_CELLS
    alignment.MAX_CELLS = 4
    try:
        check_shape(a, b, align(a, b))
    finally:
        alignment.MAX_CELLS = original


def test_long_sessions_align_quickly_enough_to_answer() -> None:
    a: list[Key] = [("llm", f"s{i % 7}", "m") for i in range(2000)]
    b = a[:900] + [("tool", "extra", None)] * 50 + a[900:]
    pairs = align(a, b)
    check_shape(a, b, pairs)
    assert sum(1 for i, j in pairs if i is None) == 50
