"""No silent loss under faults: every event is delivered, counted as dropped, or pending,
and the user is told why in a line that names the server and the error.

Each fault is real: a server that holds a request unanswered (the scripted stub under
uvicorn, and a socket that never answers), a port nobody listens on, the real server
with a small body limit, and a transport answering 413 to everything in front of it.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from agentwatch import ActionEvent, Client
from agentwatch.server.testing import TestServer, inprocess_server
from agentwatch.telemetry.exporters.sizing import REFUSALS_PER_BATCH
from tests.sdk.faults import BlackHole, RecordingTransport, RefusingTransport
from tests.sdk.stub_server import Reply, StubApp, serve

from .test_tree import Tree

BLOB = "x" * 1000


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[StubApp, str]]:
    app = StubApp()
    with serve(app) as url:
        yield app, url


@pytest.fixture
def stub(served: tuple[StubApp, str]) -> StubApp:
    served[0].reset()
    return served[0]


@pytest.fixture
def open_client() -> Iterator[Callable[..., Client]]:
    """Clients on a given endpoint (no server fixture), shut down after the test."""
    made: list[Client] = []

    def make(endpoint: str, **settings: Any) -> Client:
        settings.setdefault("api_key", str(uuid.uuid4()))
        settings.setdefault("handle_signals", False)
        client = Client(endpoint=endpoint, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=0.5)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- the batch in flight at shutdown --------------------------------------------------------


def test_the_batch_held_by_an_unanswered_request_is_counted_at_shutdown(
    stub: StubApp,
    served: tuple[StubApp, str],
    open_client: Callable[..., Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server creates the session, then holds create_events without an answer.
    stub.script("/v2/create_events", Reply(delay=60))
    client = open_client(served[1], request_timeout=120)
    session = client.start_session()
    for i in range(2000):
        session.record(ActionEvent(action_type="a", params={"i": i}))
    client.shutdown(timeout=1)

    [held] = stub.received("/v2/create_events")  # the request really was in flight
    assert len(orjson.loads(zlib.decompress(held.body, wbits=31))["events"]) == 2000
    assert client.dropped == {"shutdown": 2000}
    assert client.pending == 0
    [warning] = [w for w in _warnings(caplog) if "shutdown" in w]
    assert "dropped 2000 event(s) (shutdown)" in warning
    assert "2000 in a request still unanswered" in warning
    assert f"the server at {served[1]} has not answered for" in warning


def test_a_server_that_never_answers_at_all_loses_nothing_silently(
    open_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    with BlackHole() as hole:
        client = open_client(hole.url, request_timeout=120)
        session = client.start_session()
        for i in range(500):
            session.record(ActionEvent(action_type="a", params={"i": i}))
        assert session.end_session("Success", timeout=0.5) is None
        # Exact when end_session() returns: nothing delivered, nothing dropped yet.
        assert (client.dropped, client.pending) == ({}, 500)
        client.shutdown(timeout=0.5)
        assert hole.received > 0  # create_session was sent and is held
    assert (client.dropped, client.pending) == ({"shutdown": 500}, 0)
    assert any("500 in a request still unanswered" in w for w in _warnings(caplog))


# -- an unreachable server ----------------------------------------------------------------------


def _refused_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


def test_an_unreachable_server_gets_one_clear_message(
    open_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentwatch")
    endpoint = _refused_port()
    client = open_client(endpoint, retry_deadline=60)
    session = client.start_session()
    for i in range(10):
        session.record(ActionEvent(action_type="a", params={"i": i}))
    assert session.end_session("Success", timeout=1.5) is None
    assert (client.dropped, client.pending) == ({}, 10)
    client.shutdown(timeout=0.5)
    assert (client.dropped, client.pending) == ({"shutdown": 10}, 0)

    text = caplog.text
    assert "API client is closed" not in text
    reach = f"cannot reach the agentwatch server at {endpoint} (connection refused)"
    [outage] = [w for w in _warnings(caplog) if w.startswith(reach)]
    assert "retried for up to 60 s" in outage
    [dropped] = [w for w in _warnings(caplog) if "(shutdown)" in w]
    assert reach in dropped
    assert len(_warnings(caplog)) == 2
    # The URL was only ever announced as pending: the server never confirmed the session.
    replay = [r.getMessage() for r in caplog.records if "Session Replay" in r.getMessage()]
    assert replay == [
        f"Session Replay: {endpoint}/sessions/{session.session_id} "
        f"(pending until {endpoint} confirms the session)"
    ]
    [stats] = [r.getMessage() for r in caplog.records if "Session Stats" in r.getMessage()]
    assert stats.endswith(f"(still delivering in the background: 10 pending; {reach})")


def test_the_session_url_is_the_servers_once_confirmed(
    server: TestServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentwatch")
    client = make_client()
    session = client.start_session()
    guessed = f"{server.url}/sessions/{session.session_id}"
    assert client.flush(10)
    confirmed = session.session_url
    assert confirmed != guessed
    assert confirmed.endswith(f"/sessions/{session.session_id}")
    replay = [r.getMessage() for r in caplog.records if "Session Replay" in r.getMessage()]
    assert replay == [
        f"Session Replay: {guessed} (pending until {server.url} confirms the session)",
        f"Session Replay: {confirmed}",
    ]


# -- 413 --------------------------------------------------------------------------------------


def test_a_server_refusing_every_batch_as_too_large_costs_a_bounded_number_of_requests(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    refusing = RefusingTransport(
        server.transport, path="/v2/create_events", status=413, message="Payload Too Large"
    )
    refusing.refuse_for(3600)
    # A long interval: the 2,000 events leave as one batch, at end_session's flush.
    client = make_client(transport=refusing, flush_interval=30)
    session = client.start_session()
    for i in range(2000):
        session.record(ActionEvent(action_type="a", params={"i": i}, returns=BLOB))
    session.end_session("Success", timeout=30)

    # Halving 2 MB down to one event takes a dozen refusals (not 2N - 1 = 3,999); the
    # events no smaller than the one refused are then dropped without being sent.
    assert 0 < refusing.refused <= REFUSALS_PER_BATCH + 1
    assert client.dropped == {"too_large": 2000}
    assert client.pending == 0
    stored = server.session(session.session_id)
    assert stored["events"] == []
    assert stored["session"]["dropped_events"] == {"too_large": 2000}


def test_a_server_with_a_small_body_limit_gets_everything_but_the_oversized_event() -> None:
    with inprocess_server(max_body_bytes=64_000) as srv:
        assert srv.transport is not None
        recording = RecordingTransport(srv.transport)
        client = Client(
            api_key=srv.api_key,
            endpoint=srv.url,
            transport=recording,
            handle_signals=False,
            flush_interval=30,
        )
        try:
            session = client.start_session()
            for i in range(150):
                session.record(ActionEvent(action_type="a", params={"i": i}, returns=BLOB))
                if i == 70:
                    session.record(ActionEvent(action_type="huge", returns="y" * 100_000))
            session.end_session("Success", timeout=30)
            tree = Tree(srv, session)
        finally:
            client.shutdown(5)

    assert sorted(e["params"]["i"] for e in tree.events) == list(range(150))
    assert client.dropped == {"too_large": 1}
    sent = [inflated for path, _, inflated in recording.sent if path == "/v2/create_events"]
    refused = [size for size in sent if size > 64_000]
    # A handful of 413s to find the limit (the huge event's among them), then requests under it.
    assert 0 < len(refused) <= 8
    assert len(sent) - len(refused) <= 8


def test_an_outage_is_told_once_and_so_is_its_end(
    server: TestServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentwatch")
    assert server.transport is not None
    refusing = RefusingTransport(
        server.transport, path="/v2/create_events", status=503, message="overloaded"
    )
    client = make_client(transport=refusing)
    session = client.start_session()
    refusing.refuse_next = 2  # two attempts refused, then the server recovers
    for i in range(60):
        session.record(ActionEvent(action_type="a", params={"i": i}))
    assert session.end_session("Success", timeout=30) is not None
    assert refusing.refused == 2
    assert client.dropped == {}
    assert len(server.session(session.session_id)["events"]) == 60
    down = f"the agentwatch server at {server.url} is unavailable"
    assert [w for w in _warnings(caplog) if down in w] == [
        f"{down} (POST /v2/create_events answered HTTP 503: overloaded); "
        "events are kept and retried for up to 300 s"
    ]
    up = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert up == [f"the agentwatch server at {server.url} answers again"]


def test_an_agent_registered_again_keeps_one_span(server: TestServer, client: Client) -> None:
    from .test_tree import Researcher

    session = client.start_session()
    researcher = Researcher()
    researcher.research("Rome")
    session.create_agent("lead researcher", researcher.agentwatch_agent_id)  # type: ignore[attr-defined]
    tree = Tree(server, session)
    span = tree.one(event_type="agents")  # exactly one
    assert span["data"]["name"] == "lead researcher"
    assert [a["name"] for a in server.session(session.session_id)["agents"]] == ["lead researcher"]
