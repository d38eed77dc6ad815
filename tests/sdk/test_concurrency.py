"""Many sessions at once: threads and asyncio tasks never mix events; one export thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import agentwatch
from agentwatch import ActionEvent, Client, record_action
from agentwatch.server.testing import TestServer


def test_sessions_in_threads_do_not_mix(server: TestServer, client: Client) -> None:
    sessions: dict[int, str] = {}

    def worker(n: int) -> None:
        session = client.start_session(tags=[f"worker-{n}"])
        sessions[n] = session.session_id
        for i in range(40):
            # The module-level function finds this thread's session through contextvars.
            agentwatch.record(ActionEvent(action_type=f"w{n}", params={"i": i}))
        session.end_session("Success")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    for n, session_id in sessions.items():
        stored = server.session(session_id)
        assert stored["session"]["tags"] == [f"worker-{n}"]
        assert {e["action_type"] for e in stored["events"]} == {f"w{n}"}
        assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(40))
    assert client.dropped == {}


@record_action("step")
async def _step(n: int, i: int) -> int:
    await asyncio.sleep(0)
    return n * 1000 + i


def test_sessions_in_asyncio_tasks_do_not_mix(server: TestServer, client: Client) -> None:
    async def agent(n: int) -> str:
        session = client.start_session(tags=[f"task-{n}"])
        for i in range(25):
            await _step(n, i)
        session.end_session("Success", timeout=0)
        return session.session_id

    async def main() -> list[str]:
        return await asyncio.gather(*(agent(n) for n in range(10)))

    ids = asyncio.run(main())
    assert client.flush(10)
    for n, session_id in enumerate(ids):
        stored = server.session(session_id)
        returns = sorted(e["returns"] for e in stored["events"])
        assert returns == [n * 1000 + i for i in range(25)]
        assert all(e["params"]["n"] == n for e in stored["events"])


def test_a_thousand_sessions_share_one_export_thread(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    # Warm up: the export worker and the in-process server's event-loop thread exist now.
    client.start_session().end_session("Success")
    before = set(threading.enumerate())
    sessions = [client.start_session() for _ in range(1000)]
    for s in sessions:
        s.record(ActionEvent(action_type="x"))
    # The in-process server runs its sync endpoints on AnyIO worker threads: not ours.
    new = {t for t in set(threading.enumerate()) - before if not t.name.startswith("AnyIO")}
    assert not new, f"threads started for 1,000 sessions: {new}"
    for s in sessions:
        s.end_session("Success", timeout=0)
    assert client.flush(60)
    sample = server.session(sessions[-1].session_id)
    assert sample["session"]["end_state"] == "Success"
    assert len(sample["events"]) == 1
    assert client.dropped == {}
