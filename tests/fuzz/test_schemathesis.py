"""schemathesis over the server's own OpenAPI document: every operation, every check.

The app runs in-process (schemathesis' ASGI transport) on a fresh SQLite database, with the
requests authenticated as a client is: the project API key and a live session's token. Any
answer must be one the document describes (status, Content-Type, headers, body schema) and
never a 500.

Two settings are narrowed, and why. ``positive_data_acceptance`` takes 400, 413, 415 and
422 as a legitimate answer to schema-valid input. The v2 wire and the OTLP bodies have rules a
JSON Schema cannot state (a timestamp's year range, an id unique within a batch, protobuf
bodies) and the server refuses such input with a 4xx that names the field, which is what it
must do. ``negative_data_rejection`` is off for ``GET /api/sessions`` alone: its filters
are free text, and a query string carries text only (a "negative" ``true`` for a string
filter arrives as the valid text "true"). Every other check runs as schemathesis ships it.

Stateful testing does not apply: FastAPI's document has no OpenAPI links, and the state
that matters (a session's token) is given to every request here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from agentwatch.server.testing import TestServer, inprocess_server

pytestmark = pytest.mark.fuzz

_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", "3XX", 400, 401, 403, 404, 409, 413, 415, 422, 429]
            }
        },
        "operations": [
            {
                # Its filters are free text: a "negative" boolean or number for a string
                # parameter arrives as the text "true" or "5", which is a valid filter.
                "include-path": "/api/sessions",
                "include-method": "GET",
                "checks": {"negative_data_rejection": {"enabled": False}},
            }
        ],
    }
)


@pytest.fixture(scope="module")
def running() -> Iterator[TestServer]:
    # schemathesis' ASGI client names its host "testserver".
    with inprocess_server(allowed_hosts=("testserver",)) as server:
        yield server


@pytest.fixture(scope="module")
def credentials(running: TestServer) -> dict[str, str]:
    with httpx.Client(base_url=running.url, transport=running.transport) as http:
        answer = http.post(
            "/v2/create_session",
            json={"session": {"session_id": str(uuid.uuid4())}},
            headers={"X-Agentops-Api-Key": running.api_key},
        )
    return {
        "X-Agentops-Api-Key": running.api_key,
        "Authorization": f"Bearer {answer.json()['jwt']}",
    }


@pytest.fixture(scope="module")
def api_schema(running: TestServer) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", running.app, config=_CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_documented(case: Any, credentials: dict[str, str]) -> None:
    logging.disable(logging.WARNING)  # refusals are logged by design; thousands of them
    try:
        case.call_and_validate(headers=credentials)
    finally:
        logging.disable(logging.NOTSET)
