"""The compare view: two sessions' LLM and tool calls aligned step by step (see
:mod:`.alignment`), each pair marked, with deltas and the first divergence.

A step is keyed by (kind, tool name, model): LLM calls may pair with any LLM call (the
same model preferred), tool calls only with calls of the same tool. A pair is ``match``
when model, inputs, outputs and outcome agree, else ``differs`` with what differs; steps
without a partner are ``only_a`` / ``only_b``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import orjson

from agentwatch.server import views
from agentwatch.server.alignment import Key, align
from agentwatch.server.pricing import PICO

__all__ = ["STEP_LIMIT", "compare"]

# Each session is compared by at most its first STEP_LIMIT steps (the answer says so).
STEP_LIMIT = 2_000
_PREVIEW = 300


def compare(
    a: Any, a_steps: Sequence[Any], b: Any, b_steps: Sequence[Any], limit: int = STEP_LIMIT
) -> dict[str, Any]:
    """Sessions ``a`` and ``b`` with their steps (rows in time order) aligned."""
    left = [_step(r, a.init_timestamp) for r in a_steps]
    right = [_step(r, b.init_timestamp) for r in b_steps]
    pairs = [
        _pair(None if i is None else left[i], None if j is None else right[j])
        for i, j in align([s.pop("_key") for s in left], [s.pop("_key") for s in right])
    ]
    first = next((k for k, p in enumerate(pairs) if p["status"] != "match"), None)
    counts = {
        s: sum(p["status"] == s for p in pairs) for s in ("match", "differs", "only_a", "only_b")
    }
    return {
        "a": _side(a, left, limit),
        "b": _side(b, right, limit),
        "pairs": pairs,
        "counts": counts,
        "first_divergence": first,
        "step_limit": limit,
        "delta": _session_delta(views.session_summary(a), views.session_summary(b)),
    }


def _side(session: Any, steps: Sequence[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {
        "session": views.session_summary(session),
        "steps": len(steps),
        "capped": len(steps) >= limit,
    }


def _step(row: Any, t0: dt.datetime) -> dict[str, Any]:
    data = json.loads(row.data)
    llm = row.kind == "llm"
    given = data.get("prompt") if llm else data.get("params")
    got = data.get("completion") if llm else data.get("returns")
    end = row.end_timestamp or row.init_timestamp
    latency = data.get("latency") if isinstance(data.get("latency"), int | float) else None
    tokens = None
    if row.prompt_tokens is not None or row.completion_tokens is not None:
        tokens = (row.prompt_tokens or 0) + (row.completion_tokens or 0)
    tool = None if llm else (row.name or row.event_type)
    key: Key = (row.kind, tool, row.model)
    return {
        "_key": key,
        "id": row.id,
        "kind": row.kind,
        "name": row.name or row.event_type,
        "model": row.model,
        "start": round((row.init_timestamp - t0).total_seconds() * 1000, 3),
        "latency": latency if latency is not None else (end - row.init_timestamp).total_seconds(),
        "tokens": tokens,
        "cost": None if row.cost_pico is None else row.cost_pico / PICO,
        "failed": row.status == "error",
        "input": _preview(given),
        "output": _preview(got),
        "input_digest": _digest(given),
        "output_digest": _digest(got),
    }


def _pair(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    if a is None or b is None:
        status = "only_b" if a is None else "only_a"
        return {"status": status, "a": a, "b": b, "differs": [], "delta": None}
    differs = [
        name
        for name, same in (
            ("model", a["model"] == b["model"]),
            ("inputs", a["input_digest"] == b["input_digest"]),
            ("outputs", a["output_digest"] == b["output_digest"]),
            ("outcome", a["failed"] == b["failed"]),
        )
        if not same
    ]
    return {
        "status": "differs" if differs else "match",
        "a": a,
        "b": b,
        "differs": differs,
        "delta": {
            "cost": _minus(b["cost"], a["cost"]),
            "tokens": _minus(b["tokens"], a["tokens"]),
            "latency": _minus(b["latency"], a["latency"]),
        },
    }


def _session_delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "cost": _minus(b["cost"], a["cost"]),
        "tokens": b["tokens"]["total"] - a["tokens"]["total"],
        "duration": _minus(b["duration_seconds"], a["duration_seconds"]),
        "outcome": None if a["end_state"] == b["end_state"] else [a["end_state"], b["end_state"]],
    }


def _minus(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 12)


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _digest(value: Any) -> str | None:
    if value is None:
        return None
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]
