"""Views: stored rows as plain JSON-ready dicts.

The JSON read API returns these as they are, and the dashboard renders the same dicts
as HTML, so the two can never disagree about a session.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from agentwatch.server import cursors
from agentwatch.server.pricing import PICO, format_usd, model_family
from agentwatch.server.storage.engine import BIGINT_MAX
from agentwatch.server.storage.rollups import HISTOGRAM, percentile
from agentwatch.server.storage.schema import COUNTER_KINDS, LLM_SUMS, LOG_BUCKETS, SESSION_SUMS
from agentwatch.server.storage.sessionlist import CLIP, ListOrder, SessionPage
from agentwatch.server.timerange import TimeRange
from agentwatch.server.wire import display_name

__all__ = [
    "LIST_TAGS",
    "LIST_TEXT",
    "decode_cursor",
    "encode_cursor",
    "event_view",
    "overview",
    "project_stats",
    "session_detail",
    "session_list",
    "session_summary",
    "v2_stats",
]

Row = Any  # a SQLAlchemy Row of the sessions / events / agents table

# What a list row shows of a stored string at most (characters), and of the tags; the
# detail shows them whole. A row names what it cut in ``truncated``.
LIST_TEXT = CLIP - 1
LIST_TAGS = 50


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def usd(pico: int | None) -> float | None:
    return None if pico is None else pico / PICO


def known_cost(cost_pico: int, llm_calls: int, unpriced: int) -> int | None:
    """A total's cost in pico-dollars: the priced part, or None (unknown) when nothing of
    it is priced, every LLM call being unpriced. Never 0 for "no price known"."""
    if unpriced and unpriced >= llm_calls and not cost_pico:
        return None
    return cost_pico


def session_summary(row: Row, tags: list[str] | None = None) -> dict[str, Any]:
    """One session: times, state, tags (``tags``, else all stored), counts, tokens, cost,
    duration, running, models."""
    end = row.end_timestamp
    # Ended: start to end. Still running: start to the latest event seen so far.
    last = end if end is not None else row.last_event_at
    duration = None if last is None else max((last - row.init_timestamp).total_seconds(), 0.0)
    counts = {kind: int(getattr(row, kind)) for kind in COUNTER_KINDS}
    cost = known_cost(int(row.cost_pico), counts["llms"], int(row.unpriced_llms))
    return {
        "id": row.id,
        "project_id": row.project_id,
        "init_timestamp": iso(row.init_timestamp),
        "end_timestamp": iso(end),
        "last_event_at": iso(row.last_event_at),
        "end_state": row.end_state,
        "end_state_reason": row.end_state_reason,
        "tags": json.loads(row.tags) if tags is None else tags,
        "running": end is None and row.end_state == "Indeterminate",
        "duration_seconds": duration,
        "event_count": int(row.event_count),
        "counts": counts,
        "tokens": {
            "prompt": int(row.prompt_tokens),
            "completion": int(row.completion_tokens),
            "cached": int(row.cached_tokens),
            "total": int(row.prompt_tokens) + int(row.completion_tokens),
        },
        # The priced part; None (unknown) when every LLM call is unpriced. Unpriced calls
        # are counted, never taken as zero: a total reads "$x + N unpriced calls".
        "cost": usd(cost),
        "cost_usd": None if cost is None else format_usd(cost),
        "unpriced_llms": int(row.unpriced_llms),
        # Events the SDK counted as lost before they reached us, by reason.
        "dropped_events": {} if row.dropped_events is None else json.loads(row.dropped_events),
        "models": [] if row.models is None else json.loads(row.models),
    }


def event_view(row: Row) -> dict[str, Any]:
    """One event: every field the SDK sent, overlaid with the server's normalised columns.

    ``data`` repeats the event exactly as sent (the top level shows, for example, the
    server-computed ``cost`` and UTC ``init_timestamp`` where the SDK sent ``null`` or
    another offset).
    """
    data = json.loads(row.data)
    return {
        **data,
        "id": row.id,
        "event_type": row.event_type,
        "init_timestamp": iso(row.init_timestamp),
        "end_timestamp": iso(row.end_timestamp),
        "agent_id": row.agent_id,
        "thread_id": row.thread_id,
        "model": row.model,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cached_tokens": row.cached_tokens,
        "cost": usd(row.cost_pico),
        "trigger_event_id": row.trigger_event_id,
        "trigger_event_type": row.trigger_event_type,
        # The span tree: the parent's id (None: a child of the session), what it is.
        "parent_id": row.parent_id,
        "trace_id": row.trace_id,
        "kind": row.kind,
        # Events stored before names were kept get theirs from what they carry.
        "name": row.name or display_name(data, row.event_type, row.model),
        "status": row.status,
        "data": data,
    }


def agent_view(row: Row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "logs": row.logs, "created_at": iso(row.created_at)}


def session_detail(
    session: Row, agents: Sequence[Row], events: Sequence[Row], event_limit: int | None = None
) -> dict[str, Any]:
    """A session with its host environment, agents and events in time order.

    Given ``event_limit``, ``events`` may hold one more row than the page, which only
    tells that ``next_event_cursor`` is needed.
    """
    summary = session_summary(session)
    summary["host_env"] = None if session.host_env is None else json.loads(session.host_env)
    summary["video"] = session.video
    # What OpenTelemetry clients tell about the session: the name they gave it (when not a
    # UUID), its user and metadata, and the output agentops 0.4 captured (/v4/logs/upload/).
    summary["external_id"] = session.external_id
    summary["user_id"] = session.user_id
    summary["metadata"] = (
        None if session.session_metadata is None else json.loads(session.session_metadata)
    )
    summary["logs"] = session.logs
    page = events if event_limit is None else events[:event_limit]
    more = event_limit is not None and len(events) > event_limit
    return {
        "session": summary,
        "agents": [agent_view(a) for a in agents],
        "events": [event_view(e) for e in page],
        "next_event_cursor": encode_cursor(page[-1].init_timestamp, page[-1].id) if more else None,
    }


def session_list(page: SessionPage, limit: int, order: ListOrder) -> dict[str, Any]:
    """A page of the session list; ``page.rows`` may hold one more row than ``limit``,
    which only tells that ``next_cursor`` is needed (it carries the order's sort key)."""
    rows = page.rows[:limit]
    cursor = None
    if len(page.rows) > limit and rows:
        last = rows[-1]
        key = last.init_timestamp if order.sort == "time" else last.sort_key
        cursor = cursors.encode(order.kind, key, last.id)
    return {
        "sessions": [_list_row(r, page.agents.get(r.id, (None, 0))) for r in rows],
        "total": page.total,
        "total_exact": page.total_exact,  # false: a text search's "at least"
        "sort": order.sort,
        "order": "desc" if order.descending else "asc",
        "next_cursor": cursor,
    }


def _list_row(row: Row, agent: tuple[str | None, int]) -> dict[str, Any]:
    """A session as a list shows it: its large strings cut (named in ``truncated``)."""
    tags, cut = _listed_tags(row.tags)
    summary = session_summary(row, tags)
    truncated = []
    reason = row.end_state_reason
    if reason is not None and len(reason) > LIST_TEXT:
        summary["end_state_reason"] = reason[: LIST_TEXT - 1] + "\u2026"
        truncated.append("end_state_reason")
    if cut:
        truncated.append("tags")
    summary["main_agent"], summary["agent_count"] = agent
    summary["truncated"] = truncated
    return summary


def _listed_tags(text: str) -> tuple[list[str], bool]:
    """At most :data:`LIST_TAGS` tags of the (possibly cut) JSON list ``text``; whether
    some were left out."""
    if len(text) <= LIST_TEXT:
        tags = json.loads(text)
        return tags[:LIST_TAGS], len(tags) > LIST_TAGS
    decoder = json.JSONDecoder()
    tags, at = [], 1
    while len(tags) < LIST_TAGS:
        try:
            tag, at = decoder.raw_decode(text, at)
        except ValueError:
            break
        tags.append(tag)
        at += 1  # the comma (tags are stored without spaces)
        while at < len(text) and text[at] == " ":
            at += 1
    return tags, True


def project_stats(
    totals: dict[str, int], since: dt.datetime | None, until: dt.datetime | None
) -> dict[str, Any]:
    """Totals over a time range of session start times."""
    cost = known_cost(totals.pop("cost_pico"), totals["llms"], totals["unpriced_llms"])
    return {
        "since": iso(since),
        "until": iso(until),
        **totals,
        "total_tokens": totals["prompt_tokens"] + totals["completion_tokens"],
        "cost": usd(cost),
        "cost_usd": None if cost is None else format_usd(cost),
    }


def encode_cursor(started: dt.datetime, event_id: str) -> str:
    """The cursor of a session's events after the event (``started``, ``event_id``)."""
    return cursors.encode("events", started, event_id)


def decode_cursor(cursor: str, name: str = "event_cursor") -> tuple[dt.datetime, str]:
    """The keyset position of an events cursor; 400 naming ``name`` for anything else."""
    started, event_id = cursors.decode(cursor, "events", name)
    assert isinstance(started, dt.datetime)
    return started, event_id


def v2_stats(row: Row) -> dict[str, Any]:
    """``GET /v2/sessions/{id}/stats`` as AgentOps answers it (cost as a decimal string)."""
    return {
        "session_id": row.id,
        "cost": format_usd(row.cost_pico),
        "events": int(row.event_count),
        "prompt_tokens": int(row.prompt_tokens),
        "completion_tokens": int(row.completion_tokens),
        "errors": int(row.errors),
    }


def overview(
    window: TimeRange, session_rows: Sequence[Row], llm_rows: Sequence[Row]
) -> dict[str, Any]:
    """The overview of ``window``: per hour or day (in its time zone) sessions by end state,
    errors, cost, duration p50/p95/p99 and cost by model; per model (versions grouped under
    it) calls, tokens, cost and LLM latency p50/p95/p99; totals.

    ``session_rows`` and ``llm_rows`` are the rollup sums of ``overview.session_series`` and
    ``overview.llm_series``. Percentiles come from log histograms: within 12%.
    """
    per_slot = {slot: _Tally() for slot in window.slots()}
    cost_by_model: dict[int, dict[str, _Tally]] = {}
    everything = _Tally()
    models: dict[str, dict[str, _Tally]] = {}
    for row in session_rows:
        per_slot.setdefault(int(row.slot), _Tally()).add(row, SESSION_SUMS)
        everything.add(row, SESSION_SUMS)
    calls = 0
    for row in llm_rows:
        family = model_family(row.model) if row.model else "(unknown)"
        versions = models.setdefault(family, {})
        versions.setdefault(row.model or "(unknown)", _Tally()).add(row, LLM_SUMS)
        slot = cost_by_model.setdefault(int(row.slot), {})
        slot.setdefault(family, _Tally()).add(row, LLM_SUMS)
        calls += _int(row.calls)
    buckets = [
        _bucket_view(window.slot_start(k), t, cost_by_model.get(k, {}))
        for k, t in sorted(per_slot.items())
    ]
    return {
        "since": iso(window.since),
        "until": iso(window.until),
        "tz": _zone_text(window.tz),
        "step": window.step,
        "buckets": buckets,
        "models": sorted(
            (_family_view(family, versions) for family, versions in models.items()),
            key=lambda m: (-(m["prompt_tokens"] + m["completion_tokens"]), m["model"]),
        ),
        "totals": {
            "sessions": everything.sums["sessions"],
            "errored_sessions": everything.sums["errored"],
            "cost": _tally_cost(everything),
            "unpriced_calls": everything.sums["unpriced_llms"],
            "llm_calls": calls,
            **_percentiles("duration", everything.histogram),
        },
    }


class _Tally:
    """Sums and a histogram added up from rollup rows."""

    def __init__(self) -> None:
        self.sums: dict[str, int] = defaultdict(int)
        self.histogram = [0] * LOG_BUCKETS

    def add(self, row: Row, names: Sequence[str]) -> None:
        for name in names:
            self.sums[name] += _int(getattr(row, name))
        for k, name in enumerate(HISTOGRAM):
            self.histogram[k] += _int(getattr(row, name))

    def merge(self, other: _Tally) -> None:
        for name, value in other.sums.items():
            self.sums[name] += value
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]


