"""SessionApiClient over real sockets: a scripted stub, then the real agentwatch server.

Most tests run against ``stub_server.StubApp`` under uvicorn on 127.0.0.1, which can be
told to fail in precise ways and records what arrived; they assert on that (counts,
headers, bodies byte for byte, time between requests). The last section sends a session
to the real server (in-process and under uvicorn) and reads back what it stored.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import format_datetime
from importlib import metadata

import httpx
import orjson
import pytest

from agentwatch.config import Config
from agentwatch.exceptions import FatalApiError, RetryableApiError
from agentwatch.server.testing import TestServer, inprocess_server, uvicorn_server
from agentwatch.session.api import CreatedSession, SessionApiClient
from agentwatch.telemetry.retry import RetryPolicy
from tests.sdk.stub_server import HangUpServer, Reply, StubApp, serve

API_KEY = "6f1c2b4e-1111-4222-8333-944455556666"
PARENT_KEY = "0d9f7a3c-aaaa-4bbb-8ccc-dddddddddddd"
SID = "d1b9143f-7bb2-4e49-b7f0-a6dfa198b22b"
EVENT = orjson.dumps({"id": "e1", "event_type": "actions", "params": {"q": "é"}})

# Fast backoff so that retry tests take fractions of a second (Retry-After still applies).
FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[StubApp, str]]:
    app = StubApp()
    with serve(app) as url:
        yield app, url


@pytest.fixture
def stub(served: tuple[StubApp, str]) -> StubApp:
    # One uvicorn for the module; a fresh script and record for every test.
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served: tuple[StubApp, str], stub: StubApp) -> str:
    return served[1]


def make_api(url: str, policy: RetryPolicy = FAST, **settings: object) -> SessionApiClient:
    config = Config(api_key=API_KEY, endpoint=url, request_timeout=2.0, retry_deadline=5.0)
    return SessionApiClient(config.replace(**settings), policy=policy)


@pytest.fixture
def api(stub: StubApp, url: str) -> Iterator[SessionApiClient]:
    client = make_api(url)
    yield client
    client.close()


@pytest.fixture
def session(api: SessionApiClient) -> str:
    """A session created on the stub; returns its JWT."""
    return api.create_session(SID, {"tags": ["t"]}).jwt


# -- requests as sent -------------------------------------------------------------------


def test_create_session_sends_the_api_keys_and_stores_the_jwt(stub: StubApp, url: str) -> None:
    api = make_api(url, parent_key=PARENT_KEY)
    created = api.create_session(
        SID, {"tags": ["a"], "init_timestamp": "2026-11-25T20:15:00+00:00"}
    )
    api.close()

    [request] = stub.received("/v2/create_session")
    assert request.headers["x-agentops-api-key"] == API_KEY
    assert request.headers["x-agentops-parent-key"] == PARENT_KEY
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert request.headers["user-agent"] == f"agentwatch-python/{metadata.version('agentwatch')}"
    assert "authorization" not in request.headers
    assert request.json() == {
        "session": {"tags": ["a"], "init_timestamp": "2026-11-25T20:15:00+00:00", "session_id": SID}
    }
    assert created == CreatedSession(jwt=created.jwt, session_url=f"http://stub/sessions/{SID}")
    assert api.jwt_for(SID) == created.jwt


def test_jwt_routes_send_the_bearer_token_and_no_api_key(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    api.create_agent(SID, "a1", "planner")
    api.update_session(SID, {"end_state": "Success"})
    for path in ("/v2/create_agent", "/v2/update_session"):
        [request] = stub.received(path)
        assert request.headers["authorization"] == f"Bearer {session}"
        assert "x-agentops-api-key" not in request.headers
    assert stub.received("/v2/create_agent")[0].json() == {"id": "a1", "name": "planner"}
    assert stub.received("/v2/update_session")[0].json() == {
        "session": {"end_state": "Success", "session_id": SID}
    }


def test_create_events_joins_the_encoded_events_byte_for_byte(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    events = [
        EVENT,
        b'{"id":"e2","event_type":"llms","returns":"\\u2603 \xe2\x98\x83"}',
        b'{"id":"e3"}',
    ]
    api.create_events(SID, events)
    [request] = stub.received("/v2/create_events")
    assert request.body == b'{"events":[' + b",".join(events) + b"]}"


def test_create_events_gzips_batches_over_a_kilobyte(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    big = [
        orjson.dumps({"id": f"e{n}", "event_type": "actions", "returns": "x" * 100})
        for n in range(50)
    ]
    api.create_events(SID, big)
    api.create_events(SID, [EVENT])  # a small body goes as it is
    large, small = stub.received("/v2/create_events")
    assert large.headers["content-encoding"] == "gzip"
    expected = b'{"events":[' + b",".join(big) + b"]}"
    assert zlib.decompress(large.body, wbits=31) == expected
    assert len(large.body) < len(expected) / 5
    assert "content-encoding" not in small.headers
    assert small.body == b'{"events":[' + EVENT + b"]}"


def test_a_server_refusing_gzip_with_415_gets_plain_batches_from_then_on(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.script("/v2/create_events", Reply(415, {"message": "unsupported Content-Encoding"}))
    big = [orjson.dumps({"id": f"e{n}", "returns": "x" * 100}) for n in range(50)]
    api.create_events(SID, big)
    api.create_events(SID, big[:20])
    refused, plain, later = stub.received("/v2/create_events")
    assert refused.headers["content-encoding"] == "gzip"
    for request, sent in ((plain, big), (later, big[:20])):
        assert "content-encoding" not in request.headers
        assert request.body == b'{"events":[' + b",".join(sent) + b"]}"


def test_compression_none_sends_batches_as_they_are(stub: StubApp, url: str) -> None:
    api = make_api(url, compression="none")
    api.create_session(SID, {})
    big = [orjson.dumps({"id": f"e{n}", "returns": "x" * 100}) for n in range(50)]
    api.create_events(SID, big)
    api.close()
    [request] = stub.received("/v2/create_events")
    assert "content-encoding" not in request.headers
    assert request.body == b'{"events":[' + b",".join(big) + b"]}"


def test_create_events_with_no_events_sends_nothing(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    api.create_events(SID, [])
    assert stub.received("/v2/create_events") == []


@pytest.mark.parametrize(
    ("answer", "cost"),
    [
        ({"status": "success", "token_cost": "0.0042"}, Decimal("0.0042")),
        ({"status": "success", "token_cost": 3}, Decimal(3)),
        ({"status": "success", "token_cost": "unknown"}, None),
        ({"status": "success"}, None),
    ],
)
def test_update_session_returns_the_token_cost(
    stub: StubApp, api: SessionApiClient, session: str, answer: object, cost: Decimal | None
) -> None:
    stub.script("/v2/update_session", Reply(body=answer))
    assert api.update_session(SID, {}) == cost


def test_a_session_without_jwt_is_refused_without_a_request(
    stub: StubApp, api: SessionApiClient
) -> None:
    with pytest.raises(FatalApiError) as caught:
        api.create_events("never-created", [EVENT])
    assert caught.value.reason == "no_jwt"
    assert stub.received() == []


def test_forget_drops_the_jwt(api: SessionApiClient, session: str) -> None:
    api.forget(SID)
    assert api.jwt_for(SID) is None
    with pytest.raises(FatalApiError, match="no token"):
        api.update_session(SID, {})


def test_without_api_key_create_session_fails_without_a_request(stub: StubApp, url: str) -> None:
    api = SessionApiClient(Config(endpoint=url))
    with pytest.raises(FatalApiError) as caught:
        api.create_session(SID, {})
    assert caught.value.reason == "no_api_key"
    assert stub.received() == []


@pytest.mark.parametrize("answer", [{"status": "Success"}, {"jwt": ""}, ["not", "an", "object"]])
def test_an_answer_without_jwt_is_fatal(
    stub: StubApp, api: SessionApiClient, answer: object
) -> None:
    stub.script("/v2/create_session", Reply(body=answer))
    with pytest.raises(FatalApiError) as caught:
        api.create_session(SID, {})
    assert (caught.value.status, caught.value.reason) == (200, "bad_response")
    assert api.jwt_for(SID) is None


def test_an_unencodable_body_is_fatal_without_a_request(
    stub: StubApp, api: SessionApiClient
) -> None:
    with pytest.raises(FatalApiError) as caught:
        api.create_session(SID, {"tags": {object()}})
    assert caught.value.reason == "unencodable"
    assert stub.received() == []


# -- retries ----------------------------------------------------------------------------


def test_503_three_times_then_success(stub: StubApp, api: SessionApiClient, session: str) -> None:
    stub.script("/v2/create_events", *[Reply(503, {"message": "overloaded"})] * 3)
    api.create_events(SID, [EVENT])
    assert [r.status for r in stub.received("/v2/create_events")] == [503, 503, 503, 200]
    assert len({r.body for r in stub.received("/v2/create_events")}) == 1


@pytest.mark.parametrize("status", [429, 502, 504])
def test_other_retryable_statuses(
    stub: StubApp, api: SessionApiClient, session: str, status: int
) -> None:
    stub.script("/v2/update_session", Reply(status, {"message": "later"}))
    assert api.update_session(SID, {}) == Decimal("0.25")
    assert [r.status for r in stub.received("/v2/update_session")] == [status, 200]


def test_create_session_is_retried_too(stub: StubApp, api: SessionApiClient) -> None:
    stub.script("/v2/create_session", Reply(503), Reply(502))
    assert api.create_session(SID, {}).jwt
    assert len(stub.received("/v2/create_session")) == 3


def test_retry_after_seconds_is_honoured(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.script("/v2/create_events", Reply(429, {"message": "slow down"}, {"Retry-After": "1"}))
    api.create_events(SID, [EVENT])
    first, second = stub.received("/v2/create_events")
    assert second.at - first.at >= 1.0


def test_retry_after_http_date_is_honoured(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    # A whole second 3 s ahead: the wait is in (2, 3] s whatever the current fraction.
    when = datetime.fromtimestamp(math.floor(time.time()) + 3, tz=timezone.utc)
    retry_after = format_datetime(when, usegmt=True)
    stub.script("/v2/create_events", Reply(503, {"message": "busy"}, {"Retry-After": retry_after}))
    api.create_events(SID, [EVENT])
    first, second = stub.received("/v2/create_events")
    assert second.at - first.at >= 2.0


def test_retry_after_beyond_the_deadline_gives_up_at_once(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.script("/v2/create_events", Reply(429, {"message": "quota"}, {"Retry-After": "60"}))
    started = time.monotonic()
    with pytest.raises(RetryableApiError) as caught:
        api.create_events(SID, [EVENT], deadline=time.monotonic() + 5)
    assert time.monotonic() - started < 3  # not the 5 s deadline, let alone 60 s
    assert (caught.value.status, caught.value.reason, caught.value.retry_after) == (
        429,
        "http_429",
        60,
    )
    assert len(stub.received("/v2/create_events")) == 1


def test_the_deadline_is_respected(stub: StubApp, api: SessionApiClient, session: str) -> None:
    stub.script("/v2/create_events", *[Reply(503, {"message": "down"})] * 1000)
    deadline = time.monotonic() + 1.0
    with pytest.raises(RetryableApiError) as caught:
        api.create_events(SID, [EVENT], deadline=deadline)
    assert time.monotonic() < deadline + 0.5
    assert caught.value.reason == "http_503"
    assert "down" in str(caught.value)
    received = stub.received("/v2/create_events")
    assert len(received) > 5
    # No attempt starts after the deadline; the server sees the last one a little later.
    assert received[-1].at <= deadline + 0.2


def test_default_deadline_comes_from_the_config(stub: StubApp, url: str) -> None:
    api = make_api(url, retry_deadline=0.8)
    stub.script("/v2/create_session", *[Reply(503)] * 1000)
    started = time.monotonic()
    with pytest.raises(RetryableApiError, match="gave up"):
        api.create_session(SID, {})
    assert 0.5 < time.monotonic() - started < 1.5
    api.close()


def test_a_slow_answer_times_out_and_is_retried(stub: StubApp, url: str) -> None:
    api = make_api(url, request_timeout=0.3)
    stub.script("/v2/create_session", Reply(delay=1.0))
    started = time.monotonic()
    assert api.create_session(SID, {}).jwt
    # Two requests: the first (answered only after 1 s) timed out and was retried.
    assert len(stub.received("/v2/create_session")) == 2
    assert time.monotonic() - started < 3
    api.close()


def test_timeouts_until_the_deadline(stub: StubApp, url: str) -> None:
    # Each attempt's timeout shrinks to the time left, so the call ends near the deadline.
    api = make_api(url, request_timeout=10.0)
    stub.script("/v2/create_session", *[Reply(delay=1.5)] * 3)
    deadline = time.monotonic() + 0.7
    with pytest.raises(RetryableApiError) as caught:
        api.create_session(SID, {}, deadline=deadline)
    assert time.monotonic() < deadline + 0.2
    assert caught.value.reason == "timeout"
    api.close()


def test_an_answer_cut_mid_body_is_retried(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.script("/v2/create_events", Reply(cut=True))
    api.create_events(SID, [EVENT])
    assert len(stub.received("/v2/create_events")) == 2


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_connections_closed_without_an_answer_are_retried(reset: bool) -> None:
    with HangUpServer(reset=reset) as server:
        api = make_api(server.url)
        with pytest.raises(RetryableApiError) as caught:
            api.create_session(SID, {}, deadline=time.monotonic() + 0.5)
        api.close()
    assert caught.value.reason == "network"
    assert server.connections > 2


def test_connection_refused_is_retried_until_the_deadline() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed below: nothing listens there
    api = make_api(f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(RetryableApiError) as caught:
        api.create_session(SID, {}, deadline=time.monotonic() + 0.4)
    assert caught.value.reason == "connect"
    assert 0.3 < time.monotonic() - started < 2
    api.close()


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413, 422, 500])
def test_other_statuses_are_not_retried(
    stub: StubApp, api: SessionApiClient, session: str, status: int
) -> None:
    stub.script(
        "/v2/create_events", Reply(status, {"path": "/v2/create_events", "message": "no: why"})
    )
    with pytest.raises(FatalApiError) as caught:
        api.create_events(SID, [EVENT])
    assert (caught.value.status, caught.value.reason) == (status, f"http_{status}")
    assert "no: why" in str(caught.value)
    assert len(stub.received("/v2/create_events")) == 1


# -- JWT refresh --------------------------------------------------------------------------


def test_expired_token_is_refreshed_once_and_the_request_resent(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.expire(session)
    api.create_events(SID, [EVENT])

    [reauth] = stub.received("/v2/reauthorize_jwt")
    assert reauth.headers["x-agentops-api-key"] == API_KEY
    assert reauth.json() == {"session_id": SID}
    first, second = stub.received("/v2/create_events")
    assert (first.status, first.bearer) == (401, session)
    assert second.status == 200
    assert second.bearer == api.jwt_for(SID) != session
    assert second.body == first.body


def test_a_second_401_is_fatal(stub: StubApp, api: SessionApiClient, session: str) -> None:
    expired = Reply(401, {"message": "Expired Token"})
    stub.script("/v2/update_session", expired, expired)
    with pytest.raises(FatalApiError) as caught:
        api.update_session(SID, {})
    assert (caught.value.status, caught.value.reason) == (401, "http_401")
    assert len(stub.received("/v2/reauthorize_jwt")) == 1
    assert len(stub.received("/v2/update_session")) == 2


def test_eight_threads_with_an_expired_token_refresh_it_once(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.expire(session)
    # A slow refresh makes sure every thread got its 401 before the new token exists.
    stub.script("/v2/reauthorize_jwt", Reply(delay=0.3))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def send(n: int) -> None:
        barrier.wait()
        try:
            api.create_events(SID, [orjson.dumps({"id": f"e{n}"})])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert len(stub.received("/v2/reauthorize_jwt")) == 1
    sent = stub.received("/v2/create_events")
    assert sorted(r.status for r in sent) == [200] * 8 + [401] * 8
    assert {r.bearer for r in sent if r.status == 200} == {api.jwt_for(SID)}


def test_a_token_in_the_last_fifth_of_its_life_is_refreshed_before_use(
    stub: StubApp, api: SessionApiClient
) -> None:
    short = stub.issue_jwt(SID, lifetime=1.0)
    stub.script("/v2/create_session", Reply(body={"status": "Success", "jwt": short}))
    api.create_session(SID, {})
    time.sleep(0.85)
    api.create_events(SID, [EVENT])
    assert [r.path for r in stub.received()] == [
        "/v2/create_session",
        "/v2/reauthorize_jwt",
        "/v2/create_events",
    ]
    assert stub.received("/v2/create_events")[0].bearer == api.jwt_for(SID) != short


def test_a_fresh_short_lived_token_is_not_refreshed_at_once(
    stub: StubApp, api: SessionApiClient
) -> None:
    # Refreshing whenever exp is < 60 s away would refresh before every request here.
    stub.script(
        "/v2/create_session",
        Reply(body={"status": "Success", "jwt": stub.issue_jwt(SID, lifetime=30)}),
    )
    api.create_session(SID, {})
    for _ in range(3):
        api.create_events(SID, [EVENT])
    assert stub.received("/v2/reauthorize_jwt") == []


def test_an_opaque_token_is_used_until_refused(stub: StubApp, api: SessionApiClient) -> None:
    stub.script("/v2/create_session", Reply(body={"status": "Success", "jwt": "opaque"}))
    api.create_session(SID, {})
    api.create_events(SID, [EVENT])
    assert stub.received("/v2/reauthorize_jwt") == []


def test_a_failed_early_refresh_falls_back_to_the_current_token(
    stub: StubApp, api: SessionApiClient
) -> None:
    short = stub.issue_jwt(SID, lifetime=1.0)
    stub.script("/v2/create_session", Reply(body={"status": "Success", "jwt": short}))
    stub.script("/v2/reauthorize_jwt", Reply(404, {"message": "Not Found"}))
    api.create_session(SID, {})
    time.sleep(0.85)
    api.create_events(SID, [EVENT])
    assert len(stub.received("/v2/reauthorize_jwt")) == 1
    assert stub.received("/v2/create_events")[0].bearer == short


@pytest.mark.parametrize(
    ("status", "message"), [(401, "Invalid API Key"), (400, "Invalid API key format")]
)
def test_a_refused_api_key_is_fatal_with_a_clear_message(
    stub: StubApp, api: SessionApiClient, status: int, message: str
) -> None:
    stub.script(
        "/v2/create_session", Reply(status, {"path": "/v2/create_session", "message": message})
    )
    with pytest.raises(FatalApiError, match="refused the API key") as caught:
        api.create_session(SID, {})
    assert message in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert (caught.value.status, caught.value.reason) == (status, f"http_{status}")
    assert len(stub.received("/v2/create_session")) == 1


def test_a_refused_refresh_is_fatal(stub: StubApp, api: SessionApiClient, session: str) -> None:
    stub.expire(session)
    invalid = " Error reauthorizing Api Key: Invalid Session Id"
    stub.script("/v2/reauthorize_jwt", Reply(400, {"message": invalid}))
    with pytest.raises(FatalApiError, match="Invalid Session Id") as caught:
        api.create_events(SID, [EVENT])
    assert caught.value.reason == "http_400"
    assert len(stub.received("/v2/create_events")) == 1


def test_secrets_are_never_logged(
    stub: StubApp, api: SessionApiClient, session: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentwatch")
    stub.expire(session)
    stub.script("/v2/reauthorize_jwt", Reply(503), Reply(200))
    stub.script("/v2/create_events", Reply(503), Reply(401, {"message": "Expired Token"}))
    api.create_events(SID, [EVENT])
    assert "retrying" in caplog.text
    for secret in (API_KEY, session, api.jwt_for(SID) or "?"):
        assert secret not in caplog.text


# -- close and fork -----------------------------------------------------------------------


def test_close_interrupts_a_backoff_wait(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    stub.script("/v2/create_events", Reply(429, {"message": "later"}, {"Retry-After": "30"}))
    errors: list[BaseException] = []

    def send() -> None:
        try:
            api.create_events(SID, [EVENT], deadline=time.monotonic() + 60)
        except BaseException as exc:  # checked below
            errors.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    while not stub.received("/v2/create_events"):
        time.sleep(0.01)
    time.sleep(0.1)  # now waiting out the 30 s
    started = time.monotonic()
    api.close()
    sender.join(5)
    assert time.monotonic() - started < 2  # far from the 30 s backoff it was sleeping
    [error] = errors
    assert isinstance(error, RetryableApiError)
    assert error.reason == "closed"


def test_calls_after_close_fail_without_a_request(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    api.close()
    api.close()
    with pytest.raises(RetryableApiError) as caught:
        api.create_events(SID, [EVENT])
    assert caught.value.reason == "closed"
    assert stub.received("/v2/create_events") == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connections(
    stub: StubApp, api: SessionApiClient, session: str
) -> None:
    api.create_events(SID, [EVENT])  # the parent's pool now holds a keep-alive connection
    parent_peer = stub.received("/v2/create_events")[0].peer
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        code = 1
        try:
            api.create_events(SID, [b'{"id":"from-child"}'])
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child = stub.received("/v2/create_events")[-1]
    assert child.body == b'{"events":[{"id":"from-child"}]}'
    assert child.peer != parent_peer
    api.create_events(SID, [EVENT])  # the parent's pool still works
    assert stub.received("/v2/create_events")[-1].peer == parent_peer


def test_the_pool_is_built_with_the_client_and_connects_only_to_send() -> None:
    # Built on the caller's thread: the export thread, starved of the GIL by an agent
    # recording in a tight loop, took 0.4 s to build it (its CA bundle) in the burst bench.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    try:
        port = listener.getsockname()[1]
        api = SessionApiClient(Config(api_key=API_KEY, endpoint=f"http://127.0.0.1:{port}"))
        assert isinstance(api._poster._client, httpx.Client)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connected
        api.close()
    finally:
        listener.close()


# -- against the real agentwatch server ---------------------------------------------------


class Observed(httpx.BaseTransport):
    """Passes requests to ``inner`` and notes (path, status) of each: observation only."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        with self._lock:
            self.seen.append((request.url.path, response.status_code))
        return response

    def paths(self, path: str) -> list[int]:
        with self._lock:
            return [status for p, status in self.seen if p == path]


