"""Two sessions' steps aligned: which LLM and tool calls of A and B are the same step.

A step is keyed by (kind, name, model). Two steps may pair when kind and name agree; a pair
whose models agree too scores :data:`SAME`, one whose models differ :data:`SIMILAR`, a gap 0,
and the alignment maximises the total (Needleman-Wunsch with those scores: a weighted
longest common subsequence). The common prefix and suffix are taken first (pairing equal
ends is always optimal), and a middle larger than :data:`MAX_CELLS` is cut at the blocks
``difflib`` finds in common before the exact alignment runs on each gap between them.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Sequence

__all__ = ["MAX_CELLS", "SAME", "SIMILAR", "Key", "Pair", "align", "score"]

Key = tuple[Hashable, Hashable, Hashable]  # (kind, name, model)
Pair = tuple[int | None, int | None]  # (index in A, index in B); None: a gap

SAME = 3
SIMILAR = 1
# The exact alignment's table is n x m cells; past this a middle is cut into pieces first.
MAX_CELLS = 250_000


def pair_score(a: Key, b: Key) -> int | None:
    """What pairing ``a`` with ``b`` scores; None when they may not pair."""
    if a[0] != b[0] or a[1] != b[1]:
        return None
    return SAME if a[2] == b[2] else SIMILAR


def score(a: Sequence[Key], b: Sequence[Key], pairs: Sequence[Pair]) -> int:
    """The total score of an alignment of ``a`` and ``b``."""
    total = 0
    for i, j in pairs:
        if i is not None and j is not None:
            value = pair_score(a[i], b[j])
            assert value is not None
            total += value
    return total


def align(a: Sequence[Key], b: Sequence[Key]) -> list[Pair]:
    """An alignment of maximal :func:`score` (exact while the middle fits :data:`MAX_CELLS`).

    Every index of ``a`` and of ``b`` appears exactly once, both in increasing order.
    """
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    pairs: list[Pair] = [(i, i) for i in range(head)]
    pairs += _middle(a, b, head, len(a) - tail, head, len(b) - tail)
    pairs += [(len(a) - tail + k, len(b) - tail + k) for k in range(tail)]
    return pairs


def _middle(a: Sequence[Key], b: Sequence[Key], a0: int, a1: int, b0: int, b1: int) -> list[Pair]:
    if (a1 - a0) * (b1 - b0) <= MAX_CELLS:
        return _exact(a, b, a0, a1, b0, b1)
    matcher = difflib.SequenceMatcher(None, list(a[a0:a1]), list(b[b0:b1]), autojunk=False)
    pairs: list[Pair] = []
    i, j = a0, b0
    for block in matcher.get_matching_blocks():
        bi, bj = a0 + block.a, b0 + block.b
        gap_a, gap_b = bi - i, bj - j
        if gap_a * gap_b <= MAX_CELLS:
            pairs += _exact(a, b, i, bi, j, bj)
        else:  # a huge unmatched stretch: no pairs in it, both sides shown as gaps
            pairs += [(k, None) for k in range(i, bi)] + [(None, k) for k in range(j, bj)]
        pairs += [(bi + k, bj + k) for k in range(block.size)]
        i, j = bi + block.size, bj + block.size
    return pairs


def _exact(a: Sequence[Key], b: Sequence[Key], a0: int, a1: int, b0: int, b1: int) -> list[Pair]:
    """Needleman-Wunsch over a[a0:a1] and b[b0:b1]; ties prefer a gap in B, then in A."""
    n, m = a1 - a0, b1 - b0
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = best[i], best[i + 1]
        ka = a[a0 + i]
        for j in range(m - 1, -1, -1):
            value = below[j] if below[j] >= row[j + 1] else row[j + 1]
            paired = pair_score(ka, b[b0 + j])
            if paired is not None and below[j + 1] + paired > value:
                value = below[j + 1] + paired
            row[j] = value
    pairs: list[Pair] = []
    i = j = 0
    while i < n or j < m:
        paired = pair_score(a[a0 + i], b[b0 + j]) if i < n and j < m else None
        if paired is not None and best[i][j] == best[i + 1][j + 1] + paired:
            pairs.append((a0 + i, b0 + j))
            i, j = i + 1, j + 1
        elif i < n and best[i][j] == best[i + 1][j]:
            pairs.append((a0 + i, None))
            i += 1
        else:
            pairs.append((None, b0 + j))
            j += 1
    return pairs