def _int(value: Any) -> int:
    """A database sum (SQLite's float total, PostgreSQL's numeric) as a BIGINT-sized int."""
    return min(int(value or 0), BIGINT_MAX)


def _tally_cost(t: _Tally) -> float | None:
    if "calls" in t.sums:  # an LLM tally
        return usd(known_cost(t.sums["cost_pico"], t.sums["calls"], t.sums["unpriced"]))
    return usd(known_cost(t.sums["cost_pico"], t.sums["llms"], t.sums["unpriced_llms"]))


def _percentiles(name: str, histogram: Sequence[int]) -> dict[str, float | None]:
    """``<name>_p50/p95/p99`` in seconds (None without data)."""
    out: dict[str, float | None] = {}
    for q in (50, 95, 99):
        ms = percentile(histogram, q / 100)
        out[f"{name}_p{q}"] = None if ms is None else ms / 1000
    return out


def _bucket_view(start: dt.datetime, t: _Tally, models: dict[str, _Tally]) -> dict[str, Any]:
    sessions, sums = t.sums["sessions"], t.sums
    return {
        "start": start.isoformat(),
        "sessions": sessions,
        # As stored: Indeterminate holds the running sessions too, ``running`` tells them.
        "end_states": {
            "Success": sums["success"],
            "Fail": sums["fail"],
            "Indeterminate": sums["indeterminate"] + sums["running"],
        },
        "running": sums["running"],
        "errored_sessions": sums["errored"],
        "error_rate": sums["errored"] / sessions if sessions else None,
        "cost": _tally_cost(t),
        "unpriced_calls": sums["unpriced_llms"],
        **_percentiles("duration", t.histogram),
        "llm_calls": sum(m.sums["calls"] for m in models.values()),
        "cost_by_model": {family: _tally_cost(m) for family, m in sorted(models.items())},
    }


def _model_view(name: str, t: _Tally) -> dict[str, Any]:
    return {
        "model": name,
        "calls": t.sums["calls"],
        "prompt_tokens": t.sums["prompt_tokens"],
        "completion_tokens": t.sums["completion_tokens"],
        "cached_tokens": t.sums["cached_tokens"],
        "cost": _tally_cost(t),
        "unpriced_calls": t.sums["unpriced"],
        **_percentiles("latency", t.histogram),
    }


def _family_view(family: str, versions: dict[str, _Tally]) -> dict[str, Any]:
    """A model's row: its versions added up, each listed when a name differs from it."""
    total = _Tally()
    for t in versions.values():
        total.merge(t)
    shown = [] if list(versions) == [family] else sorted(versions.items(), key=lambda v: v[0])
    return {**_model_view(family, total), "versions": [_model_view(n, t) for n, t in shown]}


def _zone_text(tz: dt.tzinfo) -> str:
    """A zone's name (``Europe/Berlin``), or a fixed offset as ``+05:30``."""
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    offset = tz.utcoffset(None)
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
