"""Body limits, gzip, and the rule that bad input never gets a 500."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentwatch.server.testing import TestServer, inprocess_server, uvicorn_server

from .conftest import V2, event

LIMIT = 4096


@pytest.fixture
def small() -> Iterator[V2]:
    with inprocess_server(max_body_bytes=LIMIT, max_batch_events=10) as server:
        client = V2(server)
        yield client
        client.close()


def _post(v2: V2, jwt: str, payload: bytes, **headers: str) -> httpx.Response:
    return v2.http.post(
        "/v2/create_events",
        content=payload,
        headers={"Authorization": f"Bearer {jwt}", "Content-Type": "application/json", **headers},
    )


def _batch(n: int) -> bytes:
    return json.dumps({"events": [event(params={"pad": "x" * 100}) for _ in range(n)]}).encode()


def test_body_over_the_limit_is_413(small: V2) -> None:
    _, jwt = small.create_session()
    answer = _post(small, jwt, b" " * (LIMIT + 1))
    assert answer.status_code == 413
    assert answer.json() == {
        "path": "/v2/create_events",
        "message": f"request body larger than {LIMIT} bytes (after decompression)",
    }


def test_gzip_is_accepted_and_bombs_are_413(small: V2) -> None:
    session_id, jwt = small.create_session()
    ok = _post(small, jwt, gzip.compress(_batch(3)), **{"Content-Encoding": "gzip"})
    assert ok.status_code == 200
    assert small.server.session(session_id)["session"]["event_count"] == 3
    bomb = gzip.compress(b'{"events": [' + b" " * 3_000_000 + b"]}")
    assert len(bomb) < LIMIT
    answer = _post(small, jwt, bomb, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 413


def test_corrupt_gzip_is_400_and_unknown_encoding_415(small: V2) -> None:
    _, jwt = small.create_session()
    corrupt = _post(small, jwt, b"\x1f\x8b\x08\x00garbage", **{"Content-Encoding": "gzip"})
    assert corrupt.status_code == 400
    assert "gzip" in corrupt.json()["message"]
    truncated = _post(small, jwt, gzip.compress(_batch(1))[:-10], **{"Content-Encoding": "gzip"})
    assert truncated.status_code == 400
    brotli = _post(small, jwt, b"{}", **{"Content-Encoding": "br"})
    assert brotli.status_code == 415


def test_too_many_events_in_one_batch_is_413(small: V2) -> None:
    _, jwt = small.create_session()
    answer = small.events(jwt, [{"id": str(i), "event_type": "x"} for i in range(11)])
    assert answer.status_code == 413


def test_streamed_body_without_content_length_is_cut_at_the_limit() -> None:
    with uvicorn_server(max_body_bytes=LIMIT) as server:
        v2 = V2(server)
        _, jwt = v2.create_session()

        def chunks() -> Iterator[bytes]:
            yield b'{"events": ['
            for _ in range(1000):
                yield b" " * 1000

        answer = v2.http.post(
            "/v2/create_events", content=chunks(), headers={"Authorization": f"Bearer {jwt}"}
        )
        v2.close()
        assert answer.status_code == 413


def test_malformed_json_is_400_and_schema_violations_422(v2: V2) -> None:
    _, jwt = v2.create_session()
    bad_json = _post(v2, jwt, b'{"events": [')
    assert bad_json.status_code == 400
    assert bad_json.json()["message"].startswith("malformed JSON body")
    cases: dict[str, Any] = {
        "events": {"events": "nope"},
        "events[0]": {"events": [[1, 2]]},
        "events[0].event_type": {"events": [{"id": "1"}]},
        "events[0].prompt_tokens": {"events": [event("llms", prompt_tokens="many")]},
        "events[0].init_timestamp": {"events": [event(init_timestamp="yesterday")]},
        "events[0].cost": {"events": [event("llms", cost=-1)]},
    }
    for field, body in cases.items():
        answer = v2.post_jwt("/v2/create_events", jwt, body)
        assert answer.status_code == 422, field
        assert field in answer.json()["message"], answer.json()


def test_bad_session_bodies_are_422(v2: V2) -> None:
    for field, session in {
        "session.session_id": {"session_id": "not-a-uuid"},
        "session.end_state": {"session_id": str(uuid.uuid4()), "end_state": "Done"},
        "session.tags": {"session_id": str(uuid.uuid4()), "tags": {"a": 1}},
        "session.init_timestamp": {
            "session_id": str(uuid.uuid4()),
            "init_timestamp": "0001-01-01T00:00:00+14:00",
        },
    }.items():
        answer = v2.post_key("/v2/create_session", {"session": session})
        assert answer.status_code == 422, field
        assert field in answer.json()["message"]
    assert v2.post_key("/v2/create_session", {"nothing": 1}).status_code == 422


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.uuids().map(str),
        "event_type": json_values
        | st.sampled_from(["llms", "tools", "actions", "errors", "apis", "x"]),
        "init_timestamp": json_values | st.datetimes().map(lambda d: d.isoformat()),
        "end_timestamp": json_values,
        "prompt_tokens": json_values,
        "completion_tokens": json_values,
        "cost": json_values,
        "model": json_values | st.just("gpt-4o"),
        "agent_id": json_values,
        "params": json_values,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(event_like | json_values, max_size=5))
def test_fuzzed_events_never_cause_a_server_error(server: TestServer, events: list[Any]) -> None:
    with V2(server) as v2:
        _, jwt = v2.create_session()
        # json.dumps lets NaN/Infinity through, as Python SDKs do; the server must cope.
        answer = _post(v2, jwt, json.dumps({"events": events}).encode())
    assert answer.status_code in (200, 400, 413, 422), answer.text
    if answer.status_code != 200:
        assert {"path", "message"} <= set(answer.json())


session_like = st.fixed_dictionaries(
    {"session_id": st.uuids().map(str) | json_values},
    optional={
        "init_timestamp": json_values
        | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        "end_timestamp": json_values,
        "end_state": json_values | st.sampled_from(["Success", "Fail", "Indeterminate", "error"]),
        "end_state_reason": json_values,
        "tags": json_values | st.lists(st.text(max_size=300), max_size=3),
        "host_env": json_values,
        "video": json_values,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(session=session_like | json_values)
def test_fuzzed_sessions_never_cause_a_server_error(server: TestServer, session: Any) -> None:
    with V2(server) as v2:
        body = json.dumps({"session": session}).encode()
        headers = {"X-Agentops-Api-Key": server.api_key, "Content-Type": "application/json"}
        created = v2.http.post("/v2/create_session", content=body, headers=headers)
        assert created.status_code in (200, 400, 422), created.text
        _, jwt = v2.create_session()
        updated = v2.http.post(
            "/v2/update_session",
            content=body,
            headers={**headers, "Authorization": f"Bearer {jwt}"},
        )
        assert updated.status_code in (200, 400, 422), updated.text


def test_requests_beyond_the_inflight_limit_get_503() -> None:
    with uvicorn_server(max_inflight=1) as server, V2(server) as v2:
        _, jwt = v2.create_session()
        started = threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield b'{"events": ['
            started.set()
            time.sleep(1.5)
            yield b"]}"

        def slow_upload() -> int:
            with httpx.Client(timeout=30) as http:
                answer = http.post(
                    f"{server.url}/v2/create_events",
                    content=slow_body(),
                    headers={"Authorization": f"Bearer {jwt}"},
                )
                return answer.status_code

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(slow_upload)
            assert started.wait(10)
            time.sleep(0.2)
            busy = v2.events(jwt, [event()])
            assert busy.status_code == 503
            assert busy.headers["Retry-After"] == "1"
            assert "busy" in busy.json()["message"]
            assert v2.http.get("/health").status_code == 200
            assert slow.result() == 200
        assert v2.events(jwt, [event()]).status_code == 200
