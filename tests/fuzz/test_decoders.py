"""Time-boxed fuzzing of every decoder a request body goes through: the v2 JSON (parse,
check, event records) and the OTLP JSON and protobuf decoders (traces, logs, metrics).

Whatever the bytes, a decoder answers with its result or with the server's own 4xx error
(``BadRequest`` / ``Unprocessable``); no other exception escapes. The same bodies sent to
the real app get a 2xx or a 4xx, never a 500. A few seconds in the normal run.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentwatch.server import jsonbody, wire
from agentwatch.server.errors import ServerError
from agentwatch.server.otlp import decode
from agentwatch.server.pricing import PriceTable
from agentwatch.server.testing import TestServer, inprocess_server
from tests.server.otlp_requests import new_trace_id, span, traces_json, traces_pb

pytestmark = pytest.mark.fuzz

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
PRICES = PriceTable.load()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["\ud800", "\udfff x", "llms", "2026-01-01T00:00:00Z", "", "NaN"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
event_keys = st.sampled_from(
    [
        "id",
        "event_type",
        "init_timestamp",
        "end_timestamp",
        "prompt_tokens",
        "cost",
        "model",
        "parent_id",
        "kind",
        "status",
        "agent_id",
        "params",
        "returns",
        "timestamp",
        "name",
    ]
)
events = st.dictionaries(event_keys, json_values, max_size=8)


def _text(value: Any) -> bytes:
    # json.dumps writes lone surrogates as escapes and NaN bare, as Python SDKs do.
    return json.dumps(value).encode()


def _mutations(body: bytes) -> st.SearchStrategy[bytes]:
    """``body`` cut, with bytes flipped, or with deep nesting spliced in."""
    return st.one_of(
        st.integers(0, len(body)).map(lambda n: body[:n]),
        st.tuples(st.integers(0, max(len(body) - 1, 0)), st.integers(0, 255)).map(
            lambda p: body[: p[0]] + bytes([p[1]]) + body[p[0] + 1 :]
        ),
        st.integers(1, 3_000).map(lambda n: body.replace(b"{", b"[" * n + b"{", 1)),
    )


@FAST
@given(
    body=st.dictionaries(st.just("events"), st.lists(events | json_values, max_size=4)).map(_text)
    | st.binary(max_size=200)
)
def test_v2_decoding_raises_only_client_errors(body: bytes) -> None:
    parsed = _client_error_or(lambda: jsonbody.check_items(jsonbody.loads(body)), (400, 422))
    for i, event in enumerate(parsed.get("events", []) if isinstance(parsed, dict) else []):
        where = f"events[{i}]"
        _client_error_or(
            functools.partial(wire.event_record, event, where, "s", PRICES, NOW), (422,)
        )


def _client_error_or(call: Any, statuses: tuple[int, ...]) -> Any:
    """What ``call()`` returns, or None when it raised a server error of ``statuses``."""
    try:
        return call()
    except ServerError as exc:
        status = exc.status_code
    assert status in statuses
    return None


GOOD_JSON = traces_json([span(new_trace_id(), attributes={"k": {"a": [1, "x"]}})])
GOOD_PB = traces_pb([span(new_trace_id(), attributes={"k": [1, 2], "n": 1.5})])


@FAST
@given(
    body=_mutations(GOOD_JSON) | _mutations(GOOD_PB) | st.binary(max_size=300),
    encoding=st.sampled_from(["json", "protobuf"]),
)
def test_otlp_decoding_raises_only_bad_request(body: bytes, encoding: str) -> None:
    for call in (
        lambda: decode.decode_traces(body, encoding, NOW),
        lambda: decode.decode_logs(body, encoding),
        lambda: decode.metric_points(body, encoding),
    ):
        _client_error_or(call, (400,))


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[TestServer, httpx.Client, str]]:
    with (
        inprocess_server() as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        answer = http.post(
            "/v2/create_session",
            json={"session": {"session_id": "0b7c3f1e-6a52-4f0e-9d7b-8c1a2e4f5d61"}},
            headers={"X-Agentops-Api-Key": server.api_key},
        )
        yield server, http, answer.json()["jwt"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    v2=st.lists(events | json_values, max_size=4).map(lambda e: _text({"events": e})),
    otlp=_mutations(GOOD_JSON) | _mutations(GOOD_PB),
)
def test_the_app_answers_fuzzed_bodies_with_2xx_or_4xx(
    app: tuple[TestServer, httpx.Client, str], v2: bytes, otlp: bytes
) -> None:
    server, http, jwt = app
    json_headers = {"Content-Type": "application/json"}
    for path in ("/v2/create_events", "/v2/update_events"):
        answer = http.post(
            path, content=v2, headers={**json_headers, "Authorization": f"Bearer {jwt}"}
        )
        assert answer.status_code < 500, answer.text
    for content_type in ("application/json", "application/x-protobuf"):
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {server.api_key}"}
        for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
            assert http.post(path, content=otlp, headers=headers).status_code < 500
