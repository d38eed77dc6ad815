"""A batch the server takes in part (a 422 naming the refused events): the SDK counts the
refused events as dropped and the others as delivered, exactly, against the real server."""

from __future__ import annotations

from collections.abc import Callable

from agentwatch import ActionEvent, Client, LLMEvent
from agentwatch.server.testing import TestServer


def test_refused_events_are_counted_and_the_rest_delivered(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    client = make_client(flush_interval=30)  # one batch, at end_session's flush
    session = client.start_session()
    for i in range(5):
        session.record(ActionEvent(action_type="step", params={"i": i}))
    # Not a token count the server takes: refused, by name, and the five steps stored.
    session.record(LLMEvent(model="gpt-4o", prompt_tokens=-3, completion_tokens=1))
    session.end_session("Success", timeout=30)

    assert client.dropped == {"http_422": 1}
    assert client.pending == 0
    stored = server.session(session.session_id)
    assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(5))
    assert stored["session"]["dropped_events"] == {"http_422": 1}
