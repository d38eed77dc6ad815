"""Property: after any sequence of v2 inserts and updates, session updates and OTLP writes
(traces moving from their own session into a named one included), the rollups kept at
ingest equal a recomputation from the sessions and events tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentwatch.server.storage import rollups
from agentwatch.server.storage.schema import (
    LLM_SUMS,
    SESSION_SUMS,
    rollup_llm,
    rollup_session_state,
    rollup_sessions,
)
from agentwatch.server.testing import TestServer, inprocess_server
from tests.server.conftest import V2
from tests.server.otlp_requests import PROTOBUF, SECOND, new_span_id, post, span, traces_request

MODELS = ("gpt-4o", "gpt-4o-2024-07-18", "no-such-model", None)
BASE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)

llm_call = st.fixed_dictionaries(
    {
        "type": st.sampled_from(("llms", "llms", "tools", "errors")),
        "model": st.sampled_from(MODELS),
        "prompt": st.integers(0, 5000),
        "completion": st.integers(0, 500),
        "minutes": st.integers(-600, 3000),  # from BASE: buckets, hours and days apart
        "latency_ms": st.one_of(st.none(), st.integers(0, 200_000)),
    }
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("events"), st.integers(0, 2), st.lists(llm_call, max_size=4)),
        st.tuples(st.just("update_event"), st.integers(0, 2), st.integers(0, 50), llm_call),
        st.tuples(
            st.just("session"),
            st.integers(0, 2),
            st.sampled_from((None, "Success", "Fail", "Indeterminate")),
            st.integers(-900, 60),
        ),
        st.tuples(
            st.just("otlp"), st.integers(0, 1), st.booleans(), st.lists(llm_call, max_size=3)
        ),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestServer]:
    """One server for every example: each example writes fresh sessions and traces, and the
    comparison covers whole tables, so earlier examples only make it harder."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'db.sqlite'}"
        with inprocess_server(url) as server:
            yield server
        return
    from tests.conftest import _TEMPLATE, require_pg

    cluster = require_pg(request.getfixturevalue("pg_cluster"))
    name = "t_" + uuid.uuid4().hex
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}")
    try:
        with inprocess_server(cluster.url_for(name)) as server:
            yield server
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def at(minutes: int) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def wire_event(call: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    start = at(call["minutes"])
    latency = call["latency_ms"]
    event = {
        "id": event_id or str(uuid.uuid4()),
        "event_type": call["type"],
        "init_timestamp": start.isoformat(),
        "end_timestamp": None
        if latency is None
        else (start + dt.timedelta(milliseconds=latency)).isoformat(),
        "prompt_tokens": call["prompt"],
        "completion_tokens": call["completion"],
    }
    if call["model"] is not None:
        event["model"] = call["model"]
    return event


def otlp_span(trace_id: str, call: dict[str, Any], key: str | None) -> dict[str, Any]:
    start = int(at(call["minutes"]).timestamp()) * SECOND
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat" if call["type"] == "llms" else "execute_tool",
        "gen_ai.usage.input_tokens": call["prompt"],
        "gen_ai.usage.output_tokens": call["completion"],
    }
    if call["model"] is not None:
        attributes["gen_ai.request.model"] = call["model"]
    if key is not None:
        attributes["session.id"] = key
    latency = call["latency_ms"] or 0
    return span(
        trace_id,
        new_span_id(),
        start=start,
        end=start + latency * 1_000_000,
        attributes=attributes,
        status=2 if call["type"] == "errors" else 0,
    )


def stored(server: TestServer) -> tuple[dict[Any, Any], dict[Any, Any], set[Any]]:
    with server.storage.read() as conn:
        llm = _cells(conn, rollup_llm, LLM_SUMS)
        sessions = _cells(conn, rollup_sessions, SESSION_SUMS)
        states = {tuple(r) for r in conn.execute(sa.select(rollup_session_state))}
    return llm, sessions, states


def _cells(conn: sa.Connection, table: sa.Table, sums: tuple[str, ...]) -> dict[Any, Any]:
    keys = [c.name for c in table.primary_key.columns]
    cells = {}
    for row in conn.execute(sa.select(table)):
        values = {n: int(getattr(row, n)) for n in (*sums, *rollups.HISTOGRAM) if getattr(row, n)}
        if values:
            cells[tuple(getattr(row, k) for k in keys)] = values
    return cells


def expected(server: TestServer) -> tuple[dict[Any, Any], dict[Any, Any], set[Any]]:
    with server.storage.read() as conn:
        llm, sessions = rollups.recompute(conn)
        state_rows = {
            (r.id, *rollups._session_state(r)) for r in conn.execute(rollups._SESSION_QUERY)
        }
    clean = {k: {n: v for n, v in c.items() if v} for k, c in llm.items()}
    return clean, {k: {n: v for n, v in c.items() if v} for k, c in sessions.items()}, state_rows


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_rollups_equal_a_recomputation(shared: TestServer, ops: list[Any]) -> None:
    with V2(shared) as v2, httpx.Client(base_url=shared.url, transport=shared.transport) as http:
        run(v2, http, shared, ops)
    llm, sessions, states = stored(shared)
    want_llm, want_sessions, want_states = expected(shared)
    assert llm == want_llm
    assert sessions == want_sessions
    assert states == want_states  # one per stored session, none for merged-away ones


def run(v2: V2, http: httpx.Client, server: TestServer, ops: list[Any]) -> None:
    made = [v2.create_session(init_timestamp=at(-60 * i).isoformat()) for i in range(3)]
    sent: list[list[str]] = [[], [], []]
    traces = [uuid.uuid4().hex, uuid.uuid4().hex]
    key = f"conv-{uuid.uuid4()}"
    for op in ops:
        if op[0] == "events":
            _, i, calls = op
            batch = [wire_event(c) for c in calls]
            sent[i] += [e["id"] for e in batch]
            v2.events(made[i][1], batch).raise_for_status()
        elif op[0] == "update_event":
            _, i, which, call = op
            event_id = sent[i][which % len(sent[i])] if sent[i] else None
            body = {"events": [wire_event(call, event_id)]}
            v2.post_jwt("/v2/update_events", made[i][1], body).raise_for_status()
            if event_id is None:
                sent[i].append(body["events"][0]["id"])
        elif op[0] == "session":
            _, i, state, minutes = op
            fields: dict[str, Any] = {"init_timestamp": at(minutes).isoformat()}
            if state is not None:
                fields["end_state"] = state
            response = v2.post_jwt("/v2/update_session", made[i][1], {"session": fields})
            response.raise_for_status()
        else:
            _, t, named, calls = op
            spans = [otlp_span(traces[t], c, key if named else None) for c in calls]
            if spans:
                body = traces_request(spans, PROTOBUF)
                post(http, "/v1/traces", body, PROTOBUF, server.api_key).raise_for_status()


def test_a_trace_moving_between_sessions_keeps_the_rollups_exact(shared: TestServer) -> None:
    call = {"type": "llms", "model": "gpt-4o", "prompt": 100, "completion": 10, "minutes": 5}
    ops: list[Any] = [
        ("otlp", 0, False, [{**call, "latency_ms": 1200}, {**call, "latency_ms": 90}]),
        ("otlp", 1, True, [{**call, "latency_ms": 50}]),
        ("otlp", 0, True, [{**call, "type": "tools", "latency_ms": 3}]),
    ]
    with V2(shared) as v2, httpx.Client(base_url=shared.url, transport=shared.transport) as http:
        run(v2, http, shared, ops)
    assert stored(shared)[:2] == expected(shared)[:2]
