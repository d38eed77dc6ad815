"""Two server processes on one PostgreSQL database, fed the same sessions concurrently."""

from __future__ import annotations

import concurrent.futures
import itertools
import secrets
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import event
from .serve_process import serve

SESSIONS = 4
BATCHES_PER_SESSION = 12
EVENTS_PER_BATCH = 40


def _batches() -> list[list[dict[str, Any]]]:
    """Batches that overlap: every event is in two batches, so both servers race on it."""
    events = [
        event("llms", model="gpt-4o-mini", prompt_tokens=11, completion_tokens=7, cached_tokens=3)
        if i % 3 == 0
        else event("tools" if i % 3 == 1 else "errors")
        for i in range(BATCHES_PER_SESSION * EVENTS_PER_BATCH // 2)
    ]
    half = EVENTS_PER_BATCH // 2
    chunks = [events[i : i + half] for i in range(0, len(events), half)]
    # batch k = chunk k + chunk k+1 (wrapping): each chunk is sent twice.
    return [chunks[k] + chunks[(k + 1) % len(chunks)] for k in range(len(chunks))]


@pytest.mark.postgres
@pytest.mark.slow
def test_two_servers_one_database_store_every_event_once(pg_url: str, tmp_path: Path) -> None:
    env = {"AGENTWATCH_JWT_SECRET": secrets.token_urlsafe(48)}
    with serve(tmp_path / "a", "--db", pg_url, env=env) as first:
        key = first.api_key()
        assert key is not None
        with (
            serve(tmp_path / "b", "--db", pg_url, env=env) as second,
            httpx.Client(timeout=60) as http,
        ):
            urls = itertools.cycle([first.url, second.url])
            sessions = {}
            for _ in range(SESSIONS):
                session_id = str(uuid.uuid4())
                answer = http.post(
                    f"{next(urls)}/v2/create_session",
                    json={"session": {"session_id": session_id}},
                    headers={"X-Agentops-Api-Key": key},
                )
                sessions[session_id] = (answer.json()["jwt"], _batches())
            # Every batch goes to both servers at once, from many threads.
            jobs = [
                (url, jwt, batch)
                for jwt, batches in sessions.values()
                for batch in batches
                for url in (first.url, second.url)
            ]

            def send(job: tuple[str, str, list[dict[str, Any]]]) -> int:
                url, jwt, batch = job
                answer = http.post(
                    f"{url}/v2/create_events",
                    json={"events": batch},
                    headers={"Authorization": f"Bearer {jwt}"},
                )
                return answer.status_code

            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                assert set(pool.map(send, jobs)) == {200}
            for session_id, (_, batches) in sessions.items():
                _check_session(http, second.url, key, session_id, batches)


def _check_session(
    http: httpx.Client, url: str, key: str, session_id: str, batches: list[list[dict[str, Any]]]
) -> None:
    sent = {e["id"]: e for batch in batches for e in batch}
    detail = http.get(
        f"{url}/api/sessions/{session_id}", headers={"X-Agentops-Api-Key": key}
    ).json()
    stored_ids = [e["id"] for e in detail["events"]]
    assert sorted(stored_ids) == sorted(sent)
    session = detail["session"]
    llms = [e for e in sent.values() if e["event_type"] == "llms"]
    assert session["event_count"] == len(sent)
    assert session["counts"]["llms"] == len(llms)
    assert session["counts"]["errors"] == sum(e["event_type"] == "errors" for e in sent.values())
    assert session["tokens"]["prompt"] == 11 * len(llms)
    assert session["tokens"]["completion"] == 7 * len(llms)
    assert session["tokens"]["cached"] == 3 * len(llms)
    # gpt-4o-mini: 8 x $0.15 + 3 x $0.075 (cached) + 7 x $0.60, per 1M tokens.
    per_call = (8 * Decimal("0.15") + 3 * Decimal("0.075") + 7 * Decimal("0.60")) / 10**6
    assert Decimal(session["cost_usd"]) == per_call * len(llms)
