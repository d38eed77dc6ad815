"""The session list's query parameters, read one way for the JSON API and the dashboard.

Every value is checked here, with its bound: a bad or oversized one is a 400 naming the
parameter and what is accepted (never a database error later: 2,000 tags once made SQLite
give up with "Expression tree is too large", answered as 503).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from agentwatch.server import cursors, wire
from agentwatch.server.errors import BadRequest, Unprocessable
from agentwatch.server.pricing import PICO
from agentwatch.server.storage.search import MAX_QUERY
from agentwatch.server.storage.sessionlist import SORTS, ListOrder, SessionFilter

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_VALUES",
    "ListQuery",
    "list_query",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_VALUES = 20  # values of one repeatable filter (tag, model, agent, metadata)
_MAX_IDS = MAX_LIMIT
_MAX_VALUE = 200  # characters of one filter value (tags, models, names, users)
_MAX_COST = 1e9  # dollars
_MAX_SECONDS = 1e9


@dataclass(frozen=True)
class ListQuery:
    """What a list request asks for: filters, order, keyset position, page size."""

    where: SessionFilter
    order: ListOrder
    after: tuple[object, str] | None
    limit: int


def list_query(
    *,
    tags: Sequence[str] = (),
    end_state: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    q: str | None = None,
    models: Sequence[str] = (),
    agents: Sequence[str] = (),
    has_errors: str | None = None,
    min_cost: str | None = None,
    max_cost: str | None = None,
    min_duration: str | None = None,
    max_duration: str | None = None,
    user: str | None = None,
    metadata: Sequence[str] = (),
    ids: Sequence[str] = (),
    sort: str | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> ListQuery:
    """The list request these parameters (as a query string gives them) describe.

    Raises :class:`BadRequest` (400) naming the first bad parameter.
    """
    text = (q or "").strip()
    if len(text) > MAX_QUERY:
        raise BadRequest(f"q: at most {MAX_QUERY} characters, got {len(text)}")
    low, high = _range(min_cost, max_cost, "min_cost", "max_cost", _MAX_COST)
    shortest, longest = _range(
        min_duration, max_duration, "min_duration", "max_duration", _MAX_SECONDS
    )
    where = SessionFilter(
        tags=_values(tags, "tag"),
        end_state=_end_state(end_state),
        since=since,
        until=until,
        text=text or None,
        models=_values(models, "model"),
        agents=_values(agents, "agent"),
        has_errors=_flag(has_errors, "has_errors"),
        cost_min=None if low is None else round(low * PICO),
        cost_max=None if high is None else round(high * PICO),
        duration_min=shortest,
        duration_max=longest,
        user_id=_value(user, "user"),
        metadata=tuple(_pair(m) for m in _values(metadata, "metadata")),
        ids=_values(ids, "id", limit=_MAX_IDS),
    )
    ordering = _order(sort, order)
    after = cursors.decode(cursor, ordering.kind) if cursor else None
    return ListQuery(where, ordering, after, _limit(limit))


def _values(given: Sequence[str], name: str, *, limit: int = MAX_VALUES) -> tuple[str, ...]:
    kept = tuple(dict.fromkeys(v.strip() for v in given if v and v.strip()))
    if len(kept) > limit:
        raise BadRequest(f"{name}: at most {limit} values, got {len(kept)}")
    for value in kept:
        if len(value) > _MAX_VALUE:
            raise BadRequest(f"{name}: a value is longer than {_MAX_VALUE} characters")
    return kept


def _value(given: str | None, name: str) -> str | None:
    kept = _values((given,) if given else (), name)
    return kept[0] if kept else None


def _end_state(given: str | None) -> str | None:
    try:
        return wire.parse_end_state(given or None, "end_state")
    except Unprocessable as exc:
        raise BadRequest(exc.message) from None


def _flag(given: str | None, name: str) -> bool | None:
    text = (given or "").strip().lower()
    if not text:
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name}: expected true or false, got {text[:40]!r}")


def _range(
    low: str | None, high: str | None, low_name: str, high_name: str, bound: float
) -> tuple[float | None, float | None]:
    lo = _number(low, low_name, bound)
    hi = _number(high, high_name, bound)
    if lo is not None and hi is not None and lo > hi:
        raise BadRequest(f"{low_name}: greater than {high_name}")
    return lo, hi


def _number(given: str | None, name: str, bound: float) -> float | None:
    text = (given or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= bound:
        raise BadRequest(f"{name}: expected a number from 0 to {bound:g}, got {text[:40]!r}")
    return value


def _pair(given: str) -> tuple[str, str]:
    key, sep, value = given.partition("=")
    if not sep or not key.strip():
        raise BadRequest(f"metadata: expected key=value, got {given[:40]!r}")
    return key.strip(), value.strip()


def _order(sort: str | None, order: str | None) -> ListOrder:
    name = (sort or "time").strip().lower()
    if name not in SORTS:
        raise BadRequest(f"sort: expected one of {', '.join(SORTS)}, got {name[:40]!r}")
    direction = (order or "desc").strip().lower()
    if direction not in ("asc", "desc"):
        raise BadRequest(f"order: expected asc or desc, got {direction[:40]!r}")
    return ListOrder(name, direction == "desc")


def _limit(given: int | None) -> int:
    if given is None:
        return DEFAULT_LIMIT
    if not 1 <= given <= MAX_LIMIT:
        raise BadRequest(f"limit: expected 1 to {MAX_LIMIT}, got {given}")
    return given
