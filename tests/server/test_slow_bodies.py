"""Slow and unauthenticated uploads against `agentwatch serve`: ingest keeps working.

The attack of issue 13: uploads that declare ``Content-Length: 1000000`` and then send one
byte a second, without valid credentials, kept up for as long as the test runs (each one
answered is replaced by a new one).
"""

from __future__ import annotations

import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .serve_process import serve

ATTACKS: list[tuple[str, dict[str, str]]] = [
    ("/v2/create_events", {}),
    ("/v2/create_events", {"Authorization": "Bearer a.b.c"}),
    ("/v2/update_session", {"Authorization": "Bearer " + "e30.e30.x"}),
    ("/v2/create_session", {"X-Agentops-Api-Key": str(uuid.uuid4())}),
    ("/v2/create_session", {}),
    ("/api/sessions", {"X-Agentops-Api-Key": "not-a-key"}),
    ("/login", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("/v1/traces", {"Authorization": "Bearer " + str(uuid.uuid4())}),
    ("/no/such/path", {}),
]


class Trickle:
    """One raw upload: the request head, then a byte per :meth:`tick`, until answered."""

    def __init__(self, port: int, path: str, headers: dict[str, str], length: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {length}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.sent = 0
        self.answer = b""
        self.status: int | None = None

    def tick(self) -> None:
        """Read the answer if there is one, else send one more byte of the body."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        if readable:
            self._read_status()
            return
        try:
            self.sock.sendall(b" ")
            self.sent += 1
        except OSError:
            self._read_status()

    def _read_status(self) -> None:
        try:
            while b"\r\n" not in self.answer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.answer += chunk
        except OSError:
            pass
        head = self.answer.split(b"\r\n", 1)[0].split()
        self.status = int(head[1]) if len(head) > 1 else -1  # -1: closed without an answer
        self.sock.close()


class Attack:
    """Keeps ``width`` trickling uploads open, replacing each one the server answers."""

    def __init__(self, port: int, width: int) -> None:
        self.port, self.width = port, width
        self.statuses: Counter[int] = Counter()
        self.opened = 0
        self._live: list[Trickle] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            while len(self._live) < self.width:
                path, headers = ATTACKS[self.opened % len(ATTACKS)]
                self._live.append(Trickle(self.port, path, headers, 1_000_000))
                self.opened += 1
            for trickle in self._live:
                trickle.tick()
                if trickle.status is not None:
                    self.statuses[trickle.status] += 1
            self._live = [t for t in self._live if t.status is None]
            self._stop.wait(1.0)

    @contextmanager
    def running(self) -> Iterator[Attack]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)
            for trickle in self._live:
                trickle.sock.close()


def _wait_for(condition: object, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def _session(http: httpx.Client, key: str) -> tuple[str, str]:
    session_id = str(uuid.uuid4())
    created = http.post(
        "/v2/create_session",
        json={"session": {"session_id": session_id}},
        headers={"X-Agentops-Api-Key": key},
    )
    assert created.status_code == 200, created.text
    return session_id, created.json()["jwt"]


def _event() -> dict[str, str]:
    return {
        "id": str(uuid.uuid4()),
        "event_type": "actions",
        "init_timestamp": "2026-01-01T00:00:00Z",
    }


def test_unauthenticated_trickles_cannot_starve_ingest(tmp_path: Path) -> None:
    env = {"AGENTWATCH_MAX_INFLIGHT": "4", "AGENTWATCH_BODY_TIMEOUT": "3"}
    with (
        serve(tmp_path, env=env) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        key = running.api_key()
        assert key is not None
        port = urlsplit(running.url).port
        assert port is not None
        session_id, jwt = _session(http, key)
        with Attack(port, width=3 * len(ATTACKS)).running() as attack:
            # Under way: more uploads opened than max_inflight, and the one that got the
            # unauthenticated pool's slot timed out (408) and was replaced.
            _wait_for(lambda: attack.statuses[408] >= 1 and attack.opened > 30, "the attack")
            for _ in range(5):
                sent = http.post(
                    "/v2/create_events",
                    json={"events": [_event()]},
                    headers={"Authorization": f"Bearer {jwt}"},
                )
                assert sent.status_code == 200, sent.text
                assert http.get("/health").status_code == 200
            other_id, _ = _session(http, key)  # API key routes too
        stored = http.get(f"/api/sessions/{session_id}", headers={"X-Agentops-Api-Key": key})
        assert stored.json()["session"]["event_count"] == 5
        assert (
            http.get(f"/api/sessions/{other_id}", headers={"X-Agentops-Api-Key": key}).status_code
            == 200
        )
    # Refused before their bodies were read (401/400), shed (429/503), or timed out (408).
    assert set(attack.statuses) <= {400, 401, 408, 429, 503}, attack.statuses
    assert attack.statuses[401] > 0, attack.statuses
    assert attack.statuses[429] + attack.statuses[503] > 0, attack.statuses


def test_a_slow_authenticated_body_gets_408_and_frees_its_slot(tmp_path: Path) -> None:
    env = {"AGENTWATCH_MAX_INFLIGHT": "1", "AGENTWATCH_BODY_TIMEOUT": "5"}
    with (
        serve(tmp_path, env=env) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        key = running.api_key()
        assert key is not None
        port = urlsplit(running.url).port
        assert port is not None
        session_id, jwt = _session(http, key)
        slow = Trickle(port, "/v2/create_events", {"Authorization": f"Bearer {jwt}"}, 1000)
        slow.tick()
        # Give the server the moment it needs to admit the trickle before the first probe
        # races it for the only slot (the probe would win, and the trickle get the 503).
        time.sleep(0.5)
        # Wait until it holds the only slot: an authenticated request is then shed.
        accepted = 0
        while True:
            busy = http.post(
                "/v2/create_events",
                json={"events": [_event()]},
                headers={"Authorization": f"Bearer {jwt}"},
            )
            if busy.status_code == 503:
                break
            assert busy.status_code == 200, busy.text
            accepted += 1
            slow.tick()
            assert slow.status is None, slow.answer
            time.sleep(0.05)
        assert "busy" in busy.json()["message"]
        while slow.status is None:
            time.sleep(0.5)
            slow.tick()
        assert slow.status == 408
        assert b'"path": "/v2/create_events"' in slow.answer
        assert b"AGENTWATCH_BODY_TIMEOUT" in slow.answer
        assert slow.sent < 1000
        sent = http.post(
            "/v2/create_events",
            json={"events": [_event()]},
            headers={"Authorization": f"Bearer {jwt}"},
        )
        assert sent.status_code == 200  # the slot came back
        stored = http.get(f"/api/sessions/{session_id}", headers={"X-Agentops-Api-Key": key})
        assert stored.json()["session"]["event_count"] == 1 + accepted
