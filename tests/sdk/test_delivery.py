"""The agent never waits on the network, and nothing is lost or duplicated through
outages, throttling and expired tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agentwatch import ActionEvent, Client
from agentwatch.server.testing import TestServer, inprocess_server
from agentwatch.telemetry.exporters.sizing import MAX_REQUEST_BYTES

from .faults import GatedTransport, RecordingTransport, RefusingTransport, TimingTransport


def test_start_and_record_do_not_wait_for_the_server(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    gated = GatedTransport(server.transport)
    client = make_client(transport=gated)
    done = threading.Event()
    ids: list[str] = []

    def agent() -> None:
        session = client.start_session()
        ids.append(session.session_id)
        for i in range(100):
            session.record(ActionEvent(action_type="a", params={"i": i}))
        done.set()

    threading.Thread(target=agent).start()
    # The server cannot answer: if start_session or record waited for it, this would time out.
    assert done.wait(10)
    assert not gated.gate.is_set()
    gated.open()
    assert client.flush(10)
    assert len(server.session(ids[0])["events"]) == 100


def test_end_session_is_bounded_when_the_server_does_not_answer(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    gated = GatedTransport(server.transport)
    client = make_client(transport=gated)
    session = client.start_session()
    session.record(ActionEvent(action_type="a"))
    started = time.monotonic()
    assert session.end_session("Success", timeout=0.5) is None
    assert time.monotonic() - started < 5
    # Delivery goes on in the background once the server answers.
    gated.open()
    assert client.flush(10)
    stored = server.session(session.session_id)
    assert stored["session"]["end_state"] == "Success"
    assert len(stored["events"]) == 1


def test_503_for_a_few_seconds_loses_and_duplicates_nothing(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    refusing = RefusingTransport(
        server.transport, path="/v2/create_events", status=503, message="overloaded"
    )
    client = make_client(transport=refusing, max_export_batch_size=50)
    session = client.start_session()
    refusing.refuse_for(3)
    for i in range(600):
        session.record(ActionEvent(action_type="a", params={"i": i}))
        if i % 100 == 0:
            time.sleep(0.2)
    assert session.end_session("Success", timeout=30) is not None
    assert refusing.refused > 0
    stored = server.session(session.session_id)
    assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(600))
    assert client.dropped == {}


def test_429_retry_after_is_honoured(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    refusing = RefusingTransport(
        server.transport,
        path="/v2/create_events",
        status=429,
        message="slow down",
        retry_after="1",
    )
    client = make_client(transport=refusing)
    session = client.start_session()
    refusing.refuse_next = 1
    started = time.monotonic()
    session.record(ActionEvent(action_type="a"))
    assert client.flush(10)
    assert time.monotonic() - started >= 1.0
    assert refusing.refused == 1
    session.end_session("Success")
    assert len(server.session(session.session_id)["events"]) == 1


def test_expired_token_mid_session_is_refreshed_once(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    refusing = RefusingTransport(
        server.transport, path="/v2/create_events", status=401, message="Expired Token"
    )
    client = make_client(transport=refusing)
    session = client.start_session()
    session.record(ActionEvent(action_type="before"))
    assert client.flush(10)
    refusing.refuse_next = 1
    session.record(ActionEvent(action_type="after"))
    session.end_session("Success")
    assert refusing.refused == 1
    assert refusing.passed["/v2/reauthorize_jwt"] == 1
    stored = server.session(session.session_id)
    assert sorted(e["action_type"] for e in stored["events"]) == ["after", "before"]
    assert client.dropped == {}


def test_tokens_that_really_expire_are_renewed() -> None:
    with inprocess_server(jwt_lifetime=2) as srv:
        client = Client(
            api_key=srv.api_key,
            endpoint=srv.url,
            transport=srv.transport,
            handle_signals=False,
            flush_interval=0.05,
        )
        try:
            session = client.start_session()
            for i in range(8):
                session.record(ActionEvent(action_type="a", params={"i": i}))
                time.sleep(0.5)
            session.end_session("Success")
            stored = srv.session(session.session_id)
            assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(8))
            assert stored["session"]["end_state"] == "Success"
            assert client.dropped == {}
        finally:
            client.shutdown(5)


def test_a_refused_api_key_is_reported_and_counted(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    client = make_client(api_key="00000000-0000-4000-8000-000000000000")
    session = client.start_session()
    session.record(ActionEvent(action_type="a"))
    assert session.end_session("Success") is None
    dropped = client.dropped
    assert sum(dropped.values()) == 1, dropped
    assert next(iter(dropped)).startswith("http_4")


def test_events_the_sdk_had_to_drop_are_counted_on_the_server(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    # The server is unreachable and the queue holds 10 items (the queued create_session
    # among them): most of the 50 events are dropped. Nothing is lost silently: the
    # session on the server says how many and why.
    assert server.transport is not None
    gated = GatedTransport(server.transport)
    client = make_client(transport=gated, max_queue_size=10)
    session = client.start_session()
    for i in range(50):
        session.record(ActionEvent(action_type="a", params={"i": i}))
    gated.open()
    session.end_session("Success", timeout=10)
    assert client.flush(10)
    stored = server.session(session.session_id)
    kept = len(stored["events"])
    assert 0 < kept <= 10
    assert stored["session"]["dropped_events"] == {"queue_full": 50 - kept}
    assert client.dropped == {"queue_full": 50 - kept}


def test_per_session_drop_counts_are_forgotten_once_the_session_ended(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    gated = GatedTransport(server.transport)
    client = make_client(transport=gated, max_queue_size=3)
    sessions = [client.start_session() for _ in range(2)]
    for session in sessions:
        for _ in range(5):
            session.record(ActionEvent(action_type="a"))
    drops = client.telemetry.drops
    assert all(drops.for_session(s.session_id) for s in sessions)
    gated.open()
    for session in sessions:
        session.end_session("Success", timeout=10)
    assert client.flush(10)
    assert [drops.for_session(s.session_id) for s in sessions] == [{}, {}]
    assert sum(client.dropped.values()) == sum(
        sum(server.session(s.session_id)["session"]["dropped_events"].values()) for s in sessions
    )


def test_a_batch_of_large_events_goes_in_requests_under_the_byte_cap(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    recording = RecordingTransport(server.transport)
    # A long interval: the 50 events wait for end_session's flush and leave as one batch.
    client = make_client(transport=recording, flush_interval=30)
    session = client.start_session()
    blob = "x" * 200_000  # 50 events of ~200 KB: one 2048-event batch, ~10 MB of JSON
    for i in range(50):
        session.record(ActionEvent(action_type="a", params={"i": i}, returns=blob))
    session.end_session("Success", timeout=30)
    sizes = [inflated for path, _, inflated in recording.sent if path == "/v2/create_events"]
    assert len(sizes) >= 3
    assert all(size <= MAX_REQUEST_BYTES + 1024 for size in sizes)
    stored = server.session(session.session_id)
    assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(50))
    assert client.dropped == {}


def test_two_event_requests_go_at_once_and_the_end_after_both(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    # A server busy with one request is sent the next; the session's end (with its
    # dropped_events tally) still leaves only once every event request before it answered.
    assert server.transport is not None
    timing = TimingTransport(server.transport, path="/v2/create_events", delay=0.1)
    client = make_client(transport=timing, max_export_batch_size=20)
    session = client.start_session()
    for i in range(100):
        session.record(ActionEvent(action_type="a", params={"i": i}))
    session.end_session("Success", timeout=10)
    assert client.flush(10)
    assert timing.most_at_once == 2
    events = [(b, e) for p, b, e in timing.requests if p == "/v2/create_events"]
    assert len(events) >= 5  # 20 items a batch, the session's creation one of them
    (end_began,) = [b for p, b, _ in timing.requests if p == "/v2/update_session"]
    assert end_began >= max(e for _, e in events)
    stored = server.session(session.session_id)
    assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(100))
    assert stored["session"]["end_state"] == "Success"
    assert client.dropped == {}
