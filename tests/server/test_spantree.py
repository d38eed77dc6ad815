"""Tree order of a session's spans: time order among siblings, orphans at the root, and
never a loop, whatever the parent links say (Hypothesis over random forests and graphs)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from agentwatch.server.spantree import Placed, tree_order


@dataclass(frozen=True)
class Span:
    id: str
    parent_id: str | None
    start: int

    @property
    def order(self) -> tuple[int]:
        return (self.start,)


def ids(spans: list[Span], placed: list[Placed]) -> list[tuple[str, int]]:
    return [(spans[p.index].id, p.depth) for p in placed]


def test_children_follow_their_parent_in_time_order() -> None:
    spans = [
        Span("tool", "agent", 30),
        Span("llm", "action", 20),
        Span("agent", None, 0),
        Span("action", "agent", 10),
        Span("late-root", None, 5),
    ]
    assert ids(spans, tree_order(spans)) == [
        ("agent", 0),
        ("action", 1),
        ("llm", 2),
        ("tool", 1),
        ("late-root", 0),
    ]


def test_orphans_and_self_parents_are_roots_and_cycles_are_broken_at_their_earliest() -> None:
    spans = [
        Span("b", "a", 2),
        Span("a", "b", 1),  # a <-> b: a cycle, broken at a (earlier)
        Span("c", "c", 3),  # its own parent
        Span("orphan", "never-arrived", 0),
        Span("child", "orphan", 4),
    ]
    placed = tree_order(spans)
    assert ids(spans, placed) == [("orphan", 0), ("child", 1), ("c", 0), ("a", 0), ("b", 1)]
    assert [p.parent for p in placed] == [None, "orphan", None, None, "a"]


def test_a_chain_of_fifty_thousand_does_not_recurse() -> None:
    spans = [Span(str(i), str(i - 1) if i else None, i) for i in range(50_000)]
    placed = tree_order(spans)
    assert placed[-1].depth == 49_999


def test_a_repeated_id_is_placed_twice_and_its_children_once() -> None:
    spans = [Span("x", None, 0), Span("x", None, 1), Span("y", "x", 2)]
    assert ids(spans, tree_order(spans)) == [("x", 0), ("y", 1), ("x", 0)]


@st.composite
def graphs(draw: st.DrawFn) -> list[Span]:
    """Spans whose parents are anything: other spans (forests, cycles), themselves, unknown."""
    n = draw(st.integers(0, 40))
    names = [f"s{i}" for i in range(n)]
    parent = st.one_of(st.none(), st.sampled_from([*names, "ghost"])) if n else st.none()
    return [Span(names[i], draw(parent), draw(st.integers(0, 5))) for i in range(n)]


@given(graphs())
def test_every_span_is_placed_once_under_its_drawn_parent(spans: list[Span]) -> None:
    placed = tree_order(spans)
    assert sorted(p.index for p in placed) == list(range(len(spans)))
    position = {spans[p.index].id: k for k, p in enumerate(placed)}
    stack: list[str] = []  # the ancestors of the current row
    for k, p in enumerate(placed):
        span = spans[p.index]
        del stack[p.depth :]
        assert len(stack) == p.depth
        assert p.parent == (stack[-1] if stack else None)
        if p.parent is not None:
            assert span.parent_id == p.parent  # drawn under the parent it names
            assert position[p.parent] < k
        elif span.parent_id in position and span.parent_id != span.id:
            # A root whose parent exists: only the earliest span of a cycle is one.
            chain, node = [], span
            while node.parent_id in position and node.parent_id not in chain:
                chain.append(node.parent_id)
                node = spans[placed[position[node.parent_id]].index]
            assert span.id in chain
        stack.append(span.id)


@given(graphs())
def test_siblings_are_in_time_order(spans: list[Span]) -> None:
    placed = tree_order(spans)
    last: dict[tuple[str | None, int], tuple[int, str]] = {}
    for p in placed:
        span = spans[p.index]
        key = (p.parent, p.depth)
        if p.parent is not None:
            assert last.get(key, (-1, "")) <= (span.start, span.id)
            last[key] = (span.start, span.id)
