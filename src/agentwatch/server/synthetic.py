"""Synthetic agent runs sent over the v2 protocol, for tests and benchmarks of the dashboard.

A run is a tree like a real multi-agent session: one span per agent, under it steps
(actions), and under each step an LLM call and one or two tool calls; every so often a
tool fails and an error event follows it. Events are sent children first, in batches,
through ``/v2/create_events``, so they go through ingest like any SDK's.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["SyntheticRun", "send_run", "synthetic_run"]

AGENTS = ("planner", "researcher", "coder")
TOOLS = ("search", "read_file", "run_tests", "fetch_url")
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku")


@dataclass
class SyntheticRun:
    """The events of one run (v2 wire dicts) and its agents (id -> name)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)

    def ids(self, event_type: str) -> list[str]:
        return [e["id"] for e in self.events if e["event_type"] == event_type]


def synthetic_run(
    n_events: int,
    *,
    start: dt.datetime | None = None,
    seed: int = 1,
    error_every: int = 97,
    label: str = "",
) -> SyntheticRun:
    """About ``n_events`` events (exactly, once over 10) in tree shape, ``label`` added to
    every name (say, markup that must stay text)."""
    rng = random.Random(seed)
    t = start or dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    run = SyntheticRun()
    agent_spans: list[dict[str, Any]] = []
    for name in AGENTS:
        agent_id = str(uuid.uuid4())
        run.agents[agent_id] = name + label
        span = _event("agents", t, 0, agent_id, None, kind="agent", name=name + label)
        agent_spans.append(span)
        run.events.append(span)
    step = 0
    while len(run.events) < n_events:
        agent = agent_spans[step % len(agent_spans)]
        t += dt.timedelta(milliseconds=rng.randint(5, 40))
        action = _event(
            "actions", t, 0, agent["agent_id"], agent["id"], action_type=f"step {step}{label}"
        )
        run.events.append(action)
        inner = t
        inner += dt.timedelta(milliseconds=rng.randint(1, 5))
        latency = rng.randint(80, 900)
        run.events.append(
            _event(
                "llms",
                inner,
                latency,
                agent["agent_id"],
                action["id"],
                model=rng.choice(MODELS),
                prompt=f"step {step}: what next?{label}",
                completion=f"call a tool{label}",
                prompt_tokens=rng.randint(50, 900),
                completion_tokens=rng.randint(5, 200),
            )
        )
        inner += dt.timedelta(milliseconds=latency)
        for _ in range(rng.randint(1, 2)):
            took = rng.randint(5, 300)
            tool = _event(
                "tools",
                inner,
                took,
                agent["agent_id"],
                action["id"],
                name=rng.choice(TOOLS) + label,
                params={"step": step},
                returns={"ok": True},
            )
            run.events.append(tool)
            inner += dt.timedelta(milliseconds=took)
            if len(run.events) % error_every == 0:
                run.events.append(
                    _event(
                        "errors",
                        inner,
                        0,
                        agent["agent_id"],
                        tool["id"],
                        error_type="ToolFailed" + label,
                        details="it broke" + label,
                        trigger_event_id=tool["id"],
                        trigger_event_type="tools",
                    )
                )
        action["end_timestamp"] = inner.isoformat()
        t = inner
        step += 1
    for span in agent_spans:
        span["end_timestamp"] = t.isoformat()
    del run.events[n_events:]
    return run


def _event(
    event_type: str,
    at: dt.datetime,
    took_ms: int,
    agent_id: str,
    parent_id: str | None,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event_type": event_type,
        "init_timestamp": at.isoformat(),
        "end_timestamp": (at + dt.timedelta(milliseconds=took_ms)).isoformat(),
        "agent_id": agent_id,
        "parent_id": parent_id,
        **fields,
    }


def send_run(
    http: httpx.Client,
    api_key: str,
    run: SyntheticRun,
    *,
    end_state: str | None = "Success",
    tags: Sequence[str] = (),
    batch: int = 2_000,
) -> tuple[str, str]:
    """Create a session, its agents and events (children first); end it unless
    ``end_state`` is None. Returns (session id, its JWT). Raises on any refusal."""
    session_id = str(uuid.uuid4())
    start = min((e["init_timestamp"] for e in run.events), default=None)
    answer = http.post(
        "/v2/create_session",
        json={"session": {"session_id": session_id, "tags": list(tags), "init_timestamp": start}},
        headers={"X-Agentops-Api-Key": api_key},
    )
    answer.raise_for_status()
    auth = {"Authorization": f"Bearer {answer.json()['jwt']}"}
    for agent_id, name in run.agents.items():
        http.post("/v2/create_agent", json={"id": agent_id, "name": name}, headers=auth)
    ordered = list(reversed(run.events))  # children before their parents
    for i in range(0, len(ordered), batch):
        sent = http.post("/v2/create_events", json={"events": ordered[i : i + batch]}, headers=auth)
        sent.raise_for_status()
    if end_state is not None:
        last = max((e["end_timestamp"] for e in run.events), default=None)
        body = {"session": {"end_state": end_state, "end_timestamp": last}}
        http.post("/v2/update_session", json=body, headers=auth).raise_for_status()
    return session_id, auth["Authorization"][7:]