def real_api(server: TestServer, transport: httpx.BaseTransport | None = None) -> SessionApiClient:
    config = Config(api_key=server.api_key, endpoint=server.url, retry_deadline=10.0)
    return SessionApiClient(config, transport=transport or server.transport)


@pytest.mark.parametrize("run", [inprocess_server, uvicorn_server], ids=["inprocess", "uvicorn"])
def test_a_session_lands_on_the_real_server(run: Callable[[], ContextManager[TestServer]]) -> None:
    session_id, agent_id = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        orjson.dumps(
            {
                "id": str(uuid.uuid4()),
                "event_type": "actions",
                "action_type": "plan",
                "params": {"step": n},
                "returns": f"ok {n}",
                "agent_id": agent_id,
                "init_timestamp": f"2026-11-25T20:15:0{n}+00:00",
                "end_timestamp": f"2026-11-25T20:15:0{n}+00:00",
            }
        )
        for n in range(5)
    ]
    with run() as server:
        api = real_api(server)
        created = api.create_session(
            session_id, {"tags": ["e2e"], "init_timestamp": "2026-11-25T20:15:00+00:00"}
        )
        api.create_agent(session_id, agent_id, "planner")
        api.create_events(session_id, events[:2])
        api.create_events(session_id, events[2:])
        cost = api.update_session(
            session_id,
            {
                "tags": ["e2e", "done"],
                "end_state": "Success",
                "end_timestamp": "2026-11-25T20:16:00+00:00",
            },
        )
        api.close()
        stored = server.session(session_id)

    assert created.session_url is not None
    assert session_id in created.session_url
    assert cost == Decimal(0)
    assert stored["session"]["end_state"] == "Success"
    assert stored["session"]["tags"] == ["e2e", "done"]
    assert stored["session"]["counts"]["actions"] == 5
    assert [a["name"] for a in stored["agents"]] == ["planner"]
    assert [e["data"] for e in stored["events"]] == [orjson.loads(e) for e in events]


def test_short_lived_tokens_are_refreshed_before_they_expire() -> None:
    # reliability.md §8 test 13: nothing lost, no 401 loop, about one refresh per lifetime.
    with inprocess_server(jwt_lifetime=2, jwt_leeway=0) as server:
        assert server.transport is not None
        observed = Observed(server.transport)
        api = real_api(server, observed)
        session_id = str(uuid.uuid4())
        api.create_session(session_id, {})
        sent = []
        for n in range(12):
            sent.append({"id": str(uuid.uuid4()), "event_type": "tools", "name": f"t{n}"})
            api.create_events(session_id, [orjson.dumps(sent[-1])])
            time.sleep(0.25)
        api.close()
        stored = server.session(session_id)

    assert [e["id"] for e in stored["events"]] == [e["id"] for e in sent]
    assert 401 not in observed.paths("/v2/create_events")
    assert 1 <= len(observed.paths("/v2/reauthorize_jwt")) <= 3


def test_closing_one_client_leaves_a_shared_transport_working() -> None:
    with inprocess_server() as server:
        first, second = real_api(server), real_api(server)
        first.create_session(str(uuid.uuid4()), {})
        first.close()
        second.create_session(str(uuid.uuid4()), {})
        second.close()
