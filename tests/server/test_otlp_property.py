"""Property: random span trees, shuffled, split into random requests, some sent twice,
store the same trees and the same counters as the model says, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentwatch.server.otlp.sessions import named_session, trace_session
from agentwatch.server.pricing import PriceTable
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import (
    JSON,
    PROTOBUF,
    SECOND,
    now_ns,
    post,
    rejected,
    span,
    traces_request,
)

PRICES = PriceTable.load()
MODELS = ("gpt-4o-mini", "no-such-model")
KINDS = ("llm", "tool", "agent", "other")


@dataclass(frozen=True)
class Node:
    parent: int | None  # index of the parent in its trace
    kind: str
    model: str
    tokens: tuple[int, int, int]  # input, output, cached (a part of input)
    status: int  # 0 unset, 1 ok, 2 error
    names_session: bool


nodes = st.builds(
    Node,
    parent=st.none(),
    kind=st.sampled_from(KINDS),
    model=st.sampled_from(MODELS),
    tokens=st.tuples(st.integers(0, 5000), st.integers(0, 500), st.integers(0, 5000)),
    status=st.sampled_from((0, 0, 1, 2)),
    names_session=st.booleans(),
)


@st.composite
def trees(draw: st.DrawFn) -> list[Node]:
    size = draw(st.integers(1, 8))
    tree = []
    for i in range(size):
        node = draw(nodes)
        parent = None if i == 0 else draw(st.one_of(st.none(), st.integers(0, i - 1)))
        tree.append(
            Node(parent, node.kind, node.model, node.tokens, node.status, node.names_session)
        )
    return tree


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    forest = draw(st.lists(trees(), min_size=1, max_size=3))
    keys = draw(
        st.lists(
            st.sampled_from((None, "conv-a", "conv-b")), min_size=len(forest), max_size=len(forest)
        )
    )
    count = sum(len(t) for t in forest)
    order = draw(st.permutations(range(count)))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, count - 1)), max_size=4)))
    repeats = draw(st.lists(st.integers(0, 10), max_size=3))
    encoding = draw(st.sampled_from((PROTOBUF, JSON)))
    return {
        "forest": forest,
        "keys": keys,
        "order": order,
        "cuts": cuts,
        "repeats": repeats,
        "encoding": encoding,
    }


def attributes_of(node: Node, key: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if node.kind == "llm":
        cached = min(node.tokens[2], node.tokens[0])
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": node.model,
            "gen_ai.usage.input_tokens": node.tokens[0],
            "gen_ai.usage.output_tokens": node.tokens[1],
            "gen_ai.usage.cache_read.input_tokens": cached,
        }
    elif node.kind == "tool":
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"}
    elif node.kind == "agent":
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 1}
    if key is not None and node.names_session:
        attributes["session.id"] = key
    return attributes


def build(
    scenario: dict[str, Any], run: str, project_id: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(every span, in the scenario's order; the expected sessions by id)."""
    spans: list[dict[str, Any]] = []
    expected: dict[str, dict[str, Any]] = {}
    base = now_ns() - 3600 * SECOND
    for t, tree in enumerate(scenario["forest"]):
        trace = os.urandom(16).hex()
        key = None if scenario["keys"][t] is None else f"{run}-{scenario['keys'][t]}"
        ids = [os.urandom(8).hex() for _ in tree]
        named = key is not None and any(n.names_session for n in tree)
        session = (
            named_session(project_id, key)[0] if named and key else trace_session(project_id, trace)
        )
        model = expected.setdefault(
            session,
            {
                "events": {},
                "counts": Counter(),
                "tokens": [0, 0, 0],
                "cost": 0,
                "unpriced": 0,
                "states": set(),
                "models": set(),
                "last": None,
            },
        )
        for i, node in enumerate(tree):
            start = base + (t * 100 + i) * SECOND
            parent = ids[node.parent] if node.parent is not None else None
            spans.append(
                span(
                    trace,
                    ids[i],
                    parent,
                    name=f"n{i}",
                    start=start,
                    end=start + SECOND // 2,
                    attributes=attributes_of(node, key),
                    status=node.status,
                )
            )
            kind_type = {"llm": "llms", "tool": "tools"}.get(node.kind, "other")
            model["events"][ids[i]] = (parent, node.kind, trace)
            end = start + SECOND // 2
            model["last"] = end if model["last"] is None else max(model["last"], end)
            model["counts"][kind_type] += 1
            if node.status == 2:
                model["events"][f"{ids[i]}.error"] = (ids[i], "error", trace)
                model["counts"]["errors"] += 1
            if node.kind == "llm":
                cached = min(node.tokens[2], node.tokens[0])
                model["tokens"] = [
                    a + b
                    for a, b in zip(
                        model["tokens"], (node.tokens[0], node.tokens[1], cached), strict=True
                    )
                ]
                cost = PRICES.cost(node.model, node.tokens[0], node.tokens[1], cached)
                model["models"].add(node.model)
                model["cost"] += cost or 0
                model["unpriced"] += cost is None
            if parent is None and node.status in (1, 2):
                model["states"].add(node.status)
    ordered = [spans[i] for i in scenario["order"]]
    return ordered, expected


