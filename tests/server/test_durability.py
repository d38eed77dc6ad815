"""An acknowledged batch survives ``kill -9`` of the server (reliability.md tests 18-19)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .conftest import event
from .serve_process import serve


@pytest.mark.slow
def test_acknowledged_events_survive_sigkill(db_url: str, tmp_path: Path) -> None:
    acked: set[str] = set()
    lock = threading.Lock()
    with serve(tmp_path, "--db", db_url) as running:
        key = running.api_key()
        assert key is not None
        session_id = str(uuid.uuid4())
        answer = httpx.post(
            f"{running.url}/v2/create_session",
            json={"session": {"session_id": session_id}},
            headers={"X-Agentops-Api-Key": key},
            timeout=10,
        )
        jwt = answer.json()["jwt"]
        stop = threading.Event()

        def send() -> None:
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    batch = [event("llms", model="gpt-4o", prompt_tokens=3) for _ in range(20)]
                    try:
                        reply = http.post(
                            f"{running.url}/v2/create_events",
                            json={"events": batch},
                            headers={"Authorization": f"Bearer {jwt}"},
                        )
                    except httpx.HTTPError:
                        return  # the server died under us: this batch was never acknowledged
                    if reply.status_code == 200:
                        with lock:
                            acked.update(e["id"] for e in batch)

        senders = [threading.Thread(target=send) for _ in range(4)]
        for thread in senders:
            thread.start()
        time.sleep(1.5)
        running.process.kill()  # SIGKILL: no shutdown, no flush
        running.process.wait()
        stop.set()
        for thread in senders:
            thread.join(timeout=15)
    assert len(acked) >= 100
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with serve(tmp_path, "--db", db_url) as restarted:
        detail = httpx.get(
            f"{restarted.url}/api/sessions/{session_id}",
            headers={"X-Agentops-Api-Key": key},
            timeout=30,
        ).json()
    stored = {e["id"] for e in detail["events"]}
    assert acked <= stored
    assert detail["session"]["event_count"] == len(stored)
    assert detail["session"]["tokens"]["prompt"] == 3 * len(stored)
