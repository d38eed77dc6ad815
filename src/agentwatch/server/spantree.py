"""A session's spans put in tree order: each span followed by its subtree, siblings by time.

Spans name their parent by id, and ingest is order-free, so what is stored need not be a
tree: a parent may never have arrived (an *orphan*: shown at the root), a span may name
itself, and ids may form a cycle (a span its own ancestor). Every span is placed exactly
once, whatever the links say: a cycle is broken at its earliest span, which becomes a root.
The dashboard's ``tree.js`` applies the same rules to the rows it gets live.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Placed", "SpanLink", "tree_order"]


class SpanLink(Protocol):
    """What placing a span needs: its id, its parent's id (None: a root) and a sort key."""

    @property
    def id(self) -> str: ...

    @property
    def parent_id(self) -> str | None: ...

    @property
    def order(self) -> tuple[Hashable, ...]: ...


@dataclass(frozen=True)
class Placed:
    """Where a span goes: its index in the input, its depth (roots: 0), and the parent it
    is drawn under (None for roots, orphans and the span a cycle was broken at)."""

    index: int
    depth: int
    parent: str | None


def tree_order(spans: Sequence[SpanLink]) -> list[Placed]:
    """Every span of ``spans`` once, in depth-first order, children sorted by ``order``.

    Ids are taken to be unique (a session's events are keyed by id); should one repeat,
    the first span with it is the parent its children hang under. Runs in O(n log n),
    iteratively (no recursion limit for a chain of 50,000 spans).
    """
    first: dict[str, int] = {}
    for i, span in enumerate(spans):
        first.setdefault(span.id, i)
    children: dict[str | None, list[int]] = {}
    for i, span in enumerate(spans):
        parent = span.parent_id
        known = parent is not None and parent in first and parent != span.id
        children.setdefault(parent if known else None, []).append(i)
    for kids in children.values():
        kids.sort(key=lambda i: (spans[i].order, spans[i].id, i))
    placed: list[Placed] = []
    seen = [False] * len(spans)
    walk = _Walk(spans, children, first, seen, placed)
    walk.run(children.get(None, []))
    # What is left is a cycle, or hangs under one: start each cycle at its earliest span.
    for i in sorted(
        (i for i in range(len(spans)) if not seen[i]),
        key=lambda i: (spans[i].order, spans[i].id, i),
    ):
        if not seen[i]:
            walk.run([_cycle_start(spans, first, i)])
    return placed


def _cycle_start(spans: Sequence[SpanLink], first: dict[str, int], i: int) -> int:
    """The earliest span of the cycle above span ``i`` (not placed: neither it nor any of
    its ancestors is a root, so following parents from it must come round)."""
    path: dict[int, int] = {}
    while i not in path:
        path[i] = len(path)
        parent = spans[i].parent_id
        assert parent is not None
        i = first[parent]
    cycle = [k for k, step in path.items() if step >= path[i]]
    return min(cycle, key=lambda k: (spans[k].order, spans[k].id, k))


@dataclass
class _Walk:
    spans: Sequence[SpanLink]
    children: dict[str | None, list[int]]
    first: dict[str, int]
    seen: list[bool]
    placed: list[Placed]

    def run(self, roots: Sequence[int]) -> None:
        """Place ``roots`` and everything under them not placed yet, depth first."""
        stack: list[tuple[int, int, str | None]] = [(i, 0, None) for i in reversed(roots)]
        while stack:
            i, depth, parent = stack.pop()
            if self.seen[i]:
                continue
            self.seen[i] = True
            self.placed.append(Placed(i, depth, parent))
            span_id = self.spans[i].id
            # Only the first span with an id has children: a repeated id is a leaf.
            if self.first[span_id] == i:
                for child in reversed(self.children.get(span_id, [])):
                    if not self.seen[child]:
                        stack.append((child, depth + 1, span_id))