def requests_of(
    spans: list[dict[str, Any]], scenario: dict[str, Any]
) -> list[list[dict[str, Any]]]:
    bounds = [0, *scenario["cuts"], len(spans)]
    chunks = [spans[a:b] for a, b in itertools.pairwise(bounds) if spans[a:b]]
    return chunks + [chunks[r % len(chunks)] for r in scenario["repeats"]]


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios())
def test_any_arrival_order_stores_the_same_tree(
    server: TestServer, http: httpx.Client, scenario: dict[str, Any]
) -> None:
    run = os.urandom(4).hex()  # keys of this example only: the server is shared by all of them
    spans, expected = build(scenario, run, server.project_id)
    for chunk in requests_of(spans, scenario):
        body = traces_request(chunk, scenario["encoding"])
        assert rejected(post(http, "/v1/traces", body, scenario["encoding"], server.api_key)) == (
            0,
            "",
        )
    for session_id, model in expected.items():
        detail = server.session(session_id)
        stored = {e["id"]: (e["parent_id"], e["kind"], e["trace_id"]) for e in detail["events"]}
        assert stored == model["events"]
        summary = detail["session"]
        counts = {k: v for k, v in summary["counts"].items() if v}
        assert counts == {k: v for k, v in model["counts"].items() if v}
        assert summary["event_count"] == len(model["events"])
        assert [summary["tokens"][k] for k in ("prompt", "completion", "cached")] == model["tokens"]
        row = server.storage.session(server.project_id, session_id)
        assert row is not None
        assert row.cost_pico == model["cost"]
        assert summary["unpriced_llms"] == model["unpriced"]
        # What search filters by, and the latest activity, wherever the spans moved from.
        assert set(json.loads(row.models or "[]")) == model["models"]
        assert row.last_event_at == dt.datetime.fromtimestamp(
            model["last"] / 1e9, dt.timezone.utc
        ).replace(microsecond=(model["last"] // 1000) % 1_000_000)
        starts = [
            dt.datetime.fromisoformat(e["init_timestamp"])
            for e in detail["events"]
            if "." not in e["id"]
        ]
        assert dt.datetime.fromisoformat(summary["init_timestamp"]) == min(starts)
        state = (
            "Fail"
            if 2 in model["states"]
            else "Success"
            if 1 in model["states"]
            else "Indeterminate"
        )
        assert summary["end_state"] == state
    for chunk_span in spans:  # no trace left a session of its own behind
        derived = trace_session(server.project_id, chunk_span["trace_id"])
        if derived not in expected:
            with pytest.raises(KeyError):
                server.session(derived)
