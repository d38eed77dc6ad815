"""The test run's warning filters against FastAPI's non-thread-safe warning suppression.

FastAPI builds a route's body field at the route's first request and silences pydantic's
``UnsupportedFieldAttributeWarning`` inside ``warnings.catch_warnings()``. That context
manager swaps the process-wide filter list, so while two servers in one test process
(in-process and uvicorn) build routes at the same moment, one thread's exit can restore
a list without the other's "ignore": pytest's ``error`` filter then turned FastAPI's own
silenced warning into a 500 on ``/v2/create_session`` (CI, stop 15). This test takes the
suppression away, as that race does, and holds that a request still succeeds.
"""

from __future__ import annotations

import contextlib
import types
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.testing import inprocess_server


@contextlib.contextmanager
def _without_fastapi_suppression() -> Iterator[None]:
    compat: Any = pytest.importorskip(
        "fastapi._compat.v2", reason="FastAPI's pydantic v2 shim moved; the race it had is moot"
    )
    if getattr(compat, "warnings", None) is not warnings:
        pytest.skip("FastAPI no longer silences pydantic warnings in fastapi._compat.v2")
    shim = types.SimpleNamespace(
        catch_warnings=contextlib.nullcontext, simplefilter=lambda *a, **k: None
    )
    compat.warnings = shim
    try:
        yield
    finally:
        compat.warnings = warnings


def test_a_route_built_without_fastapis_suppression_still_answers() -> None:
    with _without_fastapi_suppression(), inprocess_server() as server:
        assert server.transport is not None
        with httpx.Client(transport=server.transport, base_url=server.url) as http:
            session_id = str(uuid.uuid4())
            answer = http.post(
                "/v2/create_session",
                headers={"X-Agentops-Api-Key": server.api_key},
                json={"session": {"session_id": session_id}},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["session_id"] == session_id
        assert server.session(session_id)["session"]["id"] == session_id
